package resolver

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/cdp/internal/storetest"
)

// TestReadmeListsEveryPricedField: every field the complexity limit prices
// otherwise than 1 plus its children is named in the README's Limits
// section, as `Type.field` or, in a row of its type, as `field`, so that
// a client can tell what a query costs before it is refused.
func TestReadmeListsEveryPricedField(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, "\n### Limits\n"), strings.Index(s, "\n### Errors\n")
	if i < 0 || j < i {
		t.Fatal("the README has no Limits section followed by Errors")
	}
	limits := s[i:j]
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	cx := (&Resolver{engine: e.engine, cfg: testConfig().withDefaults()}).prices()
	v := reflect.ValueOf(cx)
	priced := 0
	for k := range v.NumField() {
		typ, obj := v.Type().Field(k).Name, v.Field(k)
		for f := range obj.NumField() {
			if obj.Field(f).IsNil() {
				continue
			}
			priced++
			name := obj.Type().Field(f).Name
			if name == "APIKeys" {
				name = "ApiKeys" // the schema's apiKeys
			}
			r, n := utf8.DecodeRuneInString(name)
			field := string(unicode.ToLower(r)) + name[n:]
			if !strings.Contains(limits, "`"+typ+"."+field+"`") && !strings.Contains(limits, "`"+field+"`") {
				t.Errorf("%s.%s is priced, but the README's Limits section does not name it", typ, field)
			}
		}
	}
	if priced < 30 {
		t.Fatalf("only %d priced fields found; is ComplexityRoot still a struct of structs of funcs?", priced)
	}
}
