package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/telemetry/otlptest"
)

// attr returns a span attribute's value as text: a string as is, an
// integer in decimal.
func attr(s *tracepb.Span, key string) string {
	for _, a := range s.Attributes {
		if a.Key != key {
			continue
		}
		if v, ok := a.Value.Value.(*commonpb.AnyValue_IntValue); ok {
			return strconv.FormatInt(v.IntValue, 10)
		}
		return a.Value.GetStringValue()
	}
	return ""
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, cdp serve exports spans for HTTP
// requests (continuing the caller's traceparent), GraphQL operations,
// commits and store transactions, with the right parents and the store's
// db.system; the access log line carries the trace id; no personal value
// is in any span. On both stores.
func TestTracesExportedOverOTLP(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { tracesExported(t, "bbolt") })
	t.Run("neo4j", func(t *testing.T) {
		storetest.OpenNeo4j(t) // the test lock, and an empty database
		cfg := storetest.Neo4jConfig()
		tracesExported(t, "neo4j", "NEO4J_URI="+cfg.URI, "NEO4J_USER="+cfg.User,
			"NEO4J_PASSWORD="+cfg.Password, "NEO4J_DATABASE="+cfg.Database)
	})
}

// tracesExported runs TestTracesExportedOverOTLP's checks on a cdp serve
// with storeEnv, whose store spans carry db.system dbSystem.
func tracesExported(t *testing.T, dbSystem string, storeEnv ...string) {
	recv := &otlptest.Receiver{}
	col := httptest.NewServer(recv)
	defer col.Close()
	cmd, addr, logs := startServe(t, t.TempDir(), append([]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + col.URL, "OTEL_BSP_SCHEDULE_DELAY=50", "OTEL_SERVICE_NAME=cdp-test"}, storeEnv...)...)
	base := "http://" + addr

	// A caller's trace: the collector request continues it.
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/identify",
		strings.NewReader(`{"messageId":"t1","userId":"u-trace","traits":{"email":"ann.trace@example.com"}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	// The caller's address and user agent, which otelhttp records, must
	// not leave the process.
	req.Header.Set("X-Forwarded-For", "203.0.113.77")
	req.Header.Set("User-Agent", "ann-trace-agent/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("identify: %d", resp.StatusCode)
	}
	// Nor a value from the path (url.path).
	resp, err = http.Get(base + "/v1/privacy/profiles/p_tracepath0123/export")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Nor a method of the caller's own (any token is one).
	req, _ = http.NewRequest("ANN.TRACE-METHOD", base+"/v1/track", nil)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	q := `{"operationName":"Who","query":"query Who { profileByIdentifier(type: \"user_id\", value: \"u-trace\") { id } }"}`
	resp, err = http.Post(base+"/graphql", "application/json", strings.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	gql, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(gql), `"id":"p_`) {
		t.Fatalf("graphql: %d %s", resp.StatusCode, gql)
	}
	// Shutdown flushes the spans still buffered.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cdp serve exited with %v; logs:\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("cdp serve did not stop; logs:\n%s", logs.String())
	}

	if bad := recv.Bad(); len(bad) > 0 {
		t.Fatalf("the collector got requests it could not read: %v", bad)
	}
	spans, raw := recv.Spans(), recv.Raw()
	for _, v := range []string{"ann.trace@example.com", "u-trace", "203.0.113.77", "ann-trace-agent", "p_tracepath0123", "ANN.TRACE-METHOD"} {
		if bytes.Contains(raw, []byte(v)) {
			t.Errorf("a span carries %q", v)
		}
	}
	for _, s := range spans {
		for _, a := range s.Attributes {
			switch a.Key {
			case "client.address", "network.peer.address", "network.peer.port", "user_agent.original", "url.path", "url.query", "server.address":
				t.Errorf("span %q carries %s", s.Name, a.Key)
			}
		}
	}
	byName := map[string][]*tracepb.Span{}
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
		byID[hex.EncodeToString(s.SpanId)] = s
	}
	names := func() []string {
		var out []string
		for n := range byName {
			out = append(out, n)
		}
		return out
	}
	one := func(name string) *tracepb.Span {
		t.Helper()
		if len(byName[name]) == 0 {
			t.Fatalf("no span %q among %v", name, names())
		}
		return byName[name][0]
	}
	parentOf := func(s *tracepb.Span) *tracepb.Span { return byID[hex.EncodeToString(s.ParentSpanId)] }

	// A store span belongs to the operation or commit that ran it: the
	// background work (the change feed's poll every 100 ms, trims,
	// refreshes) starts no trace of its own, which would bury the
	// requests' traces under thousands an hour.
	orphans := 0
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "store.") && parentOf(s) == nil {
			orphans++
		}
	}
	if orphans > 0 {
		t.Errorf("%d store spans have no parent among the exported spans (spans %v)", orphans, names())
	}
	identify := one("POST /v1/identify")
	if attr(identify, "http.request.method") != "POST" || attr(identify, "http.response.status_code") != "200" {
		t.Errorf("POST /v1/identify attributes %v, want its method and status", identify.Attributes)
	}
	if got := hex.EncodeToString(identify.TraceId); got != callerTrace {
		t.Errorf("the collector request's trace is %s, want the caller's %s", got, callerTrace)
	}
	if identify.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("POST /v1/identify is a %v span, want a server span", identify.Kind)
	}
	commit := one("ingest.commit")
	if attr(commit, "cdp.events") != "1" || attr(commit, "cdp.stored") != "1" {
		t.Errorf("ingest.commit attributes %v, want 1 event stored", commit.Attributes)
	}
	var commitStore bool
	for _, s := range byName["store.update"] {
		if p := parentOf(s); p != nil && p.Name == "ingest.commit" && attr(s, "db.system") == dbSystem {
			commitStore = true
		}
	}
	if !commitStore {
		t.Errorf("no store.update span under ingest.commit (spans %v)", names())
	}
	op := one("graphql query Who")
	if p := parentOf(op); p == nil || p.Name != "POST /graphql" {
		t.Errorf("the operation's parent is %v, want the POST /graphql span", p)
	}
	var opStore bool
	for _, s := range byName["store.view"] {
		if p := parentOf(s); p != nil && p == op && attr(s, "db.system") == dbSystem {
			opStore = true
		}
	}
	if !opStore {
		t.Errorf("no store.view span under the GraphQL operation (spans %v)", names())
	}
	// The access log line of the GraphQL request names its trace.
	wantTrace := hex.EncodeToString(op.TraceId)
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "request" && m["path"] == "/graphql" {
			found = true
			if m["trace_id"] != wantTrace {
				t.Errorf("access log line %s: trace_id %v, want %s", line, m["trace_id"], wantTrace)
			}
		}
	}
	if !found {
		t.Errorf("no access log line for /graphql:\n%s", logs.String())
	}
}
