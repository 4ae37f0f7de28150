package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A restore that fails leaves the file system as it found it: the folders
// it created for --data-dir go again, every level of them, while a folder
// that was there before stays, with what it holds.
func TestFailedRestoreRemovesOnlyTheFoldersItMade(t *testing.T) {
	damaged := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(damaged, []byte(strings.Repeat("not a store file\n", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	restore := func(t *testing.T, dir string, more ...string) {
		t.Helper()
		_, stderr, code := runCDP(t, nil, append([]string{"restore", "--data-dir", dir}, append(more, damaged)...)...)
		if code != 1 || !strings.Contains(stderr, "backup file "+damaged) {
			t.Fatalf("cdp restore of a damaged file into %s: exit %d, stderr %q; want exit 1 naming the file", dir, code, stderr)
		}
	}
	entries := func(t *testing.T, dir string) []string {
		t.Helper()
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}

	t.Run("a new folder", func(t *testing.T) {
		parent := t.TempDir()
		restore(t, filepath.Join(parent, "data"))
		if got := entries(t, parent); len(got) != 0 {
			t.Fatalf("after the failed restore %s holds %q; want nothing", parent, got)
		}
	})
	t.Run("new folders two levels deep", func(t *testing.T) {
		parent := t.TempDir()
		restore(t, filepath.Join(parent, "a", "b", "data"))
		if got := entries(t, parent); len(got) != 0 {
			t.Fatalf("after the failed restore %s holds %q; want nothing", parent, got)
		}
	})
	t.Run("an empty folder that was there", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		restore(t, dir)
		if got := entries(t, dir); len(got) != 0 {
			t.Fatalf("after the failed restore %s holds %q; want it kept, empty", dir, got)
		}
	})
	t.Run("a folder that holds files, with --force", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("kept"), 0o600); err != nil {
			t.Fatal(err)
		}
		restore(t, dir, "--force")
		if got := entries(t, dir); len(got) != 1 || got[0] != "notes.txt" {
			t.Fatalf("after the failed restore %s holds %q; want notes.txt alone", dir, got)
		}
	})
}
