package keep_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// A static audience's purpose is enforced: a member whose consent for it
// is withdrawn (Refresh), expires (RefreshDue) or is no longer GRANTED
// once merged (the survivor that takes a member's place) exits, and an
// inAudience audience evaluated after it follows in the same pass. A
// person who grants again does not enter again.
func TestStaticPurposeWithdrawal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const (
			pAnn, pBob, pCat = "user_id:p-ann", "user_id:p-bob", "user_id:p-cat"
			pEve, pEve2      = "anonymous_id:p-eve", "device_id:p-eve"
		)
		e.apply(
			ev("p1", t0.Add(-time.Hour), "Viewed", nil, nil, pAnn),
			ev("p2", t0.Add(-time.Hour), "Viewed", nil, nil, pBob),
			ev("p3", t0.Add(-time.Hour), "Viewed", nil, nil, pCat),
			ev("p4", t0.Add(-time.Hour), "Viewed", nil, nil, pEve, pEve2),
		)
		A, B, C, E := e.profile(pAnn), e.profile(pBob), e.profile(pCat), e.profile(pEve)
		e.consent(pAnn, "email", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})
		e.consent(pBob, "email", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})
		e.consent(pCat, "email", privacy.StatusGranted, t0.Add(-day(1)), t0.Add(3*time.Hour)) // expires at t3
		e.consent(pEve2, "email", privacy.StatusWithdrawn, t0.Add(-12*time.Hour), time.Time{})

		aStatic, aIn := seg(1), seg(2)
		must(t, e.st.PutAudience(bg, audience.Audience{ID: aStatic, Name: "saved", Static: true, Purpose: "email", CreatedAt: t0, UpdatedAt: t0}))
		mustKeep(t, e.st, audience.KeepWrite{At: t0, Changes: []audience.MembershipChange{{AudienceID: aStatic, Enter: sorted(A, B, C), Static: true}}})
		e.putAudience(aIn, "in saved", "", audience.Filter{InAudience: &aStatic})

		// Everybody saved holds a grant: nothing moves.
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aStatic, A, B, C)
		e.wantMembers(aIn, A, B, C)
		entered := oneCall(audience.Entered, t0, A, B, C)
		e.wantChanges(aStatic, entered...)

		// Bob withdraws: the Refresh his decision asks for makes him exit
		// both audiences.
		t1 := t0.Add(time.Hour)
		e.now = t1
		e.consent(pBob, "email", privacy.StatusWithdrawn, t1, time.Time{})
		must(t, e.k.Refresh(bg, []string{B}))
		e.wantMembers(aStatic, A, C)
		e.wantMembers(aIn, A, C)
		e.wantChanges(aStatic, append([]change{{B, audience.Exited, t1}}, entered...)...)

		// Bob grants again: he does not come back, on Refresh or
		// RefreshAll.
		t2 := t0.Add(2 * time.Hour)
		e.now = t2
		e.consent(pBob, "email", privacy.StatusGranted, t2, time.Time{})
		must(t, e.k.Refresh(bg, []string{B}))
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aStatic, A, C)
		e.wantMembers(aIn, A, C)
		e.wantChanges(aStatic, append([]change{{B, audience.Exited, t1}}, entered...)...)

		// Cat's grant expires at t3, with no write: RefreshDue makes her
		// exit.
		t3 := t0.Add(3 * time.Hour)
		e.now = t3
		must(t, e.k.RefreshDue(bg))
		e.wantMembers(aStatic, A)
		e.wantMembers(aIn, A)
		e.wantChanges(aStatic, append([]change{{C, audience.Exited, t3}, {B, audience.Exited, t1}}, entered...)...)

		// Ann (a member, one identifier) joins Eve (two, email withdrawn
		// after Ann granted it): Eve takes Ann's place and, without a
		// grant, exits in the same Refresh; the inAudience audience never
		// counts her.
		t4 := t0.Add(4 * time.Hour)
		e.now = t4
		e.apply(ev("p5", t4, "Linked", nil, nil, pAnn, pEve2))
		if e.profile(pAnn) != E {
			t.Fatalf("ann was not merged into eve's profile %s", E)
		}
		must(t, e.k.Refresh(bg, []string{A, E}))
		e.wantMembers(aStatic)
		e.wantMembers(aIn)
		log := append([]change{{E, audience.Exited, t4}, {A, audience.Exited, t4}, {E, audience.Entered, t4},
			{C, audience.Exited, t3}, {B, audience.Exited, t1}}, entered...)
		e.wantChanges(aStatic, log...)
		e.wantChanges(aIn, append([]change{{A, audience.Exited, t4}, {C, audience.Exited, t3}, {B, audience.Exited, t1}}, entered...)...)

		e.now = t0.Add(5 * time.Hour)
		must(t, e.k.RefreshAll(bg))
		e.wantChanges(aStatic, log...)
	})
}

