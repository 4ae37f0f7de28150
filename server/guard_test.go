package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var guardT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func accessStore(t *testing.T, st graph.Store) access.Store {
	t.Helper()
	ks, ok := st.(access.Store)
	if !ok {
		t.Fatalf("store %T does not implement access.Store", st)
	}
	return ks
}

func storeKey(t *testing.T, ks access.Store, scopes ...string) (access.Key, string) {
	t.Helper()
	k, secret, err := access.NewKey("test", scopes, "", time.Time{}, guardT0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, secret
}

// guardedServer serves real HTTP on addr with g, a registry holding one
// counter (cdp_test_total 7), stand-in GraphQL and collector handlers that
// answer the principal they see, and the metrics listener when given.
// It returns the address to dial and the server.
func guardedServer(t *testing.T, st graph.Store, addr string, g *auth.Guard, metricsLn net.Listener) (string, *Server) {
	t.Helper()
	ln, err := Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cdp_test_total", Help: "test"})
	c.Add(7)
	reg.MustRegister(c)
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := access.PrincipalFrom(r.Context())
		writeJSON(w, http.StatusOK, map[string]any{"open": p.Open, "keyId": p.KeyID()})
	})
	var gql http.Handler = who
	if g != nil {
		gql = g.GraphQL(who)
		// Registered before serveForTest's shutdown, so it runs after it:
		// the guard's last touches land before the store closes, as
		// app.Service.Close does.
		t.Cleanup(g.Wait)
	}
	s := New(Config{Logger: zerolog.Nop(), Gatherer: reg, Guard: g, MetricsListener: metricsLn}, ln, st, Routes{Collector: who, GraphQL: gql})
	return serveForTest(t, s, ln), s
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) code() string {
	var m struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(r.body), &m) != nil || len(m.Errors) == 0 {
		return ""
	}
	c, _ := m.Errors[0].Extensions["code"].(string)
	return c
}

