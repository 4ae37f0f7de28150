package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestDestinationQueriesSeekByIndex(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	// The pages walk their index in order and stop after a page.
	inOrder := map[string]bool{"DestinationPage": true, "Deliveries": true, "DeliveriesOf": true}
	for _, q := range neo4jstore.DestinationQueries() {
		t.Run(q.Name, func(t *testing.T) {
			ops := profile(t, s, q.Cypher, q.Params)
			if has(ops, isScan) || !has(ops, isSeek) {
				t.Fatalf("plan %v scans instead of seeking by index", ops)
			}
			if inOrder[q.Name] && has(ops, func(o string) bool { return o == "Sort" || o == "Top" || o == "PartialSort" || o == "PartialTop" }) {
				t.Fatalf("plan %v sorts instead of walking the index in order", ops)
			}
		})
	}
}
