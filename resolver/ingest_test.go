package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

const ingestMutation = `mutation($events: [EventInput!]!) {
  ingest(events: $events) { accepted rejected duplicates results { index messageId status reason profileId } }
}`

type ingestResult struct {
	Ingest struct {
		Accepted, Rejected, Duplicates int
		Results                        []struct {
			Index     int
			MessageID *string
			Status    string
			Reason    *string
			ProfileID *string
		}
	}
}

func TestIngestMutation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		batch := []map[string]any{
			{"type": "identify", "messageId": "i1", "userId": "cu1", "traits": map[string]any{"email": "Carol@Example.com", "name": "Carol"},
				"timestamp": "2024-05-01T10:00:00Z", "context": map[string]any{"channel": "web"}},
			{"type": "track", "messageId": "t1", "anonymousId": "anon-c", "event": "Order Completed", "properties": map[string]any{"total": 42.5},
				"context": map[string]any{"traits": map[string]any{"email": "carol@example.com"}, "device": map[string]any{"id": "dev-c"}}},
			{"type": "track", "messageId": "bad1", "event": "No One"},
			{"type": "track", "messageId": "bad2", "userId": "cu1", "properties": []any{1, 2}},
			{"type": "launch", "messageId": "bad3", "userId": "cu1"},
		}
		var out ingestResult
		e.query(ingestMutation, map[string]any{"events": batch}, &out)
		r := out.Ingest
		if r.Accepted != 2 || r.Rejected != 3 || r.Duplicates != 0 || len(r.Results) != 5 {
			t.Fatalf("ingest: %+v", r)
		}
		for i, want := range []string{"STORED", "STORED", "REJECTED", "REJECTED", "REJECTED"} {
			res := r.Results[i]
			if res.Index != i || res.Status != want {
				t.Errorf("result %d: %+v, want %s", i, res, want)
			}
			if want == "REJECTED" && (res.Reason == nil || !strings.Contains(*res.Reason, "events[")) {
				t.Errorf("result %d: reason %v should name the message", i, res.Reason)
			}
			if want == "STORED" && (res.ProfileID == nil || res.MessageID == nil) {
				t.Errorf("result %d: %+v lacks profile or message id", i, res)
			}
		}
		// The type is named, not repeated, as the collector does: a value
		// in the wrong field may be personal data.
		if !strings.Contains(*r.Results[2].Reason, "identifier") || !strings.Contains(*r.Results[3].Reason, "properties") ||
			!strings.Contains(*r.Results[4].Reason, "type is not one of") || strings.Contains(*r.Results[4].Reason, "launch") {
			t.Errorf("reasons: %q %q %q", *r.Results[2].Reason, *r.Results[3].Reason, *r.Results[4].Reason)
		}

		// Both stored messages joined one profile through the email.
		var p struct {
			P struct {
				Identifiers []struct{ Key string }
				Traits      map[string]any
				Journey     struct {
					Nodes []struct {
						ID, Type   string
						MessageID  string
						Name       *string
						Channel    *string
						Source     *string
						Timestamp  time.Time
						Properties map[string]any
					}
				}
			} `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "device_id", value: "dev-c") { identifiers { key } traits journey { nodes { id messageId type name channel source timestamp properties } } } }`, nil, &p)
		if len(p.P.Identifiers) != 4 || p.P.Traits["name"] != "Carol" {
			t.Fatalf("ingested profile %+v", p.P)
		}
		if n := p.P.Journey.Nodes; len(n) != 2 || n[0].ID != DefaultIngestSource+"/t1" || n[0].MessageID != "t1" || *n[0].Name != "Order Completed" || *n[0].Source != DefaultIngestSource ||
			n[0].Properties["total"] != 42.5 || n[1].ID != DefaultIngestSource+"/i1" || *n[1].Channel != "web" || !n[1].Timestamp.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
			t.Fatalf("ingested journey %+v", n)
		}

		// A replay changes nothing.
		e.query(ingestMutation, map[string]any{"events": batch[:2]}, &out)
		if out.Ingest.Accepted != 2 || out.Ingest.Duplicates != 2 || out.Ingest.Results[0].Status != "DUPLICATE" {
			t.Fatalf("replay: %+v", out.Ingest)
		}

		// A message with no messageId gets a stable one.
		noID := []map[string]any{{"type": "track", "userId": "cu9", "event": "x", "timestamp": "2024-05-01T10:00:00Z"}}
		e.query(ingestMutation, map[string]any{"events": noID}, &out)
		first := *out.Ingest.Results[0].MessageID
		e.query(ingestMutation, map[string]any{"events": noID}, &out)
		if *out.Ingest.Results[0].MessageID != first || out.Ingest.Results[0].Status != "DUPLICATE" {
			t.Fatalf("derived message id not stable: %s then %+v", first, out.Ingest.Results[0])
		}

		e.refused(ingestMutation, map[string]any{"events": []map[string]any{{"type": "track", "userId": "x", "timestamp": "not a time"}}}, CodeInvalidArgument, "timestamp")
		many := make([]map[string]any, MaxIngestEvents+1)
		for i := range many {
			many[i] = map[string]any{"type": "track", "userId": "x"}
		}
		e.refused(ingestMutation, map[string]any{"events": many}, CodeInvalidArgument, `"events"`, "1000")
	})
}

// countingIngester records what it is given and stores it with the engine.
type countingIngester struct {
	e     *graph.Engine
	calls atomic.Int32
	err   error
}

