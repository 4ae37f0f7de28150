package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// A key that expires ends its subscriptions when it expires, not at the
// next recheck of the key: a change committed after the expiry is never
// sent to it, on both stores. The recheck here is an hour away, so only
// the expiry itself can end the subscription.
func TestExpiredKeyEndsSubscriptionsAtExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		now := time.Now()
		k, secret, err := access.NewKey("expiring", []string{"profiles:read"}, "", now.Add(3*time.Second), now)
		storetest.Must(t, err)
		storetest.Must(t, st.(access.Store).CreateKey(context.Background(), k))
		_, writer := addKey(t, st, "events:write")
		svc, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.GraphQL.KeyRecheck = time.Hour })
		w, _ := dialWS(t, dial, nil)
		w.mustInit(map[string]any{"Authorization": "Bearer " + secret})
		w.subscribe("x", `subscription { changes { eventId } }`)
		waitActive(t, svc, 1)
		time.Sleep(time.Until(k.ExpiresAt) + 100*time.Millisecond)
		if code, b := post(t, "http://"+dial+"/v1/track", writer, `{"messageId":"after-expiry","anonymousId":"anon-x","event":"Viewed"}`); code != http.StatusOK {
			t.Fatalf("track: %d %s", code, b)
		}
		if e := w.subError("x"); e.Extensions["code"] != "UNAUTHENTICATED" || !strings.Contains(e.Message, "expired") {
			t.Fatalf("after the key expired: %+v, want UNAUTHENTICATED saying it expired", e)
		}
	})
}
