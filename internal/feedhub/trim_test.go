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

// trimBefore is after the time of every entry added appends: a trim
// before it deletes the oldest transactions whatever their age.
var trimBefore = time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC)

// trim deletes the oldest txs transactions of the feed and checks that
// they held want entries and that the store's mark is then trimmed.
func trim(t *testing.T, s graph.Store, txs, want int, trimmed uint64) {
	t.Helper()
	fs := s.(graph.FeedStore)
	if n, err := fs.TrimFeed(context.Background(), trimBefore, txs); err != nil || n != want {
		t.Fatalf("TrimFeed(%d transactions) = %d, %v; want %d entries", txs, n, err, want)
	}
	if got, err := fs.FeedTrimmed(context.Background()); err != nil || got != trimmed {
		t.Fatalf("FeedTrimmed = %d, %v; want %d", got, err, trimmed)
	}
}

// wantExpired checks that reason is a *graph.CursorExpiredError for the
// entries after after up to trimmed.
func wantExpired(t *testing.T, reason error, after, trimmed uint64) {
	t.Helper()
	var ce *graph.CursorExpiredError
	if !errors.As(reason, &ce) || ce.After != after || ce.Trimmed != trimmed {
		t.Fatalf("reason = %v, want entries %d to %d trimmed (a *graph.CursorExpiredError)", reason, after+1, trimmed)
	}
}

// The reviewer's case: a subscriber catching up through 2500 entries (25
// transactions of 100) after 5, with a buffer of 10, has read 20 of them
// when the retention trims the first 15 transactions (entries 1 to 1500).
// Its first page from the store (entries 6 to 1005) was read before the
// trim and is sent whole; the next read would start at 1501, so the
// subscription ends with entries 1006 to 1500 reported trimmed instead of
// jumping from 1005 to 1501.
func TestCatchUpEndsWhenUnsentEntriesTrimmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		for tx := 0; tx < 25; tx++ {
			var es []graph.FeedEntry
			for i := 0; i < 100; i++ {
				es = append(es, added(fmt.Sprintf("p%d", tx), fmt.Sprintf("e%d-%d", tx, i)))
			}
			appendEntries(t, s, es...)
		}
		h := newHub(t, s, feedhub.Config{Buffer: 10})
		sub, err := h.Subscribe("k", 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		want := uint64(6)
		for ; want <= 25; want++ {
			if e := next(t, sub); e.Seq != want {
				t.Fatalf("entry = %d, want %d", e.Seq, want)
			}
		}
		trim(t, s, 15, 1500, 1500)
		for ; want <= 1005; want++ {
			if e := next(t, sub); e.Seq != want {
				t.Fatalf("entry = %d, want %d", e.Seq, want)
			}
		}
		wantExpired(t, ended(t, sub), 1005, 1500)
		if st := h.Stats(); st.Active != 0 {
			t.Fatalf("active = %d after the subscription ended, want 0", st.Active)
		}
	})
}

// A subscriber the tailer feeds, after 3, whose next entry (4) is trimmed
// before the tailer reads it ends with entry 4 reported trimmed, and is
// sent nothing: not 5 and 6 after a gap. Another one, after 5, loses
// nothing it was to be sent and gets 6.
func TestLiveSubscriberEndsWhenUnsentEntriesTrimmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		for i := 1; i <= 3; i++ {
			appendEntries(t, s, added(fmt.Sprintf("p%d", i), fmt.Sprintf("e%d", i)))
		}
		// The tailer reads only when woken.
		h := newHub(t, s, feedhub.Config{Poll: time.Hour})
		sub, err := h.Subscribe("k", 3, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		waitFor(t, func() bool { return h.Registered() == 1 })
		for i := 4; i <= 6; i++ {
			appendEntries(t, s, added(fmt.Sprintf("p%d", i), fmt.Sprintf("e%d", i)))
		}
		ahead, err := h.Subscribe("k", 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ahead.Close()
		waitFor(t, func() bool { return h.Registered() == 2 })
		trim(t, s, 4, 4, 4)
		h.Wake()
		wantExpired(t, ended(t, sub), 3, 4)
		if e := next(t, ahead); e.Seq != 6 || e.EventID != "e6" {
			t.Fatalf("the subscriber after 5: entry %d %s, want 6 e6", e.Seq, e.EventID)
		}
	})
}

// Cursor 0 is no exception to the retention: once entry 1 is trimmed, a
// subscription resuming after 0 would miss it, so CheckResume refuses it
// and a subscription after 0 ends rather than start at entry 2.
func TestResumeAfterZeroExpiresOnceTrimmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		appendEntries(t, s, added("p1", "e1"))
		appendEntries(t, s, added("p2", "e2"))
		h := newHub(t, s, feedhub.Config{})
		ctx := context.Background()
		if err := h.CheckResume(ctx, 0); err != nil {
			t.Fatalf("CheckResume(0) before any trim: %v, want nil", err)
		}
		trim(t, s, 1, 1, 1)
		wantExpired(t, h.CheckResume(ctx, 0), 0, 1)
		if err := h.CheckResume(ctx, 1); err != nil {
			t.Fatalf("CheckResume(1): %v, want nil", err)
		}
		sub, err := h.Subscribe("k", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		wantExpired(t, ended(t, sub), 0, 1)
	})
}
