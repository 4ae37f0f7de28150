package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// fixtureSummary is what the dataset of layoutWrites holds, counted by
// hand: five identifiers (user, anonymous id, email, CRM id, phone), two
// live profiles (Ann, Bob), one merged away (p_gone), four events (m-1 to
// m-4) and, from layout 6 on, one API key (key_admin).
func fixtureSummary(v uint64, size int64) FileSummary {
	s := FileSummary{Layout: v, Size: size, Identifiers: 5, Profiles: 2, MergedProfiles: 1, Events: 4}
	if v >= 6 {
		s.Keys = 1
	}
	if v >= 16 {
		s.Keys = 2 // and a key it created
	}
	return s
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// Every checked-in layout fixture is a sound file of its version, with the
// dataset's records counted.
func TestCheckFileLayoutFixtures(t *testing.T) {
	for v := uint64(oldestLayout); v <= formatVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			copyFile(t, layoutFixture(v, "db"), path)
			got, err := CheckFile(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if want := fixtureSummary(v, fileSize(t, path)); got != want {
				t.Errorf("CheckFile = %+v, want %+v", got, want)
			}
		})
	}
}

// backupTo writes a backup of s into path, checking that begin is told
// the number of bytes then written.
func backupTo(t *testing.T, s *Store, path string, during func()) {
	t.Helper()
	var buf bytes.Buffer
	announced := int64(-1)
	n, err := s.Backup(context.Background(), func(size int64) (io.Writer, error) {
		announced = size
		if during != nil {
			during()
		}
		return &buf, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != announced || int64(buf.Len()) != announced {
		t.Fatalf("Backup announced %d bytes, returned %d and wrote %d", announced, n, buf.Len())
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A backup is the store as of the moment it began: a write committed
// while it is written is not in it (but is in the store), and the file
// opens as a store holding the whole dataset.
func TestBackupIsTheStoreAsOfItsStart(t *testing.T) {
	dir := t.TempDir()
	writeLayoutDataset(t, dir)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())

	const late = "user_id:late"
	committed := make(chan error, 1)
	out := filepath.Join(t.TempDir(), "backup.db")
	backupTo(t, s, out, func() {
		// The commit may wait for the backup (a write that grows the
		// memory map waits for read transactions), so it is not awaited
		// here.
		go func() {
			committed <- s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
				_, err := tx.LockIdentifiers(ctx, []graph.IdentifierSeen{{Key: late, Type: "user_id", Value: "late", First: lt(9), Last: lt(9)}}, true)
				if err != nil {
					return err
				}
				return tx.Apply(ctx, &graph.Write{
					At:          lt(9),
					PutProfiles: []graph.Profile{{ID: "p_late", CreatedAt: lt(9), UpdatedAt: lt(9), Size: 1, Counts: map[string]int{"user_id": 1}}},
					Assign:      []graph.Assignment{{Key: late, ProfileID: "p_late"}},
				})
			})
		}()
	})
	if err := <-committed; err != nil {
		t.Fatal(err)
	}

	sum, err := CheckFile(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if want := fixtureSummary(formatVersion, fileSize(t, out)); sum != want {
		t.Errorf("CheckFile(backup) = %+v, want %+v", sum, want)
	}
	restored := t.TempDir()
	copyFile(t, out, filepath.Join(restored, FileName))
	r, err := Open(restored)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	checkLayoutData(t, r)
	for _, st := range []struct {
		name string
		s    *Store
		want bool
	}{{"the backup", r, false}, {"the store", s, true}} {
		err := st.s.View(context.Background(), func(ctx context.Context, tx graph.ReadTx) error {
			got, err := tx.Identifiers(ctx, []string{late})
			if err != nil {
				return err
			}
			if _, ok := got[late]; ok != st.want {
				t.Errorf("%s holds the identifier committed during the backup: %v, want %v", st.name, ok, st.want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// begin's error ends the backup before anything is written; a canceled
// context or a failing writer ends it with their error.
func TestBackupErrors(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	refused := errors.New("no room")
	n, err := s.Backup(context.Background(), func(int64) (io.Writer, error) { return nil, refused })
	if err != refused || n != 0 {
		t.Errorf("begin failing: Backup = %d, %v; want 0, %v", n, err, refused)
	}

	ctx, cancel := context.WithCancel(context.Background())
	_, err = s.Backup(ctx, func(int64) (io.Writer, error) {
		cancel()
		return io.Discard, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled during the backup: %v, want context.Canceled", err)
	}

	broken := errors.New("disk full")
	_, err = s.Backup(context.Background(), func(int64) (io.Writer, error) { return failingWriter{broken}, nil })
	if !errors.Is(err, broken) {
		t.Errorf("writer failing: %v, want %v", err, broken)
	}

	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = s.Backup(context.Background(), func(int64) (io.Writer, error) { return io.Discard, nil })
	if graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Errorf("closed store: %v, want unavailable", err)
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

// damage returns a copy of the file at from, in a new folder, changed by
// fn.
func damage(t *testing.T, from string, fn func(b []byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(path, fn(b), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// layoutBackup writes the layout dataset to a store and returns the path
// of a backup of it, the store closed.
func layoutBackup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeLayoutDataset(t, dir)
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(t.TempDir(), "good.db")
	backupTo(t, s, good, nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return good
}

// CheckFile refuses what is not a sound file of this store, saying why,
// without naming any key or value, and without crashing on damaged pages.
func TestCheckFileRefuses(t *testing.T) {
	good := layoutBackup(t)
	const page = 4096
	size := fileSize(t, good)
	if size < 8*page {
		t.Fatalf("the dataset's backup is only %d bytes; the damage cases need 8 pages", size)
	}

	other := filepath.Join(t.TempDir(), "other.db")
	db, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(btx *bolt.Tx) error {
		b, err := btx.CreateBucket([]byte("settings"))
		if err != nil {
			return err
		}
		return b.Put([]byte("theme"), []byte("dark"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	newer := t.TempDir()
	writeVersionOnly(t, newer, u64(formatVersion+1))
	older := t.TempDir()
	writeVersionOnly(t, older, u64(oldestLayout-1))
	partial := t.TempDir()
	writeVersionOnly(t, partial, u64(formatVersion))

	for _, tc := range []struct {
		name, path string
		want       string
	}{
		{"empty", damage(t, good, func([]byte) []byte { return nil }), "is empty"},
		{"text", damage(t, good, func([]byte) []byte { return []byte(strings.Repeat("profile_id,email\n", 1000)) }), "not a database file of this store"},
		{"cut short", damage(t, good, func(b []byte) []byte { return b[:size/2] }), "is cut short"},
		{"meta pages zeroed", damage(t, good, func(b []byte) []byte { clear(b[:2*page]); return b }), "not a database file of this store"},
		{"another application's bbolt file", other, "not a database of this store"},
		{"a newer layout", filepath.Join(newer, FileName), "written by a newer build"},
		{"a layout too old", filepath.Join(older, FileName), "cannot upgrade"},
		{"buckets missing", filepath.Join(partial, FileName), `lacks its bucket "identifiers"`},
		{"data pages overwritten", damage(t, good, func(b []byte) []byte {
			for i := 2 * page; i < len(b); i++ {
				b[i] = byte(i*7 + 3)
			}
			return b
		}), "is damaged"},
		{"data pages zeroed", damage(t, good, func(b []byte) []byte { clear(b[2*page:]); return b }), "is damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckFile(context.Background(), tc.path)
			if err == nil {
				t.Fatal("CheckFile accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckFile error %q does not say %q", err, tc.want)
			}
			for _, secret := range []string{"ann@example.com", "+15550100", "dark"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("CheckFile error %q names a value of the file", err)
				}
			}
		})
	}

	// Each single page overwritten with garbage, one at a time: refused
	// or found sound (a page the dataset does not use), never a crash.
	for p := int64(2); p < size/page; p++ {
		path := damage(t, good, func(b []byte) []byte {
			for i := p * page; i < (p+1)*page; i++ {
				b[i] = byte(i*13 + 5)
			}
			return b
		})
		if _, err := CheckFile(context.Background(), path); err != nil && !strings.Contains(err.Error(), "is damaged") {
			t.Errorf("page %d overwritten: %v, want an error saying the file is damaged", p, err)
		}
	}
}

// dirNames lists the entries of dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Restore puts a backup in place as a store that opens with the whole
// dataset; it refuses a dir holding anything unless told to replace, a
// store file a running store holds even then, and an unsound file, in
// each case leaving the dir as it was; a file of an older layout is
// restored as it is and upgraded by Open.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	backup := layoutBackup(t)

	dir := filepath.Join(t.TempDir(), "new", "data")
	sum, err := Restore(ctx, backup, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := fixtureSummary(formatVersion, fileSize(t, backup)); sum != want {
		t.Errorf("Restore = %+v, want %+v", sum, want)
	}
	if got := dirNames(t, dir); len(got) != 1 || got[0] != FileName {
		t.Errorf("data dir holds %v, want only %s", got, FileName)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkLayoutData(t, r)

	// Not empty: refused without replace; held by r: refused with it.
	before := dumpFile(t, filepath.Join(dir, FileName))
	if _, err := Restore(ctx, backup, dir, false); !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), FileName) {
		t.Errorf("Restore into a dir holding a store: %v, want ErrNotEmpty naming %s", err, FileName)
	}
	if _, err := Restore(ctx, backup, dir, true); !errors.Is(err, ErrInUse) {
		t.Errorf("Restore over a store in use: %v, want ErrInUse", err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dumpFile(t, filepath.Join(dir, FileName)); got != before {
		t.Error("a refused Restore changed the store file")
	}
	if got := dirNames(t, dir); len(got) != 1 {
		t.Errorf("a refused Restore left files: %v", got)
	}

	// An unsound file: refused, nothing left behind, the store untouched.
	cut := damage(t, backup, func(b []byte) []byte { return b[:len(b)/2] })
	if _, err := Restore(ctx, cut, dir, true); err == nil || !strings.Contains(err.Error(), "is cut short") {
		t.Errorf("Restore of a cut file: %v, want it refused as cut short", err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if _, err := Restore(ctx, cut, empty, false); err == nil || !strings.Contains(err.Error(), cut) {
		t.Errorf("Restore of a cut file into an empty dir: %v, want an error naming the file", err)
	}
	// The folder it created goes again; one that was there stays.
	if _, err := os.Stat(empty); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused Restore left the folder it created (%v)", err)
	}
	if err := os.Mkdir(empty, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, cut, empty, false); err == nil || !strings.Contains(err.Error(), cut) {
		t.Errorf("Restore of a cut file into an empty dir: %v, want an error naming the file", err)
	}
	if got := dirNames(t, empty); len(got) != 0 {
		t.Errorf("a refused Restore left %v in the empty dir", got)
	}
	if got := dumpFile(t, filepath.Join(dir, FileName)); got != before {
		t.Error("a refused Restore changed the store file")
	}

	// Replace: an older layout's fixture over the store, upgraded on open.
	old := filepath.Join(t.TempDir(), "v10.db")
	copyFile(t, layoutFixture(10, "db"), old)
	sum, err = Restore(ctx, old, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := fixtureSummary(10, fileSize(t, old)); sum != want {
		t.Errorf("Restore(v10) = %+v, want %+v", sum, want)
	}
	r, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	checkLayoutData(t, r)
}

// A restore killed before its rename leaves its temporary copy beside
// where cdp.db would be. That copy is no store: a later restore into the
// folder treats it as absent (no --force needed), and removes it.
func TestRestoreAfterAnInterruptedOne(t *testing.T) {
	ctx := context.Background()
	backup := layoutBackup(t)
	dir := t.TempDir()
	// What copyInto had written when the process died: half the file.
	whole, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, "."+FileName+".restore-1234567.part")
	if err := os.WriteFile(left, whole[:len(whole)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, backup, dir, false); err != nil {
		t.Fatalf("Restore into a dir holding only an interrupted restore's copy: %v", err)
	}
	if got := dirNames(t, dir); len(got) != 1 || got[0] != FileName {
		t.Errorf("data dir holds %v, want only %s", got, FileName)
	}
	// Any other file still makes the folder not empty.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes.part"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, backup, other, false); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Restore into a dir holding notes.part: %v, want ErrNotEmpty", err)
	}
}

// A file of this build's layout that lacks any one of the buckets a store
// of that layout holds is refused, naming the bucket: Open would make it
// again, empty, and what it held (the retired profile ids, say) would be
// lost without a word.
func TestCheckFileRefusesEveryMissingBucket(t *testing.T) {
	good := layoutBackup(t)
	if _, err := CheckFile(context.Background(), good); err != nil {
		t.Fatalf("the whole backup is refused: %v", err)
	}
	// The buckets as the file holds them, read with bbolt alone.
	var names []string
	db, err := bolt.Open(good, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(btx *bolt.Tx) error {
		return btx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "retired_profile_ids") || len(names) < 30 {
		t.Fatalf("the backup holds the buckets %v; the test expects every bucket of layout %d", names, formatVersion)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			copyFile(t, good, path)
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(btx *bolt.Tx) error { return btx.DeleteBucket([]byte(name)) }); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			_, err = CheckFile(context.Background(), path)
			if err == nil {
				t.Fatalf("CheckFile accepted a file without the bucket %q", name)
			}
			want := fmt.Sprintf("lacks its bucket %q", name)
			if name == "meta" {
				// The layout version is kept there: without it the file
				// is no store's.
				want = "records no layout version"
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("CheckFile error %q does not say %q", err, want)
			}
		})
	}
}
