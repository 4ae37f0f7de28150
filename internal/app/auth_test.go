package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
	"github.com/idgraph/cdp/privacy"
	"github.com/idgraph/cdp/server"
)

// logBuffer collects log lines from the service's goroutines.
type logBuffer struct{ testlog.Buffer }

// lines returns the log lines whose message contains msg.
func (l *logBuffer) lines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			if s, _ := m["message"].(string); strings.Contains(s, msg) {
				out = append(out, m)
			}
		}
	}
	return out
}

// startService starts the service on st with addr and the auth settings,
// and returns the address to dial, its logs, and a stop function (called
// at the end of the test if not before).
func startService(t *testing.T, st graph.Store, addr string, a app.Auth) (*app.Service, string, *logBuffer, func()) {
	t.Helper()
	ln, err := server.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cfg := app.Defaults()
	cfg.Store, cfg.Listener, cfg.Logger = st, ln, zerolog.New(logs)
	if a.RateLimit != 0 {
		cfg.Auth.RateLimit, cfg.Auth.Burst = a.RateLimit, a.Burst
	}
	cfg.Auth.Required, cfg.Auth.MetricsListener = a.Required, a.MetricsListener
	if a.AuditRetention != 0 {
		cfg.Auth.AuditRetention = a.AuditRetention
	}
	svc, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := svc.Close(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return svc, net.JoinHostPort("127.0.0.1", port), logs, stop
}

type httpReply struct {
	status int
	header http.Header
	body   string
}

func (r httpReply) code() string {
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

// send makes a request; a body makes it a GraphQL POST.
func send(t *testing.T, method, url, host, secret, body string) httpReply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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
	return httpReply{resp.StatusCode, resp.Header, string(b)}
}

const typename = `{"query":"{ __typename }"}`

func addKey(t *testing.T, st graph.Store, scopes ...string) (access.Key, string) {
	t.Helper()
	k, secret, err := access.NewKey("app test", scopes, "", time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.(access.Store).CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k, secret
}

// The modes of the wired service. Open on loopback with no key: any
// loopback caller, a warning at start naming how to make the first key,
// and a foreign Host refused. Required, or bound off loopback, with no
// key: an error-level line at start, and 401 to all but /healthz and
// /readyz. With a key: 401 without it, 200 with it, whatever the Host.
func TestAuthModes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, logs, stop := startService(t, st, "127.0.0.1:0", app.Auth{})
		if svc.Guard == nil || !svc.Guard.Open(context.Background()) {
			t.Fatal("the service on loopback with no key has no guard, or it is not open")
		}
		if r := send(t, "POST", "http://"+dial+"/graphql", "", "", typename); r.status != 200 || !strings.Contains(r.body, `"__typename":"Query"`) {
			t.Fatalf("open mode GraphQL: %d %s", r.status, r.body)
		}
		if r := send(t, "POST", "http://"+dial+"/graphql", "evil.example", "", typename); r.status != http.StatusMisdirectedRequest {
			t.Fatalf("open mode, foreign Host: %d %s, want 421", r.status, r.body)
		}
		// Open mode takes no change from another origin's page: the
		// collector allows any origin (CORS) and no key is asked for.
		fromPage := func(path, origin, secret, body string) int {
			t.Helper()
			req, _ := http.NewRequest("POST", "http://"+dial+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "text/plain")
			req.Header.Set("Origin", origin)
			if secret != "" {
				req.Header.Set("Authorization", "Bearer "+secret)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		track := `{"userId":"victim","event":"Forged","messageId":"forged-1"}`
		if st := fromPage("/v1/track", "https://evil.example", "", track); st != http.StatusForbidden {
			t.Fatalf("open mode, another origin's page posting to the collector: %d, want 403", st)
		}
		if st := fromPage("/v1/track", "http://"+dial, "", track); st != http.StatusOK {
			t.Fatalf("open mode, the server's own page posting to the collector: %d, want 200", st)
		}
		warn := logs.lines("open mode")
		if len(warn) != 1 || warn[0]["level"] != "warn" || !strings.Contains(warn[0]["message"].(string), "cdp keys create") ||
			!strings.Contains(warn[0]["message"].(string), "createApiKey") {
			t.Fatalf("open mode start log: %v", warn)
		}
		stop()

		for _, c := range []struct {
			name string
			addr string
			auth app.Auth
		}{
			{"required on loopback", "127.0.0.1:0", app.Auth{Required: true}},
			{"bound to every interface", "0.0.0.0:0", app.Auth{}},
		} {
			_, dial, logs, stop := startService(t, st, c.addr, c.auth)
			for _, p := range []struct{ method, path, body string }{
				{"POST", "/graphql", typename}, {"GET", "/graphql?query=%7B__typename%7D", ""}, {"GET", "/metrics", ""},
				{"GET", "/nope", ""},
			} {
				if r := send(t, p.method, "http://"+dial+p.path, "", "", p.body); r.status != 401 || r.code() != "UNAUTHENTICATED" {
					t.Errorf("%s: %s %s with no key stored: %d %s, want 401", c.name, p.method, p.path, r.status, r.body)
				}
			}
			for _, path := range []string{"/healthz", "/readyz"} {
				if r := send(t, "GET", "http://"+dial+path, "", "", ""); r.status != 200 {
					t.Errorf("%s: %s: %d %s", c.name, path, r.status, r.body)
				}
			}
			lines := logs.lines("nothing but /healthz, /readyz and the console's static files will answer")
			if len(lines) != 1 || lines[0]["level"] != "error" {
				t.Errorf("%s: start log %v, want one error-level line", c.name, lines)
			}
			stop()
		}

		k, secret := addKey(t, st, "profiles:read")
		svc, dial, logs, _ = startService(t, st, "127.0.0.1:0", app.Auth{})
		if svc.Guard.Open(context.Background()) {
			t.Fatal("a loopback service over a store holding a key is open")
		}
		if r := send(t, "POST", "http://"+dial+"/graphql", "", "", typename); r.status != 401 || r.code() != "UNAUTHENTICATED" ||
			r.header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("enforced, no key: %d %s", r.status, r.body)
		}
		if r := send(t, "POST", "http://"+dial+"/graphql", "", access.NewSecret(), typename); r.status != 401 || r.code() != "UNAUTHENTICATED" {
			t.Errorf("enforced, unknown key: %d %s", r.status, r.body)
		}
		if r := send(t, "POST", "http://"+dial+"/graphql", "cdp.example.com", secret, typename); r.status != 200 || !strings.Contains(r.body, `"__typename":"Query"`) {
			t.Errorf("enforced, good key %s, foreign Host: %d %s", k.ID, r.status, r.body)
		}
		// Enforced, the key is what counts, whatever page sends it.
		req, _ := http.NewRequest("POST", "http://"+dial+"/graphql", strings.NewReader(typename))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://app.elsewhere.example")
		req.Header.Set("Authorization", "Bearer "+secret)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			t.Errorf("enforced, good key, another origin: %v %v, want 200", err, resp)
		} else {
			resp.Body.Close()
		}
		if len(logs.lines("open mode")) != 0 || len(logs.lines("API keys are enforced")) != 1 {
			t.Errorf("start logs with a key stored:\n%v", logs.lines(""))
		}
	})
}

