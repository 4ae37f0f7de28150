package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"pgregory.net/rapid"

	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Random operations, drawn from the schema itself, on both stores: every
// query and mutation field, with arguments of every kind (real ids,
// blanks, huge and odd numbers, malformed times and JSON of every shape)
// and random selections. Whatever the input, the service answers a JSON
// GraphQL response with a status under 500, and no error is INTERNAL: a
// bad argument is the caller's error and is named as one, never a panic
// or an unexpected failure of the service. Mutations that create API keys
// are left out, since the first key would turn every later request into
// an authentication refusal.
func TestRandomOperationsNeverFailInternally(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.Defaults().Feed, func(c *app.Config) { c.Destinations.AllowPrivate = true })
		strs := []string{"user_id", "email", "anonymous_id", "plan", "pro", "Ordered", "orders", "r1", "source/r1", "", " ", "\t\n", "x",
			"seg_00000000000000000000000000000000", "p_0", "P1D", "PT1H", "-P1D", "P0D", "P99999999D", "2026-01-01T00:00:00Z",
			"NaN", "1e309", "-0", "null", "{}", "[]", "\u0000", "\u202e", "😀", "ünïcödé", "a.b.c", "a..b", "$.x", "%", "_", "*",
			strings.Repeat("a", 300), strings.Repeat("é", 2000), "http://127.0.0.1:1/hook", "https://example.org/hook",
			"keys:admin", "pii:read", "profiles:read", "Zm9v", "0", "-1", "MAX"}
		ints := []int64{0, 1, 2, 3, -1, 10, 100, 1000, 1 << 31, 1<<31 - 1, -1 << 31, 1<<53 + 1}
		floats := []string{"0", "-1", "0.5", "1.5", "1e308", "-1e308", "1e-320", "100"}
		times := []string{"2026-01-01T00:00:00Z", "2026-01-01T10:00:00+02:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
			"1970-01-01T00:00:00Z", "", "2026-13-01T00:00:00Z", "2026-01-01", "yesterday", "2026-01-01T00:00:00"}
		schema := gql.NewExecutableSchema(gql.Config{}).Schema()
		g := &opGen{schema: schema, ints: ints, floats: floats, times: times}
		// Each check stores a person of its own, whom its operations name:
		// an earlier check's mutations may have merged, split or erased
		// the one before.
		person := 0
		var audID, dstID string
		seed := func() {
			var have struct {
				A *struct{ ID string }                  `json:"audience"`
				C []struct{ Name string }               `json:"computedTraits"`
				D struct{ Nodes []struct{ ID string } } `json:"destinations"`
			}
			if audID != "" {
				gqlData(t, dial, "", `{ audience(id: "`+audID+`") { id } computedTraits { name } destinations { nodes { id } } }`, &have)
			}
			if have.A == nil {
				var aud struct {
					A struct{ ID string } `json:"createAudience"`
				}
				gqlData(t, dial, "", `mutation { createAudience(input: {name: "pro `+fmt.Sprint(person)+`", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id } }`, &aud)
				audID = aud.A.ID
			}
			if !slices.ContainsFunc(have.C, func(c struct{ Name string }) bool { return c.Name == "orders" }) {
				gqlData(t, dial, "", `mutation { defineComputedTrait(input: {name: "orders", aggregate: COUNT, event: "Ordered"}) { name } }`, nil)
			}
			if !slices.ContainsFunc(have.D.Nodes, func(d struct{ ID string }) bool { return d.ID == dstID }) {
				var dst struct {
					D struct{ ID string } `json:"createDestination"`
				}
				gqlData(t, dial, "", `mutation { createDestination(input: {name: "hook", url: "http://127.0.0.1:1/hook", secret: "hook-secret-0123456789", kinds: [EVENT_ADDED]}) { id } }`, &dst)
				dstID = dst.D.ID
			}
			person++
			n := fmt.Sprint(person)
			user, anon, email := "u-rand-"+n, "anon-rand-"+n, "rand."+n+"@example.org"
			sendTo(t, dial, "", "identify", `{"userId":"`+user+`","anonymousId":"`+anon+`","messageId":"r1-`+n+`","timestamp":"2026-01-01T10:00:00Z",
				"traits":{"email":"`+email+`","plan":"pro","name":"Rand `+n+`"}}`)
			sendTo(t, dial, "", "track", `{"userId":"`+user+`","messageId":"r2-`+n+`","event":"Ordered","timestamp":"2026-01-01T11:00:00Z",
				"properties":{"total":30},"context":{"campaign":{"name":"spring"}}}`)
			sendTo(t, dial, "", "page", `{"anonymousId":"anon-visit-`+n+`","messageId":"r3-`+n+`","timestamp":"2026-01-01T09:00:00Z","name":"Home"}`)
			pids := []string{profileIDOf(t, svc.Engine)("user_id", user), profileIDOf(t, svc.Engine)("anonymous_id", "anon-visit-"+n)}
			g.strs = append([]string{pids[0], pids[1], audID, dstID, user, anon, email, "email:" + email, "r1-" + n}, strs...)
			g.pairs = [][2]string{{"user_id", user}, {"anonymous_id", anon}, {"email", email}, {"anonymous_id", "anon-visit-" + n}}
			gqlData(t, dial, "", `mutation { setConsent(input: {identifier: {type: "email", value: "`+email+`"}, purpose: "email", status: GRANTED}) { id } }`, nil)
			var j struct {
				P struct {
					Journey struct{ Nodes []struct{ ID string } }
				} `json:"profile"`
			}
			gqlData(t, dial, "", `{ profile(id: "`+pids[0]+`") { journey(first: 2) { nodes { id } } } }`, &j)
			for _, e := range j.P.Journey.Nodes {
				g.strs = append(g.strs, e.ID)
			}
			g.fit = map[string][]string{"type": {"user_id", "email", "anonymous_id"}, "value": {user, email, anon},
				"name": {"plan", "Ordered", "Home", "orders", "email"}, "event": {"Ordered", "Home"}, "purpose": {"email", "ads"},
				"key": {"email:" + email, "user_id:" + user}}
			for _, k := range []string{"id", "profileid", "into", "from", "audience", "audienceid", "audienceids", "destinationid", "seed", "ids", "profileids"} {
				g.fit[k] = []string{pids[0], pids[1], audID, dstID}
			}
		}
		client := &http.Client{Timeout: time.Minute}
		// Each check sends a run of operations, so that rapid's default
		// number of checks reaches fields nested three deep too. On Neo4j,
		// where an operation takes tens of milliseconds, one check in four
		// runs, with fewer operations: about 250 in all, against 4,000 on
		// the embedded store.
		run, every, check := 40, 1, 0
		if _, ok := st.(*neo4jstore.Store); ok {
			run, every = 10, 4
		}
		rapid.Check(t, func(rt *rapid.T) {
			if check++; check%every != 0 {
				return
			}
			seed()
			for range run {
				doc := g.operation(rt)
				body, err := json.Marshal(map[string]any{"query": doc})
				if err != nil {
					rt.Fatal(err)
				}
				resp, err := client.Post("http://"+dial+"/graphql", "application/json", strings.NewReader(string(body)))
				if err != nil {
					rt.Fatalf("%s: %v", doc, err)
				}
				raw, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					rt.Fatalf("%s: reading the answer: %v", doc, err)
				}
				var out struct {
					Errors []struct {
						Extensions map[string]any `json:"extensions"`
					} `json:"errors"`
				}
				if err := json.Unmarshal(raw, &out); err != nil {
					rt.Fatalf("%s: status %d, the answer is not JSON: %.300s", doc, resp.StatusCode, raw)
				}
				if resp.StatusCode >= 500 {
					rt.Fatalf("%s: status %d: %.500s", doc, resp.StatusCode, raw)
				}
				for _, e := range out.Errors {
					if e.Extensions["code"] == "INTERNAL" {
						rt.Fatalf("%s: an internal error: %.500s", doc, raw)
					}
				}
			}
		})
	})
}

