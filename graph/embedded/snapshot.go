package embedded

import (
	"context"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

var _ graph.Snapshotter = (*Store)(nil)

// snapshot is one bbolt read transaction that every read of its store made
// under a context Snapshot gave runs in. A bbolt transaction is not for
// concurrent use, so the reads take turns (mu).
type snapshot struct {
	s    *Store
	mu   sync.Mutex
	btx  *bolt.Tx
	done bool // Snapshot has returned: btx is closed
}

// snapKey marks a context with the snapshot its reads share.
type snapKey struct{}

// snapshotOf returns the snapshot of s that ctx carries, or nil.
func (s *Store) snapshotOf(ctx context.Context) *snapshot {
	if sn, _ := ctx.Value(snapKey{}).(*snapshot); sn != nil && sn.s == s {
		return sn
	}
	return nil
}

// Snapshot implements graph.Snapshotter with one bbolt read transaction,
// held while fn runs. Like any long read transaction (a backup's), it
// holds back a commit that must grow the file past its memory map, and
// the reads begun after that commit, until fn returns; a file within
// Options.InitialMmapSize never needs it.
func (s *Store) Snapshot(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.snapshotOf(ctx) != nil {
		return fn(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.notNested(ctx); err != nil {
		return err
	}
	var fnErr error
	err := s.db.View(func(btx *bolt.Tx) error {
		sn := &snapshot{s: s, btx: btx}
		defer func() {
			sn.mu.Lock()
			sn.done = true
			sn.mu.Unlock()
		}()
		fnErr = fn(context.WithValue(ctx, snapKey{}, sn))
		return fnErr
	})
	return txResult(fnErr, err)
}

// read runs fn in the snapshot's transaction, once the reads before it
// are done.
func (sn *snapshot) read(ctx context.Context, fn func(btx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	if sn.done {
		return graph.Errorf(graph.EINTERNAL, "embedded store: a read under a snapshot that has ended")
	}
	return fn(sn.btx)
}

// noWriteIn refuses a write under a snapshot of s: it would wait for the
// snapshot's end, should it grow the file, while the snapshot waits for it.
func (s *Store) noWriteIn(ctx context.Context) error {
	if s.snapshotOf(ctx) != nil {
		return graph.Errorf(graph.EINTERNAL, "embedded store: a write under a snapshot of the same store; write outside it")
	}
	return nil
}
