package resolver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestSelectionLimit: a document of more than MaxSelections field
// selections is refused with QUERY_TOO_LARGE before validation.
func TestSelectionLimit(t *testing.T) {
	e := newEnv(t, storetest.OpenEmbedded(t), testConfig(), nil)

	// 14,000 selections of one field, a 70 KB document, under the token
	// limit: refused, with 422.
	doc := "{ profiles(first: 1) { nodes {" + strings.Repeat(" size", 14000) + " } } }"
	if len(doc) < 70000 {
		t.Fatalf("document is %d bytes", len(doc))
	}
	r := e.refused(doc, nil, CodeQueryTooLarge, "14002 field selections", "limit of 2000")
	if r.Status != http.StatusUnprocessableEntity {
		t.Errorf("status %d, want 422", r.Status)
	}
	// Refused before validation: the same document with a field the schema
	// does not have is still QUERY_TOO_LARGE, not a validation error.
	e.refused("{ profiles(first: 1) { nodes {"+strings.Repeat(" size", 14000)+" noSuchField } } }", nil, CodeQueryTooLarge)

	// Counting: every field node, fragments once per definition, inline
	// fragments' fields too. 2 + 1998 = 2000 passes; one more is refused.
	fields := func(n int) string { return strings.Repeat(" size", n) }
	e.query("{ profiles(first: 1) { nodes {"+fields(1998)+" } } }", nil, nil)
	e.refused("{ profiles(first: 1) { nodes {"+fields(1999)+" } } }", nil, CodeQueryTooLarge, "2001 field selections")
	// The fragment's 1000 fields count once, though spread twice; with the
	// two outer fields and the inline fragment's 998, 2000 in all.
	withFrag := "query { profiles(first: 1) { nodes { ...F ...F ... on Profile {" + fields(998) + " } } } } fragment F on Profile {" + fields(1000) + " }"
	e.query(withFrag, nil, nil)
	e.refused(strings.Replace(withFrag, "on Profile {", "on Profile { id", 1), nil, CodeQueryTooLarge, "2001 field selections")
	// A document that does not parse is still reported as such.
	e.refused("{ profiles { nodes { size ", nil, "GRAPHQL_PARSE_FAILED")

	// The limit is configurable.
	cfg := testConfig()
	cfg.MaxSelections = 10
	small := newEnv(t, storetest.OpenEmbedded(t), cfg, nil)
	small.query("{ profiles(first: 1) { nodes {"+fields(8)+" } } }", nil, nil)
	small.refused("{ profiles(first: 1) { nodes {"+fields(9)+" } } }", nil, CodeQueryTooLarge, "11 field selections", "limit of 10")
}

// bigProfile stores one profile of 200 identifiers (the default
// maxIdentifiers) whose values are about 900 bytes long, so that its
// identity graph is about 600 KB of JSON.
func bigProfile(e *env) {
	pad := strings.Repeat("x", 900)
	var evs []graph.Event
	for i := range 199 {
		evs = append(evs, ev(fmt.Sprintf("big-%03d", i), t0.Add(time.Duration(i)*time.Second), "identify",
			"user_id:big", fmt.Sprintf("t%02d:v%d-%s", i/5, i%5, pad)))
	}
	e.apply(evs...)
}

// peakHeap runs fn while sampling the heap in use, and returns the most
// seen.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// aliases is a document of n aliases of the big profile's identity graph,
// about 70 bytes each (the selection is a fragment).
func aliases(n int) string {
	var b strings.Builder
	b.WriteString("query {")
	for i := range n {
		fmt.Fprintf(&b, " a%d: profileByIdentifier(type: \"user_id\", value: \"big\") { ...G }\n", i)
	}
	b.WriteString(` }
fragment G on Profile { identityGraph {
  nodes { id type value profileId inProfile firstSeen lastSeen }
  edges { from to rejected source evidence reason count firstSeen lastSeen at } } }`)
	return b.String()
}

