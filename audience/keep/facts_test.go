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
		// its last refresh, with no order.
		e.apply(ev("f4", ordered, "Order", nil, nil, cat))
		if n, _, err = e.k.Preview(bg, recent, "", 5); err != nil || n != 1 {
			t.Fatalf("preview before cat's refresh: %d, %v; want 1", n, err)
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
