package resolver

import (
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Ann (user_id:u1) ordered three times (totals 1, 2 and 3); a visitor
// (anonymous_id:a2) ordered once before any of them (10). Profile.computed
// of Ann reads two events a page, and between its first and second page an
// order carrying both (100) commits, merging the visitor into Ann. The
// values are of one state, here the merged one, read again: 5 orders, 116.
// Paging on across the merge counted the visitor's order but not the one
// that merged them, 4 orders and 16, which no state of Ann ever held.
func TestComputedOfOneStateWhenMergedBetweenPages(t *testing.T) {
	defer func(was int) { computedPage = was }(computedPage)
	computedPage = 2
	defer func() { afterComputedPage = nil }()
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		start := time.Now().UTC().Add(-time.Hour)
		e.apply(order("o1", "u1", start.Add(1*time.Minute), 1),
			order("o2", "u1", start.Add(2*time.Minute), 2),
			order("o3", "u1", start.Add(3*time.Minute), 3))
		visitor := order("x1", "u1", start, 10)
		visitor.Identifiers = []graph.IdentifierRef{{Type: "anonymous_id", Value: "a2"}}
		e.apply(visitor)
		defineCT(e, map[string]any{"name": "orders", "aggregate": "COUNT", "event": "Order Completed"})
		defineCT(e, map[string]any{"name": "revenue", "aggregate": "SUM", "event": "Order Completed", "property": "total"})
		merged := false
		afterComputedPage = func() {
			if !merged {
				merged = true
				link := order("link", "u1", start.Add(10*time.Minute), 100)
				link.Identifiers = append(link.Identifiers, graph.IdentifierRef{Type: "anonymous_id", Value: "a2"})
				e.apply(link)
			}
		}
		got := computedOf(e, "u1")
		afterComputedPage = nil
		if want := map[string]any{"orders": 5.0, "revenue": 116.0}; !merged || !reflect.DeepEqual(got, want) {
			t.Fatalf("computed during the merge (made: %v): %v; want %v", merged, got, want)
		}
		// The visitor's profile was merged into Ann's: one person.
		if again := computedOf(e, "u1"); !reflect.DeepEqual(again, got) {
			t.Fatalf("computed after the merge: %v; want %v", again, got)
		}
	})
}
