package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrNotEmpty is wrapped by Restore's error when the data dir holds
// anything and replacing was not asked for.
var ErrNotEmpty = errors.New("is not empty")

// LockFile takes the shared lock of the store file at path, as a reader
// does, so that no store opens it until release is called: a file about to
// be replaced must not be in use. A running store holds that lock: then the
// error wraps ErrInUse. A missing, damaged or foreign file takes no lock,
// and release does nothing.
func LockFile(path string) (release func(), err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	switch {
	case err == nil:
		return func() { db.Close() }, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w (%s is locked)", ErrInUse, path)
	default:
		// Missing, damaged or not a store: nothing to protect.
		return func() {}, nil
	}
}

// Restore puts the database file at file (a backup: Store.Backup, POST
// /admin/backup, or a copy of a stopped store's cdp.db) in place as the
// store of the data dir dir, creating dir if needed, and returns what the
// file holds.
//
// It refuses a dir that holds anything (ErrNotEmpty) unless replace is
// set; then it replaces the dir's cdp.db, if any, and leaves every other
// file of the dir alone. The temporary copies of restores that died
// before their rename do not count, and go once it succeeds. It refuses a cdp.db that a running store holds
// (ErrInUse), replace or not. The file is copied into dir under a
// temporary name, synced, checked with CheckFile (an unsound file is
// refused, and nothing of it is left in dir), and only then renamed to
// cdp.db, so the store in dir is at every moment either the old one or
// the restored one, whole. The file itself is only read; the file of a
// running store (one whose lock a store holds) is refused (ErrInUse), as
// its copy could join pages of different commits. A file of an
// older layout is restored as it is; Open upgrades it. A restore that
// fails removes the folders it created for dir (those that are still
// empty), and no other: it leaves the file system as it found it.
func Restore(ctx context.Context, file, dir string, replace bool) (_ FileSummary, err error) {
	var sum FileSummary
	st, err := os.Stat(file)
	switch {
	case err != nil:
		return sum, fmt.Errorf("backup file: %w", err)
	case !st.Mode().IsRegular():
		return sum, fmt.Errorf("backup file %s is not a regular file", file)
	}
	// The file of a running store is no backup: the server writes to it
	// while it is copied, so the copy may join pages of different commits.
	// Its shared lock, held until the copy is made, also keeps a server
	// from opening it meanwhile.
	releaseFile, err := LockFile(file)
	if err != nil {
		return sum, fmt.Errorf("backup file %s is the file of a running store, %w: take a backup of it with cdp backup (POST /admin/backup), or stop its server first", file, err)
	}
	defer releaseFile()
	created, err := mkdirAll(dir, 0o750)
	defer func() {
		if err != nil {
			removeEmpty(created)
		}
	}()
	if err != nil {
		return sum, fmt.Errorf("data dir %s: %w", dir, err)
	}
	all, err := os.ReadDir(dir)
	if err != nil {
		return sum, fmt.Errorf("data dir %s: %w", dir, err)
	}
	// The copy of a restore that died before its rename is no store: it
	// neither makes dir not empty nor stays once this restore succeeds.
	var entries []os.DirEntry
	var leftovers []string
	for _, e := range all {
		if restoreLeftover(e) {
			leftovers = append(leftovers, filepath.Join(dir, e.Name()))
		} else {
			entries = append(entries, e)
		}
	}
	if len(entries) > 0 && !replace {
		names := make([]string, 0, 3)
		for _, e := range entries[:min(3, len(entries))] {
			names = append(names, e.Name())
		}
		more := ""
		if len(entries) > 3 {
			more = fmt.Sprintf(" and %d more", len(entries)-3)
		}
		return sum, fmt.Errorf("data dir %s %w (it holds %s%s)", dir, ErrNotEmpty, strings.Join(names, ", "), more)
	}
	target := filepath.Join(dir, FileName)
	if abs(file) == abs(target) {
		return sum, fmt.Errorf("backup file %s is the store file of data dir %s itself", file, dir)
	}

	// Copy, sync and check under a temporary name beside the target.
	tmp, err := copyInto(ctx, file, dir)
	if err != nil {
		return sum, err
	}
	defer os.Remove(tmp) // gone once renamed; removed on every failure
	sum, err = CheckFile(ctx, tmp)
	if err != nil {
		return FileSummary{}, fmt.Errorf("backup file %s %w", file, err)
	}

	// A running store holds its file's lock: take it (shared) so that no
	// store opens the old file while it is being replaced.
	if replace {
		release, err := LockFile(target)
		if err != nil {
			return FileSummary{}, fmt.Errorf("data dir %s is %w: stop the server first", dir, err)
		}
		defer release()
		if err := os.Rename(tmp, target); err != nil {
			return FileSummary{}, fmt.Errorf("data dir %s: %w", dir, err)
		}
	} else {
		// Link never replaces: a store created meanwhile is not clobbered.
		err := os.Link(tmp, target)
		switch {
		case errors.Is(err, fs.ErrExist):
			return FileSummary{}, fmt.Errorf("data dir %s %w: %s appeared during the restore", dir, ErrNotEmpty, FileName)
		case err != nil:
			// A file system without hard links.
			if _, serr := os.Lstat(target); serr == nil {
				return FileSummary{}, fmt.Errorf("data dir %s %w: %s appeared during the restore", dir, ErrNotEmpty, FileName)
			}
			if err := os.Rename(tmp, target); err != nil {
				return FileSummary{}, fmt.Errorf("data dir %s: %w", dir, err)
			}
		}
	}
	for _, p := range leftovers {
		_ = os.Remove(p) // another restore's, gone already: nothing to do
	}
	if err := syncDir(dir); err != nil {
		return FileSummary{}, err
	}
	return sum, nil
}

