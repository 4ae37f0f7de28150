package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph/embedded"
)

// hostServer serves real HTTP on addr with stand-in handlers for /graphql
// and /v1/ that answer 200, and returns the address to dial.
func hostServer(t *testing.T, addr string) string {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	ln, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"reached": true})
	})
	s := New(Config{Logger: zerolog.Nop()}, ln, st, Routes{Collector: ok, GraphQL: ok})
	return serveForTest(t, s, ln)
}

// serveForTest serves s until the test ends (shutting it down then, which
// is harmless after the test's own Shutdown) and returns the loopback
// address to dial.
func serveForTest(t *testing.T, s *Server, ln net.Listener) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort("127.0.0.1", port)
}

func hostRequest(t *testing.T, dial, method, path, host string) (int, string) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequest(method, "http://"+dial+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHostCheckOnLoopback(t *testing.T) {
	dial := hostServer(t, "127.0.0.1:0")
	paths := []struct{ method, path string }{
		{"POST", "/graphql"}, {"GET", "/graphql"}, {"POST", "/v1/track"}, {"GET", "/healthz"}, {"GET", "/readyz"}, {"GET", "/metrics"}, {"GET", "/nope"},
	}
	for _, host := range []string{"evil.example:8080", "evil.example", "localhost.evil.example", "127.0.0.1.nip.io:8080",
		"localhost:", "localhost:http", "127.0.0.2", "::1", "[::2]:8080", "0.0.0.0:8080", "[::1]x", strings.Repeat("a", 300) + ".example"} {
		for _, p := range paths {
			status, body := hostRequest(t, dial, p.method, p.path, host)
			if status != http.StatusMisdirectedRequest {
				t.Errorf("%s %s with Host %.40q: status %d, want 421 (body %.200s)", p.method, p.path, host, status, body)
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatalf("421 body is not JSON: %v: %s", err, body)
			}
			msg, _ := m["error"].(string)
			if !strings.Contains(msg, "DNS rebinding") || !strings.Contains(msg, "localhost, 127.0.0.1 or [::1]") {
				t.Errorf("421 message does not name the problem: %q", msg)
			}
			if len(msg) > 250 {
				t.Errorf("421 message echoes too much of the Host (%d bytes): %q", len(msg), msg)
			}
		}
	}
	for _, host := range []string{"localhost:8080", "localhost", "LocalHost:1", "127.0.0.1", "127.0.0.1:8080", "[::1]:8080", "[::1]"} {
		for _, p := range []struct{ method, path string }{{"POST", "/graphql"}, {"POST", "/v1/track"}, {"GET", "/healthz"}} {
			if status, body := hostRequest(t, dial, p.method, p.path, host); status != http.StatusOK {
				t.Errorf("%s %s with Host %q: status %d, want 200 (body %.200s)", p.method, p.path, host, status, body)
			}
		}
	}
}

func TestNoHostCheckOffLoopback(t *testing.T) {
	// Bound to every interface: the server is meant to be reached by name,
	// so no Host is refused.
	dial := hostServer(t, "0.0.0.0:0")
	for _, host := range []string{"evil.example:8080", "cdp.internal", "localhost:8080"} {
		for _, path := range []string{"/graphql", "/v1/track"} {
			if status, body := hostRequest(t, dial, "POST", path, host); status != http.StatusOK {
				t.Errorf("POST %s with Host %q on a non-loopback bind: status %d, want 200 (body %.200s)", path, host, status, body)
			}
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "localhost:1": true, "LOCALHOST:65535": true, "127.0.0.1": true, "127.0.0.1:80": true,
		"[::1]": true, "[::1]:443": true,
		"": false, "::1": false, "[::1]:": false, "[::1]:123456": false, "[::1": false, "localhost.": false,
		"127.0.0.1:8080:1": false, "evil.example": false, "127.1": false, "[::ffff:127.0.0.1]": false,
	} {
		if got := loopbackHost(h); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", h, got, want)
		}
	}
}
