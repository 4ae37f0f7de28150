package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/resolver"
)

// appendNow commits entries in one transaction, stamped now (the service's own retention, 7 days, keeps them).
func appendNow(t *testing.T, st graph.Store, entries ...graph.FeedEntry) {
	t.Helper()
	for i := range entries {
		entries[i].At = time.Now().UTC()
	}
	if err := st.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		return graph.AppendFeed(ctx, tx, entries)
	}); err != nil {
		t.Fatal(err)
	}
}

// trimOldest trims the oldest txs transactions of st's feed and returns
// the store's trimmed mark, checking they held want entries.
func trimOldest(t *testing.T, st graph.Store, txs, want int) uint64 {
	t.Helper()
	fs := st.(graph.FeedStore)
	if n, err := fs.TrimFeed(context.Background(), time.Now().Add(time.Hour), txs); err != nil || n != want {
		t.Fatalf("TrimFeed(%d transactions) = %d, %v; want %d entries", txs, n, err, want)
	}
	tr, err := fs.FeedTrimmed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// endedWith reads the next message of subscription id, which must end it
// with an error, and returns the error; a change instead fails the test at
// once (subError would wait for the complete that follows an error).
func (w *wsClient) endedWith(id string) gqlError {
	w.t.Helper()
	if q := w.pending[id]; len(q) > 0 && q[0].Type == "next" && !strings.Contains(string(q[0].Payload), `"errors"`) {
		w.t.Fatalf("got the change %s on %s, want the subscription ended with an error", q[0].Payload, id)
	}
	if len(w.pending[id]) == 0 {
		m, code, reason := w.readFor(id)
		if m.Type == "next" && !strings.Contains(string(m.Payload), `"errors"`) {
			w.t.Fatalf("got the change %s on %s, want the subscription ended with an error", m.Payload, id)
		}
		if code != 0 {
			w.t.Fatalf("connection closed (%d %s), want an error on %s", code, reason, id)
		}
		w.pending[id] = append([]wsMsg{m}, w.pending[id]...)
	}
	return w.subError(id)
}

// feedHead is the Seq of st's newest feed entry.
func feedHead(t *testing.T, st graph.Store) uint64 {
	t.Helper()
	h, err := st.(graph.FeedStore).FeedHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A subscriber whose next changes are trimmed before the server sends
// them ends with CURSOR_EXPIRED and the oldest cursor that resumes, as
// changes(after:) is refused, instead of skipping them, on both stores:
// subscribed at the head h, it misses h+1 and h+2 (trimmed, with the feed's
// older entries) and is not sent h+3.
func TestSubscriptionEndsWhenUnsentChangesTrimmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		// The hub reads the feed only when woken: the changes below are
		// committed behind the service's back.
		svc, dial := startSubs(t, st, app.FeedConfig{Poll: time.Hour}, nil)
		h := feedHead(t, st)
		if h != 0 {
			t.Fatalf("the feed of a new store holds %d entries, want none", h)
		}
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("c", `subscription { changes { `+changeFields+` } }`)
		waitActive(t, svc, 1)
		for i := 1; i <= 3; i++ {
			appendNow(t, st, graph.FeedEntry{Kind: graph.FeedTraitsChanged, ProfileID: fmt.Sprintf("p_%d", i)})
		}
		if tr := trimOldest(t, st, 2, 2); tr != h+2 {
			t.Fatalf("trimmed mark %d, want %d", tr, h+2)
		}
		svc.Feed.Wake()
		e := w.endedWith("c")
		if e.Extensions["code"] != "CURSOR_EXPIRED" || e.Extensions["cursor"] != resolver.FeedCursor(h+2) ||
			!strings.Contains(e.Message, fmt.Sprintf("entries %d to %d were trimmed", h+1, h+2)) {
			t.Fatalf("after its next changes were trimmed: %+v, want CURSOR_EXPIRED naming entries %d to %d and the cursor of %d", e, h+1, h+2, h+2)
		}
		waitActive(t, svc, 0)
	})
}

// The cursor of Seq 0, which a subscriber that ends before any change on
// an empty feed is given, expires like any other, on both stores: once
// entry 1 is trimmed, changes(after:) with it is refused with
// CURSOR_EXPIRED naming after and entry 1's cursor, rather than starting
// at entry 2.
func TestZeroCursorExpiresOnceTrimmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		if h := feedHead(t, st); h != 0 {
			t.Fatalf("the feed of a new store holds %d entries, want none", h)
		}
		appendNow(t, st, graph.FeedEntry{Kind: graph.FeedTraitsChanged, ProfileID: "p_1"})
		appendNow(t, st, graph.FeedEntry{Kind: graph.FeedTraitsChanged, ProfileID: "p_2"})
		if tr := trimOldest(t, st, 1, 1); tr != 1 {
			t.Fatalf("trimmed mark %d, want 1", tr)
		}
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("z", fmt.Sprintf(`subscription { changes(after: %q) { %s } }`, resolver.FeedCursor(0), changeFields))
		e := w.endedWith("z")
		if e.Extensions["code"] != "CURSOR_EXPIRED" || e.Extensions["cursor"] != resolver.FeedCursor(1) || !strings.Contains(e.Message, `"after"`) {
			t.Fatalf("resume after 0 once entry 1 is trimmed: %+v, want CURSOR_EXPIRED naming after with entry 1's cursor", e)
		}
		w.subscribe("ok", fmt.Sprintf(`subscription { changes(after: %q) { %s } }`, resolver.FeedCursor(1), changeFields))
		if c := w.nextChange("ok", "changes"); c.Cursor != resolver.FeedCursor(2) || c.ProfileID == nil || *c.ProfileID != "p_2" {
			t.Fatalf("resume from the oldest cursor: %+v, want entry 2 of p_2", c)
		}
	})
}
