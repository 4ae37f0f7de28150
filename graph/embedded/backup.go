package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
)

var _ graph.Backupper = (*Store)(nil)

// Backup implements graph.Backupper with bbolt's hot backup: in one read
// transaction it writes the file as that transaction sees it (Tx.WriteTo),
// which is a database file of this store, of this build's layout, that
// Open accepts as it is. Its size is the transaction's Tx.Size().
//
// Writes go on meanwhile, with the waits bbolt and Scrub impose on any long
// read transaction: a commit that must grow the file beyond its current
// memory map (the map doubles up to 1 GiB, then grows by 1 GiB) waits for
// the backup to end, read transactions begun after that commit wait for it
// in turn, and Scrub, which erasure runs, waits for the backup too. A
// backup holds what the store held when it began, an erased person's data
// included if the erasure came later.
func (s *Store) Backup(ctx context.Context, begin func(size int64) (io.Writer, error)) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var (
		n        int64
		beginErr error
		cw       *ctxWriter
	)
	err := s.db.View(func(btx *bolt.Tx) error {
		w, err := begin(btx.Size())
		if err != nil {
			beginErr = err
			return err
		}
		cw = &ctxWriter{ctx: ctx, w: w}
		n, err = btx.WriteTo(cw)
		return err
	})
	switch {
	case beginErr != nil:
		return 0, beginErr
	case cw != nil && cw.err != nil:
		// bbolt flattens the writer's error into text; give it back whole.
		return n, cw.err
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return n, graph.ErrUnavailable(err)
	case err != nil:
		return n, fmt.Errorf("backup of %s: %w", s.db.Path(), err)
	}
	return n, nil
}

// ctxWriter stops the copy once ctx is done, and keeps the first error of
// the writer under it.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
	err error
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// FileSummary describes a database file that CheckFile found sound.
type FileSummary struct {
	// Layout is the file's layout version: this build's (LayoutVersion),
	// or an older one that Open upgrades in place.
	Layout uint64
	// Size is the size of the file in bytes.
	Size int64
	// Identifiers, Profiles (live), MergedProfiles, Events and Keys (API
	// keys, revoked ones included) count the records of the file.
	Identifiers, Profiles, MergedProfiles, Events, Keys int
}

// LayoutVersion is the layout version this build reads and writes.
const LayoutVersion = formatVersion

// buckets added by each layout version after the oldest one upgraded.
var bucketsSince = map[uint64][][]byte{
	6:  accessBuckets,
	7:  suppressionBuckets,
	8:  consentBuckets,
	9:  receiptBuckets,
	10: audienceBuckets,
	11: factsBuckets,
	12: feedBuckets,
	13: destinationBuckets,
	15: retiredBuckets,
}

// baseBuckets are the buckets of every layout from oldestLayout on.
var baseBuckets = [][]byte{
	bucketIdentifiers, bucketMembers, bucketProfiles, bucketMerged, bucketMeta,
	bucketRejected, bucketRejectedAdj, bucketEvents, bucketChanges, bucketChangeIdx,
}

// bucketsOf lists the buckets a file of layout version v holds.
func bucketsOf(v uint64) [][]byte {
	out := append([][]byte(nil), baseBuckets...)
	for n := uint64(oldestLayout + 1); n <= v; n++ {
		out = append(out, bucketsSince[n]...)
	}
	return out
}

// CheckFile checks that the file at path is a sound database file of this
// store that this build opens: a bbolt file, whole (not cut short), of a
// layout version this build reads or upgrades, holding every bucket of
// that version, every page of which can be read, with every bucket's keys
// in order, and that passes bbolt's own consistency check. It reads the
// whole file and never writes to it; it waits at most a second for a
// store that holds the file.
//
// A file that fails gets an error saying what is wrong with it; the error
// names no key or value of the file (they may be personal data).
func CheckFile(ctx context.Context, path string) (FileSummary, error) {
	var sum FileSummary
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return sum, err
	case !st.Mode().IsRegular():
		return sum, errors.New("is not a regular file")
	case st.Size() == 0:
		return sum, errors.New("is empty")
	}
	sum.Size = st.Size()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout, FreelistType: bolt.FreelistMapType})
	switch {
	case err == nil:
	case errors.Is(err, berrors.ErrTimeout):
		return sum, fmt.Errorf("is %w (locked)", ErrInUse)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return sum, fmt.Errorf("is not a database file of this store: %v", err)
	default:
		return sum, fmt.Errorf("cannot be opened as a database file: %v", err)
	}
	defer db.Close()
	err = db.View(func(btx *bolt.Tx) error { return guarded(func() error { return check(ctx, btx, &sum) }) })
	if err != nil || sum.Layout != LayoutVersion {
		// An older layout's records are read by the upgrade, when Open
		// runs it.
		return sum, err
	}
	return sum, guarded(func() error { return decodeAll(ctx, db) })
}

// decodePage is how many records decodeAll reads at a time.
const decodePage = 1000

