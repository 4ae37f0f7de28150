package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.opentelemetry.io/otel/attribute"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/telemetry"
)

// dbSystem names the store on its spans.
var dbSystem = attribute.String("db.system", "bbolt")

// FileName is the database file inside the data dir.
const FileName = "cdp.db"

// bboltVersion is reported when the binary carries no module information
// (go run of a single file, stripped builds); keep it in step with go.mod.
const bboltVersion = "1.5.0"

// lockTimeout bounds how long Open waits for another process to release the
// file; waiting longer would only hide a second server on the same dir.
var lockTimeout = time.Second

// ErrInUse is wrapped by Open's error when another process (a running
// server) holds the file's lock past lockTimeout.
var ErrInUse = errors.New("in use by another process")

var _ graph.Store = (*Store)(nil)

// Store is the embedded graph.Store.
type Store struct {
	db     *bolt.DB
	dir    string
	closed atomic.Bool
	// wmu is held by every write transaction of the Store and by Scrub,
	// so that no commit frees pages while Scrub zeroes the free ones.
	// It is a semaphore of capacity 1 rather than a sync.Mutex so that a
	// writer with a context stops waiting for it when the context ends
	// (Scrub may hold it for long); take it with lockWrite, release it
	// with unlockWrite.
	wmu chan struct{}
}

// lockWrite takes the write lock (wmu), or returns ctx's error once ctx
// ends first. A context that has ended is refused even if the lock is free,
// so a writer never starts after its caller gave up.
func (s *Store) lockWrite(ctx context.Context) error {
	select {
	case s.wmu <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		s.unlockWrite()
		return err
	}
	return nil
}

// unlockWrite releases the write lock taken by lockWrite.
func (s *Store) unlockWrite() { <-s.wmu }

// Open opens, or creates, the store in dir. A file of an older layout is
// upgraded in place after being copied aside (see upgrade.go).
func Open(dir string) (*Store, error) { return OpenWith(dir, Options{}) }

// OpenWith is Open with options.
func OpenWith(dir string, o Options) (*Store, error) { return openLayout(dir, currentLayout, o) }

// openLayout opens the store in dir as a build that reads lay.
func openLayout(dir string, lay layout, o Options) (*Store, error) {
	path := filepath.Join(dir, FileName)
	if o.ReadOnly {
		// Nothing is made: a file that is not there is not a store.
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		// The hashmap freelist stays fast as the file grows, and not
		// writing it on every commit saves a page write per batch; it is
		// rebuilt on open. Neither weakens durability: commits still fsync.
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: o.InitialMmapSize,
		ReadOnly:        o.ReadOnly,
	})
	switch {
	case err == nil:
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("data dir %s is %w (%s is locked)", dir, ErrInUse, path)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return nil, fmt.Errorf("data dir %s is not writable: %w", dir, err)
	default:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	fail := func(err error) (*Store, error) {
		_ = db.Close()
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, fmt.Errorf("data dir %s is not writable: %w", dir, err)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Check the layout before creating anything: a file that cannot be
	// read must be refused as it is, not half converted.
	v, fresh, err := storedVersion(db)
	if err != nil {
		return fail(fmt.Errorf("%w; this build reads version %d", err, lay.version))
	}
	if !fresh {
		if err := lay.checkVersion(v); err != nil {
			return fail(err)
		}
		if v < lay.version && (o.NoUpgrade || o.ReadOnly) {
			return fail(fmt.Errorf("the file %w (version %d; this build writes version %d)", ErrOlderLayout, v, lay.version))
		}
		if v < lay.version {
			if err := lay.upgrade(db, path, v, o.OnUpgrade); err != nil {
				return fail(err)
			}
		}
	}
	if o.ReadOnly {
		// Read as it is: a current file holds every bucket, as each
		// open for writing made those missing.
		if err := db.View(func(btx *bolt.Tx) error { return checkBuckets(btx, fresh) }); err != nil {
			return fail(err)
		}
		return &Store{db: db, dir: dir, wmu: make(chan struct{}, 1)}, nil
	}
	if err := db.Update(func(btx *bolt.Tx) error { return initBuckets(btx, lay.version) }); err != nil {
		return fail(err)
	}
	return &Store{db: db, dir: dir, wmu: make(chan struct{}, 1)}, nil
}

// checkBuckets refuses, for a file opened to be read only, one that holds
// no layout yet (fresh) or lacks a bucket, which opening it for writing
// would create.
func checkBuckets(btx *bolt.Tx, fresh bool) error {
	if fresh {
		return errors.New("the file holds no store yet, and was opened to be read only")
	}
	for _, name := range allBuckets {
		if btx.Bucket(name) == nil {
			return fmt.Errorf("the file lacks bucket %s, which opening it for writing creates, and was opened to be read only", name)
		}
	}
	return nil
}

// initBuckets creates the buckets that are missing and, in a new file,
// records the layout version.
func initBuckets(btx *bolt.Tx, version uint64) error {
	for _, name := range allBuckets {
		if _, err := btx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := btx.Bucket(bucketMeta)
	switch v := meta.Get(metaFormat); {
	case v == nil:
		return meta.Put(metaFormat, u64(version))
	case len(v) != 8 || decodeU64(v) != version:
		return fmt.Errorf("the file holds layout version %x after opening; this build reads version %d", v, version)
	}
	return nil
}

// Update runs fn in one bbolt write transaction. bbolt never retries, so fn
// runs exactly once.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) (retErr error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.notNested(ctx); err != nil {
		return err
	}
	if err := s.noWriteIn(ctx); err != nil {
		return err
	}
	ctx, span := telemetry.StartChild(ctx, "store.update", dbSystem)
	// The span and the store-error count see the error Update returns
	// (a bbolt failure wrapped as unavailable), not bbolt's raw error.
	defer func() { telemetry.EndStore(span, "update", retErr) }()
	ctx = s.inTx(ctx)
	var fnErr error
	var err error
	if fnErr = s.lockWrite(ctx); fnErr != nil {
		return fnErr
	}
	defer s.unlockWrite()
	err = s.db.Update(func(btx *bolt.Tx) error {
		t := newTx(btx, true)
		if fnErr = fn(ctx, t); fnErr != nil {
			return fnErr
		}
		if fnErr = t.flush(); fnErr != nil {
			return fnErr
		}
		// A caller that gave up while fn ran must not see its work
		// committed after being told it failed.
		fnErr = ctx.Err()
		return fnErr
	})
	return txResult(fnErr, err)
}