// TestResponseLimit: an answer over MaxResponseBytes is replaced by
// RESPONSE_TOO_LARGE, and building it stops at the limit: 250 aliases of an
// 600 KB identity graph (150 MB of JSON) are refused while the heap stays
// under 200 MB.
func TestResponseLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.MaxComplexity = 1 << 30 // let the response limit, not the complexity, refuse
		e := newEnv(t, s, cfg, nil)
		bigProfile(e)

		// One alias is served: the graph holds the 200 identifiers.
		var one struct {
			A0 struct {
				IdentityGraph struct{ Nodes []struct{ ID string } }
			}
		}
		r := e.post(aliases(1), nil)
		if len(r.Errors) > 0 {
			t.Fatalf("one alias: %+v", r.Errors)
		}
		if err := json.Unmarshal(r.Data, &one); err != nil {
			t.Fatal(err)
		}
		if n := len(one.A0.IdentityGraph.Nodes); n != 200 {
			t.Fatalf("identity graph has %d nodes, want 200", n)
		}
		perAlias := len(r.Data)
		if perAlias < 500<<10 {
			t.Fatalf("one alias answers %d bytes; the test needs about 600 KB", perAlias)
		}

		doc := aliases(250)
		var got gqlResponse
		peak := peakHeap(func() { got = e.post(doc, nil) })
		t.Logf("250 aliases (%d MB of JSON): peak heap in use %d MB", 250*perAlias>>20, peak>>20)
		if peak >= 200<<20 {
			t.Errorf("peak heap in use %d MB while refusing, want under 200 MB", peak>>20)
		}
		checkRefused(t, got, CodeResponseTooLarge, "larger than the limit of 8388608 bytes")
		if got.Data != nil && string(got.Data) != "null" {
			t.Errorf("a refused answer carries data: %.200s", got.Data)
		}
		if len(got.Errors) != 1 {
			t.Errorf("want one error, got %d", len(got.Errors))
		}

		// The limit counts the answer's JSON bytes: set 2% above a known
		// answer's size it serves it, 2% below it refuses it.
		doc = aliases(3)
		r = e.post(doc, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("three aliases: %+v", r.Errors)
		}
		size := int64(len(r.Data))
		for _, c := range []struct {
			limit int64
			ok    bool
		}{{size + size/50, true}, {size - size/50, false}} {
			cfg := testConfig()
			cfg.MaxComplexity = 1 << 30
			cfg.MaxResponseBytes = c.limit
			e2 := newEnv(t, s, cfg, nil)
			r := e2.post(doc, nil)
			if c.ok && len(r.Errors) > 0 {
				t.Errorf("limit %d, answer of %d bytes: %+v", c.limit, size, r.Errors)
			}
			if !c.ok {
				checkRefused(t, r, CodeResponseTooLarge)
			}
		}
	})
}

// TestIssueDocumentsRefused: with the default limits, the documents of the
// issue are refused and the heap stays under 200 MB.
func TestIssueDocumentsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		bigProfile(e)
		var got gqlResponse
		peak := peakHeap(func() { got = e.post(aliases(250), nil) })
		if c := got.code(); c != CodeComplexityLimit && c != CodeResponseTooLarge {
			t.Fatalf("250 aliases of the identity graph: %+v", got.Errors)
		}
		if peak >= 200<<20 {
			t.Errorf("peak heap in use %d MB, want under 200 MB", peak>>20)
		}
		peak = peakHeap(func() {
			got = e.post(`{ profileByIdentifier(type: "user_id", value: "big") {`+strings.Repeat(" size", 14000)+` } }`, nil)
		})
		checkRefused(t, got, CodeQueryTooLarge)
		if peak >= 200<<20 {
			t.Errorf("peak heap in use %d MB, want under 200 MB", peak>>20)
		}
	})
}