func call(t *testing.T, method, dial, path, host, secret string) reply {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequest(method, "http://"+dial+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// The Host check holds only in open loopback mode: a loopback server with
// keys enforced answers any Host (a proxy in front of it), and one that
// turns enforced while running drops the check.
func TestHostCheckOnlyInOpenMode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := accessStore(t, st)
		clk := &testClock{t: guardT0}
		open, err := auth.New(auth.Config{Store: ks, Logger: zerolog.Nop(), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		dial, _ := guardedServer(t, st, "127.0.0.1:0", open, nil)
		for _, path := range []string{"/graphql", "/healthz", "/metrics"} {
			if r := call(t, "GET", dial, path, "evil.example", ""); r.status != http.StatusMisdirectedRequest {
				t.Errorf("open mode, GET %s with a foreign Host: %d, want 421 (%s)", path, r.status, r.body)
			}
		}
		if r := call(t, "POST", dial, "/graphql", "localhost:8080", ""); r.status != 200 || !strings.Contains(r.body, `"open":true`) {
			t.Fatalf("open mode, loopback Host: %d %s", r.status, r.body)
		}

		// A key appears: within 500 ms the server is enforced and the check is off.
		k, secret := storeKey(t, ks, "profiles:read")
		clk.Advance(500 * time.Millisecond)
		if r := call(t, "POST", dial, "/graphql", "cdp.example.com", secret); r.status != 200 || !strings.Contains(r.body, k.ID) {
			t.Fatalf("enforced, foreign Host, good key: %d %s", r.status, r.body)
		}
		if r := call(t, "POST", dial, "/graphql", "cdp.example.com", ""); r.status != 401 || r.code() != "UNAUTHENTICATED" {
			t.Fatalf("enforced, foreign Host, no key: %d %s", r.status, r.body)
		}

		// A guard built Required is enforced from its first request.
		required, err := auth.New(auth.Config{Store: ks, Required: true, Logger: zerolog.Nop(), Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		dial2, _ := guardedServer(t, st, "127.0.0.1:0", required, nil)
		if r := call(t, "POST", dial2, "/graphql", "proxy.internal:443", secret); r.status != 200 {
			t.Fatalf("required, foreign Host, good key: %d %s", r.status, r.body)
		}
	})
}

// Keys required and none stored: nothing but /healthz and /readyz answers
// without a key, on any path and method, whatever the Host.
func TestRequiredWithNoKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := accessStore(t, st)
		g, err := auth.New(auth.Config{Store: ks, Required: true, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		dial, _ := guardedServer(t, st, "127.0.0.1:0", g, nil)
		for _, host := range []string{"", "cdp.example.com"} {
			for _, p := range []struct{ method, path string }{
				{"GET", "/graphql"}, {"POST", "/graphql"}, {"GET", "/metrics"}, {"GET", "/nope"}, {"POST", "/healthz"}, {"GET", "/graphiql"},
			} {
				r := call(t, p.method, dial, p.path, host, "")
				if r.status != 401 || r.code() != "UNAUTHENTICATED" || r.header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("%s %s (Host %q) with no key stored: %d %s, want 401 UNAUTHENTICATED", p.method, p.path, host, r.status, r.body)
				}
			}
			for _, path := range []string{"/healthz", "/readyz"} {
				if r := call(t, "GET", dial, path, host, ""); r.status != 200 {
					t.Errorf("GET %s (Host %q): %d %s, want 200", path, host, r.status, r.body)
				}
			}
		}
	})
}

// /metrics on the main listener needs metrics:read; with a metrics
// listener it is served there without a key, not on the main one, and the
// metrics listener closes with Shutdown.
func TestMetricsAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := accessStore(t, st)
		g, err := auth.New(auth.Config{Store: ks, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		_, scraper := storeKey(t, ks, "metrics:read")
		_, reader := storeKey(t, ks, "profiles:read", "pii:read")

		dial, _ := guardedServer(t, st, "127.0.0.1:0", g, nil)
		if r := call(t, "GET", dial, "/metrics", "", ""); r.status != 401 || r.code() != "UNAUTHENTICATED" {
			t.Errorf("/metrics without a key: %d %s", r.status, r.body)
		}
		r := call(t, "GET", dial, "/metrics", "", reader)
		if r.status != 403 || r.code() != "FORBIDDEN" || !strings.Contains(r.body, "lacks the scope metrics:read") {
			t.Errorf("/metrics with profiles:read and pii:read: %d %s, want 403 naming metrics:read", r.status, r.body)
		}
		if r := call(t, "GET", dial, "/metrics", "", scraper); r.status != 200 || !strings.Contains(r.body, "cdp_test_total 7") {
			t.Errorf("/metrics with metrics:read: %d %.300s", r.status, r.body)
		}

		mln, err := Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dial2, s := guardedServer(t, st, "127.0.0.1:0", g, mln)
		if s.MetricsAddr() != mln.Addr().String() {
			t.Errorf("MetricsAddr %q, want %q", s.MetricsAddr(), mln.Addr())
		}
		// 404, saying where the metrics are, without the address: the
		// main listener may be reached by those the metrics one is kept
		// from.
		if r := call(t, "GET", dial2, "/metrics", "", scraper); r.status != 404 || !strings.Contains(r.body, "--metrics-addr") || strings.Contains(r.body, mln.Addr().String()) {
			t.Errorf("/metrics on the main listener with a metrics listener: %d %s, want 404 pointing to --metrics-addr without its address", r.status, r.body)
		}
		if r := call(t, "GET", mln.Addr().String(), "/metrics", "", ""); r.status != 200 || !strings.Contains(r.body, "cdp_test_total 7") {
			t.Errorf("/metrics on the metrics listener without a key: %d %.300s", r.status, r.body)
		}
		if r := call(t, "GET", mln.Addr().String(), "/graphql", "", scraper); r.status != 404 {
			t.Errorf("/graphql on the metrics listener: %d, want 404", r.status)
		}
		for _, m := range []string{"POST", "DELETE"} {
			if r := call(t, m, mln.Addr().String(), "/metrics", "", ""); r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s /metrics on the metrics listener: %d Allow %q %s, want 405 with Allow: GET, HEAD", m, r.status, r.header.Get("Allow"), r.body)
			}
		}
		// A loopback metrics listener asks for no key even where keys are
		// enforced: a page reaching it through DNS rebinding is refused.
		if r := call(t, "GET", mln.Addr().String(), "/metrics", "evil.example", ""); r.status != 421 || strings.Contains(r.body, "cdp_test_total") {
			t.Errorf("/metrics on the loopback metrics listener with Host evil.example: %d %.100s, want 421", r.status, r.body)
		}
		// On another address it is the operator's to keep private, and
		// answers a scraper naming it by any Host.
		if wln, err := Listen("0.0.0.0:0"); err == nil {
			guardedServer(t, st, "127.0.0.1:0", g, wln)
			port := wln.Addr().(*net.TCPAddr).Port
			if r := call(t, "GET", fmt.Sprintf("127.0.0.1:%d", port), "/metrics", "cdp1:9090", ""); r.status != 200 || !strings.Contains(r.body, "cdp_test_total 7") {
				t.Errorf("/metrics on a metrics listener on 0.0.0.0 with Host cdp1:9090: %d %.100s, want 200", r.status, r.body)
			}
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c, err := net.DialTimeout("tcp", mln.Addr().String(), 5*time.Second); err == nil {
			c.Close()
			t.Error("the metrics listener accepts connections after Shutdown")
		}
	})
}
