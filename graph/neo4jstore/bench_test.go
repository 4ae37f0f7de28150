package neo4jstore_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkApplyBatch measures ingest through the engine: batches of 500
// events, each with two or three identifiers, a third of them from people
// seen before (so batches also look up, extend and merge profiles). It
// reports events per second.
func BenchmarkApplyBatch(b *testing.B) {
	const batch = 500
	lockNeo4j(b)
	ctx := context.Background()
	s, err := neo4jstore.Open(ctx, storetest.Neo4jConfig())
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatalf("Neo4j is required under CI=true: %v", err)
		}
		b.Skipf("Neo4j not reachable (start it with dev/neo4j/start): %v", err)
	}
	b.Cleanup(func() { _ = s.Close(context.Background()) })
	if err := s.DeleteAll(ctx); err != nil {
		b.Fatal(err)
	}
	e := graph.NewEngine(s, nil)
	rng := rand.New(rand.NewSource(1))
	people, seq := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evs := make([]graph.Event, batch)
		for j := range evs {
			var p int
			if people > 0 && rng.Intn(3) == 0 {
				p = rng.Intn(people)
			} else {
				p = people
				people++
			}
			refs := []graph.IdentifierRef{ref(graph.TypeAnonymousID, fmt.Sprintf("anon-%d", p)), ref(graph.TypeUserID, fmt.Sprintf("user-%d", p))}
			if rng.Intn(2) == 0 {
				refs = append(refs, ref(graph.TypeEmail, fmt.Sprintf("p%d@example.com", p)))
			}
			seq++
			evs[j] = event(fmt.Sprintf("m-%d", seq), 0, refs...)
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