// Rate limits reach GraphQL through the wiring: one request per second,
// bursts of one.
func TestAuthRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, secret := addKey(t, st, "profiles:read")
		_, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{RateLimit: 0.001, Burst: 1})
		if r := send(t, "POST", "http://"+dial+"/graphql", "", secret, typename); r.status != 200 {
			t.Fatalf("first request: %d %s", r.status, r.body)
		}
		r := send(t, "POST", "http://"+dial+"/graphql", "", secret, typename)
		if r.status != 429 || r.code() != "RATE_LIMITED" || r.header.Get("Retry-After") == "" {
			t.Fatalf("second request at 0.001 per second: %d %s (Retry-After %q)", r.status, r.body, r.header.Get("Retry-After"))
		}
	})
}

// With a metrics listener, /metrics is served there without a key and not
// on the main listener; Close closes it.
func TestAuthMetricsListener(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, scraper := addKey(t, st, "metrics:read")
		mln, err := server.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, dial, _, stop := startService(t, st, "127.0.0.1:0", app.Auth{MetricsListener: mln})
		if r := send(t, "GET", "http://"+dial+"/metrics", "", scraper, ""); r.status != 404 {
			t.Errorf("/metrics on the main listener: %d, want 404", r.status)
		}
		if r := send(t, "GET", "http://"+mln.Addr().String()+"/metrics", "", "", ""); r.status != 200 || !strings.Contains(r.body, "cdp_ingest_queue_depth") {
			t.Errorf("/metrics on the metrics listener without a key: %d %.200s", r.status, r.body)
		}
		stop()
		if c, err := net.DialTimeout("tcp", mln.Addr().String(), 5*time.Second); err == nil {
			c.Close()
			t.Error("the metrics listener accepts connections after Close")
		}
	})
}