// mkdirAll is os.MkdirAll(dir, perm), and returns the folders that were
// missing, deepest first: those it created, or, when it fails, may have
// created.
func mkdirAll(dir string, perm os.FileMode) ([]string, error) {
	var missing []string
	for p := filepath.Clean(dir); ; {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, p)
		up := filepath.Dir(p)
		if up == p {
			break
		}
		p = up
	}
	return missing, os.MkdirAll(dir, perm)
}

// removeEmpty removes the folders dirs, in order, each only if it is empty
// (os.Remove refuses any other): whatever another process put there stays.
func removeEmpty(dirs []string) {
	for _, d := range dirs {
		if st, err := os.Lstat(d); err == nil && st.IsDir() {
			_ = os.Remove(d) // not empty, or gone: it stays as it is
		}
	}
}

// restoreTemp is the pattern of copyInto's temporary files.
const restoreTemp = "." + FileName + ".restore-*.part"

// restoreLeftover reports whether e is a regular file named as copyInto
// names its copies.
func restoreLeftover(e os.DirEntry) bool {
	ok, _ := filepath.Match(restoreTemp, e.Name())
	return ok && e.Type().IsRegular()
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return filepath.Clean(a)
	}
	return p
}

// copyInto copies file into a new temporary file of dir, private to the
// user, synced, and returns its path.
func copyInto(ctx context.Context, file, dir string) (string, error) {
	in, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("backup file: %w", err)
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, restoreTemp)
	if err != nil {
		return "", fmt.Errorf("data dir %s: %w", dir, err)
	}
	tmp := out.Name()
	fail := func(err error) (string, error) {
		_ = out.Close()
		_ = os.Remove(tmp)
		return "", err
	}
	if err := out.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("data dir %s: %w", dir, err))
	}
	if _, err := io.Copy(out, &ctxReader{ctx: ctx, r: in}); err != nil {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(fmt.Errorf("copy %s into %s: %w", file, dir, err))
	}
	if err := out.Sync(); err != nil {
		return fail(fmt.Errorf("data dir %s: %w", dir, err))
	}
	if err := out.Close(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("data dir %s: %w", dir, err)
	}
	return tmp, nil
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
