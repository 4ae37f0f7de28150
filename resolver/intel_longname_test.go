package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// An event's name may be as long as the collector takes (4096 bytes), and
// an intelligence query may name it: a funnel from a 300-byte name, and
// paths from a 4096-byte one, select their events on both stores. Names
// over 256 bytes were refused, so those events were out of reach. By
// hand: one person views, then orders; another views only.
func TestIntelTakesEventNamesAsLongAsIngest(t *testing.T) {
	long := strings.Repeat("Checkout step completed / ", 12)[:300]
	longest := strings.Repeat("x", graph.MaxEventNameBytes)
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		var in ingestResult
		e.query(ingestMutation, map[string]any{"events": []map[string]any{
			{"type": "track", "messageId": "ln1", "userId": "ln-u1", "event": long, "timestamp": "2024-05-01T10:00:00Z"},
			{"type": "track", "messageId": "ln2", "userId": "ln-u1", "event": longest, "timestamp": "2024-05-01T10:30:00Z"},
			{"type": "track", "messageId": "ln3", "userId": "ln-u1", "event": "Order Completed", "timestamp": "2024-05-01T11:00:00Z"},
			{"type": "track", "messageId": "ln4", "userId": "ln-u2", "event": long, "timestamp": "2024-05-01T10:00:00Z"},
		}}, &in)
		if in.Ingest.Accepted != 4 {
			t.Fatalf("ingest: %+v", in.Ingest)
		}
		var f struct {
			Funnel struct {
				Steps []struct{ Count int }
			}
		}
		e.query(`query($n: String!) { funnel(steps: [{name: $n}, {name: "Order Completed"}], within: "P1D") { steps { count } } }`, map[string]any{"n": long}, &f)
		if len(f.Funnel.Steps) != 2 || f.Funnel.Steps[0].Count != 2 || f.Funnel.Steps[1].Count != 1 {
			t.Errorf("funnel from a %d-byte name: %+v, want 2 then 1", len(long), f.Funnel)
		}
		var p struct {
			Paths []struct {
				Events []string
				Count  int
			}
		}
		e.query(`query($n: String!) { paths(start: {name: $n}, depth: 1) { events count } }`, map[string]any{"n": longest}, &p)
		if len(p.Paths) != 1 || p.Paths[0].Count != 1 || len(p.Paths[0].Events) != 1 || p.Paths[0].Events[0] != "Order Completed" {
			t.Errorf("paths from a %d-byte name: %+v, want [Order Completed] once", len(longest), p.Paths)
		}
		e.refused(`query($n: String!) { paths(start: {name: $n}, depth: 1) { count } }`, map[string]any{"n": longest + "x"}, "INVALID_ARGUMENT", "start.name")
	})
}
