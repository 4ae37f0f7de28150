package resolver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestOtherUpgradeIsPlainHTTP: a request that offers an upgrade to
// another protocol than WebSocket, as curl --http2 does on http://
// (Upgrade: h2c), is an ordinary GraphQL request: the server does not
// take the upgrade and answers it over HTTP/1.1, as the HTTP/1.1 spec
// allows. Only a GET asking for a websocket is one.
func TestOtherUpgradeIsPlainHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		_, _, h := openWSHandlerOn(t, s, s.(graph.FeedStore))
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		offer := func(r *http.Request) {
			r.Header.Set("Connection", "Upgrade, HTTP2-Settings")
			r.Header.Set("Upgrade", "h2c")
			r.Header.Set("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")
		}
		post, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"query":"{ __typename }"}`))
		if err != nil {
			t.Fatal(err)
		}
		post.Header.Set("Content-Type", "application/json")
		offer(post)
		get, err := http.NewRequest(http.MethodGet, srv.URL+"?query="+urlQuery("{ __typename }"), nil)
		if err != nil {
			t.Fatal(err)
		}
		offer(get)
		for _, req := range []*http.Request{post, get} {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r := decodeResponse(t, resp)
			if r.Status != http.StatusOK || string(r.Data) != `{"__typename":"Query"}` || len(r.Errors) != 0 {
				t.Errorf("%s with Upgrade: h2c: status %d, data %s, errors %+v; want 200 and the answer", req.Method, r.Status, r.Data, r.Errors)
			}
		}
		// A websocket is still one.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		send, recv := dialGraphQLWS(t, ctx, srv.URL)
		send(`{"type":"subscribe","id":"1","payload":{"query":"{ __typename }"}}`)
		if m := recv(); m["type"] != "next" {
			t.Fatalf("over the websocket, got %v, want next", m)
		}
	})
}

// TestWebsocketUpgradeWithoutSubscriptions: a handler that serves no
// subscriptions refuses a websocket upgrade with 400 and runs nothing.
// The guard lets such a GET through without a key (a browser's key comes
// in connection_init), so it must not be read as an ordinary GET: viewer
// and introspection would answer a caller with no key.
func TestWebsocketUpgradeWithoutSubscriptions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		srv := httptest.NewServer(e.handler) // no principal: as the guard passes an upgrade
		t.Cleanup(srv.Close)
		req, err := http.NewRequest(http.MethodGet, srv.URL+"?query="+urlQuery("{ viewer { open } __schema { queryType { name } } }"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r := decodeResponse(t, resp)
		if r.Status != http.StatusBadRequest || (len(r.Data) > 0 && string(r.Data) != "null") {
			t.Fatalf("websocket upgrade without subscriptions: status %d, data %s, errors %+v; want 400 and no data", r.Status, r.Data, r.Errors)
		}
	})
}
