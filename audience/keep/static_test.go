package keep_test

import (
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A static audience without a purpose is never evaluated: events that
// change a filter audience, Refresh, RefreshAll and RefreshDue leave it as
// written (staticpurpose_test.go has those with one). A member merged away is replaced by its
// survivor, whether its id is refreshed or RefreshAll finds it stale; an
// erased member leaves; an inAudience audience evaluated after it in the
// same Refresh reads the survivor as a member.
func TestStaticAudienceKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const (
			sAnn, sBob         = "user_id:s-ann", "user_id:s-bob"
			sCat               = "anonymous_id:s-cat"
			sDan, sDan2        = "anonymous_id:s-dan", "device_id:s-dan"
			sEve, sEve2, sEve3 = "anonymous_id:s-eve", "device_id:s-eve", "email:eve@example.com"
		)
		e.apply(
			ev("s1", t0.Add(-time.Hour), "", nil, map[string]any{"plan": "pro"}, sAnn),
			ev("s2", t0.Add(-time.Hour), "", nil, map[string]any{"plan": "basic"}, sBob),
			ev("s3", t0.Add(-time.Hour), "Viewed", nil, nil, sCat),
			ev("s4", t0.Add(-time.Hour), "Viewed", nil, nil, sDan, sDan2),
			ev("s5", t0.Add(-time.Hour), "Viewed", nil, nil, sEve, sEve2, sEve3),
		)
		A, B, C, D, E := e.profile(sAnn), e.profile(sBob), e.profile(sCat), e.profile(sDan), e.profile(sEve)
		aPro, aStatic, aIn := seg(1), seg(2), seg(3)
		e.putAudience(aPro, "pro", "", audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}})
		// Saved as createLookalikeAudience saves one: the definition, then
		// its members through Keep.
		must(t, e.st.PutAudience(bg, audience.Audience{ID: aStatic, Name: "saved", Static: true, CreatedAt: t0, UpdatedAt: t0}))
		mustKeep(t, e.st, audience.KeepWrite{At: t0, Changes: []audience.MembershipChange{{AudienceID: aStatic, Enter: sorted(B, C)}}})
		e.putAudience(aIn, "in saved", "", audience.Filter{InAudience: &aStatic})

		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aPro, A)
		e.wantMembers(aStatic, B, C)
		e.wantMembers(aIn, B, C)

		// Bob turns pro: he enters the filter audience, and nothing
		// changes in the static one.
		t1 := t0.Add(time.Hour)
		e.now = t1
		e.apply(ev("s6", t1, "", nil, map[string]any{"plan": "pro"}, sBob))
		must(t, e.k.Refresh(bg, []string{A, B, C, D, E}))
		must(t, e.k.RefreshDue(bg))
		e.wantMembers(aPro, A, B)
		e.wantMembers(aStatic, B, C)
		e.wantChanges(aStatic, oneCall(audience.Entered, t0, B, C)...)

		// Cat (a member, one identifier) joins Dan (two): Dan survives
		// and takes Cat's place, and the inAudience audience follows in
		// the same Refresh.
		t2 := t0.Add(2 * time.Hour)
		e.now = t2
		e.apply(ev("s7", t2, "Linked", nil, nil, sCat, sDan2))
		if e.profile(sCat) != D {
			t.Fatalf("cat was not merged into dan's profile %s", D)
		}
		must(t, e.k.Refresh(bg, []string{C, D}))
		e.wantMembers(aStatic, B, D)
		e.wantMembers(aIn, B, D)
		e.wantChanges(aStatic, append([]change{{C, audience.Exited, t2}, {D, audience.Entered, t2}}, oneCall(audience.Entered, t0, B, C)...)...)

		// Bob (a member) joins Eve (three identifiers), and no Refresh
		// names them: RefreshAll finds Bob stale and Eve takes his place.
		t3 := t0.Add(3 * time.Hour)
		e.now = t3
		e.apply(ev("s8", t3, "Linked", nil, nil, sBob, sEve3))
		if e.profile(sBob) != E {
			t.Fatalf("bob was not merged into eve's profile %s", E)
		}
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aStatic, D, E)
		e.wantMembers(aIn, D, E)

		// Dan is erased: he leaves, with no one in his place.
		t4 := t0.Add(4 * time.Hour)
		e.now = t4
		_, err := e.eng.ForgetProfile(bg, D, "test erasure", nil)
		must(t, err)
		must(t, e.k.Refresh(bg, []string{D}))
		e.wantMembers(aStatic, E)
		e.wantMembers(aIn, E)
	})
}
