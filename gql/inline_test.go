package gql

import (
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// identifiersSelection returns the selection set of the identifiers field
// of profileByIdentifier in q.
func identifiersSelection(t *testing.T, doc *ast.QueryDocument) ast.SelectionSet {
	t.Helper()
	for _, s := range doc.Operations[0].SelectionSet {
		root, ok := s.(*ast.Field)
		if !ok || root.Name != "profileByIdentifier" {
			continue
		}
		for _, s := range root.SelectionSet {
			if f, ok := s.(*ast.Field); ok && f.Name == "identifiers" {
				return f.SelectionSet
			}
		}
	}
	t.Fatal("no identifiers field under profileByIdentifier")
	return nil
}

func TestSelectsLoad(t *testing.T) {
	schema := NewExecutableSchema(Config{}).Schema()
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		want  bool
	}{
		{"computed fields only", `{ profileByIdentifier(type: "email", value: "a@b.c") { id identifiers { type value key firstSeen lastSeen sources traits { name } } } }`, nil, false},
		{"profile", `{ profileByIdentifier(type: "email", value: "a@b.c") { identifiers { type profile { id } } } }`, nil, true},
		{"profile through a named fragment", `query { profileByIdentifier(type: "email", value: "a@b.c") { identifiers { ...F } } } fragment F on Identifier { value profile { id } }`, nil, true},
		{"profile through an inline fragment", `{ profileByIdentifier(type: "email", value: "a@b.c") { identifiers { type ... on Identifier { profile { id } } } } }`, nil, true},
		{"profile skipped", `query($s: Boolean!) { profileByIdentifier(type: "email", value: "a@b.c") { identifiers { type profile @skip(if: $s) { id } } } }`, map[string]any{"s": true}, false},
		{"profile not skipped", `query($s: Boolean!) { profileByIdentifier(type: "email", value: "a@b.c") { identifiers { type profile @skip(if: $s) { id } } } }`, map[string]any{"s": false}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc, err := gqlparser.LoadQuery(schema, c.query)
			if err != nil {
				t.Fatalf("query does not validate: %v", err)
			}
			oc := &graphql.OperationContext{RawQuery: c.query, Doc: doc, Operation: doc.Operations[0], Variables: c.vars}
			if got := selectsLoad(oc, identifiersSelection(t, doc)); got != c.want {
				t.Fatalf("selectsLoad = %v, want %v", got, c.want)
			}
		})
	}
}
