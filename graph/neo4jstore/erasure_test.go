package neo4jstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy/erasuretest"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// TestErasureConformance scans every property of every node and
// relationship, whatever its label or type: an erased value must not be
// left in any of them.
func TestErasureConformance(t *testing.T) {
	erasuretest.Run(t, storetest.Neo4j, scanAll)
}

func scanAll(t *testing.T, s graph.Store) string {
	t.Helper()
	ns := s.(*neo4jstore.Store)
	ctx := context.Background()
	sess := ns.Driver().NewSession(ctx, neo4j.SessionConfig{DatabaseName: ns.Database(), AccessMode: neo4j.AccessModeRead})
	defer sess.Close(ctx)
	var b strings.Builder
	for _, q := range []string{
		"MATCH (n) RETURN labels(n) AS what, properties(n) AS props",
		"MATCH ()-[r]->() RETURN type(r) AS what, properties(r) AS props",
	} {
		res, err := sess.Run(ctx, q, nil)
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		rows := 0
		for res.Next(ctx) {
			rows++
			what, _ := res.Record().Get("what")
			props, _ := res.Record().Get("props")
			fmt.Fprintf(&b, "%v %v\n", what, props)
		}
		if err := res.Err(); err != nil {
			t.Fatalf("scan: %v", err)
		}
		if rows == 0 {
			t.Fatalf("scan: %q found nothing", q)
		}
	}
	return b.String()
}
