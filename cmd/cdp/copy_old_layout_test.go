package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph/embedded"
)

// A copy leaves an embedded store of an older layout as it is unless it
// writes to it: a target refused (it holds records, and no --force) and
// both sides of --verify-only are neither upgraded nor given a backup
// beside them. With --force the target is upgraded, and the copy goes on.
func TestCopyLeavesOlderLayoutsUnchanged(t *testing.T) {
	old := olderLayout(t)
	src := t.TempDir()
	ingestEvents(t, src, map[string][]string{"a1": {"user_id:u1"}})
	// The engine made the source a secret at its first write; it keys no
	// hash. The fixture's secret keys its suppressed hashes, so the source
	// takes it: the copy into the fixture below then merges the lists.
	st, err := embedded.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	fixtureSecret := make([]byte, 32)
	for i := range fixtureSecret {
		fixtureSecret[i] = byte(i + 1)
	}
	if err := st.PutSuppressionKey(context.Background(), fixtureSecret, true); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	oldDir := func() string {
		t.Helper()
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, embedded.FileName), old, 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	unchanged := func(what, dir string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dir, embedded.FileName))
		if err != nil || !bytes.Equal(got, old) {
			t.Errorf("%s: the older-layout store was changed (%v)", what, err)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{embedded.FileName}) {
			t.Errorf("%s: the folder holds %v, want the store file alone", what, names)
		}
	}

	dst := oldDir()
	_, errOut, code := copyRun(t, "--from-data-dir", src, "--to-data-dir", dst)
	if code != 1 || !strings.Contains(errOut, "older layout") || !strings.Contains(errOut, "--force") {
		t.Errorf("copy into an older-layout target without --force: exit %d, %q", code, errOut)
	}
	unchanged("refused target", dst)

	for _, args := range [][]string{
		{"--verify-only", "--from-data-dir", src, "--to-data-dir", oldDir()},
		{"--verify-only", "--from-data-dir", oldDir(), "--to-data-dir", src},
	} {
		_, errOut, code := copyRun(t, args...)
		if code != 1 || !strings.Contains(errOut, "older layout") || !strings.Contains(errOut, "cdp serve") {
			t.Errorf("copy %v: exit %d, %q", args, code, errOut)
		}
		for i, a := range args {
			if a == "--from-data-dir" && args[i+1] != src || a == "--to-data-dir" && args[i+1] != src {
				unchanged("--verify-only", args[i+1])
			}
		}
	}

	// --force upgrades the target (keeping the file as it was beside it)
	// and copies into it; the records the target held beside the copied
	// ones then make the stores differ.
	dst = oldDir()
	_, errOut, _ = copyRun(t, "--force", "--from-data-dir", src, "--to-data-dir", dst)
	if strings.Contains(errOut, "older layout") || !strings.Contains(errOut, "copied 1 feed") {
		t.Errorf("copy --force into an older-layout target did not copy: %s", errOut)
	}
	if names := dirNames(t, dst); len(names) != 2 {
		t.Errorf("after copy --force the target folder holds %v, want the store and the backup of its older file", names)
	}
}

// olderLayout returns the bytes of an embedded store of an older layout
// (graph/embedded/testdata/layout-v12.db), which opening upgrades in place.
func olderLayout(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "graph", "embedded", "testdata", "layout-v12.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
