package neo4jstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// A lookalike pass walks the Profile.id index in order and never sorts,
// so that its rows stream as they are computed, with a purpose and a
// computed trait as without.
func TestLookalikeWalksIndexInOrder(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for name, scope := range map[string]audience.FilterQuery{
		"plain": {Now: now},
		"purpose and computed": {Now: now, Purpose: "email", Computed: map[string]audience.ComputedTrait{
			"t": {Name: "t", Aggregate: audience.AggSum, Event: "A", Property: "v", Window: "P30D"}}},
	} {
		t.Run(name, func(t *testing.T) {
			q, params, err := neo4jstore.CompiledLookalike("seg_"+strings.Repeat("0", 32), scope)
			if err != nil {
				t.Fatal(err)
			}
			ops := profile(t, s, q, params)
			sorts := has(ops, func(o string) bool { return o == "Sort" || o == "Top" || o == "PartialSort" || o == "PartialTop" })
			if has(ops, isScan) || !has(ops, func(o string) bool { return strings.Contains(o, "IndexSeekByRange") }) || sorts {
				t.Fatalf("plan %v does not walk the Profile.id index in order", ops)
			}
		})
	}
}
