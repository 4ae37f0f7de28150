package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// TestSegmentSDKEndToEnd sends what the Segment SDKs send, over HTTP, on
// both stores, and reads the result back through the engine.
func TestSegmentSDKEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()

		// analytics-node: {batch, sentAt, context}, gzip, Basic auth. The
		// client's clock runs one hour fast, so timestamps need correcting.
		skew := time.Hour
		clientNow := time.Now().Add(skew)
		batch := map[string]any{
			"sentAt":  iso(clientNow),
			"context": map[string]any{"library": map[string]any{"name": "@segment/analytics-node", "version": "2.1.0"}},
			"batch": []any{
				map[string]any{"type": "identify", "messageId": "node-1", "userId": "u-1", "anonymousId": "anon-1",
					"traits":    map[string]any{"email": " Ada@Example.COM ", "phone": "(415) 555-0100", "plan": "pro"},
					"timestamp": iso(clientNow.Add(-2 * time.Minute))},
				map[string]any{"type": "track", "messageId": "node-2", "userId": "u-1", "event": "Order Completed",
					"properties": map[string]any{"order_id": "o-1", "total": 99.5},
					"timestamp":  iso(clientNow.Add(-time.Minute))},
				map[string]any{"type": "alias", "messageId": "node-3", "userId": "u-1", "previousId": "anon-2",
					"timestamp": iso(clientNow)},
				map[string]any{"type": "page", "messageId": "node-4", "anonymousId": "anon-2", "name": "Pricing",
					"context": map[string]any{"page": map[string]any{"path": "/pricing"}, "userAgent": "Mozilla/5.0"}},
				map[string]any{"type": "group", "messageId": "node-5", "userId": "u-1", "groupId": "acme",
					"traits": map[string]any{"name": "Acme"}},
				map[string]any{"type": "screen", "messageId": "node-6", "anonymousId": "anon-3", "name": "Cart",
					"context": map[string]any{"app": map[string]any{"name": "Shop"}, "device": map[string]any{"id": "dev-1", "type": "ios"},
						"traits": map[string]any{"email": "ada@example.com"}}},
			},
		}
		r := h.sdkPost(t, "/v1/batch", "wk-node", batch)
		if r.status != http.StatusOK || !r.body.Success || r.body.Stored != 6 || r.body.Rejected != 0 {
			t.Fatalf("batch: %d %s", r.status, r.raw)
		}

		// analytics.js 2.0: one message to /v1/t, the key in the body, no
		// Authorization header, text/plain to dodge a CORS preflight.
		ajs, err := json.Marshal(map[string]any{"type": "track", "messageId": "ajs-next-1", "anonymousId": "anon-1",
			"event": "Viewed Product", "writeKey": "wk-js", "sentAt": iso(time.Now()), "timestamp": iso(time.Now()),
			"context": map[string]any{"userAgent": "Mozilla/5.0", "page": map[string]any{"path": "/p/1"}}})
		if err != nil {
			t.Fatal(err)
		}
		r = h.rawPost(t, "/v1/t", ajs, map[string]string{"Content-Type": "text/plain", "Origin": "https://shop.example"})
		if r.status != http.StatusOK || r.body.Stored != 1 || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("analytics.js track: %d %v %s", r.status, r.header, r.raw)
		}

		// Every identifier resolves to one profile: identify linked user,
		// anonymous id, email and phone; alias linked anon-2; the screen's
		// context.traits email linked the device and anon-3.
		p := h.profile(t, graph.TypeUserID, "u-1")
		for _, ref := range []graph.IdentifierRef{
			{Type: graph.TypeAnonymousID, Value: "anon-1"},
			{Type: graph.TypeAnonymousID, Value: "anon-2"},
			{Type: graph.TypeAnonymousID, Value: "anon-3"},
			{Type: graph.TypeEmail, Value: "ada@example.com"},
			{Type: graph.TypePhone, Value: "+14155550100"},
			{Type: graph.TypeDeviceID, Value: "dev-1"},
		} {
			if q := h.profile(t, ref.Type, ref.Value); q.ID != p.ID {
				t.Errorf("%s %s is in profile %s, want %s", ref.Type, ref.Value, q.ID, p.ID)
			}
		}
		members, err := h.eng.Members(ctx, []string{p.ID})
		if err != nil {
			t.Fatal(err)
		}
		traits := graph.FoldTraits(members[p.ID])
		if traits["plan"].Value != "pro" || traits["plan"].Source != "node" {
			t.Errorf("trait plan = %+v, want pro from source node", traits["plan"])
		}
		if _, ok := traits["name"]; ok {
			t.Error("the group's traits must not become the person's")
		}

		evs := h.journey(t, p.ID)
		byID := map[string]graph.Event{}
		for _, e := range evs {
			if e.ID != ingest.EventID(e.Source, e.MessageID) {
				t.Errorf("event id %q, want source %q / message id %q", e.ID, e.Source, e.MessageID)
			}
			byID[e.MessageID] = e
		}
		if len(evs) != 7 {
			t.Fatalf("journey has %d events, want 7: %+v", len(evs), evs)
		}
		order := byID["node-2"]
		if order.Type != "track" || order.Name != "Order Completed" || order.Source != "node" || order.Channel != "server" {
			t.Errorf("order event = %+v", order)
		}
		if total, _ := order.Properties["total"].(float64); total != 99.5 {
			t.Errorf("order total = %#v", order.Properties["total"])
		}
		// Corrected for the hour of skew: about a minute before receipt.
		if age := order.ReceivedAt.Sub(order.Timestamp); age < 55*time.Second || age > 65*time.Second {
			t.Errorf("order timestamp %s is %s before receipt %s; want the client's one minute", order.Timestamp, age, order.ReceivedAt)
		}
		if e := byID["node-4"]; e.Channel != "web" || e.Name != "Pricing" {
			t.Errorf("page event = %+v", e)
		}
		if e := byID["node-6"]; e.Channel != "mobile" || e.Type != "screen" {
			t.Errorf("screen event = %+v", e)
		}
		if e := byID["ajs-next-1"]; e.Source != "web" || e.Channel != "web" {
			t.Errorf("analytics.js event = %+v", e)
		}

		// Idempotency: the SDK retries the same batch (new sentAt); nothing changes.
		batch["sentAt"] = iso(time.Now())
		r = h.sdkPost(t, "/v1/batch", "wk-node", batch)
		if r.status != http.StatusOK || r.body.Stored != 0 || r.body.Duplicates != 6 {
			t.Fatalf("replayed batch: %d %s", r.status, r.raw)
		}
		if again := h.journey(t, p.ID); len(again) != len(evs) {
			t.Fatalf("replay changed the journey: %d events, had %d", len(again), len(evs))
		}
		if q := h.profile(t, graph.TypeUserID, "u-1"); q.Size != p.Size {
			t.Fatalf("replay changed the profile: %+v, was %+v", q, p)
		}
		if got := h.metric(t, "cdp_ingest_events_duplicate_total"); got != 6 {
			t.Errorf("duplicate metric %v, want 6", got)
		}
		if got := h.metric(t, "cdp_ingest_events_stored_total"); got != 7 {
			t.Errorf("stored metric %v, want 7", got)
		}

		// Messages without messageId get one from their content: sending
		// the same message twice stores it once.
		noID := map[string]any{"batch": []any{map[string]any{"type": "track", "userId": "u-1", "event": "Logged In", "timestamp": iso(time.Now().Add(-time.Hour))}}}
		if r := h.sdkPost(t, "/v1/batch", "wk-node", noID); r.body.Stored != 1 {
			t.Fatalf("first message without id: %s", r.raw)
		}
		if r := h.sdkPost(t, "/v1/batch", "wk-node", noID); r.body.Duplicates != 1 {
			t.Fatalf("second message without id: %s", r.raw)
		}

		// Unknown key: 401, nothing stored.
		r = h.sdkPost(t, "/v1/track", "wk-stolen", map[string]any{"userId": "u-9", "event": "x"})
		if r.status != http.StatusUnauthorized || r.body.Success || r.body.Error == "" {
			t.Fatalf("unknown key: %d %s", r.status, r.raw)
		}
		if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "u-9"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Fatalf("a 401 request stored data: %v", err)
		}
	})
}
