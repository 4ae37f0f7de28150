package ingest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestSingleMessageRefusalsCounted: a single message (/v1/track, ...) is
// the whole body, so one refused before it is parsed (over 32 KiB, not
// JSON, not UTF-8, nested too deep) is a message received and rejected
// for that reason, as the same message in a batch is.
func TestSingleMessageRefusalsCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		auth := map[string]string{"Authorization": basic("wk-node")}
		cases := []struct {
			body   string
			status int
			reason string
		}{
			{`{"event":"e","userId":"u","properties":{"s":"` + strings.Repeat("x", 33<<10) + `"}}`, http.StatusRequestEntityTooLarge, ingest.ReasonTooLarge},
			{`{"event":"e","userId":`, http.StatusBadRequest, ingest.ReasonMalformed},
			{"{\"event\":\"caf\xe9\",\"userId\":\"u\"}", http.StatusBadRequest, ingest.ReasonInvalidUTF8},
			{`{"event":"e","userId":"u","properties":` + strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70) + `}`, http.StatusBadRequest, ingest.ReasonTooDeep},
			{`{"event":"e"}`, http.StatusBadRequest, ingest.ReasonNoIdentifier},
		}
		for _, c := range cases {
			r := h.rawPost(t, "/v1/track", []byte(c.body), auth)
			if r.status != c.status {
				t.Errorf("%s: %d %.200s; want %d", c.reason, r.status, r.raw, c.status)
			}
		}
		if got := h.metric(t, "cdp_ingest_events_received_total"); got != float64(len(cases)) {
			t.Errorf("received_total = %v, want %d", got, len(cases))
		}
		for _, c := range cases {
			if got := h.labelled(t, "cdp_ingest_events_rejected_total", "reason", c.reason); got != 1 {
				t.Errorf("rejected_total{reason=%q} = %v, want 1", c.reason, got)
			}
		}
	})
}

// labelled returns the value of the counter name with label = value.
func (h *harness) labelled(t *testing.T, name, label, value string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
