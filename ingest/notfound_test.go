package ingest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestUnknownPathNotRepeated: a path under /v1/ that names no endpoint
// gets 404 naming the endpoints, and the answer never repeats the path,
// which can hold anything the caller typed: a profile's id in a mistyped
// export path, an email in a REST-style /v1/identify/<user>.
func TestUnknownPathNotRepeated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{WriteKeys: map[string]string{}})
		for _, path := range []string{
			"/v1/privcy/profiles/p_k2mz8q0personal/export",
			"/v1/identify/ann.kowalczyk@example.com",
			"/v1/purchase",
		} {
			r := h.rawPost(t, path, []byte(`{"userId":"u"}`), nil)
			if r.status != http.StatusNotFound || r.body.Success || !strings.Contains(r.body.Error, "/v1/track") {
				t.Errorf("POST %s: %d %s; want 404 naming the endpoints", path, r.status, r.raw)
			}
			tail := path[strings.LastIndexByte(path, '/'):]
			if strings.Contains(string(r.raw), tail) {
				t.Errorf("POST %s: the answer repeats the path: %s", path, r.raw)
			}
		}
	})
}

// A CORS preflight is answered for the collector's endpoints only: one for
// a path that names none is told so (404), not invited to post there.
func TestPreflightOnlyForEndpoints(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{WriteKeys: map[string]string{}})
		for path, want := range map[string]int{"/v1/track": http.StatusNoContent, "/v1/b": http.StatusNoContent, "/v1/purchase": http.StatusNotFound} {
			req, err := http.NewRequest(http.MethodOptions, h.srv.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", "https://shop.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			allows := resp.Header.Get("Access-Control-Allow-Methods") != ""
			if resp.StatusCode != want || allows != (want == http.StatusNoContent) {
				t.Errorf("OPTIONS %s: %d, Access-Control-Allow-Methods %q; want %d, and that header only on an endpoint", path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Methods"), want)
			}
		}
	})
}
