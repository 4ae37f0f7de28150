package intel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkScan times a 3-step funnel and a LINEAR attribution over an
// embedded store (CDP_INTEL_STORE=neo4j: the test Neo4j) of
// CDP_INTEL_EVENTS events (default 100000), 10 per
// person across web, mobile and store, built once per run:
//
//	CDP_INTEL_EVENTS=1000000 go test ./intel -run '^$' -bench Scan -benchtime 1x
func BenchmarkScan(b *testing.B) {
	n := 100_000
	if v := os.Getenv("CDP_INTEL_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	var st graph.Store
	if os.Getenv("CDP_INTEL_STORE") == "neo4j" {
		st = storetest.Open(b, "neo4j")
	} else {
		es, err := embedded.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer es.Close(ctx)
		st = es
	}
	e := graph.NewEngine(st, nil)
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"Product Viewed", "Product Viewed", "App Opened", "Email Opened", "Order Completed"}
	channels := []string{"web", "web", "mobile", "email", "store"}
	t0 := time.Now()
	var batch []graph.Event
	for i := range n {
		person := i / 10
		k := r.IntN(len(names))
		ev := graph.Event{ID: fmt.Sprintf("b/%d", i), Type: "track", Name: names[k], Channel: channels[k], Source: channels[k],
			Timestamp: base.Add(time.Duration(person%1000)*time.Hour + time.Duration(i%10)*time.Hour), ReceivedAt: base,
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: fmt.Sprintf("u%d", person)}}}
		batch = append(batch, ev)
		if len(batch) == 500 || i == n-1 {
			if _, err := e.ApplyBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Logf("stored %d events in %s", n, time.Since(t0))
	b.Run("funnel", func(b *testing.B) {
		q := intel.FunnelQuery{Steps: []intel.EventMatch{{Name: "Product Viewed"}, {Channel: "mobile"}, {Name: "Order Completed"}}, Within: 7 * 24 * time.Hour}
		for b.Loop() {
			f := intel.NewFunnel(q)
			if err := intel.Scan(ctx, st, e, time.Time{}, time.Time{}, nil, func(_ string, evs []graph.Event) error { f.Add(evs); return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(f.Result().Steps[2].Count), "completed")
		}
	})
	b.Run("attribution", func(b *testing.B) {
		q := intel.AttributionQuery{Conversion: intel.EventMatch{Name: "Order Completed"}, Dimension: intel.DimChannel, Model: intel.Linear, Lookback: 30 * 24 * time.Hour}
		for b.Loop() {
			a := intel.NewAttribution(q)
			if err := intel.Scan(ctx, st, e, time.Time{}, time.Time{}, nil, func(_ string, evs []graph.Event) error { a.Add(evs); return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(a.Result().Conversions), "conversions")
		}
	})
}
