package graph_test

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestRepeatedIDsInABatch: a later copy of an id in one batch with the
// first copy's content is a duplicate only when that first copy is stored
// (or already was); when the first copy is refused, as a conflict with
// what is stored or by the event filter, the copy gets the same outcome.
// A copy the event filter refuses is not the first copy of its id: the
// next copy is judged as in a batch of its own.
func TestRepeatedIDsInABatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		eng := graph.NewEngine(s, nil)
		ctx := context.Background()
		ev := func(id, user, digest string) graph.Event {
			e := userEvent(id, user)
			e.Digest = digest
			return e
		}
		statuses := func(res graph.BatchResult) []string {
			var out []string
			for _, r := range res.Results {
				out = append(out, r.Status+" "+r.Reason)
			}
			return out
		}
		check := func(what string, res graph.BatchResult, err error, want ...string) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			got := statuses(res)
			if len(got) != len(want) {
				t.Fatalf("%s: results %q, want %q", what, got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: results %q, want %q", what, got, want)
				}
			}
		}
		conflict := graph.StatusConflict + " " + graph.ReasonDuplicateConflict + ": this message id was already stored for this source with different content"

		res, err := eng.ApplyBatch(ctx, []graph.Event{ev("ev-r1", "r1", "dA")})
		check("the first content", res, err, graph.StatusStored+" ")
		res, err = eng.ApplyBatch(ctx, []graph.Event{ev("ev-r1", "r1", "dB"), ev("ev-r1", "r1", "dB")})
		check("other content twice", res, err, conflict, conflict)
		if res.Conflicts != 2 || res.Duplicates != 0 {
			t.Errorf("other content twice counted %d conflicts and %d duplicates, want 2 and 0", res.Conflicts, res.Duplicates)
		}

		refuse := graph.WithEventFilter(ctx, func(_ context.Context, _ graph.Tx, evs []graph.Event) ([]string, error) {
			out := make([]string, len(evs))
			for i := range out {
				out[i] = "suppressed: refused by the test"
			}
			return out, nil
		})
		res, err = eng.ApplyBatch(refuse, []graph.Event{ev("ev-r2", "r2", "dC"), ev("ev-r2", "r2", "dC")})
		check("a refused content twice", res, err, graph.StatusRejected+" suppressed: refused by the test", graph.StatusRejected+" suppressed: refused by the test")
		if res.Rejected != 2 || res.Duplicates != 0 {
			t.Errorf("a refused content twice counted %d rejected and %d duplicates, want 2 and 0", res.Rejected, res.Duplicates)
		}

		res, err = eng.ApplyBatch(ctx, []graph.Event{ev("ev-r3", "r3", "dD"), ev("ev-r3", "r3", "dD"), ev("ev-r3", "r3", "dE")})
		check("a new content twice, then another", res, err, graph.StatusStored+" ", graph.StatusDuplicate+" ", conflict)

		// The filter refuses the first copy's content only: the copies
		// give what they would give in batches of their own, in order.
		refuseF := graph.WithEventFilter(ctx, func(_ context.Context, _ graph.Tx, evs []graph.Event) ([]string, error) {
			out := make([]string, len(evs))
			for i, e := range evs {
				if e.Digest == "dF" {
					out[i] = "suppressed: refused by the test"
				}
			}
			return out, nil
		})
		res, err = eng.ApplyBatch(refuseF, []graph.Event{ev("ev-r4", "r4", "dF"), ev("ev-r4", "r4", "dG"), ev("ev-r4", "r4", "dG"), ev("ev-r4", "r4", "dH"), ev("ev-r4", "r4", "dF")})
		check("a refused content, then another twice, then a third, then the refused again", res, err,
			graph.StatusRejected+" suppressed: refused by the test", graph.StatusStored+" ", graph.StatusDuplicate+" ", conflict,
			graph.StatusRejected+" suppressed: refused by the test")
		if res.Stored != 1 || res.Duplicates != 1 || res.Conflicts != 1 || res.Rejected != 2 {
			t.Errorf("counted %d stored, %d duplicates, %d conflicts, %d rejected; want 1, 1, 1, 2", res.Stored, res.Duplicates, res.Conflicts, res.Rejected)
		}
	})
}