// The audit log is pruned at start: entries older than the retention go,
// younger ones stay.
func TestAuditPrunedAtStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := st.(access.Store)
		now := time.Now()
		entry := func(age time.Duration) access.AuditEntry {
			return access.AuditEntry{ID: access.NewAuditID(), At: graph.Clean(now.Add(-age)), Action: "mergeProfiles", Outcome: access.OutcomeOK}
		}
		old, kept := entry(31*24*time.Hour), entry(29*24*time.Hour)
		if err := ks.AppendAudit(context.Background(), []access.AuditEntry{old, kept}); err != nil {
			t.Fatal(err)
		}
		_, _, logs, _ := startService(t, st, "127.0.0.1:0", app.Auth{AuditRetention: 30 * 24 * time.Hour})
		// The pruning runs in the background: wait for its log line (a hang
		// guard, not a timing assertion).
		deadline := time.Now().Add(30 * time.Second)
		for len(logs.lines("pruned audit entries")) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no pruning logged; logs: %v", logs.lines(""))
			}
			time.Sleep(10 * time.Millisecond)
		}
		got, err := ks.Audit(context.Background(), access.AuditQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != kept.ID {
			t.Fatalf("after pruning at 30 days: %+v, want only %s (29 days old)", got, kept.ID)
		}
		if l := logs.lines("pruned audit entries"); l[0]["entries"] != float64(1) {
			t.Errorf("pruning log %v, want 1 entry", l[0])
		}
	})
}

// A store without the access contract cannot be wired, unless Keys names
// one: keys could not be enforced.
func TestAuthNeedsAnAccessStore(t *testing.T) {
	st := storetest.OpenEmbedded(t)
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := app.Defaults()
	cfg.Store, cfg.Listener = struct{ graph.Store }{st}, ln
	if _, err := app.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "holds no API keys") {
		t.Fatalf("New with a store lacking access.Store: %v", err)
	}
	// A wrapper (the benchmark's) names the access store and the
	// suppression list apart; without the list the service is refused.
	k, _ := addKey(t, st, "profiles:read")
	cfg.Keys = st.(access.Store)
	if _, err := app.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "keeps no suppression list") {
		t.Fatalf("New with a store lacking privacy.SuppressionStore: %v", err)
	}
	cfg.Suppression = st.(privacy.SuppressionStore)
	cfg.Audiences, cfg.Consent = st.(audience.Store), st.(privacy.ConsentStore)
	svc, err := app.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New with Keys set beside a wrapped store: %v", err)
	}
	defer svc.Close(context.Background())
	if svc.Guard.Open(context.Background()) {
		t.Fatalf("the guard does not read Keys: key %s is stored there, yet it is open", k.ID)
	}
}
