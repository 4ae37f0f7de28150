package resolver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestDeferRefused: @defer, which GraphQL's built-in directives hold, is
// refused before anything runs, with 422 and a message naming it. No
// transport of the server delivers deferred parts: an answer with them
// held null for each deferred field, with no error, and "hasNext": true
// for parts that never came.
func TestDeferRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("d1", t0, "identify", "user_id:u-defer"))
		for _, doc := range []string{
			`{ profiles(first: 1) { nodes { id ... @defer { identifiers { value } } } } }`,
			`{ profiles(first: 1) { nodes { id ...Ids @defer(label: "ids") } } } fragment Ids on Profile { identifiers { value } }`,
			`query { ...Outer } fragment Outer on Query { profiles(first: 1) { nodes { ... @defer { size } } } }`,
		} {
			r := e.post(doc, nil)
			if r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d, want 422", doc, r.Status)
			}
			checkRefused(t, r, "GRAPHQL_VALIDATION_FAILED", "@defer", "not supported")
			if len(r.Data) > 0 && string(r.Data) != "null" {
				t.Errorf("%s: data %s, want none", doc, r.Data)
			}
		}
		// Over a websocket too.
		_, _, h := openWSHandlerOn(t, s, s.(graph.FeedStore))
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		send, recv := dialGraphQLWS(t, ctx, srv.URL)
		send(`{"type":"subscribe","id":"1","payload":{"query":"{ profiles(first: 1) { nodes { id ... @defer { size } } } }"}}`)
		if m := recv(); m["type"] != "error" || !strings.Contains(fmt.Sprint(m["payload"]), "@defer") {
			t.Errorf("over a websocket: got %v, want an error naming @defer", m)
		}
		// The same document without @defer answers in full.
		var out struct {
			Profiles struct {
				Nodes []struct{ Identifiers []struct{ Value string } }
			}
		}
		e.query(`{ profiles(first: 1) { nodes { id ... { identifiers { value } } } } }`, nil, &out)
		if len(out.Profiles.Nodes) != 1 || len(out.Profiles.Nodes[0].Identifiers) != 1 || out.Profiles.Nodes[0].Identifiers[0].Value != "u-defer" {
			t.Fatalf("without @defer: %+v, want the profile's one identifier u-defer", out)
		}
	})
}
