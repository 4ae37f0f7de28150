package app_test

import (
	"encoding/json"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// A subscribe under the id of a subscription still running closes the
// connection with 4409, as graphql-transport-ws says: run as a second
// operation, it would leave the first running out of the client's reach,
// holding a slot of the key's --subscriptions-per-key. An id the server
// ended (complete) may be used again.
func TestSubscriptionIDInUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		// A query under id q ends with complete; q then starts a
		// subscription.
		w.subscribe("q", `{ viewer { open } }`)
		if m, code, _ := w.readFor("q"); m.Type != "next" || code != 0 {
			t.Fatalf("query q: %+v (close %d)", m, code)
		}
		if m, code, _ := w.readFor("q"); m.Type != "complete" || code != 0 {
			t.Fatalf("query q ended with %+v (close %d), want complete", m, code)
		}
		w.subscribe("q", `subscription { changes { cursor } }`)
		waitActive(t, svc, 1)
		w.subscribe("q", `subscription { changes { cursor } }`)
		m, code, reason := w.read()
		if code != 4409 {
			t.Fatalf("a second subscribe under a running id: %+v, close %d %q; want close 4409", m, code, reason)
		}
		waitActive(t, svc, 0)
	})
}

// An id the client ended (complete) may be used again at once, as
// graphql-transport-ws says, on both stores: the new subscription runs
// and is sent its changes, with nothing more of the old one (no complete
// the client would take for the new one's end), and the key's slot of the
// old one is released.
func TestSubscriptionIDReusedAfterClientComplete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("a", `subscription { changes { `+changeFields+` } }`)
		waitActive(t, svc, 1)
		w.send(wsMsg{Type: "complete", ID: "a"})
		w.subscribe("a", `subscription { changes(kinds: [EVENT_ADDED]) { `+changeFields+` } }`)
		waitActive(t, svc, 1)
		track(t, dial, `{"messageId":"m1","anonymousId":"anon-1","event":"Viewed"}`)
		m, code, reason := w.read()
		if m.Type != "next" || m.ID != "a" || code != 0 {
			t.Fatalf("after a, completed by the client, was subscribed again: %s %s %s (close %d %q); want the change of m1 on a",
				m.Type, m.ID, m.Payload, code, reason)
		}
		var p struct {
			Data struct {
				Changes change `json:"changes"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Payload, &p); err != nil || p.Data.Changes.EventID == nil || *p.Data.Changes.EventID != "default/m1" {
			t.Fatalf("change on a: %s, want EVENT_ADDED of default/m1", m.Payload)
		}
		w.send(wsMsg{Type: "complete", ID: "a"})
		waitActive(t, svc, 0)
	})
}

// The graphql-transport-ws protocol's close codes, on both stores: a
// subscribe before the connection is acknowledged closes it with 4401, a
// second connection_init with 4429, a message of no type the protocol
// knows with 4400, and no connection_init within 10 s with 4408; not with
// a normal closure or a generic protocol error.
func TestProtocolViolationsCloseCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		for _, c := range []struct {
			name string
			init bool
			send wsMsg
			want int
		}{
			{"subscribe before connection_init", false, wsMsg{Type: "subscribe", ID: "a", Payload: json.RawMessage(`{"query":"subscription { changes { cursor } }"}`)}, 4401},
			{"a second connection_init", true, wsMsg{Type: "connection_init"}, 4429},
			{"an unknown message type", true, wsMsg{Type: "bogus", ID: "a"}, 4400},
			{"no connection_init", false, wsMsg{}, 4408},
		} {
			w, _ := dialWS(t, dial, nil)
			if c.init {
				w.mustInit(nil)
			}
			if c.send.Type != "" {
				w.send(c.send)
			}
			if m, code, reason := w.read(); int(code) != c.want {
				t.Errorf("%s: %s %s, close %d %q; want close %d", c.name, m.Type, m.Payload, code, reason, c.want)
			}
		}
	})
}

// A connection_init whose payload is not a JSON object is answered with
// close 4400, not left without an answer.
func TestInitPayloadNotAnObject(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		for _, p := range []string{`"Bearer cdp_x"`, `[1]`, `7`} {
			w, _ := dialWS(t, dial, nil)
			w.send(wsMsg{Type: "connection_init", Payload: json.RawMessage(p)})
			if m, code, reason := w.read(); code != 4400 {
				t.Errorf("connection_init with payload %s: %+v, close %d %q; want close 4400", p, m, code, reason)
			}
		}
		// null, like no payload, is no refusal.
		w, _ := dialWS(t, dial, nil)
		w.send(wsMsg{Type: "connection_init", Payload: json.RawMessage(`null`)})
		if m, code, reason := w.read(); m.Type != "connection_ack" {
			t.Errorf("connection_init with payload null: %+v, close %d %q; want connection_ack", m, code, reason)
		}
	})
}
