package keep_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The keeper keeps facts while an audience is stored: Refresh writes
// those of live profiles and deletes those of profiles merged away,
// RefreshAll writes every live profile's; Preview counts on them as of the
// last refresh. With no audience left, RefreshAll deletes them all and
// Refresh deletes those of the profiles it is given.
func TestFactsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		ordered := time.Date(2026, 6, 13, 9, 30, 0, 0, time.UTC) // 2 days before t0
		e.apply(
			ev("f1", ordered, "Order", nil, nil, ann),
			ev("f2", ordered.Add(-time.Hour), "", nil, map[string]any{"plan": "pro"}, ann),
			ev("f3", ordered, "View", nil, nil, cat),
		)
		A, C := e.profile(ann), e.profile(cat)
		facts := func(ids ...string) map[string]audience.Facts {
			t.Helper()
			got, err := e.st.Facts(bg, ids)
			must(t, err)
			return got
		}
		if got := facts(A, C); len(got) != 0 {
			t.Fatalf("facts before any refresh: %v", got)
		}
		// With no audience, a refresh writes no facts.
		must(t, e.k.Refresh(bg, []string{A}))
		if got := facts(A, C); len(got) != 0 {
			t.Fatalf("facts after a refresh with no audience: %v", got)
		}
		e.putAudience(seg(1), "emails", "", audience.Filter{Identifier: &audience.IdentifierCondition{Type: "email"}})
		must(t, e.k.Refresh(bg, []string{A}))
		day := time.Date(2026, 6, 13, 0, 0, 0, 0, time.UTC).Unix() / 86400
		off := int64(9*time.Hour + 30*time.Minute)
		annFacts := audience.Facts{
			ProfileID: A, Keys: []string{ann}, Types: []string{"email"},
			Traits:     []audience.TraitFact{{Name: "plan", Value: "pro"}},
			EventNames: []string{"", "Order", "identify", "track"},
			Events: []audience.EventFact{
				{Name: 0, Type: 2, Day: day, N: 1, First: off - int64(time.Hour), Last: off - int64(time.Hour)},
				{Name: 1, Type: 3, Day: day, N: 1, First: off, Last: off},
			},
		}
		if got, want := facts(A, C), map[string]audience.Facts{A: annFacts}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after Refresh(ann):\n got %#v\nwant %#v", got, want)
		}
		must(t, e.k.RefreshAll(bg))
		catFacts := audience.Facts{ProfileID: C, Keys: []string{cat}, Types: []string{"anonymous_id"},
			EventNames: []string{"View", "track"},
			Events:     []audience.EventFact{{Name: 0, Type: 1, Day: day, N: 1, First: off, Last: off}}}
		if got, want := facts(A, C), map[string]audience.Facts{A: annFacts, C: catFacts}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after RefreshAll:\n got %#v\nwant %#v", got, want)
		}

		// An Order within 7 days, on facts: ann.
		recent := &audience.Filter{Event: &audience.EventCondition{Name: "Order", Within: "P7D"}}
		n, sample, err := e.k.Preview(bg, recent, "", 5)
		must(t, err)
		if n != 1 || !reflect.DeepEqual(sample, []string{A}) {
			t.Fatalf("preview of an order in 7 days: %d %v, want 1 [%s]", n, sample, A)
		}

		// cat orders too, and is not refreshed: Preview counts cat as of
		// its last refresh, with no order, where it reads facts; a store
		// that compiles the filter (Neo4j) reads the graph, cat's order
		// included.
		e.apply(ev("f4", ordered, "Order", nil, nil, cat))
		before := 1
		if _, compiles := e.st.(audience.FilterCounter); compiles {
			before = 2
		}
		if n, _, err = e.k.Preview(bg, recent, "", 5); err != nil || n != before {
			t.Fatalf("preview before cat's refresh: %d, %v; want %d", n, err, before)
		}
		must(t, e.k.Refresh(bg, []string{C}))
		if n, _, err = e.k.Preview(bg, recent, "", 5); err != nil || n != 2 {
			t.Fatalf("preview after cat's refresh: %d, %v; want 2", n, err)
		}

		// ann and cat merge: the profile merged away loses its facts, the
		// survivor's hold both.
		e.apply(ev("f5", ordered.Add(time.Hour), "Link", nil, nil, ann, cat))
		surv := e.profile(ann)
		gone := A
		if surv == A {
			gone = C
		}
		must(t, e.k.Refresh(bg, []string{A, C}))
		got := facts(A, C)
		if _, ok := got[gone]; ok || len(got) != 1 {
			t.Fatalf("after the merge, facts of %v; want only the survivor %s", got, surv)
		}
		sf := got[surv]
		if !reflect.DeepEqual(sf.Keys, []string{cat, ann}) || !reflect.DeepEqual(sf.Types, []string{"anonymous_id", "email"}) {
			t.Fatalf("survivor's keys %v and types %v", sf.Keys, sf.Types)
		}
		// Orders: ann's, cat's, and the link event (Link) apart: 2.
		two := &audience.Filter{Event: &audience.EventCondition{Name: "Order", Count: &audience.CountCondition{Op: audience.OpEQ, Value: 2}}}
		if n, sample, err = e.k.Preview(bg, two, "", 5); err != nil || n != 1 || !reflect.DeepEqual(sample, []string{surv}) {
			t.Fatalf("preview of two orders after the merge: %d %v, %v; want 1 [%s]", n, sample, err, surv)
		}

		// The audience goes: RefreshAll deletes every fact, and the count,
		// read in full, is the same.
		if ok, err := e.st.DeleteAudience(bg, seg(1)); err != nil || !ok {
			t.Fatalf("delete the audience: %v %v", ok, err)
		}
		must(t, e.k.RefreshAll(bg))
		if got := facts(A, C); len(got) != 0 {
			t.Fatalf("facts after RefreshAll with no audience: %v", got)
		}
		if n, sample, err = e.k.Preview(bg, two, "", 5); err != nil || n != 1 || !reflect.DeepEqual(sample, []string{surv}) {
			t.Fatalf("preview with no facts: %d %v, %v; want 1 [%s]", n, sample, err, surv)
		}
	})
}

