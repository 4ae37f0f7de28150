package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/testlog"
)

func TestParseAuth(t *testing.T) {
	for v, want := range map[string]bool{"auto": false, "": false, "required": true, "Required": true, " auto ": false} {
		got, err := parseAuth(v)
		if err != nil || got != want {
			t.Errorf("parseAuth(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"on", "true", "off", "require", "none"} {
		_, err := parseAuth(v)
		if err == nil || !strings.Contains(err.Error(), `--auth "`+v+`" is not auto`) || !strings.Contains(err.Error(), "required") {
			t.Errorf("parseAuth(%q): %v, want a usage error naming the value and the choices", v, err)
		}
	}
}

func TestParseRetention(t *testing.T) {
	const day = 24 * time.Hour
	for v, want := range map[string]time.Duration{
		"400d": 400 * day, "1d": day, "36500d": 36500 * day, "720h": 720 * time.Hour, "90m": 90 * time.Minute, " 30d ": 30 * day,
	} {
		got, err := parseRetention("--audit-retention", v)
		if err != nil || got != want {
			t.Errorf("parseRetention(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "0d", "-1d", "d", "1.5d", "36501d", "forever", "400", "0s", "-5h", "1y"} {
		_, err := parseRetention("--audit-retention", v)
		if err == nil || !strings.Contains(err.Error(), "--audit-retention") || !strings.Contains(err.Error(), "400d") ||
			!strings.Contains(err.Error(), "720h") {
			t.Errorf("parseRetention(%q): %v, want a usage error with examples", v, err)
		}
	}
}

// The new serve flags refuse bad values with one line and exit 2.
func TestServeAuthFlagsRefused(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--auth", "maybe"}, nil, `--auth "maybe" is not auto`},
		{nil, []string{"CDP_AUTH=off"}, `--auth "off" is not auto`},
		{[]string{"--audit-retention", "forever"}, nil, `--audit-retention "forever" is neither`},
		{nil, []string{"CDP_AUDIT_RETENTION=0d"}, `--audit-retention "0d" is neither`},
		{[]string{"--feed-retention", "-1d"}, nil, `--feed-retention "-1d" is neither`},
		{nil, []string{"CDP_FEED_RETENTION=week"}, `--feed-retention "week" is neither`},
		{[]string{"--rate-limit", "-1"}, nil, "--rate-limit must be a number of requests per second of at least 0"},
		{nil, []string{"CDP_RATE_LIMIT=fast"}, `CDP_RATE_LIMIT="fast" is not a number`},
		{[]string{"--rate-burst", "0"}, nil, "--rate-burst must be at least 1"},
	}
	for _, c := range cases {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, c.args...)
		_, errOut, code := runCDP(t, c.env, args...)
		if code != 2 || !strings.Contains(lastLine(errOut), c.want) {
			t.Errorf("%v %v: exit %d, last line %q; want 2 and %q", c.args, c.env, code, lastLine(errOut), c.want)
		}
	}
}

// listening returns the fields of the "listening" log line.
func listening(t *testing.T, logs *testlog.Buffer) map[string]any {
	t.Helper()
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "listening" {
			return m
		}
	}
	t.Fatalf("no listening line:\n%s", logs.String())
	return nil
}

func get(t *testing.T, url, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
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
	return resp.StatusCode, string(b)
}

// --graphiql auto is on only in open loopback mode; --auth=required
// enforces keys on loopback; --metrics-addr serves /metrics without a key.
func TestServeAuthFlags(t *testing.T) {
	// Open loopback mode: GraphiQL on, /metrics without a key.
	dir := t.TempDir()
	cmd, addr, logs := startServe(t, dir)
	if l := listening(t, logs); l["graphiql"] != true {
		t.Errorf("open loopback mode: graphiql %v, want true", l["graphiql"])
	}
	if status, body := get(t, "http://"+addr+"/graphiql", ""); status != 200 || !strings.Contains(body, "<html") {
		t.Errorf("open loopback mode /graphiql: %d", status)
	}

	// Stop it: the store's file is held while it runs.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cdp serve after SIGTERM: %v", err)
	}

	// Required, with a metrics listener: GraphiQL off, every endpoint but
	// the health checks needs a key, metrics on their own port.
	_, addr, logs = startServe(t, t.TempDir(), "CDP_AUTH=required", "CDP_METRICS_ADDR=127.0.0.1:0")
	l := listening(t, logs)
	if l["graphiql"] != false {
		t.Errorf("--auth=required: graphiql %v, want false", l["graphiql"])
	}
	for _, path := range []string{"/graphiql", "/graphql?query=%7B__typename%7D", "/metrics"} {
		if status, body := get(t, "http://"+addr+path, ""); status != 401 {
			t.Errorf("--auth=required %s: %d %s, want 401", path, status, body)
		}
	}
	if status, _ := get(t, "http://"+addr+"/readyz", ""); status != 200 {
		t.Errorf("--auth=required /readyz: %d", status)
	}
	maddr, _ := l["metrics_addr"].(string)
	if maddr == "" {
		t.Fatalf("no metrics_addr in the listening line: %v", l)
	}
	if status, body := get(t, "http://"+maddr+"/metrics", ""); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics listener /metrics without a key: %d", status)
	}
	if !strings.Contains(logs.String(), "nothing but /healthz, /readyz and the console's static files will answer") {
		t.Errorf("--auth=required with no key logged no error line:\n%s", logs.String())
	}

	// A key stored before start: auto turns GraphiQL off and keys on.
	st, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, secret, err := access.NewKey("scraper", []string{"metrics:read"}, "", time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, addr, logs = startServe(t, dir)
	if l := listening(t, logs); l["graphiql"] != false {
		t.Errorf("a key stored: graphiql %v, want false", l["graphiql"])
	}
	if status, _ := get(t, "http://"+addr+"/metrics", ""); status != 401 {
		t.Errorf("a key stored, /metrics without it: %d, want 401", status)
	}
	if status, body := get(t, "http://"+addr+"/metrics", secret); status != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("a key stored, /metrics with metrics:read: %d", status)
	}
}
