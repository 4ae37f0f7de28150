package ingest_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/telemetry"
	"github.com/idgraph/cdp/internal/telemetry/otlptest"
	"github.com/idgraph/cdp/internal/testlog"
)

// commitLogLines returns the collector's log lines about a micro-batch that
// was not committed.
func commitLogLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg, _ := m["message"].(string); strings.Contains(msg, "micro-batch not committed") {
			out = append(out, m)
		}
	}
	return out
}

// TestCommitLogCarriesTraceID: with tracing on, what a commit logs names
// the trace of its ingest.commit span, as exported; with tracing off it
// names none.
func TestCommitLogCarriesTraceID(t *testing.T) {
	submitFailing := func(t *testing.T) string {
		s := storetest.Embedded(t)
		logs := &testlog.Buffer{}
		coll := ingest.New(graph.NewEngine(s, nil), ingest.Config{
			Suppression: downList{openList(t, s).SuppressionList},
			Logger:      zerolog.New(logs),
		})
		if _, err := coll.Submit(context.Background(), []graph.Event{event("tl-1", "alice")}); graph.ErrorCode(err) != graph.EUNAVAILABLE {
			t.Fatalf("Submit with the list down = %v, want EUNAVAILABLE", err)
		}
		if err := coll.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}

	t.Run("off", func(t *testing.T) {
		lines := commitLogLines(t, submitFailing(t))
		if len(lines) != 1 {
			t.Fatalf("%d lines about the failed commit, want 1", len(lines))
		}
		if tid, ok := lines[0]["trace_id"]; ok {
			t.Errorf("with tracing off the line names trace %v", tid)
		}
	})

	t.Run("on", func(t *testing.T) {
		recv := &otlptest.Receiver{}
		col := httptest.NewServer(recv)
		defer col.Close()
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
		shutdown, err := telemetry.Setup(context.Background(), "test", func(err error) { t.Errorf("exporter: %v", err) })
		if err != nil {
			t.Fatal(err)
		}
		logs := submitFailing(t)
		if err := shutdown(context.Background()); err != nil { // flushes the spans
			t.Fatal(err)
		}
		lines := commitLogLines(t, logs)
		if len(lines) != 1 {
			t.Fatalf("%d lines about the failed commit, want 1:\n%s", len(lines), logs)
		}
		commits := recv.Named("ingest.commit")
		if len(commits) != 1 {
			t.Fatalf("%d ingest.commit spans exported, want 1", len(commits))
		}
		if got, want := lines[0]["trace_id"], hex.EncodeToString(commits[0].TraceId); got != want {
			t.Errorf("the line names trace %v, want the commit span's %s", got, want)
		}
	})
}
