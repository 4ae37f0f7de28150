package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
)

// A websocket outlives the HTTP server's read and write timeouts, which
// bound requests, not connections: a subscription opened after both have
// passed still receives its changes. The embedded store only: the
// deadlines are the HTTP server's, whatever the store.
func TestWebsocketOutlivesServerTimeouts(t *testing.T) {
	engine, hub, h := openWSHandler(t)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send, recv := dialGraphQLWS(t, ctx, srv.URL)
	time.Sleep(600 * time.Millisecond) // past both timeouts, three times over
	send(`{"type":"subscribe","id":"1","payload":{"query":"subscription { changes { eventId } }"}}`)
	for hub.Stats().Active != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	at := time.Now()
	if _, err := engine.ApplyBatch(ctx, []graph.Event{{ID: "late", Type: "track", Name: "Viewed", Timestamp: at, ReceivedAt: at, Source: "test",
		Identifiers: []graph.IdentifierRef{{Type: "anonymous_id", Value: "anon-late"}}}}); err != nil {
		t.Fatal(err)
	}
	hub.Wake()
	m := recv()
	if b, _ := json.Marshal(m); m["type"] != "next" || !strings.Contains(string(b), `"eventId":"late"`) {
		t.Fatalf("got %s, want the change of event late", b)
	}
}

// An operation over a websocket batches the reads of its lists as the
// same operation over HTTP does: the identifiers of a 30-event journey
// page come with the profile's members, not one read per event (the
// websocket's operations got no request loaders, so every item read on
// its own).
func TestWebsocketAnswersBatchTheirReads(t *testing.T) {
	st := storetest.OpenEmbedded(t)
	cs := newCountingStore(st)
	engine, _, h := openWSHandlerOn(t, cs, st.(graph.FeedStore))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, engine: engine, srv: srv, logs: &testlog.Buffer{}}
	var evs []graph.Event
	for i := range 30 {
		evs = append(evs, ev(fmt.Sprintf("j%02d", i), t0.Add(time.Duration(i)*time.Minute), "track", "user_id:u-ws", fmt.Sprintf("anonymous_id:a%02d", i)))
	}
	e.apply(evs...)
	const q = `query { profileByIdentifier(type: \"user_id\", value: \"u-ws\") { journey(first: 30) { edges { node { identifiers { key firstSeen } } } } } }`

	cs.reset()
	var out struct{}
	e.query(strings.ReplaceAll(q, `\"`, `"`), nil, &out)
	_, overHTTP := cs.reset()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send, recv := dialGraphQLWS(t, ctx, srv.URL)
	cs.reset()
	send(`{"type":"subscribe","id":"q","payload":{"query":"` + q + `"}}`)
	m := recv()
	if b, _ := json.Marshal(m); m["type"] != "next" || strings.Count(string(b), `"key":"user_id:u-ws"`) != 30 {
		t.Fatalf("got %s, want the 30 events with their identifiers", b)
	}
	recv() // complete
	_, overWS := cs.reset()
	if total(overHTTP) > 4 || total(overWS) != total(overHTTP) || overWS["Identifiers"] > 1 {
		t.Errorf("reads for a 30-event page with its identifiers: %s over HTTP, %s over a websocket; want the same few reads",
			describe(overHTTP), describe(overWS))
	}
}

// openWSHandler is the GraphQL handler, in open mode, of an embedded
// store with its feed hub, for the WebSocket tests.
func openWSHandler(t *testing.T) (*graph.Engine, *feedhub.Hub, http.Handler) {
	s := storetest.OpenEmbedded(t)
	return openWSHandlerOn(t, s, s.(graph.FeedStore))
}

