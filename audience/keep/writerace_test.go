package keep_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Two keepers (two replicas) evaluate the same profiles over and over
// while the audience's filter is edited back and forth, each edit followed
// by its full pass, as updateAudience starts one. Once both end, the kept
// membership is the one the last filter selects, worked by hand: the
// filter ends on plan team, so the three team profiles and no other.
// Whatever a round read of an older filter, its write never outlives the
// pass of a newer one.
func TestKeepersRacingFilterEditsEndOnTheLastFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		other := keep.New(e.eng, e.st, e.cs, func() time.Time { return t0 })
		plan := func(v string) audience.Filter {
			return audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: v}}
		}
		var ids, team []string
		for i, p := range []string{"pro", "team", "pro", "team", "pro", "team"} {
			key := fmt.Sprintf("user_id:race-%d", i)
			e.apply(ev(fmt.Sprintf("race%d", i), t0.Add(-time.Hour), "", nil, map[string]any{"plan": p}, key))
			id := e.profile(key)
			ids = append(ids, id)
			if p == "team" {
				team = append(team, id)
			}
		}
		aud := seg(1)
		e.putAudience(aud, "plan", "", plan("pro"))
		must(t, e.k.RefreshAll(bg))
		raceEditsWithRounds(t, e, other, ids, func(i int) error {
			f := plan("pro")
			if i%2 == 1 {
				f = plan("team")
			}
			a := audience.Audience{ID: aud, Name: "plan", Filter: f, CreatedAt: t0, UpdatedAt: t0.Add(time.Duration(i+1) * time.Millisecond)}
			_, err := e.st.ReplaceAudience(bg, a, time.Time{})
			return err
		})
		e.wantMembers(aud, team...)
	})
}

// As above, with the definition of the computed trait the filter reads
// edited back and forth ("orders" counts Order events, then Purchase
// events), each edit followed by its full pass: once both keepers end,
// the members are those the last definition (Purchase) selects, worked by
// hand: the three profiles with a Purchase and no Order.
func TestKeepersRacingComputedEditsEndOnTheLastDefinition(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		other := keep.New(e.eng, e.st, e.cs, func() time.Time { return t0 })
		def := func(event string, at time.Time) audience.ComputedTrait {
			return audience.ComputedTrait{Name: "orders", Aggregate: audience.AggCount, Event: event, CreatedAt: t0, UpdatedAt: at}
		}
		must(t, e.st.PutComputedTrait(bg, def("Order", t0)))
		var ids, buyers []string
		for i, name := range []string{"Order", "Purchase", "Order", "Purchase", "Order", "Purchase"} {
			key := fmt.Sprintf("user_id:ct-race-%d", i)
			e.apply(ev(fmt.Sprintf("ctrace%d", i), t0.Add(-time.Hour), name, nil, nil, key))
			id := e.profile(key)
			ids = append(ids, id)
			if name == "Purchase" {
				buyers = append(buyers, id)
			}
		}
		aud := seg(1)
		e.putAudience(aud, "buyers", "", audience.Filter{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpGTE, Value: 1}})
		must(t, e.k.RefreshAll(bg))
		raceEditsWithRounds(t, e, other, ids, func(i int) error {
			name := "Order"
			if i%2 == 1 {
				name = "Purchase"
			}
			return e.st.PutComputedTrait(bg, def(name, t0.Add(time.Duration(i+1)*time.Millisecond)))
		})
		e.wantMembers(aud, buyers...)
	})
}

// raceEditsWithRounds makes 8 edits (edit(i)), each followed by e's full
// pass, while other evaluates ids 24 times, both started together; it
// fails t when either errs.
func raceEditsWithRounds(t *testing.T, e *env, other *keep.Keeper, ids []string, edit func(i int) error) {
	t.Helper()
	const edits = 8
	var editErr, roundErr error
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		<-start
		for i := range edits {
			if editErr = edit(i); editErr != nil {
				return
			}
			if editErr = e.k.RefreshAll(bg); editErr != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		<-start
		for range 3 * edits {
			if roundErr = other.Refresh(bg, ids); roundErr != nil {
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	must(t, editErr)
	must(t, roundErr)
}
