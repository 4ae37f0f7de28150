package keep_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// COMPUTED_CHANGED follows a computed trait's values whether or not an
// audience exists: the definition's first pass announces every profile's
// first value; a write that changes a value announces that profile, one
// that leaves it alone announces nothing; the first audience announces
// nothing, since no value changes; and a value that time alone changes (an
// order leaving a 7-day count) is announced by the periodic pass. The
// counts are worked by hand from the events below.
func TestComputedChangedWithoutAudience(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		fs, ok := s.(graph.FeedStore)
		if !ok {
			t.Fatalf("%T keeps no feed", s)
		}
		var seen uint64
		announced := func(what string, want ...string) {
			t.Helper()
			got := []string{}
			es, err := fs.Feed(bg, seen, []graph.FeedKind{graph.FeedComputedChanged}, graph.MaxFeedPage)
			must(t, err)
			for _, x := range es {
				got = append(got, x.ProfileID)
				seen = x.Seq
			}
			if want = sorted(want...); !slices.Equal(sorted(got...), want) {
				t.Fatalf("%s: COMPUTED_CHANGED for %v, want %v", what, got, want)
			}
		}
		e.apply(ev("o1", t0.Add(-2*time.Hour), "Order", nil, nil, ann), ev("v1", t0.Add(-2*time.Hour), "View", nil, nil, cat))
		A, C := e.profile(ann), e.profile(cat)
		announced("before any definition")

		orders := audience.ComputedTrait{Name: "orders", Aggregate: audience.AggCount, Event: "Order", Window: "P7D", CreatedAt: t0, UpdatedAt: t0}
		must(t, e.st.PutComputedTrait(bg, orders))
		must(t, e.k.RefreshAll(bg)) // what defining a trait asks for
		announced("the definition's pass (ann 1, cat 0)", A, C)

		e.apply(ev("o2", t0.Add(-time.Hour), "Order", nil, nil, ann), ev("v2", t0.Add(-time.Hour), "View", nil, nil, cat))
		must(t, e.k.Refresh(bg, []string{A, C}))
		announced("a second order of ann's (ann 2, cat 0)", A)

		e.putAudience(seg(1), "viewers", "", audience.Filter{Event: &audience.EventCondition{Name: "View"}})
		must(t, e.k.RefreshAll(bg))
		announced("the first audience")

		// The periodic pass writes again only the facts whose values time
		// has changed: ann's (her count drops); cat's 0 holds for ever.
		e.now = t0.AddDate(0, 0, 8)
		rec := &recordingStore{Store: e.st}
		k := keep.New(e.eng, rec, e.cs, func() time.Time { return e.now })
		must(t, k.RefreshDue(bg))
		announced("day 8: both orders out of the week (ann 0, cat 0)", A)
		if !slices.Equal(rec.facts, []string{A}) {
			t.Fatalf("day 8: the periodic pass wrote the facts of %v, want ann's alone (%s)", rec.facts, A)
		}
		rec.facts = nil
		must(t, k.RefreshDue(bg))
		if len(rec.facts) != 0 {
			t.Fatalf("day 8 again: the periodic pass wrote the facts of %v, want none (nothing expires)", rec.facts)
		}
	})
}

// recordingStore notes the profiles whose facts each Keep writes.
type recordingStore struct {
	audience.Store
	facts []string
}

func (r *recordingStore) Keep(ctx context.Context, w audience.KeepWrite) ([]string, error) {
	for _, f := range w.Facts {
		r.facts = append(r.facts, f.ProfileID)
	}
	return r.Store.Keep(ctx, w)
}