// opGen draws GraphQL operations from a schema.
type opGen struct {
	schema *ast.Schema
	strs   []string
	// fit holds, by argument or field name in lower case, values that
	// name the stored data.
	fit map[string][]string
	// pairs are stored identifiers, type and value.
	pairs  [][2]string
	ints   []int64
	floats []string
	times  []string
}

func (g *opGen) operation(t *rapid.T) string {
	root, kind := g.schema.Query, "query"
	if rapid.IntRange(0, 3).Draw(t, "mutation") == 0 {
		root, kind = g.schema.Mutation, "mutation"
	}
	var fields []*ast.FieldDefinition
	for _, f := range root.Fields {
		if strings.HasPrefix(f.Name, "__") || strings.Contains(f.Name, "ApiKey") {
			continue
		}
		fields = append(fields, f)
	}
	f := rapid.SampledFrom(fields).Draw(t, "root")
	return kind + " { " + g.field(t, f, 0) + " }"
}

// field is one selection of f: its arguments, and a selection set when
// its type is not a leaf.
func (g *opGen) field(t *rapid.T, f *ast.FieldDefinition, depth int) string {
	var b strings.Builder
	b.WriteString(f.Name)
	var args []string
	for _, a := range f.Arguments {
		if !a.Type.NonNull && rapid.Bool().Draw(t, "omit "+a.Name) {
			continue
		}
		args = append(args, a.Name+": "+g.value(t, a.Name, a.Type, 0))
	}
	if len(args) > 0 {
		b.WriteString("(" + strings.Join(args, ", ") + ")")
	}
	if sel := g.selection(t, g.schema.Types[f.Type.Name()], depth+1); sel != "" {
		b.WriteString(" " + sel)
	}
	return b.String()
}

