package resolver

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/idgraph/cdp/internal/storetest"
)

// TestReadmeExamplesFitTheLimits: every operation of the README's GraphQL
// examples that needs no variables passes the default depth, complexity
// and size limits: an example refused as too costly is no example. (What
// they answer depends on data the test does not have: an unknown id's
// NOT_FOUND is fine.)
func TestReadmeExamplesFitTheLimits(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```graphql\n(.*?)```").FindAllSubmatch(readme, -1)
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	seedPeople(e)
	ran := 0
	for _, b := range blocks {
		doc, perr := parser.ParseQuery(&ast.Source{Input: string(b[1])})
		if perr != nil {
			t.Errorf("a README example does not parse: %v\n%s", perr, b[1])
			continue
		}
		for _, op := range doc.Operations {
			if len(op.VariableDefinitions) > 0 || op.Operation == ast.Subscription {
				continue
			}
			body := map[string]any{"query": string(b[1])}
			if op.Name != "" {
				body["operationName"] = op.Name
			}
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			r := e.postRaw(raw)
			ran++
			if slices.Contains([]string{CodeDepthLimit, CodeComplexityLimit, CodeTooLarge}, r.code()) {
				t.Errorf("README example %q is refused at the default limits: %+v\n%s", op.Name, r.Errors, b[1])
			}
		}
	}
	if ran < 5 {
		t.Fatalf("ran %d README examples; the README's graphql blocks were not found", ran)
	}
}
