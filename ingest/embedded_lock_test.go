package ingest_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestCommitTimeoutWhileWriteLockHeld: on the embedded store, a commit that
// waits for the write lock past CommitTimeout answers 503 while the lock is
// still held, not once its holder lets go, and stores nothing.
func TestCommitTimeoutWhileWriteLockHeld(t *testing.T) {
	s := storetest.Embedded(t)
	h := newHarness(t, s, ingest.Config{CommitTimeout: 50 * time.Millisecond})
	var once sync.Once
	held := blockStore(t, s)
	release := func() { once.Do(held) }
	defer release()

	// A watchdog lets go of the lock if the request is still waiting long
	// after its CommitTimeout, so the old behaviour fails instead of hanging.
	var fired atomic.Bool
	stop := make(chan struct{})
	watchdog := make(chan struct{})
	go func() {
		defer close(watchdog)
		select {
		case <-time.After(10 * time.Second):
			fired.Store(true)
			release()
		case <-stop:
		}
	}()
	r := h.sdkPost(t, "/v1/track", "wk-node", map[string]any{"userId": "u", "event": "e", "messageId": "lock-1"})
	close(stop)
	<-watchdog
	if fired.Load() {
		t.Errorf("the request was answered (%d) only after the write lock was released", r.status)
	}
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("status %d %s, want %d", r.status, r.raw, http.StatusServiceUnavailable)
	}
	release()
	if got := stored(t, h.eng, "node/lock-1"); len(got) != 0 {
		t.Fatalf("a commit answered 503 was stored: %v", got)
	}
}
