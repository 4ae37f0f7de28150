package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// hookedFeed is a store's feed that runs hook once, on the FeedHead call
// numbered at (counted from arm), before it reads the head: a write made
// there commits at that exact point of a caller's reads.
type hookedFeed struct {
	graph.FeedStore
	mu    sync.Mutex
	calls int
	at    int
	hook  func()
}

func (f *hookedFeed) arm(at int, hook func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.at, f.hook = 0, at, hook
}

func (f *hookedFeed) FeedHead(ctx context.Context) (uint64, error) {
	f.mu.Lock()
	var hook func()
	if f.hook != nil {
		if f.calls++; f.calls == f.at {
			hook, f.hook = f.hook, nil
		}
	}
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	return f.FeedStore.FeedHead(ctx)
}

// A profile merged into another between profileChanged's lookup of it and
// its read of the feed's head is followed into its survivor, on both
// stores: the merge, the survivor's event that made it and its later
// events are reported. (The subscription kept following the merged-away
// id, whose merge it took for one from before it began, and reported
// nothing of the person again.)
func TestProfileChangedFollowsAMergeDuringItsStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		feed := &hookedFeed{FeedStore: s.(graph.FeedStore)}
		engine, hub, h := openWSHandlerOn(t, s, feed)
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		apply := func(e graph.Event) {
			t.Helper()
			if _, err := engine.ApplyBatch(ctx, []graph.Event{e}); err != nil {
				t.Error(err)
			}
		}
		profileOf := func(key string) string {
			t.Helper()
			p, err := engine.ProfileByIdentifier(ctx, graph.SplitKey(key))
			storetest.Must(t, err)
			return p.ID
		}
		apply(ev("x1", t0, "track", "anonymous_id:anon-x"))
		apply(ev("y1", t0, "track", "user_id:u-y", "anonymous_id:anon-y"))
		x, y := profileOf("anonymous_id:anon-x"), profileOf("user_id:u-y")

		// profileChanged reads the head, looks X up, reads the head again:
		// the merge of X into Y (the larger) commits just before that
		// second read.
		feed.arm(2, func() { apply(ev("m", t0.Add(time.Minute), "track", "anonymous_id:anon-x", "user_id:u-y")) })
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		send, recv := dialGraphQLWS(t, wctx, srv.URL)
		recv = withoutPings(recv)
		send(fmt.Sprintf(`{"type":"subscribe","id":"p","payload":{"query":"subscription { profileChanged(id: \"%s\") { kind profileId previousIds eventId } }"}}`, x))
		for deadline := time.Now().Add(10 * time.Second); hub.Stats().Active != 1; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the subscription did not start")
			}
		}
		if got := profileOf("anonymous_id:anon-x"); got != y {
			t.Fatalf("after the merging event anon-x is in %s, want %s", got, y)
		}
		apply(ev("y2", t0.Add(2*time.Minute), "track", "user_id:u-y"))
		hub.Wake()

		// By hand: X merged into Y after the subscription began; then Y's
		// events m and y2.
		names := map[string]string{x: "X", y: "Y"}
		want := []string{"MERGED Y [X] -", "EVENT_ADDED Y [] m", "EVENT_ADDED Y [] y2"}
		for _, w := range want {
			m := recv()
			var c struct {
				Type    string
				Payload struct {
					Data struct {
						C struct {
							Kind, ProfileID string
							PreviousIds     []string
							EventID         *string
						} `json:"profileChanged"`
					}
				}
			}
			b, _ := json.Marshal(m)
			if err := json.Unmarshal(b, &c); err != nil || c.Type != "next" {
				t.Fatalf("got %s, want the change %s", b, w)
			}
			prev := make([]string, len(c.Payload.Data.C.PreviousIds))
			for i, p := range c.Payload.Data.C.PreviousIds {
				prev[i] = names[p]
			}
			ev := "-"
			if c.Payload.Data.C.EventID != nil {
				ev = *c.Payload.Data.C.EventID
			}
			if got := fmt.Sprintf("%s %s [%s] %s", c.Payload.Data.C.Kind, names[c.Payload.Data.C.ProfileID], strings.Join(prev, " "), ev); got != w {
				t.Fatalf("got %s, want %s", got, w)
			}
		}
	})
}
