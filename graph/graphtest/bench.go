package graphtest

import (
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// BenchApplyBatch measures ingest through the engine on s: batches of 500
// events, each with two or three identifiers, a third of them from people
// seen before (so batches also look up, extend and merge profiles). Every
// store runs it from a one-line benchmark; it reports events per second.
func BenchApplyBatch(b *testing.B, s graph.Store) {
	const batch = 500
	ctx := context.Background()
	e := graph.NewEngine(s, nil)
	rng := rand.New(rand.NewSource(1))
	people, seq := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := make([]graph.Event, batch)
		for j := range evs {
			p := people
			if people > 0 && rng.Intn(3) == 0 {
				p = rng.Intn(people)
			} else {
				people++
			}
			refs := []graph.IdentifierRef{anon(fmt.Sprintf("anon-%d", p)), user(fmt.Sprintf("user-%d", p))}
			if rng.Intn(2) == 0 {
				refs = append(refs, email(fmt.Sprintf("p%d@example.com", p)))
			}
			seq++
			evs[j] = ev(fmt.Sprintf("m-%d", seq), 0, refs...)
			evs[j].Timestamp = t0.Add(time.Duration(seq) * time.Millisecond)
			evs[j].Properties = map[string]any{"path": "/products/42", "value": 19.5}
		}
		b.StartTimer()
		res, err := e.ApplyBatch(ctx, evs)
		if err != nil {
			b.Fatal(err)
		}
		if res.Stored != batch {
			b.Fatalf("stored %d of %d", res.Stored, batch)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
