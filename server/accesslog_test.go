package server

import (
	"bufio"
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

// The collector's one-letter paths (what analytics.js posts to) are routes
// of their own, not "other".
func TestSpanNameShortCollectorRoutes(t *testing.T) {
	for _, p := range []string{"/v1/t", "/v1/i", "/v1/p", "/v1/s", "/v1/g", "/v1/a", "/v1/b"} {
		if got, want := spanName("", httptest.NewRequest("POST", p, nil)), "POST "+p; got != want {
			t.Errorf("spanName(POST %s) = %q, want %q", p, got, want)
		}
	}
	// Not a route: a longer or unknown one-letter segment.
	for _, p := range []string{"/v1/x", "/v1/tt", "/v1/T"} {
		if got := spanName("", httptest.NewRequest("POST", p, nil)); got != "POST other" {
			t.Errorf("spanName(POST %s) = %q, want POST other", p, got)
		}
	}
}

// The access log line of every request names its route, never the path:
// a path can hold a profile's id (the privacy export), an audience's id,
// or whatever a caller typed.
func TestAccessLogHoldsNoPathValues(t *testing.T) {
	panicky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	ts, logs := loggedServer(t, panicky)

	// Each request, and the route its log line must name; "secret" stands
	// for the personal value in each path.
	cases := []struct{ method, path, route string }{
		{"GET", "/v1/privacy/profiles/prof-secret-1/export", "/v1/privacy"},
		{"GET", "/v1/audiences/aud-secret-2/export", "/v1/audiences"},
		{"POST", "/v1/track", "/v1/track"},
		{"POST", "/v1/t", "/v1/t"},
		{"POST", "/v1/secret@example.com", "other"},
		{"GET", "/console/secret-page", "/console"},
		{"GET", "/secret@example.com", "other"},
		{"POST", "/graphql/secret", "/graphql"},
		{"POST", "/graphql", "/graphql"}, // panics
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, ts.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		if strings.Contains(strings.ToLower(sc.Text()), "secret") {
			t.Errorf("log line holds a value from the path: %s", sc.Text())
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if m["message"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != len(cases) {
		t.Fatalf("%d access log lines for %d requests:\n%s", len(lines), len(cases), logs.String())
	}
	for i, c := range cases {
		// The field is still named path, for the readers of the log.
		if got := lines[i]["path"]; got != c.route || lines[i]["method"] != c.method {
			t.Errorf("%s %s logged as %v %v, want its route %s", c.method, c.path, lines[i]["method"], got, c.route)
		}
	}
	if !strings.Contains(logs.String(), `"path":"/graphql","message":"handler panicked"`) {
		t.Errorf("the panic's log line does not name its route:\n%s", logs.String())
	}
}

// A method is the caller's to choose: any token, as long as the request
// line allows. One HTTP does not define is logged as HTTP (as span names
// show it) and is not repeated in the answers of a path no route serves
// or of a GET route.
func TestUnknownMethodNotEchoed(t *testing.T) {
	ts, logs := loggedServer(t, nil)

	method := "ANN.LEE-EXAMPLE.COM" + strings.Repeat("X", 4000)
	for _, c := range []struct {
		path   string
		status int
	}{{"/nowhere", http.StatusNotFound}, {"/admin/nowhere", http.StatusNotFound}, {"/healthz", http.StatusMethodNotAllowed}, {"/v1/track", http.StatusNoContent}} {
		req, err := http.NewRequest(method, ts.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s answered %d %.200s, want %d", c.path, resp.StatusCode, body, c.status)
		}
		if strings.Contains(string(body), "ANN.LEE") {
			t.Errorf("%s: the answer repeats the method: %.200s", c.path, body)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if strings.Contains(sc.Text(), "ANN.LEE") {
			t.Errorf("log line holds the method sent: %.200s", sc.Text())
		}
		if m["message"] == "request" {
			n++
			if m["method"] != "HTTP" {
				t.Errorf("method logged as %.60v, want HTTP", m["method"])
			}
		}
	}
	if n != 4 {
		t.Errorf("%d access log lines, want 4:\n%.2000s", n, logs.String())
	}
}

// loggedServer serves every route on an embedded store with a handler that
// answers 204, GraphQL with graphql when not nil, and returns the server
// and what its access log wrote. Both are closed when t ends.
func loggedServer(t *testing.T, graphql http.Handler) (*httptest.Server, *strings.Builder) {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	logs := &strings.Builder{}
	s := &Server{cfg: Config{Logger: zerolog.New(logs), ReadyTimeout: 1e9}, store: st}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if graphql == nil {
		graphql = ok
	}
	ts := httptest.NewServer(s.Handler(Routes{Collector: ok, Privacy: ok, Audiences: ok, GraphQL: graphql, Console: ok}))
	t.Cleanup(ts.Close)
	return ts, logs
}
