package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestLongEventNameRefusedAlike sends event and page names longer than
// either store can index (Neo4j's index on the event name holds about 8 KB
// a key). Each store must answer the same: the long names are refused
// one by one, naming the field and the limit, and the rest of the batch
// (a name of exactly the limit included) is stored. Before, the embedded
// store kept them and Neo4j failed the whole micro-batch with 500.
func TestLongEventNameRefusedAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		atLimit := strings.Repeat("é", 2048) // 4096 bytes
		long := strings.Repeat("n", 9000)
		batch := map[string]any{"batch": []any{
			map[string]any{"type": "track", "messageId": "ok-1", "userId": "u-1", "event": "Signed Up"},
			map[string]any{"type": "track", "messageId": "long-1", "userId": "u-1", "event": long},
			map[string]any{"type": "page", "messageId": "long-2", "userId": "u-1", "name": long},
			map[string]any{"type": "screen", "messageId": "long-3", "userId": "u-1", "name": atLimit + "x"},
			map[string]any{"type": "track", "messageId": "ok-2", "userId": "u-1", "event": atLimit},
		}}
		r := h.sdkPost(t, "/v1/batch", "wk-node", batch)
		if r.status != http.StatusOK || r.body.Stored != 2 || r.body.Rejected != 3 || len(r.body.Errors) != 3 {
			t.Fatalf("batch: %d %s; want 200 with 2 stored and 3 rejected", r.status, r.raw)
		}
		for i, want := range []struct {
			index int
			field string
		}{{1, "event"}, {2, "name"}, {3, "name"}} {
			e := r.body.Errors[i]
			if e.Index != want.index || !strings.HasPrefix(e.Reason, want.field+" is ") || !strings.Contains(e.Reason, "4096") {
				t.Errorf("error %d = %+v; want index %d naming %s and the 4096-byte limit", i, e, want.index, want.field)
			}
			if strings.Contains(e.Reason, "nnnn") || strings.Contains(e.Reason, "éé") {
				t.Errorf("error %d repeats the name: %.80s", i, e.Reason)
			}
		}
		p := h.profile(t, graph.TypeUserID, "u-1")
		names := map[string]bool{}
		for _, ev := range h.journey(t, p.ID) {
			names[ev.Name] = true
		}
		if len(names) != 2 || !names["Signed Up"] || !names[atLimit] {
			t.Errorf("stored events are named %d ways; want Signed Up and the 4096-byte name", len(names))
		}

		// A single message: 400 naming the field, nothing stored.
		one, _ := json.Marshal(map[string]any{"messageId": "long-4", "userId": "u-2", "event": long})
		r = h.rawPost(t, "/v1/track", one, map[string]string{"Authorization": "Basic d2stbm9kZTo="})
		if r.status != http.StatusBadRequest || !strings.HasPrefix(r.body.Error, "event is ") {
			t.Fatalf("single long track: %d %.200s; want 400 naming event", r.status, r.raw)
		}
		if _, err := h.eng.ProfileByIdentifier(context.Background(), graph.IdentifierRef{Type: graph.TypeUserID, Value: "u-2"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("u-2 after a refused message: %v; want not found", err)
		}
	})
}
