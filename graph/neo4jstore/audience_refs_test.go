package neo4jstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// Locking what a put names, or what a delete removes, leaves no property
// behind on the nodes locked.
func TestAudienceRefLocksLeaveNoTrace(t *testing.T) {
	g := storetest.Neo4j(t)
	s := g.(*neo4jstore.Store)
	ctx := context.Background()
	seg := func(n int) string { return fmt.Sprintf("seg_%032x", n) }
	ltv := audience.ComputedTrait{Name: "ltv", Aggregate: audience.AggSum, Event: "Order", Property: "total"}
	if err := s.PutComputedTrait(ctx, ltv); err != nil {
		t.Fatal(err)
	}
	plain := audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpExists}}
	b := seg(1)
	for _, a := range []audience.Audience{
		{ID: b, Name: "B", Filter: plain},
		{ID: seg(2), Name: "names B, uses ltv", Filter: audience.Filter{And: []audience.Filter{
			{InAudience: &b}, {Computed: &audience.ComputedCondition{Name: "ltv", Op: audience.OpExists}},
		}}},
	} {
		if err := s.PutAudience(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteComputedTrait(ctx, "ltv"); graph.ErrorCode(err) != graph.ECONFLICT {
		t.Fatalf("DeleteComputedTrait(ltv) = %v, want a conflict", err)
	}
	if _, err := s.DeleteAudience(ctx, b); graph.ErrorCode(err) != graph.ECONFLICT {
		t.Fatalf("DeleteAudience(B) = %v, want a conflict", err)
	}
	raw := rawSession(t)
	n := single(t, raw, "MATCH (n) WHERE (n:Audience OR n:ComputedTrait) AND n.lock IS NOT NULL RETURN count(n)", nil)
	if n != int64(0) {
		t.Fatalf("%v audiences or computed traits keep a lock property", n)
	}
	if got := single(t, raw, "MATCH (n) WHERE n:Audience OR n:ComputedTrait RETURN count(n)", nil); got != int64(3) {
		t.Fatalf("%v audiences and computed traits stored, want 3", got)
	}
}
