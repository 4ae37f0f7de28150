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
	if r, _ := get("/healthz"); r.StatusCode != 200 || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("/healthz = %d, X-Content-Type-Options %q; want 200 and nosniff", r.StatusCode, r.Header.Get("X-Content-Type-Options"))
	}
	if r, _ := get("/readyz"); r.StatusCode != 200 {
		t.Fatalf("/readyz with the store open = %d", r.StatusCode)
	}
	r, body := get("/nope", "X-Request-Id", "abc-123")
	if r.StatusCode != 404 || r.Header.Get("X-Request-Id") != "abc-123" || !strings.Contains(body, "no such endpoint") {
		t.Fatalf("404 = %d %q id %q", r.StatusCode, body, r.Header.Get("X-Request-Id"))
	}
	// A 404 never repeats the path past its route: it may hold anything a
	// caller typed, an email say.
	for _, path := range []string{"/ann@example.com", "/v1/ann@example.com", "/v1/privacy/profiles/ann@example.com/exports", "/v1/audiences/ann@example.com/x/y"} {
		r, body := get(path)
		if r.StatusCode != 404 || strings.Contains(body, "ann@example.com") || !strings.Contains(body, "no such endpoint") {
			t.Errorf("GET %s = %d %q, want 404 not repeating the path", path, r.StatusCode, body)
		}
	}
	// Another method on a GET endpoint is 405 with Allow, not a 404.
	ts2 := httptest.NewServer(s.Handler(Routes{GraphQL: panicky, GraphiQL: http.NotFoundHandler()}))
	defer ts2.Close()
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/graphiql"} {
		resp, err := http.Post(ts2.URL+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(string(b), "METHOD_NOT_ALLOWED") {
			t.Errorf("POST %s = %d, Allow %q, %s; want 405 with Allow: GET, HEAD", path, resp.StatusCode, resp.Header.Get("Allow"), b)
		}
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

// With no API key (open mode), a request that changes something from a web
// page of another origin is refused with 403 before it reaches a handler;
// the server's own pages, the origins of Config.Origins, requests without
// Origin (not a browser) and reads pass.
func TestOpenModeRefusesOtherOrigins(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	reached := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++; w.WriteHeader(http.StatusNoContent) })
	s := &Server{cfg: Config{Logger: zerolog.Nop(), ReadyTimeout: 1e9, Origins: []string{"*.trusted.example"}}, store: st}
	ts := httptest.NewServer(s.Handler(Routes{GraphQL: h, Collector: h}))
	defer ts.Close()
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, c := range []struct {
		method, path, origin string
		want                 int
	}{
		{"POST", "/v1/track", "https://evil.example", 403},
		{"POST", "/v1/track", "http://localhost:3000", 403},
		{"POST", "/admin/backup", "https://evil.example", 403},
		{"POST", "/graphql", "https://evil.example", 403},
		{"POST", "/v1/track", "null", 403},
		{"POST", "/v1/track", "http://" + host, 204},
		{"POST", "/v1/track", "https://app.trusted.example", 204},
		{"POST", "/v1/track", "", 204},
		{"GET", "/graphql", "https://evil.example", 204},
		{"OPTIONS", "/v1/track", "https://evil.example", 204},
	} {
		before := reached
		req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader("{}"))
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s from %q: %d %s, want %d", c.method, c.path, c.origin, resp.StatusCode, body, c.want)
		}
		if c.want == 403 && (reached != before || !strings.Contains(string(body), "--cors-origins")) {
			t.Errorf("%s %s from %q reached the handler or did not say why: %s", c.method, c.path, c.origin, body)
		}
		if c.want == 204 && reached != before+1 {
			t.Errorf("%s %s from %q did not reach the handler", c.method, c.path, c.origin)
		}
	}
	// A collector with static write keys authenticates its requests: any
	// page may post to it; the rest stays closed to other origins.
	s.cfg.CollectorKeyed = true
	for path, want := range map[string]int{"/v1/track": 204, "/graphql": 403} {
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader("{}"))
		req.Header.Set("Origin", "https://shop.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s from a shop with static write keys: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
