package resolver

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestIngestNumericIdentifiers: numbers sent as identifiers in the ingest
// mutation's variables are kept as the text sent, as the collector keeps
// them: 1e400 (beyond float64) is the user id "1e400", and a device id
// 1.50 keeps its trailing zero.
func TestIngestNumericIdentifiers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.Parse = func(raw []byte, at time.Time, src string) (graph.Event, error) {
			return ingest.ParseMessage(raw, ingest.Envelope{ReceivedAt: at, Source: src})
		}
		e := newEnv(t, s, cfg, nil)
		var out ingestResult
		e.query(ingestMutation, map[string]any{"events": []map[string]any{
			{"type": "track", "messageId": "num-1", "userId": json.Number("1e400"), "event": "e",
				"context": map[string]any{"device": map[string]any{"id": json.Number("1.50")}}},
		}}, &out)
		if r := out.Ingest; r.Accepted != 1 || r.Rejected != 0 {
			t.Fatalf("ingest: %+v", r)
		}
		var p struct {
			P struct {
				Identifiers []struct{ Key string }
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "1e400") { identifiers { key } } }`, nil, &p)
		var keys []string
		for _, id := range p.P.Identifiers {
			keys = append(keys, id.Key)
		}
		slices.Sort(keys)
		if want := []string{"device_id:1.50", "user_id:1e400"}; !slices.Equal(keys, want) {
			t.Fatalf("identifiers %v, want %v", keys, want)
		}
	})
}
