package neo4jstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// Replicas started together on a database without the schema (the first
// start of a deployment, docker compose up) each apply it at open: every
// open succeeds, none seeing the other's constraint or index half-made as
// an error, and the schema is then whole.
func TestConcurrentOpensApplyTheSchemaOnce(t *testing.T) {
	s := storetest.Neo4j(t).(*neo4jstore.Store)
	ctx := context.Background()
	t.Cleanup(func() {
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Errorf("migrating back: %v", err)
		}
	})
	sess := rawSession(t)
	run := func(q string) []any {
		t.Helper()
		res, err := sess.Run(ctx, q, nil)
		storetest.Must(t, err)
		recs, err := res.Collect(ctx)
		storetest.Must(t, err)
		var out []any
		for _, r := range recs {
			out = append(out, r.Values[0])
		}
		return out
	}
	const rounds, opens = 3, 4
	for round := range rounds {
		// Constraints first: their indexes go with them.
		for _, n := range run(`SHOW CONSTRAINTS YIELD name RETURN name`) {
			run("DROP CONSTRAINT `" + n.(string) + "`")
		}
		for _, n := range run(`SHOW INDEXES YIELD name, type WHERE type <> "LOOKUP" RETURN name`) {
			run("DROP INDEX `" + n.(string) + "`")
		}
		if gaps, err := s.SchemaGaps(ctx); err != nil || len(gaps) == 0 {
			t.Fatalf("round %d: after the drops, schema gaps %v (%v), want some", round, gaps, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, opens)
		start := make(chan struct{})
		for i := range opens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				octx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				defer cancel()
				o, err := neo4jstore.Open(octx, storetest.Neo4jConfig())
				if err == nil {
					err = o.Close(octx)
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: open %d of %d at once on a database without the schema: %v", round, i+1, opens, err)
			}
		}
		gaps, err := s.SchemaGaps(ctx)
		storetest.Must(t, err)
		if len(gaps) != 0 {
			t.Fatalf("round %d: after %d opens at once, schema gaps %v, want none", round, opens, gaps)
		}
		if t.Failed() {
			return
		}
	}
}
