package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// cdp copy --verify-only writes nothing to a Neo4j side, at open too: a
// database missing an index of the schema is refused (exit 1, saying to
// run cdp migrate) and still misses it afterwards, where a copy into it
// applies the schema as before.
func TestVerifyOnlyCreatesNoSchema(t *testing.T) {
	st := storetest.Neo4j(t).(*neo4jstore.Store)
	ctx := context.Background()
	t.Cleanup(func() {
		if _, err := st.Migrate(context.Background()); err != nil {
			t.Errorf("migrating back: %v", err)
		}
	})
	dirA := t.TempDir()
	ingestEvents(t, dirA, map[string][]string{"a1": {"user_id:u1", "email:ann@example.com"}})
	sess := st.Driver().NewSession(ctx, neo4j.SessionConfig{DatabaseName: st.Database(), AccessMode: neo4j.AccessModeWrite})
	defer sess.Close(ctx)
	res, err := sess.Run(ctx, `DROP INDEX identifier_type`, nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	storetest.Must(t, err)
	const gap = "no index identifier_type"

	_, errOut, code := copyRun(t, append([]string{"--verify-only", "--from-data-dir", dirA}, neo4jFlags("to")...)...)
	if code != 1 || !strings.Contains(errOut, gap) || !strings.Contains(errOut, "cdp migrate") {
		t.Fatalf("--verify-only against a database missing an index: exit %d, stderr %q; want 1, naming the index and cdp migrate", code, errOut)
	}
	gaps, err := st.SchemaGaps(ctx)
	storetest.Must(t, err)
	if !slices.Equal(gaps, []string{gap}) {
		t.Fatalf("after --verify-only the schema gaps are %v, want [%s] as before it", gaps, gap)
	}

	out, errOut, code := copyRun(t, append([]string{"--from-data-dir", dirA}, neo4jFlags("to")...)...)
	if code != 0 {
		t.Fatalf("copy: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if gaps, err = st.SchemaGaps(ctx); err != nil || len(gaps) != 0 {
		t.Fatalf("after a copy into it the schema gaps are %v (%v), want none", gaps, err)
	}
	if _, errOut, code = copyRun(t, append([]string{"--verify-only", "--from-data-dir", dirA}, neo4jFlags("to")...)...); code != 0 {
		t.Fatalf("--verify-only of the copy: exit %d, stderr %s", code, errOut)
	}
}
