package resolver

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

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
		cfg.Parse = ingest.ParseMessage
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

// TestIngestInlineNumbers: numbers written in the ingest mutation's
// document, not in variables, are read as the text written, as the
// collector and the variables read them: a device id 1.50 written inline
// is the device id "1.50", and the same message sent once inline and once
// through variables is one event (the second a duplicate, not a
// duplicate_conflict), with a messageId or derived from the content.
func TestIngestInlineNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.Parse = ingest.ParseMessage
		e := newEnv(t, s, cfg, nil)
		inline := `mutation { ingest(events: [
  {type: "track", messageId: "in-1", userId: "iu", event: "Paid", properties: {total: 1.50, n: 1e3, x: 0.10000000000000000555, list: [2.0, -0E+0]}, context: {device: {id: 1.50}}},
  {type: "track", userId: "iu", event: "Paid", properties: {total: 19.90}, timestamp: "2024-05-01T10:00:00Z"}
]) { accepted rejected duplicates results { index messageId status reason profileId } } }`
		var out ingestResult
		e.query(inline, nil, &out)
		if r := out.Ingest; r.Accepted != 2 || r.Rejected != 0 || r.Duplicates != 0 {
			t.Fatalf("inline: %+v", r)
		}
		vars := []map[string]any{
			{"type": "track", "messageId": "in-1", "userId": "iu", "event": "Paid",
				"properties": json.RawMessage(`{"total": 1.50, "n": 1e3, "x": 0.10000000000000000555, "list": [2.0, -0E+0]}`),
				"context":    json.RawMessage(`{"device": {"id": 1.50}}`)},
			{"type": "track", "userId": "iu", "event": "Paid", "properties": json.RawMessage(`{"total": 19.90}`), "timestamp": "2024-05-01T10:00:00Z"},
		}
		e.query(ingestMutation, map[string]any{"events": vars}, &out)
		if r := out.Ingest; r.Accepted != 2 || r.Duplicates != 2 {
			t.Fatalf("the same messages through variables: %+v, want both duplicates", r)
		}
		var p struct {
			P struct {
				Identifiers []struct{ Key string }
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "iu") { identifiers { key } } }`, nil, &p)
		var keys []string
		for _, id := range p.P.Identifiers {
			keys = append(keys, id.Key)
		}
		slices.Sort(keys)
		if want := []string{"device_id:1.50", "user_id:iu"}; !slices.Equal(keys, want) {
			t.Fatalf("identifiers %v, want %v", keys, want)
		}
	})
}

// TestIngestInlineNumberOutOfRange: a number written in the document that
// a document's numbers cannot hold (beyond int64 for an integer, beyond
// float64) is refused with a message naming where it is, never the
// number, and pointing to the variables, which take it.
func TestIngestInlineNumberOutOfRange(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	for _, lit := range []string{"4111111111111111e999", "41111111111111111111"} {
		q := `mutation { ingest(events: [{type: "track", userId: "ou", event: "e",
  properties: {card: ` + lit + `}}]) { accepted } }`
		r := e.refused(q, nil, "GRAPHQL_VALIDATION_FAILED", "line 2, column 22", "variables")
		if strings.Contains(string(mustJSON(t, r.Errors)), "41111111") {
			t.Errorf("the refusal of %s repeats the number: %+v", lit, r.Errors)
		}
	}
}
