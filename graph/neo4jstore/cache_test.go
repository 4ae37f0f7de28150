package neo4jstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// TestLockedStateMatchesQueries checks what a write transaction answers from
// what LockIdentifiers read (REJECTED_LINK edges, traits) against what the
// queries give, before and after a write in the same transaction.
func TestLockedStateMatchesQueries(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	seen := func(keys ...string) []graph.IdentifierSeen {
		out := make([]graph.IdentifierSeen, len(keys))
		for i, k := range keys {
			r := graph.SplitKey(k)
			out[i] = graph.IdentifierSeen{Key: k, Type: r.Type, Value: r.Value, First: at, Last: at}
		}
		return out
	}
	a, b, c, d := "user_id:A", "user_id:B", "email:c@example.com", "email:d@example.com"
	// A-B refused both ways round over time, B-C refused, D alone; A has traits.
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen(a, b, c, d), true); err != nil {
			return err
		}
		return tx.Apply(ctx, &graph.Write{At: at,
			PutRejected: []graph.RejectedLink{
				{A: b, B: a, Source: graph.SourceManual, Reason: "unlinked", Evidence: "x", At: at},
				{A: b, B: c, Source: graph.SourceRules, Reason: "limit", Evidence: "y", At: at},
			},
			Traits: []graph.TraitUpdate{{Key: a, Traits: map[string]graph.TraitValue{
				"plan": {Value: "free", Source: "web", At: at},
				"tier": {Value: "gold", Source: "web", At: at.Add(time.Hour)},
			}}},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	queried := func(keys ...string) (rs []graph.RejectedLink, ids map[string]graph.Identifier) {
		t.Helper()
		err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			var err error
			if rs, err = tx.Rejected(ctx, keys); err != nil {
				return err
			}
			ids, err = tx.Identifiers(ctx, keys)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rs, ids
	}
	for _, keys := range [][]string{{a}, {b}, {a, b}, {a, b, c}, {d}, {c, d}, {a, b, c, d}} {
		want, _ := queried(keys...)
		err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			if _, err := tx.LockIdentifiers(ctx, seen(keys...), false); err != nil {
				return err
			}
			got, err := tx.Rejected(ctx, keys)
			if err != nil {
				return err
			}
			if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
				t.Errorf("Rejected(%v) after LockIdentifiers = %+v, want %+v", keys, got, want)
			}
			// Not every key locked: the store must query.
			got, err = tx.Rejected(ctx, append([]string{"user_id:none"}, keys...))
			if err != nil {
				return err
			}
			if len(got) != len(want) || (len(got) > 0 && !reflect.DeepEqual(got, want)) {
				t.Errorf("Rejected(%v + unknown) = %+v, want %+v", keys, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// A write in the transaction makes what LockIdentifiers read stale.
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen(a, c, d), false); err != nil {
			return err
		}
		w := &graph.Write{At: at,
			PutRejected: []graph.RejectedLink{{A: c, B: d, Source: graph.SourceRules, Reason: "limit", Evidence: "z", At: at}},
		}
		if err := tx.Apply(ctx, w); err != nil {
			return err
		}
		got, err := tx.Rejected(ctx, []string{d})
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Evidence != "z" {
			t.Errorf("Rejected(d) after Apply = %+v, want the new refusal", got)
		}
		// Traits are written as the engine merged them: the map replaces
		// what was stored.
		w = &graph.Write{At: at, Traits: []graph.TraitUpdate{{Key: a, Traits: map[string]graph.TraitValue{
			"city": {Value: "Oslo", Source: "app", At: at},
		}}}}
		return tx.Apply(ctx, w)
	})
	if err != nil {
		t.Fatal(err)
	}
	_, ids := queried(a)
	want := map[string]graph.TraitValue{
		"city": {Value: "Oslo", Source: "app", At: at},
	}
	if got := ids[a].Traits; !reflect.DeepEqual(got, want) {
		t.Fatalf("traits of A = %+v, want %+v", got, want)
	}
}