// View runs fn in one bbolt read transaction: under a Snapshot, the
// snapshot's.
func (s *Store) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) (retErr error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.notNested(ctx); err != nil {
		return err
	}
	ctx, span := telemetry.StartChild(ctx, "store.view", dbSystem)
	// As in Update: count and record the error View returns.
	defer func() { telemetry.EndStore(span, "view", retErr) }()
	ctx = s.inTx(ctx)
	var fnErr error
	var err error
	read := func(btx *bolt.Tx) error {
		fnErr = fn(ctx, newTx(btx, false))
		return fnErr
	}
	if sn := s.snapshotOf(ctx); sn != nil {
		if err := sn.read(ctx, read); err != nil {
			return err
		}
		return nil
	}
	err = s.db.View(read)
	return txResult(fnErr, err)
}

// Ping answers nil while the store is open.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return graph.ErrUnavailable(errors.New("embedded store is closed"))
	}
	return nil
}

// Info reports "embedded" and the bbolt version.
func (s *Store) Info(ctx context.Context) (graph.StoreInfo, error) {
	return graph.StoreInfo{Kind: "embedded", Version: "bbolt " + moduleVersion()}, nil
}

var moduleVersion = sync.OnceValue(func() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "go.etcd.io/bbolt" {
				if d.Replace != nil {
					d = d.Replace
				}
				if v := strings.TrimPrefix(d.Version, "v"); v != "" && v != "(devel)" {
					return v
				}
			}
		}
	}
	return bboltVersion
})

// Close closes the file once running transactions have finished.
func (s *Store) Close(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Join(s.dir, FileName), err)
	}
	return nil
}

// txKey marks the context a transaction's function gets (View, Update)
// with the store it runs in.
type txKey struct{}

// inTx returns ctx marked as inside a transaction of s.
func (s *Store) inTx(ctx context.Context) context.Context {
	return context.WithValue(ctx, txKey{}, s)
}

// notNested refuses a transaction of s opened with the context of one of
// its transactions still running: bbolt's second transaction in the same
// goroutine can deadlock, a read behind a writer that must grow the file
// while the first transaction holds it, or a write behind the store's own
// writer. Work inside a transaction goes through the tx it is given.
func (s *Store) notNested(ctx context.Context) error {
	if outer, _ := ctx.Value(txKey{}).(*Store); outer == s {
		return graph.Errorf(graph.EINTERNAL, "embedded store: a transaction was opened inside another of the same store; use the transaction at hand")
	}
	return nil
}

// txResult is the outcome of a bbolt transaction that ran a caller's
// function: that function's error when it failed, else bbolt's own, as the
// store being unavailable.
func txResult(fnErr, err error) error {
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return graph.ErrUnavailable(err)
	}
	return nil
}
