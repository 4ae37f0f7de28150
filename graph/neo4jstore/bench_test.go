package neo4jstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkApplyBatch: see graphtest.BenchApplyBatch.
//
//	go test ./graph/neo4jstore/ -run '^$' -bench ApplyBatch -benchtime 100x
func BenchmarkApplyBatch(b *testing.B) { graphtest.BenchApplyBatch(b, storetest.OpenNeo4j(b)) }

// BenchmarkPlanLargestFilter: what Neo4j takes to plan and run the
// statement of the largest filter audiences accept (100 nodes: an and of
// 99 distinct trait conditions and an event condition), its query cache
// cleared before each run so that every run plans it afresh, over an
// empty graph so that planning is nearly all of it. Figures in
// docs/BENCHMARKS.md ("Planning the largest filter").
//
//	go test ./graph/neo4jstore/ -run '^$' -bench PlanLargestFilter -benchtime 3x
func BenchmarkPlanLargestFilter(b *testing.B) {
	s := storetest.OpenNeo4j(b)
	ctx := context.Background()
	and := []audience.Filter{{Event: &audience.EventCondition{Name: "Order Completed"}}}
	for k := range audience.MaxNodes - 2 {
		and = append(and, audience.Filter{Trait: &audience.TraitCondition{Name: fmt.Sprintf("t%d", k), Op: audience.OpEQ, Value: float64(k)}})
	}
	f := audience.Filter{And: and}
	if err := audience.Check(&f, audience.Env{}, "filter"); err != nil {
		b.Fatalf("the largest filter is refused: %v", err)
	}
	sess := s.Driver().NewSession(ctx, neo4j.SessionConfig{})
	defer sess.Close(ctx)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if _, err := sess.Run(ctx, "CALL db.clearQueryCaches()", nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := s.CountFilter(ctx, audience.FilterQuery{Filter: &f, Now: time.Now(), Sample: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
