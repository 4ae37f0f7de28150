package resolver

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestIngestMessageIDs: through the ingest mutation wired to the collector
// as cdp serve does, a message id is scoped by the mutation's source: a
// replay is a duplicate, the same id with other content is rejected as
// duplicate_conflict, and Event.messageId shows the id as sent (the bare
// id for an event stored before ids were scoped).
func TestIngestMessageIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		eng := graph.NewEngine(s, nil)
		coll := ingest.New(eng, ingest.Config{Logger: zerolog.Nop()})
		t.Cleanup(func() {
			if err := coll.Close(context.Background()); err != nil {
				t.Error(err)
			}
		})
		cfg := testConfig()
		cfg.Parse = coll.Parse
		e := newEnv(t, s, cfg, coll)
		msg := map[string]any{"type": "track", "messageId": "m-1", "userId": "mu", "event": "Paid", "timestamp": "2024-05-01T10:00:00Z"}
		other := map[string]any{"type": "track", "messageId": "m-1", "userId": "mu", "event": "Refunded", "timestamp": "2024-05-01T10:00:00Z"}
		var out ingestResult
		e.query(ingestMutation, map[string]any{"events": []map[string]any{msg}}, &out)
		if r := out.Ingest.Results[0]; r.Status != "STORED" || r.MessageID == nil || *r.MessageID != "m-1" {
			t.Fatalf("first: %+v", out.Ingest)
		}
		e.query(ingestMutation, map[string]any{"events": []map[string]any{msg, other}}, &out)
		if r := out.Ingest.Results; r[0].Status != "DUPLICATE" || r[1].Status != "REJECTED" || r[1].Reason == nil ||
			!strings.Contains(*r[1].Reason, "events[1]: duplicate_conflict") || out.Ingest.Rejected != 1 || out.Ingest.Duplicates != 1 {
			t.Fatalf("replay and reuse: %+v", out.Ingest)
		}

		// An event stored before ids were scoped by source (and newer).
		legacy := ev("legacy-1", t0, "track", "user_id:mu")
		if _, err := eng.ApplyBatch(context.Background(), []graph.Event{legacy}); err != nil {
			t.Fatal(err)
		}
		var p struct {
			P struct {
				Journey struct {
					Nodes []struct{ ID, MessageID, Name string }
				}
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "mu") { journey { nodes { id messageId name } } } }`, nil, &p)
		n := p.P.Journey.Nodes
		if len(n) != 2 || n[1].ID != DefaultIngestSource+"/m-1" || n[1].MessageID != "m-1" || n[1].Name != "Paid" ||
			n[0].ID != "legacy-1" || n[0].MessageID != "legacy-1" {
			t.Fatalf("journey %+v", n)
		}
	})
}
