package ingest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestMessageIDsAreScopedBySource: over HTTP on both stores, event identity
// is (source, messageId). Another source reusing a message id stores its
// own event; the same source resending it is a duplicate when the content
// is the same and a duplicate_conflict, reported per item and counted,
// when it differs.
func TestMessageIDsAreScopedBySource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		msgA := map[string]any{"type": "track", "messageId": "x", "userId": "u-a", "event": "Order Completed",
			"properties": map[string]any{"total": 10}, "timestamp": iso(time.Now().Add(-time.Minute))}
		msgB := map[string]any{"type": "track", "messageId": "x", "userId": "u-b", "event": "Signed Up",
			"timestamp": iso(time.Now().Add(-2 * time.Minute))}
		batch := func(msgs ...any) map[string]any {
			return map[string]any{"batch": msgs, "sentAt": iso(time.Now())}
		}

		// Source A (node) sends "x"; source B (crm) sends "x" with other
		// content: both are stored.
		if r := h.sdkPost(t, "/v1/batch", "wk-node", batch(msgA)); r.status != http.StatusOK || r.body.Stored != 1 {
			t.Fatalf("source A: %d %s", r.status, r.raw)
		}
		if r := h.sdkPost(t, "/v1/batch", "wk-crm", batch(msgB)); r.status != http.StatusOK || r.body.Stored != 1 || r.body.Duplicates != 0 {
			t.Fatalf("source B reusing A's message id: %d %s; want stored:1", r.status, r.raw)
		}
		evs := stored(t, h.eng, "node/x", "crm/x")
		if a, b := evs["node/x"], evs["crm/x"]; a.Name != "Order Completed" || a.Source != "node" || a.MessageID != "x" ||
			b.Name != "Signed Up" || b.Source != "crm" || b.MessageID != "x" {
			t.Fatalf("stored events: %+v", evs)
		}
		if j := h.journey(t, h.profile(t, graph.TypeUserID, "u-b").ID); len(j) != 1 || j[0].Name != "Signed Up" {
			t.Fatalf("B's person's journey: %+v", j)
		}

		// Source A resends "x" as it was (a retry: new sentAt): duplicate.
		if r := h.sdkPost(t, "/v1/batch", "wk-node", batch(msgA)); r.status != http.StatusOK || r.body.Stored != 0 || r.body.Duplicates != 1 || len(r.body.Errors) != 0 {
			t.Fatalf("source A's retry: %d %s; want duplicates:1", r.status, r.raw)
		}

		// Source A sends "x" with other content: duplicate_conflict, per
		// item, nothing changed.
		changed := map[string]any{"type": "track", "messageId": "x", "userId": "u-a", "anonymousId": "anon-z", "event": "Order Refunded"}
		r := h.sdkPost(t, "/v1/batch", "wk-node", batch(map[string]any{"type": "track", "messageId": "y", "userId": "u-a", "event": "e"}, changed))
		if r.status != http.StatusOK || r.body.Stored != 1 || r.body.Duplicates != 0 || r.body.Rejected != 1 ||
			len(r.body.Errors) != 1 || r.body.Errors[0].Index != 1 || !strings.Contains(r.body.Errors[0].Reason, "duplicate_conflict") {
			t.Fatalf("source A reusing its id for other content: %d %s", r.status, r.raw)
		}
		if got := h.metric(t, "cdp_ingest_events_duplicate_conflict_total"); got != 1 {
			t.Errorf("duplicate_conflict metric %v, want 1", got)
		}
		if got := stored(t, h.eng, "node/x")["node/x"]; got.Name != "Order Completed" {
			t.Errorf("the conflicting message changed the stored event: %+v", got)
		}
		if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "anon-z"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("the conflicting message's identifier was stored: %v", err)
		}

		// The single-message endpoint answers 409 naming the problem.
		single := map[string]any{"messageId": "x", "userId": "u-a", "event": "Order Refunded"}
		if r := h.sdkPost(t, "/v1/track", "wk-node", single); r.status != http.StatusConflict || r.body.Success || !strings.Contains(r.body.Error, "duplicate_conflict") {
			t.Fatalf("single message: %d %s; want 409 duplicate_conflict", r.status, r.raw)
		}

		// Within one batch: the same id twice with other content is a
		// conflict, a third time as the first a duplicate.
		z1 := map[string]any{"type": "track", "messageId": "z", "userId": "u-a", "event": "One"}
		z2 := map[string]any{"type": "track", "messageId": "z", "userId": "u-a", "event": "Two"}
		r = h.sdkPost(t, "/v1/batch", "wk-node", batch(z1, z2, z1))
		if r.status != http.StatusOK || r.body.Stored != 1 || r.body.Duplicates != 1 || r.body.Rejected != 1 ||
			len(r.body.Errors) != 1 || r.body.Errors[0].Index != 1 || !strings.Contains(r.body.Errors[0].Reason, "duplicate_conflict") {
			t.Fatalf("one batch with z twice: %d %s", r.status, r.raw)
		}
		if got := h.metric(t, "cdp_ingest_events_duplicate_conflict_total"); got != 3 {
			t.Errorf("duplicate_conflict metric %v, want 3", got)
		}
		if got := h.metric(t, "cdp_ingest_events_duplicate_total"); got != 2 {
			t.Errorf("duplicate metric %v, want 2", got)
		}
		if strings.Contains(r.raw, "u-a") {
			t.Error("the answer echoes an identifier value")
		}
	})
}
