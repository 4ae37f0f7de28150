package storetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Scan returns everything s holds, as text, for tests that search it for
// values that must be gone (erasure): on the embedded store, every byte of
// the database file, free pages included; on Neo4j, every property of every
// node and relationship, whatever its label or type. It fails the test on
// a store it cannot scan, or when the scan finds nothing at all.
func Scan(t testing.TB, s graph.Store) string {
	t.Helper()
	switch st := s.(type) {
	case *embedded.Store:
		b, err := os.ReadFile(st.Path())
		if err != nil {
			t.Fatalf("scan the database file: %v", err)
		}
		return string(b)
	case *neo4jstore.Store:
		return scanNeo4j(t, st)
	}
	t.Fatalf("storetest.Scan cannot scan a %T", s)
	return ""
}

func scanNeo4j(t testing.TB, s *neo4jstore.Store) string {
	t.Helper()
	ctx := context.Background()
	sess := s.Driver().NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.Database(), AccessMode: neo4j.AccessModeRead})
	defer sess.Close(ctx)
	var b strings.Builder
	for _, q := range []string{
		"MATCH (n) RETURN labels(n) AS what, properties(n) AS props",
		"MATCH ()-[r]->() RETURN type(r) AS what, properties(r) AS props",
	} {
		res, err := sess.Run(ctx, q, nil)
		if err != nil {
			t.Fatalf("scan Neo4j: %v", err)
		}
		for res.Next(ctx) {
			what, _ := res.Record().Get("what")
			props, _ := res.Record().Get("props")
			fmt.Fprintf(&b, "%v %v\n", what, props)
		}
		if err := res.Err(); err != nil {
			t.Fatalf("scan Neo4j: %v", err)
		}
	}
	if b.Len() == 0 {
		t.Fatal("scan Neo4j: the database holds nothing")
	}
	return b.String()
}
