package keep_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
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
		e.wantMembers(aProMail, A)   // dan's grant expired
		e.wantMembers(aChain, A)     // ann: one Order in 30 days
		e.wantMembers(aRecent, A, B) // dan's Order is 60 days old
		e.wantMembers(aBig, A, B)    // ann 50+30, bob 100, dan 10
		e.wantMembers(aWithdrew, B)  // bob's newest record
		e.wantMembers(aBrowsers, C)  // ann has one View
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

// A merge: the profile merged away exits every audience and the survivor
// is evaluated on the events, traits and consent of both.
func TestRefreshMerge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := scenario(t, s)
		A, B, C, D := e.profile(ann), e.profile(bob), e.profile(cat), e.profile(dan)
		must(t, e.k.Refresh(bg, []string{A, B, C, D}))

		t1 := t0.Add(time.Hour)
		e.now = t1
		e.apply(ev("m1", t0.Add(-day(4)), "Page", nil, nil, bob, cat))
		surv := e.profile(bob)
		if e.profile(cat) != surv || (surv != B && surv != C) {
			t.Fatalf("bob and cat were not merged into one of theirs: %s, %s (bob %s, cat %s)", surv, e.profile(cat), B, C)
		}
		gone := B
		if surv == B {
			gone = C
		}
		must(t, e.k.Refresh(bg, []string{B, C}))

		// The survivor: bob's Order and consent, cat's three Views.
		e.wantMembers(aRecent, A, surv)
		e.wantMembers(aBig, A, surv)
		e.wantMembers(aWithdrew, surv)
		e.wantMembers(aBrowsers, surv)
		e.wantMembers(aPro, A, D)
		// bob was in aRecent, aBig and aWithdrew; cat in aBrowsers.
		if surv == B {
			e.wantChanges(aBrowsers, change{C, audience.Exited, t1}, change{B, audience.Entered, t1}, change{C, audience.Entered, t0})
			e.wantChanges(aWithdrew, change{B, audience.Entered, t0})
		} else {
			e.wantChanges(aBrowsers, change{C, audience.Entered, t0})
			e.wantChanges(aWithdrew, change{B, audience.Exited, t1}, change{C, audience.Entered, t1}, change{B, audience.Entered, t0})
		}
		ms, err := e.st.MembershipsOf(bg, []string{gone})
		must(t, err)
		if len(ms[gone]) != 0 {
			t.Fatalf("the profile merged away is still in %v", ms[gone])
		}
	})
}

// Erasure: a profile forgotten and refreshed exits; one forgotten without
// a refresh of its id exits at RefreshAll, which also evaluates every live
// profile.
func TestRefreshErasure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := scenario(t, s)
		A, B, C, D := e.profile(ann), e.profile(bob), e.profile(cat), e.profile(dan)
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aPro, A, D)
		e.wantMembers(aRecent, A, B)
		e.wantMembers(aBrowsers, C)

		t1 := t0.Add(time.Hour)
		e.now = t1
		_, err := e.eng.ForgetProfile(bg, A, "test erasure", nil)
		must(t, err)
		must(t, e.k.Refresh(bg, []string{A}))
		e.wantMembers(aPro, D)
		e.wantMembers(aProMail)
		e.wantMembers(aChain)
		e.wantMembers(aRecent, B)
		e.wantMembers(aBig, B)
		e.wantChanges(aChain, change{A, audience.Exited, t1}, change{A, audience.Entered, t0})

		t2 := t0.Add(2 * time.Hour)
		e.now = t2
		_, err = e.eng.RemoveIdentifier(bg, graph.SplitKey(dan), "test removal")
		must(t, err)
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aPro)
		e.wantChanges(aPro, append([]change{{D, audience.Exited, t2}, {A, audience.Exited, t1}}, oneCall(audience.Entered, t0, A, D)...)...)
		e.wantMembers(aRecent, B)
		e.wantMembers(aBrowsers, C)
	})
}

