package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// dirHashes returns "name sha256" for every file in dir, sorted: what a
// folder holds, byte for byte.
func dirHashes(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	storetest.Must(t, err)
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		storetest.Must(t, err)
		sum := sha256.Sum256(b)
		out = append(out, e.Name()+" "+hex.EncodeToString(sum[:]))
	}
	slices.Sort(out)
	return out
}

// A copy reads its embedded source and writes nothing to it, and
// --verify-only writes to neither side: each folder holds the same files
// with the same bytes afterwards. A source of an
// older layout, which reading as it is would need upgraded, is refused
// (exit 1, saying to open it with cdp serve first), left byte for byte as
// it was and given no backup beside it.
func TestCopyLeavesEmbeddedSourceUnchanged(t *testing.T) {
	src := t.TempDir()
	ingestEvents(t, src, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}, "a2": {"email:b@x.example"}})
	before := dirHashes(t, src)
	dst := filepath.Join(t.TempDir(), "copy")
	copyOK(t, "--from-data-dir", src, "--to-data-dir", dst)
	if after := dirHashes(t, src); !slices.Equal(after, before) {
		t.Errorf("a copy changed its source: before %v, after %v", before, after)
	}
	// Nor does --verify-only write to either side.
	beforeDst := dirHashes(t, dst)
	copyOK(t, "--verify-only", "--from-data-dir", src, "--to-data-dir", dst)
	if after := dirHashes(t, src); !slices.Equal(after, before) {
		t.Errorf("--verify-only changed its source: before %v, after %v", before, after)
	}
	if after := dirHashes(t, dst); !slices.Equal(after, beforeDst) {
		t.Errorf("--verify-only changed its target: before %v, after %v", beforeDst, after)
	}

	old := t.TempDir()
	storetest.Must(t, os.WriteFile(filepath.Join(old, "cdp.db"), olderLayout(t), 0o600))
	before = dirHashes(t, old)
	out, errOut, code := copyRun(t, "--from-data-dir", old, "--to-data-dir", filepath.Join(t.TempDir(), "copy"))
	if code != 1 || !strings.Contains(errOut, "older layout") || !strings.Contains(errOut, "cdp serve") || strings.Contains(out, "copying") {
		t.Errorf("copy from an older layout: exit %d\n%s\n%s\nwant 1, naming the older layout and cdp serve", code, out, errOut)
	}
	if after := dirHashes(t, old); !slices.Equal(after, before) {
		t.Errorf("a copy changed its older-layout source: before %v, after %v", before, after)
	}
}

// neo4jSnapshot returns what a Neo4j database holds, by kind: its
// indexes (name, type, state), its constraints, its nodes counted by
// labels, its relationships counted by type, and the tombstones of
// unfinished audience deletions by audience id.
func neo4jSnapshot(t *testing.T, st *neo4jstore.Store) []string {
	t.Helper()
	ctx := context.Background()
	sess := st.Driver().NewSession(ctx, neo4j.SessionConfig{DatabaseName: st.Database(), AccessMode: neo4j.AccessModeRead})
	defer sess.Close(ctx)
	var out []string
	for _, q := range []string{
		`SHOW INDEXES YIELD name, type, state RETURN 'index', name, type, state`,
		`SHOW CONSTRAINTS YIELD name, type RETURN 'constraint', name, type`,
		`MATCH (n) RETURN 'nodes', labels(n), count(*)`,
		`MATCH ()-[r]->() RETURN 'relationships', type(r), count(*)`,
		`MATCH (d:AudienceDeletion) RETURN 'tombstone', d.audienceId`,
		`MATCH (m:AudienceMember) RETURN 'member', m.audienceId, m.profileId`,
	} {
		res, err := sess.Run(ctx, q, nil)
		storetest.Must(t, err)
		recs, err := res.Collect(ctx)
		storetest.Must(t, err)
		for _, r := range recs {
			out = append(out, strings.TrimSuffix(fmt.Sprintln(r.Values...), "\n"))
		}
	}
	slices.Sort(out)
	return out
}

