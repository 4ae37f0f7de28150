package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph/embedded"
)

// A --store-timeout that is not positive, with a Neo4j side to wait for,
// is bad usage, refused before either store is opened: an embedded source
// of an older layout is left as it was. Nothing listens on port 1.
func TestCopyRefusesANonPositiveStoreTimeoutBeforeOpening(t *testing.T) {
	old := olderLayout(t)
	for _, timeout := range []string{"0s", "-5s"} {
		for _, to := range [][]string{{"--to-neo4j-uri", "bolt://127.0.0.1:1"}} {
			src := t.TempDir()
			if err := os.WriteFile(filepath.Join(src, embedded.FileName), old, 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--from-data-dir", src, "--store-timeout", timeout}, to...)
			out, errOut, code := copyRun(t, args...)
			if code != 2 || !strings.Contains(errOut, "--store-timeout must be positive") {
				t.Errorf("cdp copy %v: exit %d, want 2 saying --store-timeout must be positive\n%s\n%s", args, code, out, errOut)
			}
			got, err := os.ReadFile(filepath.Join(src, embedded.FileName))
			if err != nil || !bytes.Equal(got, old) {
				t.Errorf("cdp copy %v changed the source (%v)", args, err)
			}
			if names := dirNames(t, src); !slices.Equal(names, []string{embedded.FileName}) {
				t.Errorf("cdp copy %v: the source folder holds %v, want the store file alone", args, names)
			}
		}
	}
}

// A Neo4j URI that is not one (another scheme, not a URL at all), and a
// CA file for a URI without TLS, are bad usage too, refused before either
// store is opened, with the source of an older layout left as it was and
// no password of the URI repeated.
func TestCopyRefusesABadNeo4jURIBeforeOpening(t *testing.T) {
	old := olderLayout(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not read"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		to   []string
		want string
	}{
		{[]string{"--to-neo4j-uri", "http://127.0.0.1:1"}, "is not a Neo4j URI"},
		{[]string{"--to-neo4j-uri", "127.0.0.1:7687"}, "is not a Neo4j URI"},
		{[]string{"--to-neo4j-uri", "bolt://ann:pw%zz-Kept@127.0.0.1:1"}, "is not a Neo4j URI"},
		{[]string{"--to-neo4j-uri", "bolt://127.0.0.1:1", "--to-neo4j-ca-file", ca}, "--to-neo4j-ca-file needs a bolt+s:// or neo4j+s://"},
		{[]string{"--to-neo4j-uri", "neo4j+ssc://127.0.0.1:1", "--to-neo4j-ca-file", ca}, "--to-neo4j-ca-file needs a bolt+s:// or neo4j+s://"},
	} {
		src := t.TempDir()
		if err := os.WriteFile(filepath.Join(src, embedded.FileName), old, 0o600); err != nil {
			t.Fatal(err)
		}
		args := append([]string{"--from-data-dir", src}, c.to...)
		out, errOut, code := copyRun(t, args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("cdp copy %v: exit %d, want 2 saying %q\n%s\n%s", c.to, code, c.want, out, errOut)
		}
		if strings.Contains(out+errOut, "Kept") {
			t.Errorf("cdp copy %v repeats the URI's password: %s", c.to, errOut)
		}
		got, err := os.ReadFile(filepath.Join(src, embedded.FileName))
		if err != nil || !bytes.Equal(got, old) {
			t.Errorf("cdp copy %v changed the source (%v)", c.to, err)
		}
		if names := dirNames(t, src); !slices.Equal(names, []string{embedded.FileName}) {
			t.Errorf("cdp copy %v: the source folder holds %v, want the store file alone", c.to, names)
		}
	}
}
