package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// While cdp serve waits for its store at start (Neo4j not yet answering,
// up to --store-timeout), its port answers: /healthz 200 (the process is
// up), /readyz and every other request 503 with Retry-After, rather than
// holding every connection unanswered until the store opens, which an
// orchestrator's liveness probe takes for a hung process.
func TestServeAnswersWhileWaitingForTheStore(t *testing.T) {
	// Port 1 answers nothing: Neo4j "not started yet" (a port picked here
	// and closed could be taken by a Neo4j another test starts). The wait
	// outlasts the test, however slow the machine: the process is killed
	// at its end.
	s := startServeAsync(t, "--neo4j-uri", "bolt://127.0.0.1:1", "--store-timeout", "10m")
	s.waitLog(t, "waiting for Neo4j to answer", 60*time.Second)
	addr := bindAddr(t, s.logs.String())
	client := &http.Client{Timeout: 30 * time.Second}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 503},
		{"POST", "/v1/track", `{"messageId":"s1","userId":"u-start","event":"x"}`, 503},
		{"POST", "/graphql", `{"query":"{ __typename }"}`, 503},
	} {
		req, _ := http.NewRequest(c.method, "http://"+addr+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s while the store is awaited: %v", c.method, c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s while the store is awaited: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.status)
		}
		if c.status == 503 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
		if strings.Contains(string(body), "u-start") {
			t.Errorf("%s %s: the answer repeats the request: %s", c.method, c.path, body)
		}
	}
}

// bindAddr is the address of the start-up log line that names it.
func bindAddr(t *testing.T, logs string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "opening the store" {
			if a, ok := m["addr"].(string); ok {
				return a
			}
		}
	}
	t.Fatalf("no start-up line names the address; logs:\n%s", logs)
	return ""
}

// Once handed over, the listener serves the service, every request
// answered by it and none by the start-up answers, also with a client
// connected before the hand-over.
func TestStartingHandsOverTheListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	handOver := serveStarting(ln, false, zerolog.Nop())
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz while starting: %d, want 200", code)
	}
	if code, _ := get("/v1/track"); code != 503 {
		t.Fatalf("/v1/track while starting: %d, want 503", code)
	}
	// A connection opened before the hand-over, not yet served.
	early, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	handOver()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "service")
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for i := 0; i < 5; i++ {
		if code, body := get("/healthz"); code != http.StatusTeapot || body != "service" {
			t.Fatalf("after the hand-over, request %d: %d %q, want the service's answer", i, code, body)
		}
	}
	_ = early.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(early, "GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := early.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 418") && !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 503") {
		t.Fatalf("a connection opened before the hand-over got %q, want an answer", buf[:n])
	}
}

// While cdp serve waits for its store, --metrics-addr already answers
// /metrics without a key, with the process's metrics and cdp_starting 1,
// rather than refusing connections; once the service serves, the same
// listener answers its metrics, with cdp_starting 0.
func TestServeMetricsWhileWaitingForTheStore(t *testing.T) {
	// The metrics listener takes a port of its own choosing, which the
	// start-up line names: a port picked here, closed and passed on could
	// be taken by another process in between. Port 1 answers nothing, and
	// the wait for it outlasts the test.
	s := startServeAsync(t, "--neo4j-uri", "bolt://127.0.0.1:1", "--store-timeout", "10m", "--metrics-addr", "127.0.0.1:0")
	s.waitLog(t, "waiting for Neo4j to answer", 60*time.Second)
	metricsAddr := startLogField(t, s.logs.String(), "metrics_addr")
	if host, port, err := net.SplitHostPort(metricsAddr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("the start-up line names the metrics address %q, want 127.0.0.1 and the port taken", metricsAddr)
	}
	code, body := httpGet(t, "http://"+metricsAddr+"/metrics")
	if code != 200 || !strings.Contains(body, "\ncdp_starting 1\n") || !strings.Contains(body, "\nprocess_start_time_seconds ") ||
		!strings.Contains(body, "\ngo_goroutines ") {
		t.Errorf("/metrics while the store is awaited: %d, want 200 with cdp_starting 1 and the process's metrics:\n%s", code, body)
	}
	if code, _ := httpGet(t, "http://"+metricsAddr+"/graphql"); code != 404 {
		t.Errorf("/graphql on the metrics listener while starting: %d, want 404", code)
	}

	// Once the service serves (an embedded store opens at once).
	e := startServeAsync(t, "--data-dir", t.TempDir(), "--metrics-addr", "127.0.0.1:0")
	e.waitAddr(t, 60*time.Second)
	metricsAddr = startLogField(t, e.logs.String(), "metrics_addr")
	code, body = httpGet(t, "http://"+metricsAddr+"/metrics")
	if code != 200 || !strings.Contains(body, "\ncdp_starting 0\n") || !strings.Contains(body, "cdp_store_errors_total{") {
		t.Errorf("/metrics once serving: %d, want 200 with cdp_starting 0 and the service's metrics:\n%s", code, body)
	}
}

