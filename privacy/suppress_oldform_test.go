package privacy_test

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// Until 2026-12-07 an email's final sigma stayed as sent, so Nikos's
// address, stored then, is the key "email:νικος@example.gr"; today every
// spelling of it (ΝΙΚΟΣ@example.gr, νικος@example.gr) normalizes to
// "email:νικοσ@example.gr". forgetProfile erases him, and he must stay
// erased when his devices send his address again: the key the collector
// now derives from it is on the suppression list, as is the stored one.
func TestForgetProfileSuppressesAnOldFormAsItNormalizesNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		eng, x := engineAndEraser(t, st)
		apply(t, eng, event("test/nikos-1", t0, nil, "user_id:u-nikos"))
		pid := profileOf(t, eng, "user_id:u-nikos")

		// The address as an earlier version stored it, linked to his user id.
		const old = "email:νικος@example.gr"
		err := st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			ids, err := tx.LockIdentifiers(ctx, []graph.IdentifierSeen{{Key: old, Type: "email", Value: "νικος@example.gr", First: t0, Last: t0, Sources: []string{"test"}}}, true)
			if err != nil {
				return err
			}
			if _, ok := ids[old]; !ok {
				t.Fatal("the old form was not created")
			}
			ps, err := tx.LockProfiles(ctx, []string{pid})
			if err != nil {
				return err
			}
			p := ps[pid]
			p.Size, p.Counts = 2, map[string]int{"user_id": 1, "email": 1}
			return tx.Apply(ctx, &graph.Write{At: t0, PutProfiles: []graph.Profile{p}, Assign: []graph.Assignment{{Key: old, ProfileID: pid}},
				PutLinks: []graph.Link{{A: old, B: "user_id:u-nikos", Source: "event", Evidence: "test/nikos-0", FirstSeen: t0, LastSeen: t0, Count: 1}}})
		})
		if err != nil {
			t.Fatal(err)
		}

		const now = "email:νικοσ@example.gr" // by hand: the final ς folded to σ
		for _, spelt := range []string{"ΝΙΚΟΣ@example.gr", "νικος@example.gr"} {
			n, why := eng.Normalizer().Normalize(graph.IdentifierRef{Type: "email", Value: spelt})
			if why != "" || n.Key() != now {
				t.Fatalf("%s normalizes to %q (%s), want %q", spelt, n.Key(), why, now)
			}
		}
		rc, err := x.ForgetProfile(ctx, pid, "asked", privacy.Requester{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rc.Identifiers != 2 {
			t.Errorf("the receipt counts %d identifiers, want 2", rc.Identifiers)
		}
		for _, k := range []string{"user_id:u-nikos", now, old} {
			on, err := x.List().KeySuppressed(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if !on {
				t.Errorf("%s is not suppressed after the erasure", k)
			}
		}
	})
}