// A purpose given to a static audience afterwards (updateAudience keeps
// its members; the service then asks for RefreshAll) makes its members
// without a grant for it exit on the next pass; a member with one stays.
func TestStaticPurposeSetLater(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const qAnn, qBob, qCat = "user_id:q-ann", "user_id:q-bob", "user_id:q-cat"
		A, B, C := e.viewers("q", qAnn, qBob, qCat)
		e.consent(qAnn, "email", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})
		e.consent(qCat, "sms", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})

		aStatic := seg(1)
		saved := audience.Audience{ID: aStatic, Name: "saved", Static: true, CreatedAt: t0, UpdatedAt: t0}
		must(t, e.st.PutAudience(bg, saved))
		mustKeep(t, e.st, audience.KeepWrite{At: t0, Changes: []audience.MembershipChange{{AudienceID: aStatic, Enter: sorted(A, B, C), Static: true}}})
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aStatic, A, B, C)

		t1 := t0.Add(time.Hour)
		e.now = t1
		saved.Purpose, saved.UpdatedAt = "email", t1
		must(t, e.st.PutAudience(bg, saved))
		e.wantMembers(aStatic, A, B, C) // as the update answers
		must(t, e.k.RefreshAll(bg))
		e.wantMembers(aStatic, A)
		want := append(oneCall(audience.Exited, t1, B, C), oneCall(audience.Entered, t0, A, B, C)...)
		e.wantChanges(aStatic, want...)

		e.now = t0.Add(2 * time.Hour)
		must(t, e.k.Refresh(bg, []string{A, B, C}))
		must(t, e.k.RefreshAll(bg))
		e.wantChanges(aStatic, want...)
	})
}

// hookStore runs before once, before the first Keep: a write that lands
// between the keeper's read and its write.
type hookStore struct {
	audience.Store
	before func()
	first  []string // what the first Keep reported stale
	calls  int
}

func (h *hookStore) Keep(ctx context.Context, w audience.KeepWrite) ([]string, error) {
	h.calls++
	if h.calls == 1 {
		h.before()
	}
	stale, err := h.Store.Keep(ctx, w)
	if h.calls == 1 {
		h.first = stale
	}
	return stale, err
}

// A consent exit is decided on what the keeper read, and written only if
// the profile was not written since: one merged meanwhile with a profile
// holding a newer grant stays (its exit is not applied on the old read),
// and one touched meanwhile by a decision that leaves it without a grant
// still exits (its exit is not lost), both after the keeper read them
// again.
func TestStaticConsentExitChecked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, t0)
		const (
			kOne, kOne2 = "user_id:k-one", "device_id:k-one"
			kTwo        = "user_id:k-two"
			kQ          = "anonymous_id:k-q"
		)
		e.apply(
			ev("k1", t0.Add(-time.Hour), "Viewed", nil, nil, kOne, kOne2),
			ev("k2", t0.Add(-time.Hour), "Viewed", nil, nil, kTwo),
			ev("k3", t0.Add(-time.Hour), "Viewed", nil, nil, kQ),
		)
		P1, P2 := e.profile(kOne), e.profile(kTwo)
		e.consent(kOne, "email", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})
		e.consent(kTwo, "email", privacy.StatusGranted, t0.Add(-day(1)), time.Time{})
		aStatic := seg(1)
		must(t, e.st.PutAudience(bg, audience.Audience{ID: aStatic, Name: "saved", Static: true, Purpose: "email", CreatedAt: t0, UpdatedAt: t0}))
		mustKeep(t, e.st, audience.KeepWrite{At: t0, Changes: []audience.MembershipChange{{AudienceID: aStatic, Enter: sorted(P1, P2), Static: true}}})

		// Both withdraw; Q, not a member, granted after P1 withdrew.
		t1 := t0.Add(time.Hour)
		e.now = t1
		e.consent(kOne, "email", privacy.StatusWithdrawn, t1.Add(-10*time.Minute), time.Time{})
		e.consent(kTwo, "email", privacy.StatusWithdrawn, t1.Add(-10*time.Minute), time.Time{})
		e.consent(kQ, "email", privacy.StatusGranted, t1.Add(-5*time.Minute), time.Time{})

		h := &hookStore{Store: e.st}
		h.before = func() {
			// Q joins P1 (two identifiers, the survivor), bringing its
			// grant; P2 decides for another purpose (as setConsent
			// writes it: the record and a touch of the profile).
			e.apply(ev("k4", t1, "Linked", nil, nil, kQ, kOne2))
			rec := privacy.Record{ID: privacy.NewRecordID(), Purpose: "sms", Status: privacy.StatusGranted, At: t1, Source: "test",
				LegalBasis: privacy.BasisConsent, Identifier: kTwo, ReceivedAt: t1, Proof: privacy.Proof{Version: "v1"}}
			must(t, e.eng.Store().Update(bg, func(ctx context.Context, tx graph.Tx) error {
				if err := privacy.PutConsentInTx(ctx, tx, []privacy.Record{rec}); err != nil {
					return err
				}
				return graph.TouchProfiles(ctx, tx, []string{P2}, t1)
			}))
		}
		k := keep.New(e.eng, h, e.cs, func() time.Time { return e.now })
		must(t, k.Refresh(bg, []string{P1, P2}))
		if e.profile(kQ) != P1 {
			t.Fatalf("q was not merged into %s", P1)
		}
		if got := sorted(h.first...); len(got) != 2 || got[0] != sorted(P1, P2)[0] || got[1] != sorted(P1, P2)[1] {
			t.Fatalf("the first Keep reported %v stale, want %v: the writes did not land between read and write", got, sorted(P1, P2))
		}
		e.wantMembers(aStatic, P1)
		e.wantChanges(aStatic, append([]change{{P2, audience.Exited, t1}}, oneCall(audience.Entered, t0, P1, P2)...)...)
	})
}