// decodeAll reads every record of db, a file of this build's layout, as
// cdp copy reads a store (dump.Stream), so that a record whose pages are
// sound but whose bytes are not (a length or a field changed) is found
// now rather than when the server or a copy reads it. The error names the
// kind of record, never its key or its value: the decoders' own errors
// may quote an id.
func decodeAll(ctx context.Context, db *bolt.DB) error {
	st := &Store{db: db, wmu: make(chan struct{}, 1)}
	cs, err := dump.NewStream(st)
	if err != nil {
		return err
	}
	for _, k := range cs.Kinds() {
		after := ""
		for {
			b, err := cs.Page(ctx, k, after, decodePage)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("is damaged: a record of %s cannot be read", k)
			}
			if b.Next == "" {
				break
			}
			after = b.Next
		}
	}
	return nil
}

// check is CheckFile inside the file's read transaction.
func check(ctx context.Context, btx *bolt.Tx, sum *FileSummary) error {
	if btx.Size() > sum.Size {
		return fmt.Errorf("is cut short: it holds %d bytes and its header says %d", sum.Size, btx.Size())
	}
	v, fresh, err := versionIn(btx)
	switch {
	case err != nil:
		return err
	case fresh:
		return errors.New("is a bbolt file but not a database of this store: it records no layout version")
	}
	if err := currentLayout.checkVersion(v); err != nil {
		return err
	}
	sum.Layout = v
	for _, name := range bucketsOf(v) {
		if btx.Bucket(name) == nil {
			return fmt.Errorf("holds layout version %d but lacks its bucket %q", v, name)
		}
	}
	if err := walk(ctx, btx, sum); err != nil {
		return err
	}
	return consistent(btx)
}

// versionIn is storedVersion inside a transaction.
func versionIn(btx *bolt.Tx) (version uint64, fresh bool, err error) {
	meta := btx.Bucket(bucketMeta)
	if meta == nil {
		return 0, true, nil
	}
	v := meta.Get(metaFormat)
	switch {
	case v == nil:
		return 0, true, nil
	case len(v) != 8:
		return 0, false, errors.New("holds an unreadable layout version")
	}
	return decodeU64(v), false, nil
}

// guarded runs fn on a goroutine of its own that turns a memory fault (a
// damaged page pointing outside the file) into a panic, and any panic
// (bbolt asserts what it reads) into an error, so that a damaged file is
// refused rather than crashing the process.
func guarded(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("is damaged: reading its pages failed (%v)", r)
			}
		}()
		done <- fn()
	}()
	return <-done
}

// walk reads every key and value of every bucket, checks that each
// bucket's keys ascend, and counts the records of sum.
func walk(ctx context.Context, btx *bolt.Tx, sum *FileSummary) error {
	return btx.ForEach(func(name []byte, b *bolt.Bucket) error {
		n, err := walkBucket(ctx, b, string(name))
		if err != nil {
			return err
		}
		switch {
		case bytes.Equal(name, bucketProfiles):
			sum.Profiles = n
		case bytes.Equal(name, bucketMerged):
			sum.MergedProfiles = n
		case bytes.Equal(name, bucketEvents):
			sum.Events = n
		case bytes.Equal(name, bucketAPIKeys):
			sum.Keys = n
		case bytes.Equal(name, bucketIdentifiers):
			sum.Identifiers, err = countIdentifiers(b)
		}
		return err
	})
}

// walkBucket reads b whole, nested buckets included, and returns its
// number of keys (nested buckets counting as keys).
func walkBucket(ctx context.Context, b *bolt.Bucket, name string) (int, error) {
	n := 0
	var prev []byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return n, fmt.Errorf("is damaged: the keys of bucket %q are out of order", name)
		}
		prev = append(prev[:0], k...)
		if v == nil {
			if nb := b.Bucket(k); nb != nil {
				if _, err := walkBucket(ctx, nb, name+"/…"); err != nil {
					return n, err
				}
			}
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// countIdentifiers counts the identifier records among the identifiers
// bucket's entries (keys.go: part(key) tagRecord).
func countIdentifiers(b *bolt.Bucket) (int, error) {
	n := 0
	err := b.ForEach(func(k, _ []byte) error {
		key, rest := splitPart(k)
		if key == "" && rest == nil {
			return errors.New("is damaged: an entry of bucket \"identifiers\" has a malformed key")
		}
		if len(rest) == 1 && rest[0] == tagRecord {
			n++
		}
		return nil
	})
	return n, err
}

// consistent runs bbolt's consistency check (pages reachable once, free
// pages accounted for), telling no key or value.
func consistent(btx *bolt.Tx) error {
	var errs []error
	for err := range btx.Check(bolt.WithKVStringer(redacted{})) {
		if len(errs) < 3 {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("is damaged: bbolt's consistency check failed: %w", errors.Join(errs...))
	}
	return nil
}

// redacted shows keys and values by their length only.
type redacted struct{}

func (redacted) KeyToString(k []byte) string   { return fmt.Sprintf("<key of %d bytes>", len(k)) }
func (redacted) ValueToString(v []byte) string { return fmt.Sprintf("<value of %d bytes>", len(v)) }