// Preview counts and samples what a hand count gives, writes nothing, and
// reads inAudience as kept.
func TestPreview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := scenario(t, s)
		A, B, C, D := e.profile(ann), e.profile(bob), e.profile(cat), e.profile(dan)
		pro := &audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}}

		n, sample, err := e.k.Preview(bg, pro, "", 1)
		must(t, err)
		if w := sorted(A, D); n != 2 || !reflect.DeepEqual(sample, w[:1]) {
			t.Fatalf("preview plan=pro: %d %v, want 2 %v", n, sample, w[:1])
		}
		n, sample, err = e.k.Preview(bg, pro, "email", 10)
		must(t, err)
		if n != 1 || !reflect.DeepEqual(sample, []string{A}) {
			t.Fatalf("preview plan=pro for email: %d %v, want 1 [%s]", n, sample, A)
		}
		anyone := &audience.Filter{Not: &audience.Filter{Identifier: &audience.IdentifierCondition{Type: "phone"}}}
		n, sample, err = e.k.Preview(bg, anyone, "", 10)
		must(t, err)
		if w := sorted(A, B, C, D); n != 4 || !reflect.DeepEqual(sample, w) {
			t.Fatalf("preview everyone: %d %v, want 4 %v", n, sample, w)
		}
		// Nothing kept yet, so inAudience matches nobody.
		in := &audience.Filter{InAudience: str(aPro)}
		if n, _, err = e.k.Preview(bg, in, "", 10); err != nil || n != 0 {
			t.Fatalf("preview inAudience before any refresh: %d, %v", n, err)
		}
		for _, id := range []string{aPro, aRecent, aBig} {
			e.wantMembers(id)
			e.wantChanges(id)
		}
		must(t, e.k.RefreshAll(bg))
		n, sample, err = e.k.Preview(bg, in, "", 10)
		must(t, err)
		if w := sorted(A, D); n != 2 || !reflect.DeepEqual(sample, w) {
			t.Fatalf("preview inAudience: %d %v, want 2 %v", n, sample, w)
		}
		if _, _, err := e.k.Preview(bg, nil, "", 1); graph.ErrorCode(err) != graph.EINVALID {
			t.Fatalf("preview of no filter: %v", err)
		}
	})
}

// RefreshDue re-evaluates the audiences that time changes, with no new
// event: 29 days on, ann's and bob's Orders are over 30 days old and cat's
// Views over 7 days; plan is untouched.
func TestRefreshDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := scenario(t, s)
		A, B, C, D := e.profile(ann), e.profile(bob), e.profile(cat), e.profile(dan)
		must(t, e.k.RefreshAll(bg))
		t1 := t0.Add(day(29))
		e.now = t1
		must(t, e.k.RefreshDue(bg))
		e.wantMembers(aRecent)
		e.wantMembers(aBrowsers)
		e.wantMembers(aChain) // orders30 is 0 now
		e.wantMembers(aPro, A, D)
		e.wantMembers(aProMail, A)
		e.wantMembers(aBig, A, B)
		e.wantChanges(aChain, change{A, audience.Exited, t1}, change{A, audience.Entered, t0})
		e.wantChanges(aBrowsers, change{C, audience.Exited, t1}, change{C, audience.Entered, t0})
		e.wantChanges(aPro, oneCall(audience.Entered, t0, A, D)...)
	})
}

// Order puts referred audiences first and breaks a cycle by id.
func TestOrder(t *testing.T) {
	a := func(id string, refs ...string) audience.Audience {
		f := audience.Filter{Trait: &audience.TraitCondition{Name: "x", Op: audience.OpExists}}
		if len(refs) > 0 {
			f = audience.Filter{Or: nil}
			for _, r := range refs {
				f.Or = append(f.Or, audience.Filter{InAudience: str(r)})
			}
		}
		return audience.Audience{ID: id, Filter: f}
	}
	ids := func(as []audience.Audience) []string {
		out := []string{}
		for _, x := range as {
			out = append(out, x.ID)
		}
		return out
	}
	s1, s2, s3, s4, s5 := seg(1), seg(2), seg(3), seg(4), seg(5)
	got := ids(keep.Order([]audience.Audience{a(s1, s2), a(s2, s4, s3), a(s3), a(s4, s3), a(s5, seg(99))}))
	if w := []string{s3, s4, s2, s1, s5}; !reflect.DeepEqual(got, w) {
		t.Fatalf("order: %v, want %v", got, w)
	}
	// s1 -> s2 -> s1 is a cycle: s1, the smallest, goes first; s3 needs s2.
	got = ids(keep.Order([]audience.Audience{a(s3, s2), a(s2, s1), a(s1, s2)}))
	if w := []string{s1, s2, s3}; !reflect.DeepEqual(got, w) {
		t.Fatalf("order with a cycle: %v, want %v", got, w)
	}
}