// startLogField is the string field of the start-up log line ("opening
// the store") named field.
func startLogField(t *testing.T, logs, field string) string {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "opening the store" {
			if a, ok := m[field].(string); ok {
				return a
			}
		}
	}
	t.Fatalf("no start-up line holds %s; logs:\n%s", field, logs)
	return ""
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With --auth required the service is never in open mode, so its /healthz
// answers whatever the Host (a loopback server behind a proxy is probed
// under the proxy's name): so does the start-up answer while the store is
// awaited, or a liveness probe through the proxy would take the wait for
// a hung process. In open mode (--auth auto on loopback) it stays for a
// local Host only.
func TestServeHealthzWhileWaitingAnswersAnyHostWhenKeysAreRequired(t *testing.T) {
	for _, c := range []struct {
		auth   string
		status int
	}{{"required", 200}, {"auto", 503}} {
		s := startServeAsync(t, "--neo4j-uri", "bolt://127.0.0.1:1", "--store-timeout", "10m", "--auth", c.auth)
		s.waitLog(t, "waiting for Neo4j to answer", 60*time.Second)
		addr := bindAddr(t, s.logs.String())
		req, _ := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
		req.Host = "cdp.example"
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("--auth %s: GET /healthz while the store is awaited: %v", c.auth, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("--auth %s: GET /healthz with Host cdp.example while the store is awaited: %d %s, want %d", c.auth, resp.StatusCode, body, c.status)
		}
	}
}

// The start-up answers are the service's answers too: each carries an
// X-Request-Id (a sane one sent is kept) and is logged once with its id,
// method, route, status and duration, as the README says of every
// response and request.
func TestServeStartupAnswersCarryAndLogTheRequestID(t *testing.T) {
	s := startServeAsync(t, "--neo4j-uri", "bolt://127.0.0.1:1", "--store-timeout", "10m")
	s.waitLog(t, "waiting for Neo4j to answer", 60*time.Second)
	addr := bindAddr(t, s.logs.String())
	for _, c := range []struct{ path, sent, route string }{
		{"/readyz", "start-probe-1", "/readyz"},
		{"/healthz", "", "/healthz"},
		{"/v1/privacy/profiles/ann@example.com/export", "start-probe-2", "/v1/privacy"},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+c.path, nil)
		if c.sent != "" {
			req.Header.Set("X-Request-Id", c.sent)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		rid := resp.Header.Get("X-Request-Id")
		if rid == "" || (c.sent != "" && rid != c.sent) {
			t.Errorf("GET %s while the store is awaited: X-Request-Id %q, want %q (or a new one when none was sent)", c.path, rid, c.sent)
			continue
		}
		s.waitLog(t, `"request_id":"`+rid+`"`, 30*time.Second)
		line := ""
		for _, l := range strings.Split(s.logs.String(), "\n") {
			if strings.Contains(l, `"request_id":"`+rid+`"`) {
				line = l
			}
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["path"] != c.route || m["status"] != float64(resp.StatusCode) || m["method"] != "GET" {
			t.Errorf("GET %s: log line %s, want path %s and status %d", c.path, line, c.route, resp.StatusCode)
		}
		if strings.Contains(s.logs.String(), "ann@example.com") {
			t.Errorf("the log repeats a path: %s", s.logs.String())
		}
	}
}
