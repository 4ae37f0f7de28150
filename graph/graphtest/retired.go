package graphtest

import (
	"context"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// An erased profile's id is never given to another person: a front end or
// a downstream system that kept it must not find someone else behind it.
// The ids expected below are worked out by hand from ProfileIDFor: a new
// profile takes its seed's first attempt that no profile holds and none
// ever deleted held.

// notFound fails the test unless id answers for no profile.
func notFound(t *testing.T, e *graph.Engine, id string) {
	t.Helper()
	ps, err := e.ProfilesByIDs(context.Background(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := ps[id]; ok {
		t.Errorf("the deleted profile id %s answers for profile %s of %v", id, p.ID, members(t, e, p.ID))
	}
}

// A shared kiosk's anonymous id seeded Ann's profile; it is removed from
// her profile (it is not hers), then Ann is erased. The next visitor on
// the kiosk starts a profile seeded by the same identifier: it must not
// get Ann's id.
func testErasedIDNotReused(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	kiosk, ann := anon("kiosk-7"), email("ann@example.com")
	apply(t, e, ev("k1", 1, kiosk, ann))
	// Two new identifiers of one event: the smaller key seeds the profile.
	annID := graph.ProfileIDFor("anonymous_id:kiosk-7", 0)
	if got := profileOf(t, e, ann).ID; got != annID {
		t.Fatalf("Ann's profile = %s, want %s", got, annID)
	}
	if _, err := e.RemoveIdentifier(ctx, kiosk, "shared kiosk, not Ann's"); err != nil {
		t.Fatal(err)
	}
	if got := profileOf(t, e, ann).ID; got != annID {
		t.Fatalf("after the kiosk's removal Ann's profile = %s, want %s", got, annID)
	}
	if _, err := e.ForgetProfile(ctx, annID, "erasure request", nil); err != nil {
		t.Fatal(err)
	}
	apply(t, e, ev("k2", 3, kiosk))
	if got, want := profileOf(t, e, kiosk).ID, graph.ProfileIDFor("anonymous_id:kiosk-7", 1); got != want {
		t.Errorf("the next kiosk visitor's profile = %s, want %s (Ann's erased id is %s)", got, want, annID)
	}
	notFound(t, e, annID)
}

// A correction that removes a profile's last identifier deletes the
// profile, and the profiles merged into it: their ids are retired too.
func testRemovedLastIDNotReused(t *testing.T, open Opener) {
	e := newEngine(t, open)
	ctx := context.Background()
	bob := email("bob@example.com")
	apply(t, e, ev("b1", 1, bob))
	bobID := graph.ProfileIDFor("email:bob@example.com", 0)
	if got := profileOf(t, e, bob).ID; got != bobID {
		t.Fatalf("Bob's profile = %s, want %s", got, bobID)
	}
	ps, err := e.RemoveIdentifier(ctx, bob, "typo")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 0 {
		t.Fatalf("removing the only identifier left profiles %v", ps)
	}
	apply(t, e, ev("b2", 2, bob))
	if got, want := profileOf(t, e, bob).ID, graph.ProfileIDFor("email:bob@example.com", 1); got != want {
		t.Errorf("bob seen again: profile %s, want %s (the deleted id is %s)", got, want, bobID)
	}

	// U's profile, then E's, which the event carrying both merges into
	// U's (same size, U's is older). Removing U, then E, deletes U's
	// profile and E's, which redirects to it.
	u, m := user("carl"), email("carl@example.com")
	apply(t, e, ev("c1", 3, u))
	apply(t, e, ev("c2", 4, m))
	apply(t, e, ev("c3", 5, u, m))
	uID, mID := graph.ProfileIDFor("user_id:carl", 0), graph.ProfileIDFor("email:carl@example.com", 0)
	if got := profileOf(t, e, m).ID; got != uID {
		t.Fatalf("Carl's profile = %s, want %s", got, uID)
	}
	for _, r := range []graph.IdentifierRef{u, m} {
		if _, err := e.RemoveIdentifier(ctx, r, "test data"); err != nil {
			t.Fatal(err)
		}
	}
	notFound(t, e, uID)
	notFound(t, e, mID)
	apply(t, e, ev("c4", 6, m), ev("c5", 6, u))
	if got, want := profileOf(t, e, m).ID, graph.ProfileIDFor("email:carl@example.com", 1); got != want {
		t.Errorf("the email seen again: profile %s, want %s (the merged-away id deleted is %s)", got, want, mID)
	}
	if got, want := profileOf(t, e, u).ID, graph.ProfileIDFor("user_id:carl", 1); got != want {
		t.Errorf("the user id seen again: profile %s, want %s (the deleted id is %s)", got, want, uID)
	}
}

// The store contract of retired ids: TakenProfileIDs answers, in one call,
// which candidates a stored profile (live or merged away) holds or whose
// hash is retired (Write.RetireProfiles, idempotent). A malformed hash is
// refused, naming its place, and writes nothing.
func testTakenProfileIDs(t *testing.T, open Opener) {
	s := open(t)
	hex := func(c byte) string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = c
		}
		return string(b)
	}
	h1, h2, h3 := hex('1'), hex('2'), hex('3')
	write(t, s, &graph.Write{At: t0,
		PutProfiles: []graph.Profile{
			{ID: "p_live", CreatedAt: t0, UpdatedAt: t0, Size: 1, Counts: map[string]int{graph.TypeUserID: 1}},
			{ID: "p_merged", CreatedAt: t0, UpdatedAt: t0, MergedInto: "p_live"},
		},
		RetireProfiles: []string{h1},
	})
	write(t, s, &graph.Write{At: at(1), RetireProfiles: []string{h1, h2, h2}})
	check := func(cands []graph.ProfileIDCandidate, want ...string) {
		t.Helper()
		view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
			got, err := tx.TakenProfileIDs(ctx, cands)
			if err != nil {
				return err
			}
			var ids []string
			for id, ok := range got {
				if ok {
					ids = append(ids, id)
				}
			}
			if !same(sorted(ids...), sorted(want...)) {
				t.Errorf("TakenProfileIDs(%v) = %v, want %v", cands, sorted(ids...), sorted(want...))
			}
			return nil
		})
	}
	check([]graph.ProfileIDCandidate{
		{ID: "p_live"}, {ID: "p_merged", Hash: h3}, {ID: "p_a", Hash: h1}, {ID: "p_b", Hash: h2},
		{ID: "p_c", Hash: h3}, {ID: "p_d"}, {ID: "p_a", Hash: h1},
	}, "p_live", "p_merged", "p_a", "p_b")
	check(nil)

	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{At: at(2), RetireProfiles: []string{h3, "p_not_a_hash"}})
	})
	if err == nil || !strings.Contains(err.Error(), "retired profile id 1: not a hash of 64 lowercase hex digits") {
		t.Errorf("a malformed retired hash: %v, want an error naming it", err)
	}
	check([]graph.ProfileIDCandidate{{ID: "p_c", Hash: h3}})
}