// A copy reads its Neo4j source and writes nothing to it: the schema, the
// nodes and relationships counted by label and type, and an audience
// deletion left unfinished (its tombstone and the member it had yet to
// remove) are as they were. A source whose schema is not current is
// refused (exit 1, saying to run cdp migrate on it), its schema left as
// it was, rather than migrated by the copy.
func TestCopyLeavesNeo4jSourceUnchanged(t *testing.T) {
	neo := storetest.OpenNeo4j(t) // the test lock, and an empty database
	ctx := context.Background()
	t.Cleanup(func() {
		if _, err := neo.Migrate(context.Background()); err != nil {
			t.Errorf("migrating back: %v", err)
		}
	})
	dir := t.TempDir()
	ingestEvents(t, dir, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}, "a2": {"email:b@x.example"}})
	copyOK(t, append([]string{"--from-data-dir", dir}, neo4jFlags("to")...)...)

	// What a DeleteAudience that stopped after its first step leaves: the
	// audience is gone, its tombstone and its members are not.
	sess := neo.Driver().NewSession(ctx, neo4j.SessionConfig{DatabaseName: neo.Database(), AccessMode: neo4j.AccessModeWrite})
	defer sess.Close(ctx)
	run := func(q string, params map[string]any) {
		t.Helper()
		res, err := sess.Run(ctx, q, params)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		storetest.Must(t, err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	run(`CREATE (:AudienceDeletion {audienceId: $id, at: $at}) CREATE (:AudienceMember {audienceId: $id, profileId: $pid, since: $at})`,
		map[string]any{"id": "aud-gone", "pid": "p-left", "at": at})

	before := neo4jSnapshot(t, neo)
	if !slices.Contains(before, "tombstone aud-gone") || !slices.Contains(before, "member aud-gone p-left") {
		t.Fatalf("the unfinished deletion is not in place: %v", before)
	}
	out, errOut, code := copyRun(t, append(neo4jFlags("from"), "--to-data-dir", filepath.Join(t.TempDir(), "copy"))...)
	if code != 0 {
		t.Fatalf("copy from Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := copyTable(out)["identifiers"]; got != [2]string{"3", "3"} {
		t.Errorf("identifiers copied %v, want 3 on both sides", got)
	}
	if after := neo4jSnapshot(t, neo); !slices.Equal(after, before) {
		t.Errorf("a copy changed its Neo4j source:\nbefore %v\nafter  %v", before, after)
	}

	run(`DROP INDEX identifier_type`, nil)
	before = neo4jSnapshot(t, neo)
	out, errOut, code = copyRun(t, append(neo4jFlags("from"), "--to-data-dir", filepath.Join(t.TempDir(), "copy"))...)
	if code != 1 || !strings.Contains(errOut, "no index identifier_type") || !strings.Contains(errOut, "cdp migrate") || strings.Contains(out, "copying") {
		t.Errorf("copy from a Neo4j missing an index: exit %d\n%s\n%s\nwant 1, naming the index and cdp migrate", code, out, errOut)
	}
	if after := neo4jSnapshot(t, neo); !slices.Equal(after, before) {
		t.Errorf("a refused copy changed its Neo4j source:\nbefore %v\nafter  %v", before, after)
	}
}

// Opened read only, an embedded store is still refused while a server
// holds it (its lock, shared, waits for the server's): as the source of a
// copy and as either side of --verify-only, exit 1 saying so, the file
// left as it was.
func TestCopyRefusesAnEmbeddedStoreHeldByAServer(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	ingestEvents(t, src, map[string][]string{"a1": {"user_id:u1"}})
	copyOK(t, "--from-data-dir", src, "--to-data-dir", dst)
	for _, held := range []string{src, dst} {
		st, err := embedded.Open(held) // what a running server holds
		storetest.Must(t, err)
		before := dirHashes(t, held)
		for _, args := range [][]string{
			{"--from-data-dir", held, "--to-data-dir", filepath.Join(t.TempDir(), "copy")},
			{"--verify-only", "--from-data-dir", src, "--to-data-dir", dst},
		} {
			if held == dst && args[0] != "--verify-only" {
				continue
			}
			out, errOut, code := copyRun(t, args...)
			if code != 1 || !strings.Contains(errOut, "held by a running server") {
				t.Errorf("cdp copy %s while %s is held: exit %d\n%s\n%s\nwant 1, held by a running server", strings.Join(args, " "), held, code, out, errOut)
			}
		}
		storetest.Must(t, st.Close(context.Background()))
		if after := dirHashes(t, held); !slices.Equal(after, before) {
			t.Errorf("the held store %s changed: before %v, after %v", held, before, after)
		}
	}
}
