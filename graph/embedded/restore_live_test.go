package embedded

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The store file of a running store is no backup: a server writes to it
// while it is read, so the copy may join pages of different commits. A
// restore from it is refused (ErrInUse), and nothing is left behind: no
// data dir, no temporary copy. Once the store is closed the same file
// restores.
func TestRestoreRefusesTheFileOfARunningStore(t *testing.T) {
	ctx := context.Background()
	old := lockTimeout
	lockTimeout = 50 * time.Millisecond
	t.Cleanup(func() { lockTimeout = old })

	live := filepath.Join(t.TempDir(), "live")
	writeLayoutDataset(t, live)
	s, err := Open(live)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(live, FileName)
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(ctx, file, dir, false); !errors.Is(err, ErrInUse) {
		t.Errorf("Restore from the file of a running store: %v, want ErrInUse", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused restore left %s: %v", dir, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, file, dir, false); err != nil {
		t.Fatalf("Restore from the file of a closed store: %v", err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	checkLayoutData(t, r)
}