// TestBoundedLists: the lists without pages take a first whose default is
// their cap, the complexity prices them by that bound, and first caps them.
func TestBoundedLists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		bigProfile(e)
		e.apply(
			withTraits(ev("tr-1", t0, "identify", "user_id:tr", "email:tr@example.com"), map[string]any{"c": 3, "a": 1, "b": 2}),
			withTraits(ev("tr-2", t0.Add(time.Minute), "identify", "email:tr@example.com"), map[string]any{"a": 10, "d": 4}),
		)

		// 20 aliases of a profile's identifiers: priced at the old estimate
		// of 10 identifiers (20 x (2 + 10 x 6) = 1,240) this passed, though
		// the answer holds 4,000 identifiers of 900 bytes, twice over. Priced
		// at the bound (200) it costs 20 x (2 + 200 x 6) = 24,040 and is refused; with first: 10
		// the client pays for what it asks.
		sel := `profileByIdentifier(type: "user_id", value: "big") { identifiers%s { type value key firstSeen lastSeen sources } }`
		doc := func(args string) string {
			var b strings.Builder
			b.WriteString("{")
			for i := range 20 {
				fmt.Fprintf(&b, " a%d: "+sel, i, args)
			}
			b.WriteString(" }")
			return b.String()
		}
		e.refused(doc(""), nil, CodeComplexityLimit, "complexity 24040", "limit of 20000")
		e.refused(doc("(first: 200)"), nil, CodeComplexityLimit, "complexity 24040")
		var few map[string]struct{ Identifiers []struct{ Key string } }
		e.query(doc("(first: 10)"), nil, &few)
		if len(few) != 20 || len(few["a0"].Identifiers) != 10 {
			t.Fatalf("20 aliases of identifiers(first: 10): %d aliases, %d identifiers", len(few), len(few["a0"].Identifiers))
		}

		// first caps the list, keeping the order; the default is
		// maxIdentifiers, and more is refused.
		var ids struct {
			P struct {
				All   []struct{ Key string } `json:"all"`
				Seven []struct{ Key string } `json:"seven"`
				None  []struct{ Key string } `json:"none"`
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "big") { all: identifiers { key } seven: identifiers(first: 7) { key } none: identifiers(first: 0) { key } } }`, nil, &ids)
		if len(ids.P.All) != 200 || len(ids.P.None) != 0 || len(ids.P.Seven) != 7 {
			t.Fatalf("identifiers: %d by default, %d with first 7, %d with first 0", len(ids.P.All), len(ids.P.Seven), len(ids.P.None))
		}
		for i, id := range ids.P.Seven {
			if id.Key != ids.P.All[i].Key {
				t.Fatalf("identifiers(first: 7)[%d] = %.20s, want %.20s", i, id.Key, ids.P.All[i].Key)
			}
		}
		e.refused(`{ profileByIdentifier(type: "user_id", value: "big") { identifiers(first: 201) { key } } }`, nil,
			CodeInvalidArgument, `"first"`, "Profile.identifiers", "between 0 and 200", "201")

		// The identity graph's lists and an explanation's too.
		var g struct {
			P struct {
				IdentityGraph struct {
					Nodes, Three []struct{ ID string }
					Edges, Two   []struct{ From, To string }
				}
				ExplainLink struct {
					Linked bool
					Path   []struct{ Source string }
					None   []struct{ Source string }
				}
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "big") {
		  identityGraph { nodes { id } three: nodes(first: 3) { id } edges { from to } two: edges(first: 2) { from to } }
		  explainLink(a: {type: "user_id", value: "big"}, b: {type: "user_id", value: "big"}) { linked path { source } none: path(first: 0) { source } } } }`, nil, &g)
		ig := g.P.IdentityGraph
		if len(ig.Nodes) != 200 || len(ig.Edges) != 199 || len(ig.Three) != 3 || len(ig.Two) != 2 {
			t.Fatalf("identity graph: %d nodes, %d edges; first 3 nodes: %d, first 2 edges: %d", len(ig.Nodes), len(ig.Edges), len(ig.Three), len(ig.Two))
		}
		for i := range ig.Three {
			if ig.Three[i] != ig.Nodes[i] {
				t.Errorf("nodes(first: 3)[%d] is not the graph's node %d", i, i)
			}
		}
		for i := range ig.Two {
			if ig.Two[i] != ig.Edges[i] {
				t.Errorf("edges(first: 2)[%d] is not the graph's edge %d", i, i)
			}
		}
		if g.P.ExplainLink.None == nil || len(g.P.ExplainLink.None) != 0 {
			t.Errorf("path(first: 0) = %+v", g.P.ExplainLink.None)
		}
		for _, q := range []string{`identityGraph { nodes(first: 501) { id } }`, `identityGraph { edges(first: 501) { from } }`,
			`explainLink(a: {type: "user_id", value: "big"}, b: {type: "user_id", value: "big"}) { refusals(first: 501) { reason } }`} {
			e.refused(`{ profileByIdentifier(type: "user_id", value: "big") { `+q+` } }`, nil, CodeInvalidArgument, `"first"`, "500")
		}

		// Traits: current values by name, every reported value newest first,
		// an identifier's own; first keeps the head of each.
		var tr struct {
			P struct {
				TraitValues  []struct{ Name string }
				TraitSources []struct {
					Name  string
					Value any
				}
				Identifiers []struct {
					Key    string
					Traits []struct{ Name string }
				}
				History []struct{ Kind string }
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "tr") {
		  traitValues(first: 2) { name } traitSources(first: 2) { name value }
		  identifiers(types: ["user_id"]) { key traits(first: 1) { name } } history(first: 0) { kind } } }`, nil, &tr)
		if got := fmt.Sprint(tr.P.TraitValues); got != "[{a} {b}]" {
			t.Errorf("traitValues(first: 2) = %s, want [{a} {b}]", got)
		}
		if len(tr.P.TraitSources) != 2 || fmt.Sprint(tr.P.TraitSources[0].Value) == "" {
			t.Errorf("traitSources(first: 2) = %+v", tr.P.TraitSources)
		}
		for _, ts := range tr.P.TraitSources {
			if ts.Name != "a" && ts.Name != "d" {
				t.Errorf("traitSources(first: 2) holds %q; the newest values are a and d", ts.Name)
			}
		}
		if len(tr.P.Identifiers) != 1 || fmt.Sprint(tr.P.Identifiers[0].Traits) != "[{a}]" {
			t.Errorf("identifier traits(first: 1) = %+v, want [{a}]", tr.P.Identifiers)
		}
		if tr.P.History == nil || len(tr.P.History) != 0 {
			t.Errorf("history(first: 0) = %+v", tr.P.History)
		}
		for _, q := range []string{`traitValues(first: 501) { name }`, `traitSources(first: 501) { name }`, `history(first: 501) { kind }`,
			`identifiers { traits(first: 501) { name } }`} {
			e.refused(`{ profileByIdentifier(type: "user_id", value: "tr") { `+q+` } }`, nil, CodeInvalidArgument, `"first"`, "500")
		}
		// Nested lists multiply their bounds: 200 identifiers of 500 traits.
		e.refused(`{ profileByIdentifier(type: "user_id", value: "tr") { identifiers { traits { name } } } }`, nil, CodeComplexityLimit, "complexity 100202") // 1 + (1 + 200 x (1 + 500 x 1))
	})
}

// TestIdentifiersBoundFollowsRules: the bound of Profile.identifiers is the
// rules' maxIdentifiers.
func TestIdentifiersBoundFollowsRules(t *testing.T) {
	rules := graph.DefaultRules()
	rules.MaxIdentifiers = 3
	cfg := testConfig()
	cfg.Logger = zerolog.Nop()
	srv := httptest.NewServer(asOpen(NewHandler(graph.NewEngine(storetest.OpenEmbedded(t), rules), nil, cfg)))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv}
	e.refused(`{ profiles(first: 1) { nodes { identifiers(first: 4) { key } } } }`, nil, CodeInvalidArgument, "between 0 and 3", "got 4")
	e.query(`{ profiles(first: 1) { nodes { identifiers(first: 3) { key } } } }`, nil, nil)
	// Priced by the rules' bound: 1 + 500 x (1 + 1 + 3 x 1) = 2,501 passes;
	// under the default rules (200) it would cost 101,001.
	e.query(`{ profiles(first: 500) { nodes { identifiers { key } } } }`, nil, nil)
	def := newEnv(t, storetest.OpenEmbedded(t), testConfig(), nil)
	def.refused(`{ profiles(first: 500) { nodes { identifiers { key } } } }`, nil, CodeComplexityLimit, "complexity 101001")
}

// TestResponseLimitChargesTypename: __typename is answered without the
// field middleware that charges every other field, so the objects holding
// it charge it: 40 profiles, each with 40 __typename fields under
// 5,000-byte aliases (an 8 MB answer from a 200 KB request), pass a 1 MiB
// limit no more than anything else does; so do __typename fields of the
// operation itself, and of fragments. An answer under the limit keeps them.
func TestResponseLimitChargesTypename(t *testing.T) {
	cfg := testConfig()
	cfg.MaxResponseBytes = 1 << 20
	e := newEnv(t, storetest.OpenEmbedded(t), cfg, nil)
	var evs []graph.Event
	for i := range 40 {
		evs = append(evs, ev(fmt.Sprintf("m%d", i), t0, "identify", fmt.Sprintf("user_id:u%d", i)))
	}
	e.apply(evs...)
	typenames := func(n, aliasLen int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, " a%d%s: __typename", i, strings.Repeat("x", aliasLen))
		}
		return b.String()
	}
	for name, q := range map[string]string{
		"in a list":       "query { profiles(first: 40) { nodes {" + typenames(40, 5000) + " } } }",
		"in a fragment":   "query { profiles(first: 40) { nodes { ...T } } } fragment T on Profile {" + typenames(40, 5000) + " }",
		"of a connection": "query {" + strings.Repeat(" profiles(first: 1) { totalCount }", 0) + " p: profiles(first: 40) {" + typenames(40, 5000) + " nodes { id } } }",
	} {
		_ = name
		_ = q
	}
	for name, q := range map[string]string{
		"in a list":        "query { profiles(first: 40) { nodes {" + typenames(40, 5000) + " } } }",
		"in a fragment":    "query { profiles(first: 40) { nodes { ...T } } } fragment T on Profile {" + typenames(40, 5000) + " }",
		"in a nested list": "query { profiles(first: 40) { nodes { identifiers(first: 1) {" + typenames(40, 1000) + " } } } }",
	} {
		r := e.post(q, nil)
		if r.code() != CodeResponseTooLarge || len(r.Data) > 0 && string(r.Data) != "null" {
			t.Errorf("%s: code %q, %d bytes of data; want RESPONSE_TOO_LARGE", name, r.code(), len(r.Data))
		}
	}
	// The operation's own: 20 of 5,000 bytes pass a 64 KiB limit.
	cfg.MaxResponseBytes = 64 << 10
	small := newEnv(t, storetest.OpenEmbedded(t), cfg, nil)
	if r := small.post("query {"+typenames(20, 5000)+" }", nil); r.code() != CodeResponseTooLarge {
		t.Errorf("the operation's __typename: code %q, %d bytes of data; want RESPONSE_TOO_LARGE", r.code(), len(r.Data))
	}
	// Under the limit, every __typename answers.
	var out struct {
		Profiles struct {
			Typename string `json:"__typename"`
			Nodes    []map[string]string
		}
	}
	e.query("query { profiles(first: 40) { __typename nodes { id __typename t: __typename } } }", nil, &out)
	if out.Profiles.Typename != "ProfileConnection" || len(out.Profiles.Nodes) != 40 || out.Profiles.Nodes[0]["t"] != "Profile" {
		t.Errorf("answer under the limit: %+v", out)
	}
}

// TestAccessListsPricedByFirst: apiKeys, auditLog and erasureReceipts are
// priced by their first, as every page is, computedTraits by the most
// definitions a store holds, and an audit filter matched entry by entry
// (an action) adds a scan: eight aliases of 500 entries of ten fields
// (40,000) pass no limit of 20,000, while small pages answer.
func TestAccessListsPricedByFirst(t *testing.T) {
	e := newKeyEnv(t, storetest.Embedded(t), testConfig(), nil)
	admin, _ := e.key("admin", "", access.AllScopes()...)
	many := func(n int, f string) string {
		var b strings.Builder
		b.WriteString("query {")
		for i := range n {
			fmt.Fprintf(&b, " a%d: %s", i, f)
		}
		b.WriteString(" }")
		return b.String()
	}
	for _, f := range []string{
		`auditLog(first: %d) { nodes { id at keyId keyName action operationName requestId profileIds profileCount reason outcome } }`,
		`apiKeys(first: %d) { nodes { id name scopes source createdAt lastUsedAt expiresAt revokedAt active } }`,
		`erasureReceipts(first: %d) { nodes { id at kind reason keyId keyName identifiers events scrubbedEvents traits consentRecords suppressedHashes } }`,
	} {
		if r := e.as(admin, many(8, fmt.Sprintf(f, 500)), nil); r.code() != CodeComplexityLimit {
			t.Errorf("8 x %s: status %d, errors %+v; want COMPLEXITY_LIMIT_EXCEEDED", fmt.Sprintf(f, 500)[:20], r.Status, r.Errors)
		}
		e.ok(admin, many(8, fmt.Sprintf(f, 5)), nil, nil)
	}
	// A filter by action walks the log: 41 scans are refused; by key, an
	// index walk, they answer.
	if r := e.as(admin, many(41, `auditLog(first: 1, filter: {action: "mergeProfiles"}) { nodes { id } }`), nil); r.code() != CodeComplexityLimit {
		t.Errorf("41 audit scans: status %d, errors %+v; want COMPLEXITY_LIMIT_EXCEEDED", r.Status, r.Errors)
	}
	e.ok(admin, many(41, `auditLog(first: 1, filter: {keyId: "key_none"}) { nodes { id } }`), nil, nil)
	// computedTraits holds up to audience.MaxComputedTraits definitions.
	if r := e.as(admin, many(21, `computedTraits { name description aggregate event eventType property where window createdAt updatedAt }`), nil); r.code() != CodeComplexityLimit {
		t.Errorf("21 x computedTraits of 10 fields: status %d, errors %+v; want COMPLEXITY_LIMIT_EXCEEDED", r.Status, r.Errors)
	}
	e.ok(admin, many(2, `computedTraits { name }`), nil, nil)
}
