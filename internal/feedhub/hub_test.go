package feedhub_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/storetest"
)

// appendEntries commits entries, one transaction, and returns nothing: the
// store numbers them after its head.
func appendEntries(t *testing.T, s graph.Store, entries ...graph.FeedEntry) {
	t.Helper()
	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		if _, ok := tx.(graph.FeedTx); !ok {
			return fmt.Errorf("the store's transaction %T keeps no feed", tx)
		}
		return graph.AppendFeed(ctx, tx, entries)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func added(p, ev string) graph.FeedEntry {
	return graph.FeedEntry{At: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Kind: graph.FeedEventAdded, ProfileID: p, EventID: ev}
}

// next receives one entry of s, failing the test when s ends first or
// nothing comes within a generous bound (a liveness bound, not a timing
// assertion).
func next(t *testing.T, s *feedhub.Sub) graph.FeedEntry {
	t.Helper()
	select {
	case e, ok := <-s.C():
		if !ok {
			t.Fatalf("subscription ended early: %v", s.Err())
		}
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no entry within 20 s")
	}
	return graph.FeedEntry{}
}

// ended waits for s to end and returns its reason, failing on an entry.
func ended(t *testing.T, s *feedhub.Sub) error {
	t.Helper()
	select {
	case e, ok := <-s.C():
		if ok {
			t.Fatalf("got entry %d, want the subscription ended", e.Seq)
		}
		return s.Err()
	case <-time.After(20 * time.Second):
		t.Fatal("subscription did not end within 20 s")
	}
	return nil
}

// waitFor polls cond until it holds, failing after a generous bound.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newHub(t *testing.T, s graph.Store, cfg feedhub.Config) *feedhub.Hub {
	t.Helper()
	cfg.Feed = s.(graph.FeedStore)
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	h := feedhub.New(cfg)
	h.Start(context.Background())
	t.Cleanup(h.Close)
	return h
}

// A subscriber after an earlier entry reads what it missed from the store,
// then the live entries, each once and in order; its filter sees every
// entry after its start exactly once.
func TestCatchUpThenLive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		appendEntries(t, s, added("p1", "e1"), added("p2", "e2"))
		appendEntries(t, s, added("p3", "e3"))
		h := newHub(t, s, feedhub.Config{})
		var seen []uint64
		sub, err := h.Subscribe("k", 1, func(e graph.FeedEntry) bool {
			seen = append(seen, e.Seq)
			return e.ProfileID != "p4" // p4's entry is filtered out
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		for _, want := range []struct {
			seq uint64
			ev  string
		}{{2, "e2"}, {3, "e3"}} {
			if e := next(t, sub); e.Seq != want.seq || e.EventID != want.ev {
				t.Fatalf("caught up entry = %d %s, want %d %s", e.Seq, e.EventID, want.seq, want.ev)
			}
		}
		appendEntries(t, s, added("p4", "e4"), added("p5", "e5"))
		h.Wake()
		if e := next(t, sub); e.Seq != 5 || e.EventID != "e5" {
			t.Fatalf("live entry = %d %s, want 5 e5", e.Seq, e.EventID)
		}
		appendEntries(t, s, added("p6", "e6"))
		h.Wake()
		if e := next(t, sub); e.Seq != 6 {
			t.Fatalf("live entry = %d, want 6", e.Seq)
		}
		sub.Close()
		if err := ended(t, sub); err != nil {
			t.Fatalf("closed by its consumer: reason %v, want nil", err)
		}
		if fmt.Sprint(seen) != "[2 3 4 5 6]" {
			t.Fatalf("the filter saw %v, want [2 3 4 5 6]", seen)
		}
	})
}

// A subscriber from the head sees only what is committed after it.
func TestFromHead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		appendEntries(t, s, added("p1", "e1"))
		h := newHub(t, s, feedhub.Config{})
		head, err := h.Head(context.Background())
		if err != nil || head != 1 {
			t.Fatalf("Head = %d, %v; want 1", head, err)
		}
		sub, err := h.Subscribe("k", head, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		appendEntries(t, s, added("p2", "e2"))
		h.Wake()
		if e := next(t, sub); e.Seq != 2 || e.EventID != "e2" {
			t.Fatalf("entry = %d %s, want 2 e2", e.Seq, e.EventID)
		}
	})
}

