package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two names of one Neo4j database or one folder are the same store: the
// scheme family (bolt, neo4j, with or without +s or +ssc), localhost and
// the loopback addresses, a missing port (7687) and the case of the
// database name make no difference; another port, host or database does.
// No Neo4j is needed: the guard runs before any store is opened.
func TestCopySameStore(t *testing.T) {
	neo := func(uri, db string) *copySide { return &copySide{storeFlags: storeFlags{neo4jURI: uri, neo4jDB: db}} }
	dir := func(d string) *copySide { return &copySide{storeFlags: storeFlags{dataDir: d}} }
	root := t.TempDir()
	data, other := filepath.Join(root, "data"), filepath.Join(root, "other")
	for _, d := range []string{data, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(root, "link")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		a, b *copySide
		same bool
	}{
		{neo("bolt://localhost:7687", "neo4j"), neo("neo4j://127.0.0.1:7687", "neo4j"), true},
		{neo("bolt://localhost:7687", "neo4j"), neo("bolt://localhost:7687", "NEO4J"), true},
		{neo("bolt://localhost", "neo4j"), neo("bolt+s://[::1]:7687", "Neo4j"), true},
		{neo("neo4j+ssc://LOCALHOST:7687", ""), neo("bolt://127.0.0.2", "neo4j"), true},
		{neo("bolt://db.example.com:7687", "crm"), neo("neo4j+s://DB.Example.com", "CRM"), true},
		{neo("bolt://localhost:7687", "neo4j"), neo("bolt://localhost:7688", "neo4j"), false},
		{neo("bolt://localhost:7687", "neo4j"), neo("bolt://localhost:7687", "copy"), false},
		{neo("bolt://10.0.0.1:7687", "neo4j"), neo("bolt://10.0.0.2:7687", "neo4j"), false},
		{neo("bolt://localhost:7687", "neo4j"), dir(data), false},
		{dir(data), dir(link), true},
		{dir(data), dir(filepath.Join(other, "..", "data")), true},
		{dir(filepath.Join(data, "new")), dir(filepath.Join(link, "new")), true}, // a target not made yet
		{dir(data), dir(other), false},
		{dir(filepath.Join(data, "new")), dir(filepath.Join(other, "new")), false},
	} {
		for _, ab := range [][2]*copySide{{c.a, c.b}, {c.b, c.a}} {
			if got := ab[0].same(ab[1]); got != c.same {
				t.Errorf("%s and %s: same %v, want %v", ab[0], ab[1], got, c.same)
			}
		}
	}

	// cdp copy refuses them before it opens either store: nothing listens
	// on port 1.
	for _, args := range [][]string{
		{"--force", "--from-neo4j-uri", "bolt://localhost:1", "--to-neo4j-uri", "neo4j://127.0.0.1:1", "--to-neo4j-database", "NEO4J"},
		{"--force", "--from-data-dir", data, "--to-data-dir", link},
	} {
		_, errOut, code := copyRun(t, args...)
		if code != 2 || !strings.Contains(errOut, "the source and the target are the same store") {
			t.Errorf("cdp copy %s: exit %d, %q; want 2, the same store", strings.Join(args, " "), code, errOut)
		}
	}
}
