package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

var refusalAt = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

// signIn is an identify min minutes after refusalAt carrying keys.
func signIn(id string, min int, keys ...string) graph.Event {
	e := graph.Event{ID: id, Type: "identify", Source: "test", Timestamp: refusalAt.Add(time.Duration(min) * time.Minute), ReceivedAt: refusalAt}
	for _, k := range keys {
		e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
	}
	return e
}

// applyAll applies evs in one batch.
func applyAll(t *testing.T, eng *graph.Engine, evs ...graph.Event) {
	t.Helper()
	if _, err := eng.ApplyBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// onlyRefusal is the one refusal between the profiles of a and b, which
// must not be linked.
func onlyRefusal(t *testing.T, eng *graph.Engine, a, b string) graph.RejectedLink {
	t.Helper()
	ex, err := eng.ExplainLink(context.Background(), graph.SplitKey(a), graph.SplitKey(b))
	storetest.Must(t, err)
	if ex.Linked || len(ex.Rejected) != 1 {
		t.Fatalf("explanation %+v, want one refusal", ex)
	}
	return ex.Rejected[0]
}

// A refusal says why the pair was first kept apart: the rules refuse
// user_id:kim and user_id:lou (two user ids in one profile) on tablet
// t1's sign-ins. The first, s1, is its evidence; s2 and s3, later in the
// same batch and in another, refuse the same pair for the same reason and
// leave it as it was, evidence, time and direction, on both stores. They
// overwrote it with the latest sign-in.
func TestARefusalKeepsItsFirstEvidence(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		eng := graph.NewEngine(s, nil)
		refusal := func() graph.RejectedLink { return onlyRefusal(t, eng, "user_id:lou", "anonymous_id:t1") }
		apply := func(evs ...graph.Event) { applyAll(t, eng, evs...) }
		apply(signIn("k0", 0, "user_id:kim", "anonymous_id:t1"))
		apply(signIn("s1", 1, "user_id:lou", "anonymous_id:t1"), signIn("s2", 2, "anonymous_id:t1", "user_id:lou"))
		first := refusal()
		if first.Evidence != "s1" || first.A != "user_id:lou" || first.B != "anonymous_id:t1" || first.Source != graph.SourceRules {
			t.Fatalf("refusal %+v, want s1's, user_id:lou to anonymous_id:t1, by the rules", first)
		}
		apply(signIn("s3", 3, "user_id:lou", "anonymous_id:t1"))
		if again := refusal(); again != first {
			t.Fatalf("after s3: refusal %+v, want it as s1 left it: %+v", again, first)
		}
	})
}

// A new reason replaces a refusal in one batch as it does across batches:
// ann (user_id plus 3 emails) and device x (3 emails) cannot join, 6
// emails over the limit of 5 (r1); x then gets a fourth email (g), and r3
// refuses the pair again with 7. Applied one by one, r3's refusal is the
// one stored; applied in one batch it must be too, on both stores. The
// batch kept r1's, so how events were grouped changed what explainLink
// said.
func TestARefusalTakesANewReasonWithinABatch(t *testing.T) {
	const want = "profile would hold 7 email identifiers (limit 5)"
	for _, batched := range []bool{false, true} {
		name := "one by one"
		if batched {
			name = "one batch"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s graph.Store) {
				eng := graph.NewEngine(s, nil)
				apply := func(evs ...graph.Event) { applyAll(t, eng, evs...) }
				apply(signIn("a", 0, "user_id:ann", "email:a1@example.com", "email:a2@example.com", "email:a3@example.com"),
					signIn("b", 0, "anonymous_id:x", "email:b1@example.com", "email:b2@example.com", "email:b3@example.com"))
				seq := []graph.Event{
					signIn("r1", 1, "user_id:ann", "anonymous_id:x"),
					signIn("g", 2, "anonymous_id:x", "email:b4@example.com"),
					signIn("r3", 3, "user_id:ann", "anonymous_id:x"),
				}
				if batched {
					apply(seq...)
				} else {
					for _, e := range seq {
						apply(e)
					}
				}
				if r := onlyRefusal(t, eng, "user_id:ann", "anonymous_id:x"); r.Evidence != "r3" || r.Reason != want || r.A != "user_id:ann" || r.B != "anonymous_id:x" {
					t.Fatalf("refusal %+v, want r3's: %q", r, want)
				}
			})
		})
	}
}
