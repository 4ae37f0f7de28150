package ingest_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// manualClock is a clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// While the store cannot be read, an open collector (no static write keys,
// API keys through auth.Guard) cannot tell whether a key was created
// meanwhile. A request without a key then gets 503 with Retry-After, which
// a client retries, never the 401 it would drop the events on.
func TestKeylessRequestWhileStoreDownIs503(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks, ok := st.(access.Store)
		if !ok {
			t.Fatalf("%T does not implement access.Store", st)
		}
		clk := &manualClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		g, err := auth.New(auth.Config{Store: ks, Logger: zerolog.Nop(), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Wait)
		h := newHarness(t, st, ingest.Config{WriteKeys: map[string]string{}, Keys: g})
		msg := map[string]any{"messageId": "k-1", "userId": "u-k", "event": "e"}
		if r := h.rawPost(t, "/v1/track", mustJSON(t, msg), nil); r.status != http.StatusOK {
			t.Fatalf("open, store up: %d %s, want 200", r.status, r.raw)
		}
		if err := st.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Second) // past the cached count of zero keys
		msg["messageId"] = "k-2"
		r := h.rawPost(t, "/v1/track", mustJSON(t, msg), nil)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
			!strings.Contains(r.body.Error, "store is unavailable") || !strings.Contains(r.body.Error, "nothing in this request was acknowledged") {
			t.Fatalf("no key, store down: %d (Retry-After %q) %s, want 503 with Retry-After saying nothing was acknowledged",
				r.status, r.header.Get("Retry-After"), r.raw)
		}
	})
}
