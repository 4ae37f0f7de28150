package resolver

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWebsocketNoCompleteAfterError: over graphql-transport-ws an
// operation the server ends with an error message is over, and the
// protocol forbids a complete after it; the transport sent one after
// the error of a document that does not parse, does not validate, or of
// a payload that is not an object. The ping sent right after each
// operation is answered in order, so the message after the error must
// be its pong. The id may then be used again, and an operation that runs
// ends with complete as before. The embedded store only: the messages
// are the transport's, whatever the store.
func TestWebsocketNoCompleteAfterError(t *testing.T) {
	_, _, h := openWSHandler(t)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send, recv := dialGraphQLWS(t, ctx, srv.URL)
	next := withoutPings(recv)
	for _, c := range []struct{ name, payload string }{
		{"a document that does not parse", `{"query":"{ profiles(first: 1) { nodes { id } "}`},
		{"a document that does not validate", `{"query":"{ noSuchField }"}`},
		{"a payload that is not an object", `5`},
	} {
		send(`{"type":"subscribe","id":"op","payload":` + c.payload + `}`)
		if m := next(); m["type"] != "error" || m["id"] != "op" {
			t.Fatalf("%s: got %v, want an error for op", c.name, m)
		}
		send(`{"type":"ping"}`)
		if m := next(); m["type"] != "pong" {
			t.Errorf("%s: after the error, got %v, want the pong (no complete after an error)", c.name, m)
			if m["type"] == "complete" {
				next() // the pong
			}
		}
	}
	send(`{"type":"subscribe","id":"op","payload":{"query":"{ profiles(first: 1) { nodes { id } } }"}}`)
	for _, want := range []string{"next", "complete"} {
		if m := next(); m["type"] != want || m["id"] != "op" {
			t.Fatalf("an operation that runs, under the id of one ended by an error: got %v, want %s for op", m, want)
		}
	}
}
