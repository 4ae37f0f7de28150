package intel_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
)

// TIME_DECAY on both stores over runs longer than keys times halvings,
// which each store sums by key in blocks: two profiles of 300 events
// (ties every few minutes, three channels and an unknown one, a purchase
// every seventh event), lookbacks from a few events to the whole
// profile, half-lives from a minute (weights down to 2^-600) to a week,
// each against the naive reference, which weighs every touchpoint of
// every conversion.
func TestTimeDecayLongRunsOnBothStores(t *testing.T) {
	var events []graph.Event
	for p, user := range []string{"user_id:d1", "user_id:d2"} {
		for i := range 300 {
			name := "view"
			if i%7 == 6 {
				name = "buy"
			}
			events = append(events, graph.Event{ID: fmt.Sprintf("decay/%d-%03d", p, (i*101)%300), Type: "track", Name: name,
				Channel: []string{"web", "app", "store", ""}[(i*(p+1))%4], Source: "s",
				Timestamp: intel.T0.Add(time.Duration(i/3*(2+p)) * time.Minute), ReceivedAt: intel.T0,
				Identifiers: []graph.IdentifierRef{graph.SplitKey(user)}})
		}
	}
	ans := onBothStores(t, events, 100)
	tls := refTimelines(events, partition(t, ans.engE), ans.prio, ans.dprio, false)
	for _, q := range []intel.AttributionQuery{
		{Lookback: 10 * time.Minute, HalfLife: time.Minute},
		{Lookback: 3 * time.Hour, HalfLife: time.Minute},
		{Lookback: 10 * time.Hour, HalfLife: 30 * time.Minute},
		{Lookback: 30 * 24 * time.Hour, HalfLife: 7 * 24 * time.Hour},
		{Lookback: 10 * time.Hour, HalfLife: time.Hour, Touchpoints: &intel.EventMatch{Name: "view"}},
	} {
		q.Conversion, q.Dimension, q.Model = intel.EventMatch{Name: "buy"}, intel.DimChannel, intel.TimeDecay
		n, want := intel.RefAttribution(q, tls)
		if n != 84 {
			t.Fatalf("the reference counts %d conversions, by hand 2 × 42", n)
		}
		for name, r := range ans.attribution(q) {
			if r.Conversions != n || len(r.Credits) != len(want) {
				t.Fatalf("attribution %+v on %s: %d conversions %+v, want %d and %v", q, name, r.Conversions, r.Credits, n, want)
			}
			for _, c := range r.Credits {
				if math.Abs(c.Credit-want[c.Key]) > 1e-9 {
					t.Fatalf("attribution %+v on %s: %s credited %v, want %v", q, name, c.Key, c.Credit, want[c.Key])
				}
			}
		}
	}
}

// BenchmarkTimeDecayNeo4j times Neo4j's TIME_DECAY statement over one
// profile of n events a minute apart (three channels, every fourth a
// purchase) whose lookback spans all of them, stored in the test Neo4j
// (which the run empties):
//
//	NEO4J_URI=bolt://127.0.0.1:7687 go test ./intel -run '^$' -bench TimeDecayNeo4j -benchtime 3x
func BenchmarkTimeDecayNeo4j(b *testing.B) {
	ctx := context.Background()
	neo := storetest.OpenNeo4j(b)
	eng := graph.NewEngine(neo, nil)
	stored := 0
	for _, n := range []int{1000, 2000, 4000} {
		var evs []graph.Event
		for i := stored; i < n; i++ {
			name := "view"
			if i%4 == 3 {
				name = "buy"
			}
			evs = append(evs, graph.Event{ID: fmt.Sprintf("decay/%05d", i), Type: "track", Name: name,
				Channel: []string{"web", "app", "store"}[i%3], Timestamp: intel.T0.Add(time.Duration(i) * time.Minute), ReceivedAt: intel.T0,
				Identifiers: []graph.IdentifierRef{graph.SplitKey("user_id:decay")}})
		}
		for i := 0; i < len(evs); i += 500 {
			if _, err := eng.ApplyBatch(ctx, evs[i:min(i+500, len(evs))]); err != nil {
				b.Fatal(err)
			}
		}
		stored = n
		q := intel.AttributionQuery{Conversion: intel.EventMatch{Name: "buy"}, Dimension: intel.DimChannel, Model: intel.TimeDecay,
			Lookback: intel.MaxLookback, HalfLife: time.Hour}
		prio, dprio := eng.Normalizer().Priorities()
		scope := audience.FilterQuery{Now: intel.T0, Priorities: prio, DefaultPriority: dprio}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				r, err := neo.EvalAttribution(ctx, q, scope)
				if err != nil || r.Conversions != n/4 {
					b.Fatalf("%d conversions, %v", r.Conversions, err)
				}
			}
		})
	}
}
