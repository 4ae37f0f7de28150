package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
)

// harness is a collector over a real store, served over real HTTP.
type harness struct {
	store graph.Store
	eng   *graph.Engine
	coll  *ingest.Collector
	srv   *httptest.Server
	reg   *prometheus.Registry
}

var testKeys = map[string]string{"wk-node": "node", "wk-js": "web", "wk-crm": "crm"}

func newHarness(t *testing.T, s graph.Store, cfg ingest.Config) *harness {
	t.Helper()
	return newHarnessRules(t, s, cfg, nil)
}

// newHarnessRules is newHarness with identity rules (nil: the built-in).
func newHarnessRules(t *testing.T, s graph.Store, cfg ingest.Config, rules *graph.Rules) *harness {
	t.Helper()
	h := &harness{store: s, eng: graph.NewEngine(s, rules), reg: prometheus.NewRegistry()}
	if cfg.WriteKeys == nil {
		cfg.WriteKeys = testKeys
	}
	cfg.Registerer = h.reg
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	h.coll = ingest.New(h.eng, cfg)
	mux := http.NewServeMux()
	mux.Handle("/v1/", h.coll.Handler())
	h.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		h.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.coll.Close(ctx); err != nil {
			t.Errorf("close collector: %v", err)
		}
	})
	return h
}

// reply is an HTTP answer of the collector.
type reply struct {
	status int
	header http.Header
	body   ingest.Response
	raw    string
}

// sdkPost sends what analytics-node and analytics-go send: a gzipped JSON
// body with the write key as the Basic auth user and an empty password.
func (h *harness) sdkPost(t *testing.T, path, key string, body any) reply {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, &zb)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("User-Agent", "analytics-node-next/latest")
	if key != "" {
		req.SetBasicAuth(key, "")
	}
	return h.do(t, req)
}

// rawPost sends body bytes as they are.
func (h *harness) rawPost(t *testing.T, path string, body []byte, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return h.do(t, req)
}

var client = &http.Client{Timeout: 60 * time.Second} // a safety net against a hang, not a timing assertion

func (h *harness) do(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", req.Method, req.URL.Path, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(data)}
	if err := json.Unmarshal(data, &r.body); err != nil {
		t.Fatalf("%s %s answered %d with a body that is not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, data)
	}
	return r
}

func (h *harness) profile(t *testing.T, typ, value string) graph.Profile {
	t.Helper()
	p, err := h.eng.ProfileByIdentifier(context.Background(), graph.IdentifierRef{Type: typ, Value: value})
	if err != nil {
		t.Fatalf("profile of %s %s: %v", typ, value, err)
	}
	return p
}

func (h *harness) journey(t *testing.T, profileID string) []graph.Event {
	t.Helper()
	m, err := h.eng.Journeys(context.Background(), []string{profileID}, graph.JourneyQuery{Limit: graph.MaxPage})
	if err != nil {
		t.Fatalf("journey of %s: %v", profileID, err)
	}
	return m[profileID]
}

// metric returns the value of a counter or gauge, or the sample count of a
// histogram, summed over label values.
func (h *harness) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				total += m.Counter.GetValue()
			case m.Gauge != nil:
				total += m.Gauge.GetValue()
			case m.Histogram != nil:
				total += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return total
}

// blockStore holds the store's write transaction open until the returned
// function is called, so commits queue up behind it: a way to make the
// queue fill deterministically on the embedded store.
func blockStore(t *testing.T, s graph.Store) (release func()) {
	t.Helper()
	entered := make(chan struct{})
	unblock := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
			close(entered)
			<-unblock
			return errBlocked
		})
		if !errors.Is(err, errBlocked) {
			t.Errorf("blocking Update = %v, want %v", err, errBlocked)
		}
	}()
	<-entered
	released := false
	return func() {
		if !released {
			released = true
			close(unblock)
			<-finished
		}
	}
}

var errBlocked = &graph.Error{Code: graph.EINTERNAL, Message: "test held the write lock"}

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 200000 {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
