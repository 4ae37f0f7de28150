package auth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
)

// The guard is the collector's key checker.
var _ ingest.KeyChecker = (*auth.Guard)(nil)

// t0 is the fixed time tests start their clock at.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

func keyStore(t *testing.T, st graph.Store) access.Store {
	t.Helper()
	ks, ok := st.(access.Store)
	if !ok {
		t.Fatalf("store %T does not implement access.Store", st)
	}
	return ks
}

// createKey stores a key with scopes and source, created an hour before
// t0, and returns it with its secret.
func createKey(t *testing.T, s access.Store, name string, scopes []string, source string, expires time.Time) (access.Key, string) {
	t.Helper()
	k, secret, err := access.NewKey(name, scopes, source, expires, t0.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, secret
}

func newGuard(t *testing.T, cfg auth.Config) *auth.Guard {
	t.Helper()
	cfg.Logger = zerolog.Nop()
	g, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Wait)
	return g
}

// whoami answers the principal it was given.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p := access.PrincipalFrom(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"open": p.Open, "keyId": p.KeyID(), "pii": p.Has(access.ScopePIIRead)})
})

// serve serves g in front of whoami: GraphQL at /graphql, /metrics behind
// metrics:read.
func serve(t *testing.T, g *auth.Guard) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/graphql", g.GraphQL(whoami))
	mux.Handle("/metrics", g.Require(access.ScopeMetricsRead, whoami))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts.URL
}

// answer is a response as the tests read it.
type answer struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// code is the first error's extensions.code.
func (a answer) code() string { return a.ext("code") }

func (a answer) ext(name string) string {
	errs, _ := a.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	s, _ := ext[name].(string)
	return s
}

func (a answer) message() string {
	errs, _ := a.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

// request sends method to url with the Authorization header auth (none
// when empty).
func request(t *testing.T, method, url, authz string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v: %s", method, url, err, raw)
	}
	return a
}

func bearer(secret string) string { return "Bearer " + secret }

// wantRefused checks a refusal: status, code, WWW-Authenticate with 401, a
// message holding every part of want, and no secret echoed.
func wantRefused(t *testing.T, what string, a answer, status int, code string, secret string, want ...string) {
	t.Helper()
	if a.status != status || a.code() != code {
		t.Errorf("%s: %d %s, want %d %s (body %s)", what, a.status, a.code(), status, code, a.raw)
		return
	}
	if status == http.StatusUnauthorized && a.header.Get("WWW-Authenticate") != "Bearer" {
		t.Errorf("%s: WWW-Authenticate %q, want Bearer", what, a.header.Get("WWW-Authenticate"))
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	for _, w := range want {
		if !strings.Contains(a.message(), w) {
			t.Errorf("%s: message %q lacks %q", what, a.message(), w)
		}
	}
	if secret != "" && strings.Contains(a.raw, secret[len(access.SecretPrefix):]) {
		t.Errorf("%s: the answer echoes the secret: %s", what, a.raw)
	}
}

// lastUsed reads the key's LastUsedAt from the store.
func lastUsed(t *testing.T, s access.Store, secret string) time.Time {
	t.Helper()
	k, ok, err := s.KeyByHash(context.Background(), access.HashSecret(secret))
	if err != nil || !ok {
		t.Fatalf("key by hash: found %v, %v", ok, err)
	}
	return k.LastUsedAt
}
