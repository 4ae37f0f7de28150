package neo4jstore_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"pgregory.net/rapid"
)

// refTraitFold is the reference fold of one trait over a profile's
// identifiers, written apart from graph.FoldTraits: the value with the
// latest time; of one time, the latest receipt, a value with none before
// any that has one; of both, the identifier whose key sorts first. ok is
// false when no identifier holds the trait.
func refTraitFold(held map[string]graph.TraitValue) (best graph.TraitValue, ok bool) {
	for _, k := range slices.Sorted(maps.Keys(held)) {
		v := held[k]
		if !ok {
			best, ok = v, true
			continue
		}
		newer := false
		switch {
		case v.At.After(best.At):
			newer = true
		case v.At.Equal(best.At):
			switch {
			case best.Received.IsZero() && !v.Received.IsZero():
				newer = true
			case !best.Received.IsZero() && !v.Received.IsZero():
				newer = v.Received.After(best.Received)
			}
		}
		if newer {
			best = v
		}
	}
	return best, ok
}

// The compiled filter folds a trait across a profile's identifiers as the
// reference does, and so does graph.FoldTraits (which the embedded
// store's evaluator reads): values drawn on three identifiers at two
// times, received at two instants or not at all (stored before receipts
// were kept), some with no slotReceived at all (written before it
// existed).
func TestCompiledTraitFoldMatchesReference(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	refs := []graph.IdentifierRef{{Type: "anonymous_id", Value: "a1"}, {Type: "email", Value: "f@ex.com"}, {Type: "user_id", Value: "f1"}}
	plans := []string{"a", "b", "c"}
	sess := rawSession(t)
	storetest.WithRapidChecks(40, func() {
		rapid.Check(t, func(rt *rapid.T) {
			if err := s.DeleteAll(ctx); err != nil {
				rt.Fatal(err)
			}
			link := event("fold/link", 0, refs...)
			if _, err := eng.ApplyBatch(ctx, []graph.Event{link}); err != nil {
				rt.Fatal(err)
			}
			p, err := eng.ProfileByIdentifier(ctx, refs[0])
			if err != nil {
				rt.Fatal(err)
			}
			held := map[string]graph.TraitValue{}
			var w graph.Write
			var bare []string // identifiers whose slotReceived is removed
			for _, r := range refs {
				if !rapid.Bool().Draw(rt, "holds "+r.Type) {
					continue
				}
				tv := graph.TraitValue{
					Value:  rapid.SampledFrom(plans).Draw(rt, "plan "+r.Type),
					Source: "test",
					At:     t0.Add(time.Duration(rapid.IntRange(1, 2).Draw(rt, "at "+r.Type)) * time.Minute),
				}
				if n := rapid.IntRange(0, 2).Draw(rt, "received "+r.Type); n > 0 {
					tv.Received = t0.Add(time.Duration(10+n) * time.Minute)
				} else if rapid.Bool().Draw(rt, "no slotReceived "+r.Type) {
					bare = append(bare, r.Key())
				}
				held[r.Key()] = tv
				w.Traits = append(w.Traits, graph.TraitUpdate{Key: r.Key(), Traits: map[string]graph.TraitValue{"plan": tv}})
			}
			w.At = t0
			if err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return tx.Apply(ctx, &w) }); err != nil {
				rt.Fatal(err)
			}
			if len(bare) > 0 {
				res, err := sess.Run(ctx, "MATCH (i:Identifier) WHERE i.key IN $keys REMOVE i.slotReceived", map[string]any{"keys": bare})
				if err == nil {
					_, err = res.Consume(ctx)
				}
				if err != nil {
					rt.Fatal(err)
				}
			}
			want, ok := refTraitFold(held)
			ms, err := eng.Members(ctx, []string{p.ID})
			if err != nil {
				rt.Fatal(err)
			}
			got, gotOK := graph.FoldTraits(ms[p.ID])["plan"]
			if gotOK != ok || got.Value != want.Value {
				rt.Fatalf("held %+v: FoldTraits gives %+v (%v), the reference %+v (%v)", held, got, gotOK, want, ok)
			}
			for _, v := range plans {
				f := audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: v}}
				n, _, err := s.CountFilter(ctx, audience.FilterQuery{Filter: &f, Now: t0.Add(time.Hour)})
				if err != nil {
					rt.Fatal(err)
				}
				if wantN := map[bool]int{true: 1}[ok && want.Value == v]; n != wantN {
					rt.Fatalf("held %+v (no slotReceived on %v): plan = %s counts %d, want %d (the reference's plan: %v)", held, bare, v, n, wantN, fmt.Sprint(want.Value))
				}
			}
		})
	})
}
