package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/server"
)

// received reads cdp_ingest_events_received_total from the registry.
func received(t *testing.T, svc *app.Service) float64 {
	t.Helper()
	mfs, err := svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "cdp_ingest_events_received_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no cdp_ingest_events_received_total")
	return 0
}

func post(t *testing.T, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.SetBasicAuth(key, "")
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

// The service New builds has everything `cdp serve` configures: write keys
// and their sources, the GraphQL ingest parsing (and counting) messages as
// the collector does, the normalizer's metrics, and a Close that commits
// what was accepted.
func TestServiceWiring(t *testing.T) {
	storetest.Each(t, func(t *testing.T, store graph.Store) {
		ctx := context.Background()
		ln, err := server.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := app.Defaults()
		cfg.Store, cfg.Listener = store, ln
		cfg.Collector.WriteKeys = map[string]string{"k1": "crm"}
		svc, err := app.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		svc.Start()
		closed := false
		t.Cleanup(func() {
			if !closed {
				_ = svc.Close(context.Background())
			}
		})
		base := "http://" + svc.Server.Addr()

		msg := `{"type":"identify","messageId":"m1","userId":"u1","traits":{"email":"null"}}`
		if code, body := post(t, base+"/v1/identify", "wrong", msg); code != http.StatusUnauthorized {
			t.Errorf("unknown write key: %d %s, want 401", code, body)
		}
		if code, body := post(t, base+"/v1/identify", "k1", msg); code != http.StatusOK {
			t.Fatalf("write key k1: %d %s", code, body)
		}
		// Event ids are scoped by source: message m1 of source crm.
		evs, err := svc.Engine.Events(ctx, []string{"crm/m1"})
		if err != nil {
			t.Fatal(err)
		}
		if ev, ok := evs["crm/m1"]; !ok || ev.Source != "crm" || ev.MessageID != "m1" {
			t.Errorf("event crm/m1 = %+v (found %v), want source crm (the source of key k1) and message id m1", ev, ok)
		}

		before := received(t, svc)
		q, err := json.Marshal(map[string]any{
			"query":     `mutation($e: [EventInput!]!) { ingest(events: $e) { accepted } }`,
			"variables": map[string]any{"e": []any{map[string]any{"type": "track", "event": "Viewed", "messageId": "g1", "userId": "u2"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if code, body := post(t, base+"/graphql", "", string(q)); code != http.StatusOK || !strings.Contains(body, `"accepted":1`) {
			t.Fatalf("ingest mutation: %d %s", code, body)
		}
		if after := received(t, svc); after != before+1 {
			t.Errorf("the ingest mutation was not parsed by the collector: received went from %v to %v", before, after)
		}

		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		var metrics bytes.Buffer
		_, err = io.Copy(&metrics, resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`cdp_identifier_values_dropped_total{reason="blocked"} 1`, "go_goroutines", "cdp_ingest_queue_depth"} {
			if !strings.Contains(metrics.String(), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}

		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		closed = true
		if err := svc.Close(cctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case <-svc.Done():
		default:
			t.Error("the server still serves after Close")
		}
		if _, err := http.Get(base + "/healthz"); err == nil {
			t.Error("the server answers after Close")
		}
	})
}
