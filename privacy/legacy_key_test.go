package privacy_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// addLegacyIdentifier stores key in profile pid, linked to member, as an
// earlier version stored identifiers that today's normalization refuses
// or spells otherwise (before 2026-12-02 a value could hold a tab; before
// 2026-12-07 an email kept its final sigma): straight through the store,
// since the engine no longer makes such keys.
func addLegacyIdentifier(t *testing.T, st graph.Store, pid, member, key string) {
	t.Helper()
	ctx := context.Background()
	ref := graph.SplitKey(key)
	err := st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		ids, err := tx.LockIdentifiers(ctx, []graph.IdentifierSeen{{Key: key, Type: ref.Type, Value: ref.Value, First: t0, Last: t0, Sources: []string{"test"}}}, true)
		if err != nil {
			return err
		}
		if _, ok := ids[key]; !ok {
			t.Fatalf("the identifier %q was not created", key)
		}
		ps, err := tx.LockProfiles(ctx, []string{pid})
		if err != nil {
			return err
		}
		p := ps[pid]
		p.Size++
		p.Counts[ref.Type]++
		return tx.Apply(ctx, &graph.Write{At: t0, PutProfiles: []graph.Profile{p}, Assign: []graph.Assignment{{Key: key, ProfileID: pid}},
			PutLinks: []graph.Link{{A: key, B: member, Source: "event", Evidence: "test/legacy-0", FirstSeen: t0, LastSeen: t0, Count: 1}}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A crm id stored before 2026-12-02 with a tab inside ("C\t42", pasted
// from a spreadsheet) is an identifier today's normalization refuses, so
// it can no longer be named; the README's advice is to erase it with its
// profile. Its person can still be exported, and forgetProfile erases
// both of its identifiers, as for anyone.
func TestLegacyIdentifierWithATabCanBeExportedAndErased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		eng, x := engineAndEraser(t, st)
		apply(t, eng, event("test/tab-1", t0, nil, "user_id:u-tab"))
		pid := profileOf(t, eng, "user_id:u-tab")
		const legacy = "crm_id:C\t42"
		addLegacyIdentifier(t, st, pid, "user_id:u-tab", legacy)

		if ex, err := privacy.NewExporter(eng).Prepare(ctx, pid); err != nil {
			t.Errorf("export: %v", err)
		} else if ex.Counts.Identifiers != 2 {
			t.Errorf("the export counts %d identifiers, want 2", ex.Counts.Identifiers)
		}
		rc, err := x.ForgetProfile(ctx, pid, "asked", privacy.Requester{}, nil)
		if err != nil {
			t.Fatalf("forgetProfile: %v", err)
		}
		if rc.Identifiers != 2 {
			t.Errorf("the receipt counts %d identifiers, want 2", rc.Identifiers)
		}
		err = st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			got, err := tx.Identifiers(ctx, []string{legacy, "user_id:u-tab"})
			if err != nil {
				return err
			}
			if len(got) != 0 {
				t.Errorf("after the erasure the store holds %d of the two identifiers", len(got))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"user_id:u-tab", legacy} {
			on, err := x.List().KeySuppressed(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if !on {
				t.Errorf("%q is not suppressed", k)
			}
		}
	})
}

// Lou's crm id, stored before 2026-12-02 with a tab inside, sorts first
// among his keys. forgetIdentifier of his email, which holds his latest
// decision (a withdrawal), carries it to the first of his identifiers a
// record can name, his user id: the erasure goes through and he stays
// WITHDRAWN.
func TestForgetIdentifierCarriesPastALegacyIdentifier(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		eng, x := engineAndEraser(t, st)
		apply(t, eng, event("test/lou-1", t0, nil, "user_id:u-lou", "email:lou@example.com"))
		pid := profileOf(t, eng, "user_id:u-lou")
		addLegacyIdentifier(t, st, pid, "user_id:u-lou", "crm_id:L\t7")
		rec := func(n int, key string, s privacy.Status) privacy.Record {
			return privacy.Record{ID: fmt.Sprintf("cns_%032x", n), Purpose: "email", Status: s, At: t0.Add(time.Duration(n) * time.Hour), Source: "web",
				LegalBasis: privacy.BasisConsent, Identifier: key, ReceivedAt: t0.Add(time.Duration(n) * time.Hour)}
		}
		if err := st.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{
			rec(1, "user_id:u-lou", privacy.StatusGranted), rec(2, "email:lou@example.com", privacy.StatusWithdrawn),
		}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := x.ForgetIdentifier(ctx, graph.IdentifierRef{Type: "email", Value: "lou@example.com"}, "asked", privacy.Requester{}, nil); err != nil {
			t.Fatalf("forgetIdentifier: %v", err)
		}
		byKey, err := st.(privacy.ConsentStore).ConsentOf(ctx, []string{"crm_id:L\t7", "user_id:u-lou"})
		if err != nil {
			t.Fatal(err)
		}
		got := byKey["user_id:u-lou"]
		if len(byKey["crm_id:L\t7"]) != 0 || len(got) != 2 || got[0].Status != privacy.StatusWithdrawn || !got[0].At.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("records after the erasure: %+v; want the withdrawal (at %s) carried to user_id:u-lou, above the grant", byKey, t0.Add(2*time.Hour))
		}
	})
}

// engineAndEraser returns an engine on st and an eraser with st's
// suppression list.
func engineAndEraser(t *testing.T, st graph.Store) (*graph.Engine, *privacy.Eraser) {
	t.Helper()
	eng := graph.NewEngine(st, nil)
	list, err := privacy.OpenSuppressionList(context.Background(), st.(privacy.SuppressionStore))
	if err != nil {
		t.Fatal(err)
	}
	return eng, privacy.NewEraser(eng, list)
}
