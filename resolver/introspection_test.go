package resolver

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	gqlparser "github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The query graphql-js's getIntrospectionQuery() builds, as GraphiQL,
// Apollo and codegen tools send it.
const introspectionQuery = `
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}`

type introType struct {
	Kind, Name  string
	Description *string
	Fields      []struct {
		Name string
		Args []introValue
		Type introRef
	}
	InputFields   []introValue
	Interfaces    []introRef
	EnumValues    []struct{ Name string }
	PossibleTypes []introRef
}

type introValue struct {
	Name         string
	Type         introRef
	DefaultValue *string
}

type introRef struct {
	Kind   string
	Name   *string
	OfType *introRef
}

func (r introRef) String() string {
	switch r.Kind {
	case "NON_NULL":
		return r.OfType.String() + "!"
	case "LIST":
		return "[" + r.OfType.String() + "]"
	}
	return *r.Name
}

func builtin(name string) bool {
	switch name {
	case "String", "Int", "Float", "Boolean", "ID":
		return true
	}
	return strings.HasPrefix(name, "__")
}

func valueSDL(v introValue) string {
	s := v.Name + ": " + v.Type.String()
	if v.DefaultValue != nil {
		s += " = " + *v.DefaultValue
	}
	return s
}

// sdlFromIntrospection writes the schema an introspection result describes,
// as a plain client does.
func sdlFromIntrospection(query, mutation string, types []introType) string {
	var b strings.Builder
	fmt.Fprintf(&b, "schema { query: %s", query)
	if mutation != "" {
		fmt.Fprintf(&b, " mutation: %s", mutation)
	}
	b.WriteString(" }\n")
	for _, t := range types {
		if builtin(t.Name) {
			continue
		}
		switch t.Kind {
		case "SCALAR":
			fmt.Fprintf(&b, "scalar %s\n", t.Name)
		case "ENUM":
			var vals []string
			for _, v := range t.EnumValues {
				vals = append(vals, v.Name)
			}
			fmt.Fprintf(&b, "enum %s { %s }\n", t.Name, strings.Join(vals, " "))
		case "INPUT_OBJECT":
			var fs []string
			for _, f := range t.InputFields {
				fs = append(fs, valueSDL(f))
			}
			fmt.Fprintf(&b, "input %s { %s }\n", t.Name, strings.Join(fs, " "))
		case "UNION":
			var ms []string
			for _, p := range t.PossibleTypes {
				ms = append(ms, p.String())
			}
			fmt.Fprintf(&b, "union %s = %s\n", t.Name, strings.Join(ms, " | "))
		case "OBJECT", "INTERFACE":
			kw := "type"
			if t.Kind == "INTERFACE" {
				kw = "interface"
			}
			fmt.Fprintf(&b, "%s %s", kw, t.Name)
			if len(t.Interfaces) > 0 {
				var is []string
				for _, i := range t.Interfaces {
					is = append(is, i.String())
				}
				fmt.Fprintf(&b, " implements %s", strings.Join(is, " & "))
			}
			b.WriteString(" {\n")
			for _, f := range t.Fields {
				b.WriteString("  " + f.Name)
				if len(f.Args) > 0 {
					var as []string
					for _, a := range f.Args {
						as = append(as, valueSDL(a))
					}
					b.WriteString("(" + strings.Join(as, ", ") + ")")
				}
				b.WriteString(": " + f.Type.String() + "\n")
			}
			b.WriteString("}\n")
		}
	}
	return b.String()
}

func TestClientSchemaFromIntrospection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		var out struct {
			Schema struct {
				QueryType    struct{ Name string }
				MutationType *struct{ Name string }
				Types        []introType
			} `json:"__schema"`
		}
		e.query(introspectionQuery, nil, &out)
		mutation := ""
		if out.Schema.MutationType != nil {
			mutation = out.Schema.MutationType.Name
		}
		sdl := sdlFromIntrospection(out.Schema.QueryType.Name, mutation, out.Schema.Types)
		schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "introspected.graphqls", Input: sdl})
		if gerr != nil {
			t.Fatalf("the introspected schema does not load: %v\n%s", gerr, sdl)
		}

		// It matches the server's schema, type by type and field by field.
		server := gql.NewExecutableSchema(gql.Config{Resolvers: &Resolver{}}).Schema()
		for name, def := range server.Types {
			if builtin(name) || def.BuiltIn {
				continue
			}
			got := schema.Types[name]
			if got == nil || got.Kind != def.Kind {
				t.Fatalf("type %s missing or of another kind in the introspected schema", name)
			}
			if a, b := fieldSigs(def), fieldSigs(got); a != b {
				t.Errorf("type %s:\nserver       %s\nintrospected %s", name, a, b)
			}
		}

		// The client validates its queries against it.
		for _, q := range []string{
			`query($v: String!) { profileByIdentifier(type: "email", value: $v) { id traits identifiers { type value } journey(first: 5) { edges { cursor node { id timestamp } } pageInfo { hasNextPage endCursor } } } }`,
			`query { profiles(last: 10, before: "x") { totalCount edges { node { id history { kind from into } } } } }`,
			`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "r") { id } }`,
			`mutation($e: [EventInput!]!) { ingest(events: $e) { accepted rejected results { index status reason } } }`,
		} {
			if _, errs := gqlparser.LoadQuery(schema, q); len(errs) > 0 {
				t.Errorf("valid query refused by the introspected schema: %v\n%s", errs, q)
			}
		}
		for _, q := range []string{
			`{ profile(id: "x") { nope } }`,
			`{ profiles(first: "ten") { totalCount } }`,
			`{ profileByIdentifier(type: "email") { id } }`,
			`mutation { mergeProfiles(ids: ["a"]) { id } }`,
		} {
			if _, errs := gqlparser.LoadQuery(schema, q); len(errs) == 0 {
				t.Errorf("invalid query accepted by the introspected schema: %s", q)
			}
		}
	})
}

func fieldSigs(d *ast.Definition) string {
	var out []string
	for _, f := range d.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		sig := f.Name
		for _, a := range f.Arguments {
			sig += " " + a.Name + ":" + a.Type.String()
		}
		out = append(out, sig+"->"+f.Type.String())
	}
	for _, v := range d.EnumValues {
		out = append(out, v.Name)
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
