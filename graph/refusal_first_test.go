package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A refusal says why the pair was first kept apart: the rules refuse
// user_id:kim and user_id:lou (two user ids in one profile) on tablet
// t1's sign-ins. The first, s1, is its evidence; s2 and s3, later in the
// same batch and in another, refuse the same pair for the same reason and
// leave it as it was, evidence, time and direction, on both stores. They
// overwrote it with the latest sign-in.
func TestARefusalKeepsItsFirstEvidence(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		eng := graph.NewEngine(s, nil)
		ctx := context.Background()
		at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
		ev := func(id string, min int, keys ...string) graph.Event {
			e := graph.Event{ID: id, Type: "identify", Source: "test", Timestamp: at.Add(time.Duration(min) * time.Minute), ReceivedAt: at}
			for _, k := range keys {
				e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
			}
			return e
		}
		refusal := func() graph.RejectedLink {
			t.Helper()
			ex, err := eng.ExplainLink(ctx, graph.SplitKey("user_id:lou"), graph.SplitKey("anonymous_id:t1"))
			storetest.Must(t, err)
			if ex.Linked || len(ex.Rejected) != 1 {
				t.Fatalf("explanation %+v, want one refusal", ex)
			}
			return ex.Rejected[0]
		}
		apply := func(evs ...graph.Event) {
			t.Helper()
			if _, err := eng.ApplyBatch(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		apply(ev("k0", 0, "user_id:kim", "anonymous_id:t1"))
		apply(ev("s1", 1, "user_id:lou", "anonymous_id:t1"), ev("s2", 2, "anonymous_id:t1", "user_id:lou"))
		first := refusal()
		if first.Evidence != "s1" || first.A != "user_id:lou" || first.B != "anonymous_id:t1" || first.Source != graph.SourceRules {
			t.Fatalf("refusal %+v, want s1's, user_id:lou to anonymous_id:t1, by the rules", first)
		}
		apply(ev("s3", 3, "user_id:lou", "anonymous_id:t1"))
		if again := refusal(); again != first {
			t.Fatalf("after s3: refusal %+v, want it as s1 left it: %+v", again, first)
		}
	})
}
