package keep_test

import (
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// wantAsEvaluated checks that the members of each of ids are those whose
// profile, among profiles, the stored filter matches at now: the filter
// and the computed trait definitions read back, over the profiles read
// back.
func (e *env) wantAsEvaluated(now time.Time, profiles []string, ids ...string) {
	e.t.Helper()
	as, err := e.st.Audiences(bg, ids)
	must(e.t, err)
	defs, err := e.st.ComputedTraits(bg)
	must(e.t, err)
	subs, err := keep.Subjects(bg, e.eng, e.st, e.cs, defs, profiles, now)
	must(e.t, err)
	for _, id := range ids {
		a, ok := as[id]
		if !ok {
			e.t.Fatalf("audience %s not stored", id)
		}
		var want []string
		for _, p := range profiles {
			if s, ok := subs[p]; ok && a.Filter.Eval(s, now) {
				want = append(want, p)
			}
		}
		e.wantMembers(id, want...)
	}
}

// A replica's keeper reads the audiences (the old filter) and Ann, then
// stalls before writing; the filter is edited on another replica, whose
// keeper evaluates every profile against the new filter. The stalled
// write, decided on the old filter, lands last: it must not enter Ann,
// whom the stored filter does not match and whom nothing would evaluate
// again (her profile does not change).
func TestKeeperRoundOnAnEditedFilterIsNotKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const ann = "user_id:ed-ann"
		aud := seg(1)
		pro := audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}}
		basic := audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "basic"}}
		e.putAudience(aud, "plan", "", pro)
		e.apply(ev("ed1", t0.Add(-time.Hour), "", nil, map[string]any{"plan": "pro"}, ann))
		A := e.profile(ann)

		release, done := stallKeeper(t, e, nil, func(k *keep.Keeper) error { return k.Refresh(bg, []string{A}) })

		e.now = t0.Add(time.Minute)
		must(t, e.st.PutAudience(bg, audience.Audience{ID: aud, Name: "plan", Filter: basic, CreatedAt: t0, UpdatedAt: e.now}))
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aud) // Ann is pro, not basic

		release()
		must(t, <-done)
		e.wantAsEvaluated(e.now, []string{A}, aud)
		e.wantChanges(aud)
	})
}

// As above, with the audience that changed named by the one the stalled
// write enters Bob in: Y is "in X", and X's filter is edited so that Bob,
// a member of X, leaves it. The stalled write has no change of X for him
// (under the old filter he stays), only his entry into Y, decided on X's
// old filter: it must not be kept.
func TestKeeperRoundOnAnEditedReferredAudienceIsNotKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const bob = "user_id:ref-bob"
		x, y := seg(1), seg(2)
		pro := audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}}
		basic := audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "basic"}}
		e.putAudience(x, "pro", "", pro)
		e.apply(ev("ref1", t0.Add(-time.Hour), "", nil, map[string]any{"plan": "pro"}, bob))
		B := e.profile(bob)
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(x, B)
		e.putAudience(y, "in pro", "", audience.Filter{InAudience: str(x)})

		// The slow keeper reads X (pro) and Y: Bob stays in X, enters Y.
		release, done := stallKeeper(t, e, nil, func(k *keep.Keeper) error { return k.Refresh(bg, []string{B}) })

		e.now = t0.Add(time.Minute)
		must(t, e.st.PutAudience(bg, audience.Audience{ID: x, Name: "pro", Filter: basic, CreatedAt: t0, UpdatedAt: e.now}))
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(x)
		e.wantMembers(y)

		release()
		must(t, <-done)
		e.wantMembers(x)
		e.wantMembers(y)
		e.wantChanges(y)
	})
}

// As the first, with the definition of the computed trait the filter
// reads edited: "orders" counted Order events, and counts Purchase events
// now. Ann has one Order: the stalled write, computed on the old
// definition, enters her; the stored definition gives her 0.
func TestKeeperRoundOnAnEditedComputedTraitIsNotKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const ann = "user_id:ct-ann"
		aud := seg(1)
		must(t, e.st.PutComputedTrait(bg, audience.ComputedTrait{Name: "orders", Aggregate: audience.AggCount, Event: "Order", CreatedAt: t0, UpdatedAt: t0}))
		e.putAudience(aud, "buyers", "", audience.Filter{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpGTE, Value: 1}})
		e.apply(ev("ct1", t0.Add(-time.Hour), "Order", nil, nil, ann))
		A := e.profile(ann)

		release, done := stallKeeper(t, e, nil, func(k *keep.Keeper) error { return k.Refresh(bg, []string{A}) })

		e.now = t0.Add(time.Minute)
		must(t, e.st.PutComputedTrait(bg, audience.ComputedTrait{Name: "orders", Aggregate: audience.AggCount, Event: "Purchase", CreatedAt: t0, UpdatedAt: e.now}))
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aud)

		release()
		must(t, <-done)
		e.wantAsEvaluated(e.now, []string{A}, aud)
		e.wantChanges(aud)
		// Her facts are those of the stored definition.
		fs, err := e.st.Facts(bg, []string{A})
		must(t, err)
		defs, err := e.st.ComputedTraits(bg)
		must(t, err)
		f := fs[A]
		if m, known := (&audience.Filter{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpGTE, Value: 1}}).EvalFacts(&f, nil, nil, audience.NewComputedDefs(defs), e.now); known && m {
			t.Fatalf("Ann's kept facts count an order under the old definition of orders")
		}
	})
}