// openWSHandlerOn is openWSHandler on s (an embedded store or a wrapper of
// one) and its feed.
func openWSHandlerOn(t *testing.T, s graph.Store, feed graph.FeedStore) (*graph.Engine, *feedhub.Hub, http.Handler) {
	engine := graph.NewEngine(s, nil)
	hub := feedhub.New(feedhub.Config{Feed: feed, Poll: 10 * time.Millisecond})
	hub.Start(context.Background())
	t.Cleanup(hub.Close)
	cfg := testConfig()
	cfg.Keys, cfg.Feed = accessStore(s), hub
	return engine, hub, asOpen(NewHandler(engine, nil, cfg))
}

// dialGraphQLWS opens a graphql-transport-ws connection to the server at
// base, sends connection_init and checks the ack; send writes a message,
// recv reads one. The connection closes with the test.
func dialGraphQLWS(t *testing.T, ctx context.Context, base string) (send func(string), recv func() map[string]any) {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	send = func(v string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	recv = func() map[string]any {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(`{"type":"connection_init"}`)
	if m := recv(); m["type"] != "connection_ack" {
		t.Fatalf("got %v, want connection_ack", m)
	}
	return send, recv
}

// withoutPings is recv without the server's own pings, which come
// whenever the ping interval passes.
func withoutPings(recv func() map[string]any) func() map[string]any {
	return func() map[string]any {
		for {
			if m := recv(); m["type"] != "ping" {
				return m
			}
		}
	}
}

// An unpaired surrogate escape is refused over the websocket as over HTTP
// (BAD_REQUEST), in the document's string literals and in the JSON of the
// variables alike: both decoders turn every such escape into U+FFFD, so
// user_id "\ud800x" and "\udbffx" would become one identifier, one
// profile. An operation without one, on the same connection, still runs.
func TestWebsocketRefusesLoneSurrogates(t *testing.T) {
	engine, _, h := openWSHandler(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send, recv := dialGraphQLWS(t, ctx, srv.URL)
	inDocument := `mutation { ingest(events: [{type: \"identify\", messageId: \"m1\", userId: \"\\ud800x\"}, {type: \"identify\", messageId: \"m2\", userId: \"\\udbffx\"}]) { accepted } }`
	inVariables := `mutation($u: String!, $v: String!) { ingest(events: [{type: \"identify\", messageId: \"m3\", userId: $u}, {type: \"identify\", messageId: \"m4\", userId: $v}]) { accepted } }`
	for i, payload := range []string{
		`{"query":"` + inDocument + `"}`,
		`{"query":"` + inVariables + `","variables":{"u":"\ud800x","v":"\udbffx"}}`,
		`{"query":"query { profiles(first: 1) { nodes { id } } }","variables":{"x":"\udc00"}}`,
	} {
		send(fmt.Sprintf(`{"type":"subscribe","id":"%d","payload":%s}`, i, payload))
		m := recv()
		b, _ := json.Marshal(m)
		if !strings.Contains(string(b), `"code":"BAD_REQUEST"`) || strings.Contains(string(b), `"accepted"`) {
			t.Errorf("operation %d: got %s, want BAD_REQUEST", i, b)
		}
		if m["type"] == "next" {
			recv() // complete
		}
	}
	ref := graph.IdentifierRef{Type: "user_id", Value: "\ufffdx"}
	if ps, _, err := engine.LookupProfiles(ctx, []graph.IdentifierRef{ref}); err != nil {
		t.Fatal(err)
	} else if p, ok := ps[ref]; ok {
		t.Errorf("user_id \"\\ud800x\" and \"\\udbffx\" were stored as one identifier \"\ufffdx\" (profile %s)", p.ID)
	}
	// A paired escape (U+1F600) is no refusal, and the connection serves on.
	send(`{"type":"subscribe","id":"ok","payload":{"query":"mutation($u: String!) { ingest(events: [{type: \"identify\", messageId: \"m5\", userId: $u}]) { accepted } }","variables":{"u":"\ud83d\ude00x"}}}`)
	if b, _ := json.Marshal(recv()); !strings.Contains(string(b), `"accepted":1`) {
		t.Errorf("an operation without an unpaired escape: got %s, want accepted 1", b)
	}
}
