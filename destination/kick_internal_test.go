package destination

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// slowHead is a feed whose FeedHead blocks until release is closed, and
// counts its reads. The worker's cache of the head is what is tested, not
// a store.
type slowHead struct {
	graph.FeedStore
	reading chan struct{}
	release chan struct{}
	reads   atomic.Int64
}

func (f *slowHead) FeedHead(ctx context.Context) (uint64, error) {
	if f.reads.Add(1) == 1 {
		close(f.reading)
		<-f.release
	}
	return 5, nil
}

// TestKickDoesNotWaitForTheHead: Kick runs in the committer after each
// commit, before the batch's callers are answered, so it must not wait for
// a feed head read in flight (a slow or hung store); and the head cached
// before a Kick is read again after it.
func TestKickDoesNotWaitForTheHead(t *testing.T) {
	f := &slowHead{reading: make(chan struct{}), release: make(chan struct{})}
	w := &Worker{cfg: WorkerConfig{Feed: f, Poll: time.Hour}, running: map[string]bool{}, kicked: make(chan struct{})}
	headDone := make(chan error, 1)
	go func() {
		_, err := w.head(context.Background())
		headDone <- err
	}()
	<-f.reading
	kicked := make(chan struct{})
	go func() {
		w.Kick()
		close(kicked)
	}()
	select {
	case <-kicked:
	case <-time.After(20 * time.Second):
		close(f.release)
		t.Fatal("Kick waited for the feed head read in flight")
	}
	close(f.release)
	if err := <-headDone; err != nil {
		t.Fatal(err)
	}
	// The read began before the Kick, so its value is stale: read again.
	if _, err := w.head(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.reads.Load(); n != 2 {
		t.Fatalf("%d feed head reads, want 2 (the one Kick made stale, and a fresh one)", n)
	}
	// Nothing kicked since: the cached head answers.
	if _, err := w.head(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.reads.Load(); n != 2 {
		t.Fatalf("%d feed head reads, want still 2 (cached within the poll)", n)
	}
}
