package feedhub_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/storetest"
)

// countedFeed is the store's own feed, with its reads counted.
type countedFeed struct {
	graph.FeedStore
	reads atomic.Int64
}

func (c *countedFeed) Feed(ctx context.Context, after uint64, kinds []graph.FeedKind, limit int) ([]graph.FeedEntry, error) {
	c.reads.Add(1)
	return c.FeedStore.Feed(ctx, after, kinds, limit)
}

func (c *countedFeed) FeedHead(ctx context.Context) (uint64, error) {
	c.reads.Add(1)
	return c.FeedStore.FeedHead(ctx)
}

func (c *countedFeed) FeedTrimmed(ctx context.Context) (uint64, error) {
	c.reads.Add(1)
	return c.FeedStore.FeedTrimmed(ctx)
}

// A hub nobody subscribes to reads nothing from the store after its
// start, however often it polls or is woken: on Neo4j every read is a
// query, and each replica's tailer polled ten times a second for no
// one. Once a subscriber comes, the store is read and the subscriber
// gets what is committed.
func TestIdleHubReadsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		feed := &countedFeed{FeedStore: s.(graph.FeedStore)}
		h := feedhub.New(feedhub.Config{Feed: feed, Poll: time.Millisecond})
		h.Start(context.Background())
		t.Cleanup(h.Close)
		atStart := feed.reads.Load()
		// About a hundred polls, and as many wakes from this process's
		// commits.
		for range 100 {
			appendEntries(t, s, added("p1", "e1"))
			h.Wake()
			time.Sleep(time.Millisecond)
		}
		if n := feed.reads.Load() - atStart; n != 0 {
			t.Fatalf("an idle hub read the store %d times after its start, want 0", n)
		}
		head, err := h.Head(context.Background())
		if err != nil || head != 100 {
			t.Fatalf("Head = %d, %v; want 100", head, err)
		}
		sub, err := h.Subscribe("k", head, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		waitFor(t, func() bool { return h.Registered() == 1 })
		appendEntries(t, s, added("p2", "e2"))
		h.Wake()
		if e := next(t, sub); e.Seq != 101 || e.EventID != "e2" {
			t.Fatalf("entry = %d %s, want 101 e2", e.Seq, e.EventID)
		}
	})
}

// Entries committed while nobody listened reach a subscriber from the
// start of the feed through its catch-up, at its own pace, not pushed at
// once past its buffer by the tailer: a buffer of 2 takes all 40, in
// order, and the subscription goes on with the live ones.
func TestBacklogOfAnIdleHubIsCaughtUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHub(t, s, feedhub.Config{Buffer: 2})
		for range 40 {
			appendEntries(t, s, added("p1", "e1"))
			h.Wake()
		}
		sub, err := h.Subscribe("k", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		for want := uint64(1); want <= 40; want++ {
			if e := next(t, sub); e.Seq != want {
				t.Fatalf("entry %d, want %d", e.Seq, want)
			}
		}
		appendEntries(t, s, added("p2", "e2"))
		h.Wake()
		if e := next(t, sub); e.Seq != 41 || e.EventID != "e2" {
			t.Fatalf("entry = %d %s, want 41 e2", e.Seq, e.EventID)
		}
	})
}