// selection is a selection set of one to six fields of def, or "" for a
// leaf type. Past depth 3 it asks only for __typename.
func (g *opGen) selection(t *rapid.T, def *ast.Definition, depth int) string {
	switch def.Kind {
	case ast.Scalar, ast.Enum:
		return ""
	case ast.Union, ast.Interface:
		var parts []string
		for _, p := range g.schema.GetPossibleTypes(def) {
			if rapid.Bool().Draw(t, "spread "+p.Name) {
				parts = append(parts, "... on "+p.Name+" "+g.selection(t, p, depth))
			}
		}
		return "{ __typename " + strings.Join(parts, " ") + " }"
	}
	if depth > 3 {
		return "{ __typename }"
	}
	var fields []*ast.FieldDefinition
	for _, f := range def.Fields {
		if !strings.HasPrefix(f.Name, "__") {
			fields = append(fields, f)
		}
	}
	n := rapid.IntRange(1, min(6, len(fields))).Draw(t, "fields of "+def.Name)
	picked := map[string]bool{}
	var parts []string
	for range n {
		f := rapid.SampledFrom(fields).Draw(t, "field of "+def.Name)
		if picked[f.Name] {
			continue
		}
		picked[f.Name] = true
		parts = append(parts, g.field(t, f, depth))
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

// value is a literal of type typ for the argument or input field called
// name: often one that fits the name (a stored id for an id, a small
// count for a limit), else any of the odd ones, and now and then one of
// the wrong kind or null, which validation must refuse with a caller's
// error.
func (g *opGen) value(t *rapid.T, name string, typ *ast.Type, depth int) string {
	if depth < 2 && rapid.IntRange(0, 49).Draw(t, "odd value") == 0 {
		return rapid.SampledFrom([]string{"null", `"x"`, "1", "[]", "{}", "true", "1.5"}).Draw(t, "odd")
	}
	if typ.Elem != nil {
		n := rapid.IntRange(0, 3).Draw(t, "list length")
		items := make([]string, n)
		for i := range items {
			items[i] = g.value(t, name, typ.Elem, depth+1)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	def := g.schema.Types[typ.NamedType]
	switch def.Kind {
	case ast.Enum:
		return rapid.SampledFrom(def.EnumValues).Draw(t, "enum "+def.Name).Name
	case ast.InputObject:
		if def.Name == "IdentifierInput" && len(g.pairs) > 0 && rapid.IntRange(0, 3).Draw(t, "odd identifier") > 0 {
			p := rapid.SampledFrom(g.pairs).Draw(t, "stored identifier")
			return "{type: " + quote(p[0]) + ", value: " + quote(p[1]) + "}"
		}
		var parts []string
		for _, f := range def.Fields {
			if !f.Type.NonNull && (depth > 3 || rapid.Bool().Draw(t, "omit "+def.Name+"."+f.Name)) {
				continue
			}
			parts = append(parts, f.Name+": "+g.value(t, f.Name, f.Type, depth+1))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	switch def.Name {
	case "Int":
		if rapid.IntRange(0, 3).Draw(t, "odd int") > 0 {
			return fmt.Sprint(rapid.IntRange(0, 10).Draw(t, "small int"))
		}
		return fmt.Sprint(rapid.SampledFrom(g.ints).Draw(t, "int"))
	case "Float":
		return rapid.SampledFrom(g.floats).Draw(t, "float")
	case "Boolean":
		return fmt.Sprint(rapid.Bool().Draw(t, "bool"))
	case "DateTime":
		return quote(rapid.SampledFrom(g.times).Draw(t, "time"))
	case "JSON":
		return g.json(t, depth)
	default: // String, ID
		if fit := g.fit[strings.ToLower(name)]; len(fit) > 0 && rapid.IntRange(0, 3).Draw(t, "odd string") > 0 {
			return quote(rapid.SampledFrom(fit).Draw(t, "fitting string"))
		}
		return quote(rapid.SampledFrom(g.strs).Draw(t, "string"))
	}
}

// json is a JSON value written as a GraphQL literal: an object, a list, a
// string, a number, a boolean or null, nested a little.
func (g *opGen) json(t *rapid.T, depth int) string {
	k := rapid.IntRange(0, 5).Draw(t, "json kind")
	if depth > 3 {
		k = 2
	}
	switch k {
	case 0:
		n := rapid.IntRange(0, 3).Draw(t, "json fields")
		parts := make([]string, n)
		for i := range parts {
			name := rapid.SampledFrom([]string{"email", "plan", "name", "total", "a", "trait", "op", "value", "and", "or", "not", "event", "type"}).Draw(t, "json name")
			parts[i] = name + ": " + g.json(t, depth+1)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case 1:
		n := rapid.IntRange(0, 3).Draw(t, "json items")
		items := make([]string, n)
		for i := range items {
			items[i] = g.json(t, depth+1)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case 2:
		return quote(rapid.SampledFrom(g.strs).Draw(t, "json string"))
	case 3:
		return rapid.SampledFrom(append(g.floats, "1", "-7", "9007199254740993")).Draw(t, "json number")
	case 4:
		return fmt.Sprint(rapid.Bool().Draw(t, "json bool"))
	default:
		return "null"
	}
}

// quote writes s as a GraphQL string literal: JSON's escapes are
// GraphQL's.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
