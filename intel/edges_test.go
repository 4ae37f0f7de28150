package intel_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
)

// answers stores events in a fresh embedded store and the test Neo4j, and
// gives, for each store by name, the paths, attribution and funnel it
// answers: the embedded store through Scan and the accumulators, Neo4j
// through its statements.
type answers struct {
	paths       func(q intel.PathsQuery) map[string]intel.PathsResult
	attribution func(q intel.AttributionQuery) map[string]intel.AttributionResult
	funnel      func(q intel.FunnelQuery) map[string]intel.FunnelResult
	// The engines of the embedded store and of Neo4j, and the rules'
	// priorities.
	engE, engN *graph.Engine
	prio       map[string]int
	dprio      int
}

// onBothStores stores events, in batches of at most batch (all at once
// when 0), none of which may be rejected.
func onBothStores(t *testing.T, events []graph.Event, batch int) answers {
	t.Helper()
	ctx := context.Background()
	neo := storetest.OpenNeo4j(t)
	emb, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emb.Close(ctx) })
	if batch <= 0 {
		batch = max(1, len(events))
	}
	engE, engN := graph.NewEngine(emb, nil), graph.NewEngine(neo, nil)
	for _, eng := range []*graph.Engine{engE, engN} {
		for i := 0; i < len(events); i += batch {
			res, err := eng.ApplyBatch(ctx, events[i:min(len(events), i+batch)])
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Results {
				if r.Status == graph.StatusRejected {
					t.Fatalf("event %s rejected: %s", r.ID, r.Reason)
				}
			}
		}
	}
	prio, dprio := engE.Normalizer().Priorities()
	scan := func(from, to time.Time, add func([]graph.Event)) {
		t.Helper()
		err := intel.ScanWith(ctx, emb, engE, intel.ScanOptions{From: from, To: to, Properties: true},
			func(_ string, evs []graph.Event) error { add(evs); return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	both := bothStores{ctx: ctx, neo: neo, scope: audience.FilterQuery{Now: intel.T0, Priorities: prio, DefaultPriority: dprio}, scan: scan}
	return answers{
		engE: engE, engN: engN, prio: prio, dprio: dprio,
		paths:       func(q intel.PathsQuery) map[string]intel.PathsResult { return both.paths(t, q) },
		attribution: func(q intel.AttributionQuery) map[string]intel.AttributionResult { return both.attribution(t, q) },
		funnel:      func(q intel.FunnelQuery) map[string]intel.FunnelResult { return both.funnel(t, q) },
	}
}

func edgeEvent(id, name string, at time.Time) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: name, Channel: "web", Timestamp: at, ReceivedAt: intel.T0,
		Identifiers: []graph.IdentifierRef{graph.SplitKey("user_id:u1")}}
}

// A window's bounds finer than the microsecond stores keep: from is
// inclusive and to exclusive of the instants given, so an event stored at
// T0 is outside [T0 + 500 ns, …) and inside […, T0 + 500 ns).
func TestWindowBoundsFinerThanStoredTimes(t *testing.T) {
	a := onBothStores(t, []graph.Event{
		edgeEvent("w/1", "view", intel.T0),
		edgeEvent("w/2", "buy", intel.T0.Add(time.Minute)),
	}, 0)
	half := intel.T0.Add(500 * time.Nanosecond)
	for _, tc := range []struct {
		w      intel.Window
		starts int // views in the window, by hand
	}{
		{intel.Window{From: half}, 0},
		{intel.Window{To: half}, 1},
		{intel.Window{From: intel.T0, To: half}, 1},
		{intel.Window{From: intel.T0.Add(-500 * time.Nanosecond), To: intel.T0.Add(time.Microsecond - 500*time.Nanosecond)}, 1},
	} {
		for name, r := range a.paths(intel.PathsQuery{Start: intel.EventMatch{Name: "view"}, Depth: 1, First: 5, Window: tc.w}) {
			if r.Starts != tc.starts {
				t.Errorf("paths in %v on %s: %d starts, want %d", tc.w, name, r.Starts, tc.starts)
			}
		}
		for name, r := range a.funnel(intel.FunnelQuery{Steps: []intel.EventMatch{{Name: "view"}, {Name: "buy"}}, Within: time.Hour, Window: tc.w}) {
			if r.Steps[0].Count != tc.starts || r.Steps[1].Count != tc.starts {
				t.Errorf("funnel in %v on %s: %s, want %d and %d", tc.w, name, intel.Show(r), tc.starts, tc.starts)
			}
		}
		// The view converts: the purchase, a minute later, is in the
		// window shifted by a minute.
		shifted := intel.Window{From: tc.w.From, To: tc.w.To}
		if !shifted.From.IsZero() {
			shifted.From = shifted.From.Add(time.Minute)
		}
		if !shifted.To.IsZero() {
			shifted.To = shifted.To.Add(time.Minute)
		}
		for name, r := range a.attribution(intel.AttributionQuery{Conversion: intel.EventMatch{Name: "buy"}, Dimension: intel.DimEvent,
			Model: intel.Linear, Lookback: time.Hour, Window: shifted}) {
			if r.Conversions != tc.starts {
				t.Errorf("attribution in %v on %s: %d conversions, want %d", shifted, name, r.Conversions, tc.starts)
			}
		}
	}
}
