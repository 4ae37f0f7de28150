package resolver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// personalValues are every personal value seedMasking stores, as the store
// keeps them; no answer to a key without pii:read may hold any of them.
var personalValues = []string{
	"ann@example.com", "+14155550167", "4155550167", "Ann Example", "Ann",
	"carl@example.com", "+14155550199", "4155550199", "1 Main St",
}

// seedMasking stores: Ann (email, phone, user_id u1) with personal traits
// and an event whose properties hold personal values, nested too; Carl,
// whose email and phone were linked and then unlinked by hand, so that a
// manual refusal, a split with its reason and an identity graph with a far
// end all involve personal values.
func seedMasking(e *keyEnv) {
	e.t.Helper()
	m1 := withTraits(ev("m1", t0, "identify", "email:ann@example.com", "phone:+14155550167", "user_id:u1"),
		map[string]any{"name": "Ann Example", "email": "ann@example.com", "phone": "+14155550167", "plan": "pro", "address": map[string]any{"street": "1 Main St"}})
	m1.Properties = map[string]any{"email": "ann@example.com", "billing": map[string]any{"phone": "+14155550167", "zip": "94110"}, "sku": "A-1"}
	e.apply(m1, ev("c1", t0.Add(time.Minute), "identify", "email:carl@example.com", "phone:+14155550199"))
	admin, _ := e.key("setup", "", access.ScopeIdentityWrite)
	e.ok(admin, `mutation { unlinkIdentifiers(a: {type: "email", value: "carl@example.com"}, b: {type: "phone", value: "+14155550199"}, reason: "mistaken link") { id } }`, nil, nil)
}

const everyPersonalPlace = `query Everything {
  p: profileByIdentifier(type: "email", value: "ann@example.com") {
    id traits
    identifiers(first: 5) { type value key traits(first: 10) { name value identifier { type value key } } }
    traitValues(first: 10) { name value identifier { value key } }
    traitSources(first: 20) { name value identifier { value key } }
    journey(first: 5) { edges { cursor node { id properties traits identifiers { value key } } } pageInfo { endCursor } }
    identityGraph { nodes(first: 10) { id type value } edges(first: 10) { from to evidence reason } }
    explainLink(a: {type: "email", value: "ann@example.com"}, b: {type: "user_id", value: "u1"}) {
      path(first: 5) { from { type value key } to { type value key } evidence evidenceEvent { properties traits } }
    }
  }
  c: profileByIdentifier(type: "email", value: "carl@example.com") {
    history(first: 5) { reason }
    identityGraph { nodes(first: 10) { id type value } edges(first: 10) { from to rejected evidence reason } }
  }
  identifier(type: "phone", value: "+14155550167") { value key traits(first: 10) { name value } profile { id } }
  explainLink(a: {type: "email", value: "carl@example.com"}, b: {type: "phone", value: "+14155550199"}) {
    refusals(first: 5) { a { value key } b { value key } reason evidence }
  }
  event(id: "m1") { properties traits identifiers { value key } }
  profiles(first: 5) { edges { cursor node { identifiers(first: 5) { type value key } } } pageInfo { startCursor endCursor } }
}`

type maskedAnswer struct {
	P struct {
		ID          string
		Traits      map[string]any
		Identifiers []struct {
			Type, Value, Key string
			Traits           []struct {
				Name       string
				Value      any
				Identifier struct{ Type, Value, Key string }
			}
		}
		TraitValues []struct {
			Name       string
			Value      any
			Identifier struct{ Value, Key string }
		}
		Journey struct {
			Edges []struct {
				Cursor string
				Node   struct {
					Properties, Traits map[string]any
				}
			}
		}
		IdentityGraph struct {
			Nodes []struct{ ID, Type, Value string }
			Edges []struct{ From, To string }
		}
		ExplainLink struct {
			Path []struct {
				From, To struct{ Type, Value, Key string }
			}
		}
	}
	C struct {
		History       []struct{ Reason string }
		IdentityGraph struct {
			Nodes []struct{ ID, Type, Value string }
			Edges []struct {
				From, To string
				Rejected bool
				Reason   *string
			}
		}
	}
	Identifier struct {
		Value, Key string
		Traits     []struct {
			Name  string
			Value any
		}
	}
	ExplainLink struct {
		Refusals []struct {
			A, B   struct{ Value, Key string }
			Reason string
		}
	}
	Event struct {
		Properties, Traits map[string]any
	}
}