// Subjects reads what filters need of the live profiles asked for, and
// nothing of an id merged away or unknown.
func TestSubjects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := scenario(t, s)
		A, B, C := e.profile(ann), e.profile(bob), e.profile(cat)
		must(t, e.k.Refresh(bg, []string{A}))
		e.apply(ev("m1", t0.Add(-day(4)), "Page", nil, nil, bob, cat))
		surv := e.profile(bob)
		defs, err := e.st.ComputedTraits(bg)
		must(t, err)
		subs, err := keep.Subjects(bg, e.eng, e.st, e.cs, defs, []string{A, B, C, "p_unknown", A}, t0)
		must(t, err)
		if len(subs) != 2 || subs[A] == nil || subs[surv] == nil {
			t.Fatalf("subjects of %v: got %d, want ann's and the survivor's", []string{A, B, C}, len(subs))
		}
		a := subs[A]
		if !reflect.DeepEqual(a.Traits, map[string]any{"plan": "pro"}) {
			t.Fatalf("ann's traits: %v", a.Traits)
		}
		var keys, evs []string
		for _, id := range a.Identifiers {
			keys = append(keys, id.Key)
		}
		for _, x := range a.Events {
			evs = append(evs, x.ID)
		}
		if !reflect.DeepEqual(sorted(keys...), sorted("anonymous_id:anon-ann", ann)) {
			t.Fatalf("ann's identifiers: %v", keys)
		}
		if !reflect.DeepEqual(sorted(evs...), sorted("test/a0", "test/a1", "test/a2", "test/a3")) {
			t.Fatalf("ann's events: %v", evs)
		}
		if len(a.Consent) != 1 || a.Consent[0].Status != privacy.StatusGranted || a.Consent[0].Purpose != "email" {
			t.Fatalf("ann's consent: %+v", a.Consent)
		}
		if !reflect.DeepEqual(a.Computed, map[string]any{"orders30": int64(1), "ltv": 80.0}) {
			t.Fatalf("ann's computed values: %#v", a.Computed)
		}
		if w := map[string]bool{aPro: true, aProMail: true, aChain: true, aRecent: true, aBig: true}; !reflect.DeepEqual(a.Audiences, w) {
			t.Fatalf("ann's audiences: %v, want %v", a.Audiences, w)
		}
		b := subs[surv]
		evs = nil
		for _, x := range b.Events {
			evs = append(evs, x.ID)
		}
		if !reflect.DeepEqual(sorted(evs...), sorted("test/b0", "test/b1", "test/c1", "test/c2", "test/c3", "test/m1")) {
			t.Fatalf("the survivor's events: %v", evs)
		}
		if len(b.Consent) != 2 || b.Traits["plan"] != "free" || len(b.Audiences) != 0 {
			t.Fatalf("the survivor: consent %d records, traits %v, audiences %v", len(b.Consent), b.Traits, b.Audiences)
		}
		if !reflect.DeepEqual(b.Computed, map[string]any{"orders30": int64(1), "ltv": 100.0}) {
			t.Fatalf("the survivor's computed values: %#v", b.Computed)
		}
	})
}

// An event carried by two people (two user ids, which one profile may not
// hold together) counts for both, but only the person of its
// highest-priority identifier (user_id:u1, the smaller key) sees its
// properties, as in the journeys.
func TestSubjectsSharedEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		e.apply(ev("u1", t0.Add(-day(3)), "View", nil, nil, "user_id:u1"), ev("u2", t0.Add(-day(3)), "View", nil, nil, "user_id:u2"))
		e.apply(ev("both", t0.Add(-day(1)), "Order", map[string]any{"total": 5.0}, nil, "user_id:u1", "user_id:u2"))
		P1, P2 := e.profile("user_id:u1"), e.profile("user_id:u2")
		if P1 == P2 {
			t.Fatal("two user ids were put in one profile")
		}
		defs := []audience.ComputedTrait{
			{Name: "orders", Aggregate: audience.AggCount, Event: "Order"},
			{Name: "ltv", Aggregate: audience.AggSum, Event: "Order", Property: "total"},
		}
		subs, err := keep.Subjects(bg, e.eng, e.st, e.cs, defs, []string{P1, P2}, t0)
		must(t, err)
		if !reflect.DeepEqual(subs[P1].Computed, map[string]any{"orders": int64(1), "ltv": 5.0}) {
			t.Fatalf("u1: %#v", subs[P1].Computed)
		}
		if !reflect.DeepEqual(subs[P2].Computed, map[string]any{"orders": int64(1)}) {
			t.Fatalf("u2: %#v", subs[P2].Computed)
		}
		for _, x := range subs[P2].Events {
			if x.ID == "test/both" && (!x.Shared || x.Properties != nil || !reflect.DeepEqual(x.Keys, []string{"user_id:u2"})) {
				t.Fatalf("u2 sees the shared event as %+v", x)
			}
		}
	})
}
