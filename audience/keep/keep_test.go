package keep_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var t0 = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

const (
	ann = "email:ann@example.com"
	bob = "email:bob@example.com"
	cat = "anonymous_id:anon-cat"
	dan = "user_id:dan-1"
)

// The audiences of the scenario. Ids are chosen so that id order is the
// reverse of the order inAudience needs: aChain refers to aProMail, which
// refers to aPro.
var (
	aChain    = seg(1) // inAudience aProMail and orders30 EQ 1
	aProMail  = seg(2) // inAudience aPro, purpose email
	aPro      = seg(3) // trait plan EQ "pro"
	aRecent   = seg(4) // an Order within P30D
	aBig      = seg(5) // computed ltv GTE 80
	aWithdrew = seg(6) // consent email WITHDRAWN
	aBrowsers = seg(7) // 3 or more View within P7D
)

func day(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// scenario stores four people, two computed traits and the audiences.
//
//	ann: plan pro; Order 50 at -2d, Order 30 at -40d, View at -1d; email GRANTED.
//	bob: plan free; Order 100 at -5d; email GRANTED at -10d, WITHDRAWN at -1d.
//	cat: no trait; View at -1d, -2d, -3d; no consent.
//	dan: plan pro; Order 10 at -60d; email GRANTED, expired an hour ago.
func scenario(t *testing.T, s graph.Store) *env {
	e := newEnv(t, s, t0)
	e.apply(
		ev("a0", t0.Add(-day(50)), "", nil, map[string]any{"plan": "pro"}, ann, "anonymous_id:anon-ann"),
		ev("a1", t0.Add(-day(2)), "Order", map[string]any{"total": 50.0}, nil, ann),
		ev("a2", t0.Add(-day(40)), "Order", map[string]any{"total": 30.0}, nil, "anonymous_id:anon-ann"),
		ev("a3", t0.Add(-day(1)), "View", nil, nil, ann),
		ev("b0", t0.Add(-day(50)), "", nil, map[string]any{"plan": "free"}, bob),
		ev("b1", t0.Add(-day(5)), "Order", map[string]any{"total": 100.0}, nil, bob),
		ev("c1", t0.Add(-day(1)), "View", nil, nil, cat),
		ev("c2", t0.Add(-day(2)), "View", nil, nil, cat),
		ev("c3", t0.Add(-day(3)), "View", nil, nil, cat),
		ev("d0", t0.Add(-day(50)), "", nil, map[string]any{"plan": "pro"}, dan),
		ev("d1", t0.Add(-day(60)), "Order", map[string]any{"total": 10.0}, nil, dan),
	)
	e.consent(ann, "email", privacy.StatusGranted, t0.Add(-day(10)), time.Time{})
	e.consent(bob, "email", privacy.StatusGranted, t0.Add(-day(10)), time.Time{})
	e.consent(bob, "email", privacy.StatusWithdrawn, t0.Add(-day(1)), time.Time{})
	e.consent(dan, "email", privacy.StatusGranted, t0.Add(-day(10)), t0.Add(-time.Hour))
	must(t, e.st.PutComputedTrait(bg, audience.ComputedTrait{Name: "orders30", Aggregate: audience.AggCount, Event: "Order", Window: "P30D", CreatedAt: t0, UpdatedAt: t0}))
	must(t, e.st.PutComputedTrait(bg, audience.ComputedTrait{Name: "ltv", Aggregate: audience.AggSum, Event: "Order", Property: "total", CreatedAt: t0, UpdatedAt: t0}))

	e.putAudience(aPro, "pro", "", audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}})
	e.putAudience(aProMail, "pro, emailable", "email", audience.Filter{InAudience: str(aPro)})
	e.putAudience(aChain, "chain", "", audience.Filter{And: []audience.Filter{
		{InAudience: str(aProMail)},
		{Computed: &audience.ComputedCondition{Name: "orders30", Op: audience.OpEQ, Value: 1}},
	}})
	e.putAudience(aRecent, "recent buyers", "", audience.Filter{Event: &audience.EventCondition{Name: "Order", Within: "P30D"}})
	e.putAudience(aBig, "big spenders", "", audience.Filter{Computed: &audience.ComputedCondition{Name: "ltv", Op: audience.OpGTE, Value: 80}})
	e.putAudience(aWithdrew, "withdrew", "", audience.Filter{Consent: &audience.ConsentCondition{Purpose: "email", Status: privacy.StateWithdrawn}})
	e.putAudience(aBrowsers, "browsers", "", audience.Filter{Event: &audience.EventCondition{Name: "View", Within: "P7D", Count: &audience.CountCondition{Op: audience.OpGTE, Value: 3}}})
	return e
}

func (e *env) wantMembers(id string, want ...string) {
	e.t.Helper()
	got := e.members(id)
	if w := sorted(want...); !reflect.DeepEqual(got, w) {
		e.t.Fatalf("members of %s: got %v, want %v", id, got, w)
	}
	if n := e.size(id); n != len(want) {
		e.t.Fatalf("size of %s: got %d, want %d", id, n, len(want))
	}
}

func (e *env) wantChanges(id string, want ...change) {
	e.t.Helper()
	got := e.changes(id)
	if want == nil {
		want = []change{}
	}
	if !reflect.DeepEqual(got, want) {
		e.t.Fatalf("changes of %s:\n got %v\nwant %v", id, got, want)
	}
}

// One Refresh of the scenario's profiles: every kind of condition, the
// purpose, and a chain of inAudience settled in one pass although the ids
// put the chain backwards. Then Refresh again changes nothing.
func TestRefreshConditions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := scenario(t, s)
		A, B, C, D := e.profile(ann), e.profile(bob), e.profile(cat), e.profile(dan)
		must(t, e.k.Refresh(bg, []string{A, B, C, D, "prof_unknown"}))

		e.wantMembers(aPro, A, D)
		e.wantMembers(aProMail, A)       // dan's grant expired
		e.wantMembers(aChain, A)         // ann: one Order in 30 days
		e.wantMembers(aRecent, A, B)     // dan's Order is 60 days old
		e.wantMembers(aBig, A, B)        // ann 50+30, bob 100, dan 10
		e.wantMembers(aWithdrew, B)      // bob's newest record
		e.wantMembers(aBrowsers, C)      // ann has one View
		e.wantChanges(aChain, change{A, audience.Entered, t0})
		e.wantChanges(aRecent, oneCall(audience.Entered, t0, A, B)...)

		e.now = t0.Add(time.Minute)
		must(t, e.k.Refresh(bg, []string{A, B, C, D}))
		e.wantChanges(aPro, oneCall(audience.Entered, t0, A, D)...)
	})
}

// oneCall is the log of one ApplyMembership of kind for ids, as Changes
// lists it: the keeper passes ids in id order, the store logs them in
// that order, and Changes lists the newest (the last logged) first.
func oneCall(kind string, at time.Time, ids ...string) []change {
	s := sorted(ids...)
	out := []change{}
	for i := len(s) - 1; i >= 0; i-- {
		out = append(out, change{s[i], kind, at})
	}
	return out
}