// cursorsIn decodes every cursor-looking string of a body (base64url of a
// JSON object), so that what cursors embed is searched too.
func cursorsIn(body []byte) []byte {
	var out bytes.Buffer
	for _, m := range regexp.MustCompile(`"(eyJ[A-Za-z0-9_-]+)"`).FindAllSubmatch(body, -1) {
		if raw, err := base64.RawURLEncoding.DecodeString(string(m[1])); err == nil {
			out.Write(raw)
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}

func TestMaskingCoversEveryPlace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		seedMasking(e)
		reader, _ := e.key("analyst", "", access.ScopeProfilesRead)

		var got maskedAnswer
		r := e.ok(reader, everyPersonalPlace, nil, &got)
		cursors := cursorsIn(r.Raw)
		if len(cursors) == 0 {
			t.Fatalf("no cursor found in %s", r.Raw)
		}
		for _, v := range personalValues {
			if bytes.Contains(r.Raw, []byte(v)) {
				t.Errorf("answer without pii:read holds %q:\n%s", v, r.Raw)
			}
			if bytes.Contains(cursors, []byte(v)) {
				t.Errorf("a cursor holds %q: %s", v, cursors)
			}
		}

		// Hand-worked masks.
		wantTraits := map[string]any{"name": "***", "email": "a***@example.com", "phone": "+*********67", "plan": "pro", "address": "***"}
		if !reflect.DeepEqual(got.P.Traits, wantTraits) {
			t.Errorf("traits %v, want %v", got.P.Traits, wantTraits)
		}
		type ident struct{ Type, Value, Key string }
		var idents []ident
		for _, i := range got.P.Identifiers {
			idents = append(idents, ident{i.Type, i.Value, i.Key})
		}
		wantIdents := []ident{
			{"email", "a***@example.com", "email:a***@example.com"},
			{"phone", "+*********67", "phone:+*********67"},
			{"user_id", "u1", "user_id:u1"},
		}
		if !reflect.DeepEqual(idents, wantIdents) {
			t.Errorf("identifiers %v, want %v", idents, wantIdents)
		}
		for _, i := range got.P.Identifiers {
			for _, tv := range i.Traits {
				if want := wantTraits[tv.Name]; !reflect.DeepEqual(tv.Value, want) {
					t.Errorf("identifier %s trait %s = %v, want %v", i.Key, tv.Name, tv.Value, want)
				}
				if tv.Identifier.Key != i.Key || tv.Identifier.Value != i.Value {
					t.Errorf("trait %s of %s names identifier %+v", tv.Name, i.Key, tv.Identifier)
				}
			}
		}
		for _, tv := range got.P.TraitValues {
			if want := wantTraits[tv.Name]; !reflect.DeepEqual(tv.Value, want) {
				t.Errorf("traitValues %s = %v, want %v", tv.Name, tv.Value, want)
			}
		}
		if len(got.P.Journey.Edges) != 1 {
			t.Fatalf("journey %+v", got.P.Journey)
		}
		wantProps := map[string]any{"email": "a***@example.com", "billing": map[string]any{"phone": "+*********67", "zip": "94110"}, "sku": "A-1"}
		if n := got.P.Journey.Edges[0].Node; !reflect.DeepEqual(n.Properties, wantProps) || !reflect.DeepEqual(n.Traits, wantTraits) {
			t.Errorf("journey event properties %v traits %v, want %v and %v", n.Properties, n.Traits, wantProps, wantTraits)
		}
		if !reflect.DeepEqual(got.Event.Properties, wantProps) || !reflect.DeepEqual(got.Event.Traits, wantTraits) {
			t.Errorf("event(m1) properties %v traits %v", got.Event.Properties, got.Event.Traits)
		}
		if got.Identifier.Value != "+*********67" || got.Identifier.Key != "phone:+*********67" {
			t.Errorf("identifier(phone) %+v", got.Identifier)
		}

		// Ann's graph: members by key (email, phone, user_id); the personal
		// ones get opaque ids by position, the others keep their key.
		type node struct{ ID, Type, Value string }
		var nodes []node
		for _, n := range got.P.IdentityGraph.Nodes {
			nodes = append(nodes, node(n))
		}
		wantNodes := []node{{"n1", "email", "a***@example.com"}, {"n2", "phone", "+*********67"}, {"user_id:u1", "user_id", "u1"}}
		if !reflect.DeepEqual(nodes, wantNodes) {
			t.Errorf("Ann's graph nodes %v, want %v", nodes, wantNodes)
		}
		ids := map[string]bool{}
		for _, n := range wantNodes {
			ids[n.ID] = true
		}
		for _, ed := range got.P.IdentityGraph.Edges {
			if !ids[ed.From] || !ids[ed.To] {
				t.Errorf("edge %s-%s names a node the graph does not list", ed.From, ed.To)
			}
		}
		if len(got.P.IdentityGraph.Edges) == 0 {
			t.Errorf("Ann's graph has no edge")
		}

		// Carl's graph: his email, then the far end of the manual refusal.
		nodes = nil
		for _, n := range got.C.IdentityGraph.Nodes {
			nodes = append(nodes, node(n))
		}
		wantNodes = []node{{"n1", "email", "c***@example.com"}, {"n2", "phone", "+*********99"}}
		if !reflect.DeepEqual(nodes, wantNodes) {
			t.Errorf("Carl's graph nodes %v, want %v", nodes, wantNodes)
		}
		if ed := got.C.IdentityGraph.Edges; len(ed) != 1 || ed[0].From != "n1" || ed[0].To != "n2" || !ed[0].Rejected || ed[0].Reason == nil || *ed[0].Reason != "mistaken link" {
			t.Errorf("Carl's graph edges %+v, want the refusal n1 → n2", ed)
		}
		wantReason := "unlinked email:c***@example.com and phone:+*********99: mistaken link"
		if h := got.C.History; len(h) != 1 || h[0].Reason != wantReason {
			t.Errorf("Carl's history %+v, want reason %q", h, wantReason)
		}
		if rs := got.ExplainLink.Refusals; len(rs) != 1 || rs[0].A.Key != "email:c***@example.com" || rs[0].B.Value != "+*********99" || rs[0].Reason != "mistaken link" {
			t.Errorf("refusals %+v", rs)
		}
		for _, st := range got.P.ExplainLink.Path {
			for _, ref := range []struct{ Type, Value, Key string }{st.From, st.To} {
				if ref.Type == "email" && ref.Value != "a***@example.com" || ref.Type == "phone" && ref.Value != "+*********67" {
					t.Errorf("path step names %+v unmasked", ref)
				}
			}
		}
		if len(got.P.ExplainLink.Path) == 0 {
			t.Errorf("no path from Ann's email to u1")
		}

		// With pii:read, the same answer holds the values.
		full, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
		r = e.ok(full, everyPersonalPlace, nil, nil)
		for _, v := range []string{"ann@example.com", "+14155550167", "Ann Example", "carl@example.com", "+14155550199", "1 Main St", "email:carl@example.com"} {
			if !bytes.Contains(r.Raw, []byte(v)) {
				t.Errorf("answer with pii:read lacks %q", v)
			}
		}
		var fullAns maskedAnswer
		if err := json.Unmarshal(r.Data, &fullAns); err != nil {
			t.Fatal(err)
		}
		if fullAns.C.IdentityGraph.Nodes[0].ID != "email:carl@example.com" {
			t.Errorf("with pii:read, node ids are keys: %+v", fullAns.C.IdentityGraph.Nodes)
		}

		// Lookup by a personal identifier works with profiles:read alone.
		if got.P.ID == "" {
			t.Errorf("profileByIdentifier(email) found nothing for profiles:read")
		}
	})
}

func TestErrorsNeverEchoIdentifierValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "email:ann@example.com", "user_id:u1"))
		for _, scopes := range [][]access.Scope{
			{access.ScopeProfilesRead, access.ScopeIdentityWrite},
			{access.ScopeProfilesRead, access.ScopeIdentityWrite, access.ScopePIIRead},
		} {
			secret, _ := e.key("errors", "", scopes...)
			for _, c := range []struct {
				query, code, names string
				values             []string
			}{
				{`mutation { removeIdentifier(type: "email", value: "Nobody@Example.com", reason: "x") { id } }`, CodeNotFound, `arguments "type" and "value"`, []string{"nobody@example.com", "Nobody@Example.com"}},
				{`mutation { unlinkIdentifiers(a: {type: "email", value: "ann@example.com"}, b: {type: "email", value: "zed@example.com"}, reason: "x") { id } }`, CodeNotFound, `argument "b"`, []string{"ann@example.com", "zed@example.com"}},
				{`mutation { unlinkIdentifiers(a: {type: "email", value: "ann@example.com"}, b: {type: "user_id", value: "u_none"}, reason: "x") { id } }`, CodeNotFound, `argument "b"`, []string{"ann@example.com"}},
				{`{ explainLink(a: {type: "email", value: "zed@example.com"}, b: {type: "user_id", value: "u1"}) { linked } }`, CodeNotFound, `argument "a"`, []string{"zed@example.com"}},
				{`{ profileByIdentifier(type: "email", value: "not-an-email") { id } }`, CodeInvalidArgument, `"value"`, []string{"not-an-email"}},
				{`{ profileByIdentifier(type: "phone", value: "call me at 555") { id } }`, CodeInvalidArgument, `"value"`, []string{"call me at 555"}},
				{`mutation { removeIdentifier(type: "email", value: "bad email@", reason: "x") { id } }`, CodeInvalidArgument, `"value"`, []string{"bad email@"}},
				// A literal of the wrong type is refused by validation,
				// whose messages name the value in gqlparser's words.
				{`{ profileByIdentifier(type: "phone", value: 15550100) { id } }`, "", "", []string{"15550100"}},
				{`{ profileByIdentifier(type: "phone", value: true) { id } }`, "", "", []string{"true"}},
				{`{ profileByIdentifier(type: "phone", value: {n: 15550100}) { id } }`, "", "", []string{"15550100"}},
				{`{ profileByIdentifier(type: "phone", value: ["15550100"]) { id } }`, "", "", []string{"15550100"}},
				// An enum given as a literal, or as a variable, that is
				// not one of its values.
				{`{ attribution(conversion: {name: "x"}, dimension: ANN_EXAMPLE_COM, model: LAST_TOUCH, lookback: "30d") { conversions } }`, "", "", []string{"ann_example_com"}},
				{`query($d: AttributionDimension!) { attribution(conversion: {name: "x"}, dimension: $d, model: LAST_TOUCH, lookback: "30d") { conversions } }`, "", "", []string{"ann@example.com"}},
				// Values holding line breaks or spaces, as variables.
				{`query($n: AttributionDimension!) { attribution(conversion: {name: "x"}, dimension: $n, model: LAST_TOUCH, lookback: "30d") { conversions } }`, "", "", []string{"ann@example.com"}},
				{`query($i: Int) { profiles(first: $i) { totalCount } }`, "", "", []string{"ann@example.com"}},
				{`query($f: ID!) { profile(id: $f) { id } }`, "", "", []string{"ann@example.com"}},
			} {
				vars := map[string]any{}
				if strings.Contains(c.query, "$d") {
					vars["d"] = "ann@example.com"
				}
				if strings.Contains(c.query, "$n") {
					vars["n"] = "ann@example.com\nx"
				}
				if strings.Contains(c.query, "$i") {
					vars["i"] = "call ann@example.com\nnow"
				}
				if strings.Contains(c.query, "$f") {
					vars["f"] = map[string]any{"mail": "ann@example.com\n"}
				}
				r := e.as(secret, c.query, vars)
				if c.code == "" && len(r.Errors) == 0 {
					t.Errorf("%s: no error", c.query)
				}
				if c.code != "" {
					checkRefused(t, r.gqlResponse, c.code, c.names)
				}
				for _, er := range r.Errors {
					for _, v := range c.values {
						if strings.Contains(strings.ToLower(er.Message), strings.ToLower(v)) {
							t.Errorf("%s: error %q echoes %q", c.query, er.Message, v)
						}
					}
				}
			}
		}
	})
}

