package resolver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
