package neo4jstore_test

import (
	"context"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// rawSession opens a session on the test database with its own driver, for
// checking what the store wrote the way an analyst would see it. Call it only
// after storetest.Neo4j, which holds the machine-wide test lock.
func rawSession(t *testing.T) neo4j.SessionWithContext {
	t.Helper()
	cfg := storetest.Neo4jConfig()
	auth := neo4j.NoAuth()
	if cfg.User != "" {
		auth = neo4j.BasicAuth(cfg.User, cfg.Password, "")
	}
	d, err := neo4j.NewDriverWithContext(cfg.URI, auth)
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.Database
	if db == "" {
		db = neo4jstore.DefaultDatabase
	}
	s := d.NewSession(context.Background(), neo4j.SessionConfig{DatabaseName: db})
	t.Cleanup(func() {
		_ = s.Close(context.Background())
		_ = d.Close(context.Background())
	})
	return s
}

// single runs a query that returns one row and gives its first value.
func single(t *testing.T, s neo4j.SessionWithContext, q string, params map[string]any) any {
	t.Helper()
	ctx := context.Background()
	res, err := s.Run(ctx, q, params)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	rec, err := res.Single(ctx)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rec.Values[0]
}