// An email whose local part holds an apostrophe (a valid address the
// normalizer accepts) or that is quoted is masked in the engine's texts
// (history reasons) like anywhere else: a key without pii:read does not
// read the address, and one with it reads it and leaves an audit entry.
func TestHistoryReasonMasksEveryEmailForm(t *testing.T) {
	for _, c := range []struct{ email, leak string }{
		{"o'brien@example.com", "brien@example.com"},
		{`"ann.lee"@example.com`, `ann.lee`},
	} {
		storetest.Each(t, func(t *testing.T, s graph.Store) {
			e := newKeyEnv(t, s, testConfig(), nil)
			e.apply(ev("c1", t0.Add(time.Minute), "identify", "email:"+c.email, "user_id:u9"))
			admin, _ := e.key("setup", "", access.ScopeIdentityWrite)
			e.ok(admin, `mutation($e: String!) { unlinkIdentifiers(a: {type: "email", value: $e}, b: {type: "user_id", value: "u9"}, reason: "mistaken link") { id } }`, map[string]any{"e": c.email}, nil)
			reader, _ := e.key("analyst", "", access.ScopeProfilesRead)
			r := e.ok(reader, `{ profileByIdentifier(type: "user_id", value: "u9") { history(first: 5) { reason } } }`, nil, nil)
			if bytes.Contains(r.Raw, []byte(c.leak)) {
				t.Errorf("%s: answer without pii:read holds %q: %s", c.email, c.leak, r.Raw)
			}
			// With pii:read the reason shows the address, and the read is audited.
			full, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
			r = e.ok(full, `{ profileByIdentifier(type: "user_id", value: "u9") { history(first: 5) { reason } } }`, nil, nil)
			if !bytes.Contains(r.Raw, []byte(c.leak)) {
				t.Fatalf("%s: answer with pii:read lacks %q: %s", c.email, c.leak, r.Raw)
			}
			if es := e.audit("profileByIdentifier"); len(es) == 0 {
				t.Errorf("%s: the unmasked history reason left no audit entry", c.email)
			}
		})
	}
}

// With suggestions on (cdp serve's default), an enum literal that is not
// one of the enum's values is cut from the message as it is without them,
// though gqlparser then adds a "Did you mean" hint after it.
func TestEnumLiteralCutWithSuggestions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.Suggestions = true
		e := newKeyEnv(t, s, cfg, nil)
		secret, _ := e.key("errors", "", access.ScopeProfilesRead, access.ScopeAudiencesRead)
		r := e.as(secret, `{ profiles(filter: {trait: {name: "plan", op: ANNZQ, value: "x"}}) { nodes { id } } }`, nil)
		if len(r.Errors) == 0 {
			t.Fatal("no error for an enum literal that is not a value")
		}
		for _, er := range r.Errors {
			if strings.Contains(er.Message, "ANNZQ") {
				t.Errorf("error %q echoes the literal", er.Message)
			}
			if !strings.Contains(er.Message, `does not exist in "FilterOp!" enum`) {
				t.Errorf("error %q no longer says what is wrong", er.Message)
			}
		}
	})
}
