package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// holdWriteLock holds s's write lock, through an Update whose fn waits,
// until the returned function is called.
func holdWriteLock(t *testing.T, s *Store) (release func()) {
	t.Helper()
	entered := make(chan struct{})
	unblock := make(chan struct{})
	finished := make(chan struct{})
	errHeld := errors.New("test held the write lock")
	go func() {
		defer close(finished)
		err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
			close(entered)
			<-unblock
			return errHeld
		})
		if !errors.Is(err, errHeld) {
			t.Errorf("blocking Update = %v, want %v", err, errHeld)
		}
	}()
	<-entered
	released := false
	return func() {
		if !released {
			released = true
			close(unblock)
			<-finished
		}
	}
}

// TestWriteLockHonoursContext: a writer waiting for the write lock gives up
// with its context's error when the context ends, without waiting for the
// holder, and nothing of its work is committed.
func TestWriteLockHonoursContext(t *testing.T) {
	// Generous: only a writer that waits for the holder's release reaches
	// it. The lock is released after the writer has returned.
	const stuck = time.Minute
	var lockTestKey = []byte("write-lock-test")

	cases := map[string]func(ctx context.Context, s *Store, ran *bool) error{
		"Update": func(ctx context.Context, s *Store, ran *bool) error {
			w := &graph.Write{PutProfiles: []graph.Profile{{ID: "lock-test", CreatedAt: t0, UpdatedAt: t0, Size: 1}}}
			return s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
				*ran = true
				return tx.Apply(ctx, w)
			})
		},
		"update": func(ctx context.Context, s *Store, ran *bool) error {
			return s.update(ctx, func(btx *bolt.Tx) error {
				*ran = true
				return btx.Bucket(bucketMeta).Put(lockTestKey, []byte("x"))
			})
		},
		"Scrub": func(ctx context.Context, s *Store, ran *bool) error {
			_, err := s.Scrub(ctx)
			return err
		},
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			s := open(t, t.TempDir())
			release := holdWriteLock(t, s)
			defer release()

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			ran := false
			done := make(chan error, 1)
			go func() { done <- write(ctx, s, &ran) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(stuck):
				release()
				err = <-done
				t.Errorf("%s with an ended context waited for the write lock's holder (returned %v only after it let go)", name, err)
			}
			release()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s = %v, want %v", name, err, context.DeadlineExceeded)
			}
			if ran {
				t.Errorf("%s ran its function after its context ended", name)
			}

			view(t, s, func(ctx context.Context, tx graph.ReadTx) error {
				ps, err := tx.Profiles(ctx, []string{"lock-test"})
				if err != nil {
					return err
				}
				if len(ps) != 0 {
					t.Errorf("%s: the work of a writer that gave up was committed: %v", name, ps)
				}
				return nil
			})
			if err := s.db.View(func(btx *bolt.Tx) error {
				if v := btx.Bucket(bucketMeta).Get(lockTestKey); v != nil {
					t.Errorf("%s: the work of a writer that gave up was committed", name)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}

			// The lock still works once free.
			if err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error { return nil }); err != nil {
				t.Fatalf("Update after the holder let go: %v", err)
			}
		})
	}
}
