package neo4jstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// readOnlyConfig is the test instance's configuration for an Open that
// writes nothing.
func readOnlyConfig() neo4jstore.Config {
	cfg := storetest.Neo4jConfig()
	cfg.NoWritesAtOpen = true
	return cfg
}

// An Open with NoWritesAtOpen checks the schema instead of applying it:
// a constraint, an index or a data migration missing is named, the open
// refused (INVALID_ARGUMENT, saying to run cdp migrate), and nothing is
// created; once migrated, it opens.
func TestNoWritesAtOpenChecksTheSchema(t *testing.T) {
	s := storetest.Neo4j(t).(*neo4jstore.Store)
	ctx := context.Background()
	t.Cleanup(func() {
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Errorf("migrating back: %v", err)
		}
	})
	gaps, err := s.SchemaGaps(ctx)
	storetest.Must(t, err)
	if len(gaps) != 0 {
		t.Fatalf("a migrated database has schema gaps %v", gaps)
	}
	sess := rawSession(t)
	for _, q := range []string{
		`DROP INDEX identifier_type`,
		`DROP CONSTRAINT event_id`,
		`MATCH (m:Migration {id: "slots-1"}) DELETE m`,
	} {
		res, err := sess.Run(ctx, q, nil)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		storetest.Must(t, err)
	}
	want := []string{"no constraint event_id", "no index identifier_type", "data migration slots-1 not applied"}
	check := func(when string) {
		t.Helper()
		gaps, err := s.SchemaGaps(ctx)
		storetest.Must(t, err)
		for _, w := range want {
			if !slices.Contains(gaps, w) {
				t.Errorf("%s: schema gaps %v, want %q among them", when, gaps, w)
			}
		}
		if len(gaps) != len(want) {
			t.Errorf("%s: schema gaps %v, want exactly %v", when, gaps, want)
		}
	}
	check("after the drops")

	ro, err := neo4jstore.Open(ctx, readOnlyConfig())
	if err == nil {
		ro.Close(ctx)
		t.Fatal("Open with NoWritesAtOpen took a database whose schema is not current")
	}
	if graph.ErrorCode(err) != graph.EINVALID {
		t.Errorf("Open with NoWritesAtOpen: code %s, want %s: %v", graph.ErrorCode(err), graph.EINVALID, err)
	}
	for _, w := range append(want, "cdp migrate") {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Open with NoWritesAtOpen: %q does not say %q", err, w)
		}
	}
	check("after the refused open") // nothing was created

	_, err = s.Migrate(ctx)
	storetest.Must(t, err)
	ro, err = neo4jstore.Open(ctx, readOnlyConfig())
	storetest.Must(t, err)
	storetest.Must(t, ro.Close(ctx))
}

// An Open with NoWritesAtOpen leaves an audience deletion left unfinished
// as it found it, where an Open without it finishes it.
func TestNoWritesAtOpenLeavesUnfinishedDeletions(t *testing.T) {
	const chunk = 3
	s := openDeleting(t, chunk)
	ctx := context.Background()
	a := delAud(1)
	fillAudience(t, s, a, "a", 10, 5) // 30 nodes
	deleteStopped(t, s, a.ID)
	sess := rawSession(t)
	if m, c, n := leftOf(t, sess, a.ID); m+c != 30-chunk || n != 1 {
		t.Fatalf("stopped: %d members, %d log entries, %d tombstones; want %d nodes and 1", m, c, n, 30-chunk)
	}

	ro, err := neo4jstore.Open(ctx, readOnlyConfig())
	storetest.Must(t, err)
	<-neo4jstore.AudienceDeletionsAtOpen(ro)
	storetest.Must(t, ro.Close(ctx))
	if m, c, n := leftOf(t, sess, a.ID); m+c != 30-chunk || n != 1 {
		t.Fatalf("after an Open that writes nothing: %d members, %d log entries, %d tombstones; want %d nodes and 1 as before", m, c, n, 30-chunk)
	}

	rw, err := neo4jstore.Open(ctx, storetest.Neo4jConfig())
	storetest.Must(t, err)
	<-neo4jstore.AudienceDeletionsAtOpen(rw)
	storetest.Must(t, rw.Close(ctx))
	if m, c, n := leftOf(t, sess, a.ID); m+c+n != 0 {
		t.Fatalf("after an Open: %d members, %d log entries, %d tombstones left; want none", m, c, n)
	}
}
