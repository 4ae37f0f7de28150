package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/server"
)

// Every metric the Grafana dashboard in docs/ queries is one the service
// exports, and the dashboard covers what operators watch: ingest rate,
// commit latency, queue depth, refusals, GraphQL latency by operation and
// store errors.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	// The service, with events, a refusal and one GraphQL operation behind
	// it, so that every metric has series.
	ctx := context.Background()
	ln, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.Defaults()
	cfg.Store, cfg.Listener = storetest.Embedded(t), ln
	svc, err := app.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	defer svc.Close(context.Background())
	base := "http://" + svc.Server.Addr()
	if code, body := post(t, base+"/v1/track", "k", `{"messageId":"d1","userId":"u1","event":"Viewed"}`); code != http.StatusOK {
		t.Fatalf("track: %d %s", code, body)
	}
	// A message refused as invalid (a track without its event name), and
	// an identifier value normalization drops.
	if code, body := post(t, base+"/v1/track", "k", `{"messageId":"d2","userId":"u2"}`); code != http.StatusBadRequest {
		t.Fatalf("track without event: %d %s, want 400", code, body)
	}
	if code, body := post(t, base+"/v1/identify", "k", `{"messageId":"d3","userId":"u3","traits":{"email":"null"}}`); code != http.StatusOK {
		t.Fatalf("identify: %d %s", code, body)
	}
	if code, body := post(t, base+"/graphql", "", `{"operationName":"Q","query":"query Q { profileByIdentifier(type: \"user_id\", value: \"u1\") { id } }"}`); code != http.StatusOK {
		t.Fatalf("graphql: %d %s", code, body)
	}
	mfs, err := svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	if !exported["cdp_graphql_duration_seconds"] || !exported["cdp_store_errors_total"] {
		t.Fatalf("the service does not export cdp_graphql_duration_seconds and cdp_store_errors_total")
	}

	metric := regexp.MustCompile(`cdp_[a-z_]+`)
	queried := map[string]bool{}
	refusals := map[string]bool{} // what the refusals panel shows
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				name := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(m, suffix); ok && exported[base] {
						name = base
					}
				}
				if !exported[name] {
					t.Errorf("panel %q queries %s, which the service does not export", p.Title, m)
				}
				queried[name] = true
				if strings.HasPrefix(p.Title, "Refusals") {
					refusals[name] = true
				}
			}
		}
	}
	for _, want := range []string{
		"cdp_ingest_events_stored_total", "cdp_ingest_commit_duration_seconds", "cdp_ingest_queue_depth",
		"cdp_ingest_events_refused_total", "cdp_graphql_duration_seconds", "cdp_store_errors_total",
	} {
		if !queried[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
	// Every counter of events the collector did not store (README,
	// Metrics: duplicate_conflict is counted apart from rejected_total).
	for _, want := range []string{
		"cdp_ingest_events_refused_total", "cdp_ingest_events_rejected_total",
		"cdp_ingest_events_suppressed_total", "cdp_ingest_events_duplicate_conflict_total",
	} {
		if !refusals[want] {
			t.Errorf("the refusals panel does not show %s", want)
		}
	}
}