func (c *countingIngester) Submit(ctx context.Context, evs []graph.Event) ([]graph.EventResult, error) {
	c.calls.Add(1)
	if c.err != nil {
		return nil, c.err
	}
	return engineIngester{c.e}.Submit(ctx, evs)
}

func TestIngestUsesParserAndIngester(t *testing.T) {
	s := storetest.Embedded(t)
	var parsed []map[string]any
	cfg := testConfig()
	cfg.IngestSource = "gql-test"
	cfg.Parse = func(raw []byte, env ingest.Envelope) (graph.Event, error) {
		receivedAt, source := env.ReceivedAt, env.Source
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return graph.Event{}, err
		}
		parsed = append(parsed, m)
		if source != "gql-test" || receivedAt.IsZero() {
			return graph.Event{}, errors.New("bad envelope")
		}
		if m["userId"] == "refuse-me" {
			return graph.Event{}, &graph.Error{Code: graph.EINVALID, Message: "userId is refused by the parser"}
		}
		return graph.Event{ID: m["messageId"].(string), Type: m["type"].(string), Source: source,
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: m["userId"].(string)}}}, nil
	}
	ing := &countingIngester{}
	e := newEnv(t, s, cfg, ing)
	ing.e = e.engine

	var out ingestResult
	e.query(ingestMutation, map[string]any{"events": []map[string]any{
		{"type": "track", "messageId": "p1", "userId": "pu", "sentAt": "2024-05-01T10:00:00Z", "context": map[string]any{"ip": "1.2.3.4"}},
		{"type": "track", "messageId": "p2", "userId": "refuse-me"},
	}}, &out)
	if ing.calls.Load() != 1 || len(parsed) != 2 {
		t.Fatalf("ingester called %d times, parser %d times", ing.calls.Load(), len(parsed))
	}
	if parsed[0]["sentAt"] != "2024-05-01T10:00:00Z" || parsed[0]["context"].(map[string]any)["ip"] != "1.2.3.4" || parsed[0]["messageId"] != "p1" {
		t.Fatalf("parser got %v", parsed[0])
	}
	if out.Ingest.Accepted != 1 || out.Ingest.Rejected != 1 || !strings.Contains(*out.Ingest.Results[1].Reason, "refused by the parser") {
		t.Fatalf("ingest with parser: %+v", out.Ingest)
	}

	// A full queue or a store that is down: UNAVAILABLE, retry later.
	for _, err := range []error{errors.New("ingest queue is full"), graph.ErrUnavailable(errors.New("connection refused"))} {
		ing.err = err
		e.refused(ingestMutation, map[string]any{"events": []map[string]any{{"type": "track", "messageId": "p3", "userId": "pu"}}}, CodeUnavailable, "retry")
	}
	if strings.Contains(e.post(ingestMutation, map[string]any{"events": []map[string]any{{"type": "track", "messageId": "p3", "userId": "pu"}}}).Errors[0].Message, "connection refused") {
		t.Fatal("the store's error text reached the client")
	}
}

// A number beyond float64 in the mutation's variables is refused for that event, naming the path; before,
// the engine stored it and every later read of the person failed.
func TestIngestMutationRefusesNumbersBeyondFloat64(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		var out ingestResult
		e.query(ingestMutation, map[string]any{"events": []map[string]any{
			{"type": "track", "messageId": "n1", "userId": "nu1", "event": "Order", "properties": map[string]any{"total": json.Number("1e400")}},
			{"type": "identify", "messageId": "n2", "userId": "nu1", "traits": map[string]any{"score": json.Number("-2e308")}},
			{"type": "track", "messageId": "n3", "userId": "nu1", "event": "Order", "properties": map[string]any{"total": 3}},
		}}, &out)
		r := out.Ingest
		if r.Accepted != 1 || r.Rejected != 2 || len(r.Results) != 3 {
			t.Fatalf("ingest: %+v", r)
		}
		for i, path := range []string{"properties.total", "traits.score"} {
			if res := r.Results[i]; res.Status != "REJECTED" || res.Reason == nil || !strings.Contains(*res.Reason, path) {
				t.Errorf("result %d: %+v, want REJECTED naming %s", i, res, path)
			}
		}
		var p struct {
			P struct{ Traits map[string]any } `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type: "user_id", value: "nu1") { traits } }`, nil, &p)
		if p.P.Traits == nil {
			t.Fatalf("profile: %+v", p)
		}
	})
}

// TestIngestWithoutParserChecksTimes: a handler built without the
// collector's parser converts messages by the collector's rules, its
// time range included: a timestamp before 2000 or more than a day after
// receipt is refused naming the field, never stored.
func TestIngestWithoutParserChecksTimes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		var out ingestResult
		e.query(ingestMutation, map[string]any{"events": []map[string]any{
			{"type": "track", "messageId": "old", "userId": "tu", "event": "e", "timestamp": "1999-12-31T23:59:59Z"},
			{"type": "track", "messageId": "late", "userId": "tu", "event": "e", "timestamp": time.Now().Add(49 * time.Hour).UTC().Format(time.RFC3339)},
			{"type": "track", "messageId": "ok", "userId": "tu", "event": "e", "timestamp": "2024-05-01T10:00:00Z"},
		}}, &out)
		r := out.Ingest
		if r.Accepted != 1 || r.Rejected != 2 {
			t.Fatalf("ingest: %+v, want the two out-of-range times refused", r)
		}
		for i := range 2 {
			if res := r.Results[i]; res.Status != "REJECTED" || res.Reason == nil || !strings.Contains(*res.Reason, "timestamp") {
				t.Errorf("result %d: %+v, want REJECTED naming timestamp", i, res)
			}
		}
	})
}
