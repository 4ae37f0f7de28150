package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// One Neo4j database named two ways that no spelling rule tells apart
// (0.0.0.0, which reaches this machine, a trailing slash, the database
// named or left to its default) is the same store: cdp copy --force asks
// each side which database it is and refuses before it writes, and the
// database keeps the 3 identifiers and 2 profiles copied into it.
func TestCopyRefusesOneNeo4jDatabaseUnderTwoNames(t *testing.T) {
	neo := storetest.OpenNeo4j(t) // the test lock, and an empty database
	ctx := context.Background()
	cfg := storetest.Neo4jConfig()
	if cfg.User != "" {
		t.Skip("the names below carry no credentials") // the dev Neo4j runs without
	}
	dir := t.TempDir()
	ingestEvents(t, dir, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}, "a2": {"email:b@x.example"}})
	copyOK(t, append([]string{"--from-data-dir", dir}, neo4jFlags("to")...)...)

	u, err := url.Parse(cfg.URI)
	storetest.Must(t, err)
	anyHost := "0.0.0.0:" + u.Port()
	db := cfg.Database
	if db == "" {
		db = "neo4j"
	}
	for _, c := range []struct{ from, to []string }{
		{[]string{"--from-neo4j-uri", "bolt://" + anyHost, "--from-neo4j-database", db}, []string{"--to-neo4j-uri", cfg.URI, "--to-neo4j-database", db}},
		{[]string{"--from-neo4j-uri", cfg.URI + "/", "--from-neo4j-database", db}, []string{"--to-neo4j-uri", "neo4j://" + anyHost + "/", "--to-neo4j-database", db}},
	} {
		args := append(append([]string{"--force"}, c.from...), c.to...)
		out, errOut, code := copyRun(t, args...)
		if code != 2 || !strings.Contains(errOut, "the source and the target are the same store") || strings.Contains(out, "copying") {
			t.Errorf("cdp copy %s: exit %d\n%s\n%s\nwant 2, the same store, before copying", strings.Join(args, " "), code, out, errOut)
		}
		ids, err := neo.Count(ctx, dump.Identifiers)
		storetest.Must(t, err)
		profiles, err := neo.Count(ctx, dump.Profiles)
		storetest.Must(t, err)
		if ids != 3 || profiles != 2 {
			t.Fatalf("after cdp copy %s the database holds %d identifiers and %d profiles, want 3 and 2", strings.Join(args, " "), ids, profiles)
		}
	}
}

// One embedded store file under two folders (a hard link) is the same
// store too: refused as such, and the file is left as it was.
func TestCopyRefusesOneEmbeddedFileUnderTwoFolders(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	ingestEvents(t, dir, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}})
	if err := os.Link(filepath.Join(dir, embedded.FileName), filepath.Join(other, embedded.FileName)); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	out, errOut, code := copyRun(t, "--force", "--from-data-dir", dir, "--to-data-dir", other)
	if code != 2 || !strings.Contains(errOut, "the source and the target are the same store") {
		t.Fatalf("cdp copy of one file under two folders: exit %d\n%s\n%s\nwant 2, the same store", code, out, errOut)
	}
	st, err := embedded.Open(dir)
	storetest.Must(t, err)
	defer st.Close(context.Background())
	if n, err := st.Count(context.Background(), dump.Identifiers); err != nil || n != 2 {
		t.Fatalf("the store holds %d identifiers (%v), want 2", n, err)
	}
}