// A subscriber whose buffer overflows is closed with ErrSlow, after the
// entries its buffer held.
func TestSlowSubscriberClosed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHub(t, s, feedhub.Config{Buffer: 2})
		sub, err := h.Subscribe("k", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		other, err := h.Subscribe("k", 0, func(e graph.FeedEntry) bool { return e.EventID == "e3" })
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		// Registered once the tailer has passed its start: wait for that
		// through a first entry.
		appendEntries(t, s, added("p0", "e0"))
		h.Wake()
		if e := next(t, sub); e.Seq != 1 {
			t.Fatalf("entry = %d, want 1", e.Seq)
		}
		// Three entries in one transaction, one read: the third overflows.
		appendEntries(t, s, added("p1", "e1"), added("p2", "e2"), added("p3", "e3"))
		h.Wake()
		// Nothing is read until the tailer has closed it: a read during
		// the fan-out would make room.
		waitFor(t, func() bool { return h.Stats().SlowClosed == 1 })
		for _, want := range []uint64{2, 3} {
			if e := next(t, sub); e.Seq != want {
				t.Fatalf("buffered entry = %d, want %d", e.Seq, want)
			}
		}
		if err := ended(t, sub); !errors.Is(err, feedhub.ErrSlow) {
			t.Fatalf("reason = %v, want ErrSlow", err)
		}
		// The other subscriber, which kept up, is untouched.
		if e := next(t, other); e.Seq != 4 {
			t.Fatalf("other's entry = %d, want 4", e.Seq)
		}
		if st := h.Stats(); st.SlowClosed != 1 || st.Active != 1 {
			t.Fatalf("stats = %+v, want 1 closed as slow and 1 active", st)
		}
	})
}

// One key holds at most PerKey subscriptions; closing one frees its place.
func TestPerKeyCap(t *testing.T) {
	s := storetest.OpenEmbedded(t)
	h := newHub(t, s, feedhub.Config{PerKey: 2})
	a, err := h.Subscribe("k1", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe("k1", 0, nil); err != nil {
		t.Fatal(err)
	}
	_, err = h.Subscribe("k1", 0, nil)
	var tm *feedhub.TooManyError
	if !errors.As(err, &tm) || tm.Cap != 2 {
		t.Fatalf("third subscription of k1: %v, want TooManyError with cap 2", err)
	}
	// The message reads right for a cap of one and in open mode, where the
	// callers hold no key and share one cap.
	if got, want := (&feedhub.TooManyError{Cap: 1}).Error(), "this API key (in open mode, every caller together) already holds the most subscriptions allowed at once, 1 (--subscriptions-per-key); close one first"; got != want {
		t.Errorf("TooManyError{Cap: 1}: %q, want %q", got, want)
	}
	if _, err := h.Subscribe("k2", 0, nil); err != nil {
		t.Fatalf("another key: %v", err)
	}
	a.Close()
	if err := ended(t, a); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Subscribe("k1", 0, nil); err != nil {
		t.Fatalf("after closing one: %v", err)
	}
	if st := h.Stats(); st.Active != 3 {
		t.Fatalf("active = %d, want 3", st.Active)
	}
}

// Closing the hub ends every subscriber with ErrClosed, and refuses new
// ones.
func TestCloseEndsSubscribers(t *testing.T) {
	s := storetest.OpenEmbedded(t)
	h := newHub(t, s, feedhub.Config{})
	sub, err := h.Subscribe("k", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if err := ended(t, sub); !errors.Is(err, feedhub.ErrClosed) {
		t.Fatalf("reason = %v, want ErrClosed", err)
	}
	if _, err := h.Subscribe("k", 0, nil); !errors.Is(err, feedhub.ErrClosed) {
		t.Fatalf("subscribe after Close: %v, want ErrClosed", err)
	}
}
