package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph/embedded"
)

func TestRoutesAndMiddleware(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	s := &Server{cfg: Config{Logger: zerolog.New(&logs), ReadyTimeout: 1e9}, store: st}
	panicky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	ts := httptest.NewServer(s.Handler(Routes{GraphQL: panicky}))
	defer ts.Close()

	get := func(path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest("GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		return resp, string(b)
	}
	if r, _ := get("/healthz"); r.StatusCode != 200 {
		t.Fatalf("/healthz = %d", r.StatusCode)
	}
	if r, _ := get("/readyz"); r.StatusCode != 200 {
		t.Fatalf("/readyz with the store open = %d", r.StatusCode)
	}
	r, body := get("/nope", "X-Request-Id", "abc-123")
	if r.StatusCode != 404 || r.Header.Get("X-Request-Id") != "abc-123" || !strings.Contains(body, "no such endpoint") {
		t.Fatalf("404 = %d %q id %q", r.StatusCode, body, r.Header.Get("X-Request-Id"))
	}
	r, _ = get("/healthz", "X-Request-Id", "bad id with spaces")
	if id := r.Header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe request id kept: %q", id)
	}
	r, body = get("/graphql")
	var m map[string]any
	if r.StatusCode != 500 || json.Unmarshal([]byte(body), &m) != nil || m["error"] != "internal error" {
		t.Fatalf("panic answer = %d %q", r.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "handler panicked") {
		t.Fatal("panic not logged")
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, _ = get("/readyz")
	if r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("/readyz with the store closed = %d", r.StatusCode)
	}
	s.draining.Store(true)
	if r, _ := get("/healthz"); r.StatusCode != 200 {
		t.Fatalf("/healthz while draining = %d", r.StatusCode)
	}
	// A replica shutting down is not ready either, and says when to try
	// again (another replica, behind a load balancer).
	if r, _ := get("/readyz"); r.StatusCode != 503 || r.Header.Get("Retry-After") != "1" {
		t.Fatalf("/readyz while draining = %d, Retry-After %q; want 503 with Retry-After 1", r.StatusCode, r.Header.Get("Retry-After"))
	}
}
