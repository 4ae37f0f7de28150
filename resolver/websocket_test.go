package resolver

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/storetest"
)

// A websocket outlives the HTTP server's read and write timeouts, which
// bound requests, not connections: a subscription opened after both have
// passed still receives its changes. The embedded store only: the
// deadlines are the HTTP server's, whatever the store.
func TestWebsocketOutlivesServerTimeouts(t *testing.T) {
	s := storetest.OpenEmbedded(t)
	engine := graph.NewEngine(s, nil)
	hub := feedhub.New(feedhub.Config{Feed: s.(graph.FeedStore), Poll: 10 * time.Millisecond})
	hub.Start(context.Background())
	t.Cleanup(hub.Close)
	cfg := testConfig()
	cfg.Keys, cfg.Feed = accessStore(s), hub
	srv := httptest.NewUnstartedServer(asOpen(NewHandler(engine, nil, cfg)))
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