// The facts keep computed values, with no audience stored: a 30-day count
// of orders, refreshed on day 0 (t0) with one order each for ann and cat
// that morning. cat then orders on days 5 and 8, unrefreshed. On day 10
// Preview counts on the facts (orders 1 each); on day 31 the morning
// orders have left the window, the facts no longer know the value, and
// Preview reads both in full (ann 0, cat 2). Redefined, a trait's kept
// values are not trusted either.
func TestComputedFactsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		orders := audience.ComputedTrait{Name: "orders", Aggregate: audience.AggCount, Event: "Order", Window: "P30D", CreatedAt: t0, UpdatedAt: t0}
		must(t, e.st.PutComputedTrait(bg, orders))
		// Facts are kept while an audience exists.
		e.putAudience(seg(1), "buyers", "", audience.Filter{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpGTE, Value: 1}})
		morning := t0.Add(-2 * time.Hour)
		e.apply(ev("c1", morning, "Order", nil, nil, ann), ev("c2", morning, "Order", nil, nil, cat))
		A, C := e.profile(ann), e.profile(cat)
		must(t, e.k.Refresh(bg, []string{A, C}))
		got, err := e.st.Facts(bg, []string{A, C})
		must(t, err)
		// Computed at t0, until the order leaves: 30 days after it, and a
		// nanosecond.
		want := []audience.ComputedFact{{Name: "orders", Version: audience.ComputedVersion(orders), Value: 1.0,
			From: t0, Until: morning.AddDate(0, 0, 30).Add(1)}}
		for _, id := range []string{A, C} {
			if !reflect.DeepEqual(got[id].Computed, want) {
				t.Fatalf("computed facts of %s:\n got %#v\nwant %#v", id, got[id].Computed, want)
			}
		}
		e.apply(ev("c3", t0.AddDate(0, 0, 5), "Order", nil, nil, cat), ev("c4", t0.AddDate(0, 0, 8), "Order", nil, nil, cat))

		cond := func(op audience.Op, v int) *audience.Filter {
			return &audience.Filter{Computed: &audience.ComputedCondition{Name: "orders", Op: op, Value: v}}
		}
		preview := func(f *audience.Filter, n int, ids ...string) {
			t.Helper()
			got, sample, err := e.k.Preview(bg, f, "", 5)
			must(t, err)
			if want := sorted(ids...); got != n || !reflect.DeepEqual(sample, want) {
				t.Fatalf("at %v, preview of orders %s %v: %d %v, want %d %v", e.now, f.Computed.Op, f.Computed.Value, got, sample, n, want)
			}
		}
		// Day 10, on the facts: one order each (cat's new ones unseen). A
		// store that compiles the filter (Neo4j) computes from the events
		// themselves: ann 1, cat 3.
		e.now = t0.AddDate(0, 0, 10)
		preview(cond(audience.OpGTE, 1), 2, A, C)
		if _, compiles := e.st.(audience.FilterCounter); compiles {
			preview(cond(audience.OpEQ, 1), 1, A)
			preview(cond(audience.OpEQ, 3), 1, C)
		} else {
			preview(cond(audience.OpEQ, 1), 2, A, C)
		}
		// Day 31, read in full: ann none, cat 2 (days 5 and 8).
		e.now = t0.AddDate(0, 0, 31)
		preview(cond(audience.OpGTE, 1), 1, C)
		preview(cond(audience.OpEQ, 1), 0)
		preview(cond(audience.OpEQ, 2), 1, C)

		// Back to day 10, the trait redefined over 7 days: the facts'
		// values are not trusted, and the profiles are read in full (ann
		// none, cat 2: days 5 and 8, from day 3 on).
		e.now = t0.AddDate(0, 0, 10)
		week := orders
		week.Window, week.UpdatedAt = "P7D", e.now
		must(t, e.st.PutComputedTrait(bg, week))
		preview(cond(audience.OpGTE, 1), 1, C)
		preview(cond(audience.OpEQ, 1), 0)
		// Refreshed, the facts hold the new values (ann 0, cat 2), up to
		// day 12 at noon, when the order of day 5 leaves.
		must(t, e.k.Refresh(bg, []string{A, C}))
		got, err = e.st.Facts(bg, []string{A, C})
		must(t, err)
		if g := got[A].Computed; len(g) != 1 || g[0].Value != 0.0 || g[0].Version != audience.ComputedVersion(week) {
			t.Fatalf("ann's computed facts after the redefinition: %#v", g)
		}
		if g := got[C].Computed; len(g) != 1 || g[0].Value != 2.0 || !g[0].Until.Equal(t0.AddDate(0, 0, 12).Add(1)) {
			t.Fatalf("cat's computed facts after the redefinition: %#v", g)
		}
		preview(cond(audience.OpEQ, 2), 1, C)
	})
}
