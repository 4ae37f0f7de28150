package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/resolver"
)

// A process shutting down ends its subscriptions with an error that says
// so and carries the cursor to resume from on another process, on both
// stores: the cursor of the last change each was sent, or, for one sent
// nothing, that of the head it started from.
func TestShutdownEndsSubscriptionsWithCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		track(t, dial, `{"messageId":"m1","anonymousId":"anon-1","event":"Viewed"}`)
		h := feedHead(t, st)

		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("all", `subscription { changes { `+changeFields+` } }`)
		w.subscribe("none", `subscription { changes(kinds: [CONSENT_CHANGED]) { `+changeFields+` } }`)
		waitActive(t, svc, 2)
		track(t, dial, `{"messageId":"m2","anonymousId":"anon-2","event":"Viewed"}`)
		got := w.nextChange("all", "changes")
		if got.EventID == nil || *got.EventID != "default/m2" || got.Cursor != resolver.FeedCursor(h+1) {
			t.Fatalf("change: %+v, want EVENT_ADDED of default/m2 at cursor %s", got, resolver.FeedCursor(h+1))
		}

		closed := make(chan error, 1)
		go func() { closed <- svc.Close(context.Background()) }()
		for _, c := range []struct{ id, cursor string }{{"all", got.Cursor}, {"none", resolver.FeedCursor(h)}} {
			e := w.endedWith(c.id)
			if e.Extensions["code"] != "UNAVAILABLE" || e.Extensions["cursor"] != c.cursor ||
				!strings.Contains(e.Message, "shutting down") {
				t.Errorf("%s at shutdown: %+v, want UNAVAILABLE saying the server is shutting down, with cursor %s", c.id, e, c.cursor)
			}
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	})
}
