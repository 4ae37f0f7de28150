package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// dataExport serves small profiles only: more than MaxExportEvents events,
// or an answer over the response limit, is refused with INVALID_ARGUMENT
// pointing to the NDJSON endpoint, and the refusal is audited. Values are
// not masked (privacy:read is for exactly this).
func TestDataExportLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		officer, _ := e.key("officer", "", access.ScopePrivacyRead)
		var evs []graph.Event
		for i := 0; i <= MaxExportEvents; i++ {
			evs = append(evs, ev(fmt.Sprintf("big-%04d", i), t0.Add(time.Duration(i)*time.Second), "track", "user_id:big"))
		}
		for len(evs) > 0 {
			n := min(len(evs), 250)
			e.apply(evs[:n]...)
			evs = evs[n:]
		}
		big := pidOf(t, e.engine, "user_id:big")
		r := e.as(officer, `query($id: ID!) { dataExport(profileId: $id) }`, map[string]any{"id": big})
		if r.code() != CodeInvalidArgument || !strings.Contains(r.Errors[0].Message, "/v1/privacy/profiles/{id}/export") ||
			!strings.Contains(r.Errors[0].Message, "1001 events") {
			t.Errorf("dataExport of %d events: %s, want INVALID_ARGUMENT naming the NDJSON endpoint", MaxExportEvents+1, r.Raw)
		}

		// A few large events: within the event count, over a small limit.
		pad := strings.Repeat("x", 1500)
		for i := 0; i < 3; i++ {
			ex := ev(fmt.Sprintf("wide-%d", i), t0.Add(time.Duration(i)*time.Second), "track", "user_id:wide", "email:wide@example.com")
			ex.Properties = map[string]any{"pad": pad}
			e.apply(ex)
		}
		wide := pidOf(t, e.engine, "user_id:wide")
		cfg := testConfig()
		cfg.MaxResponseBytes = 4000
		small := newKeyEnv(t, s, cfg, nil)
		r = small.as(officer, `query($id: ID!) { dataExport(profileId: $id) }`, map[string]any{"id": wide})
		if r.code() != CodeInvalidArgument || !strings.Contains(r.Errors[0].Message, "response limit of 4000 bytes") ||
			!strings.Contains(r.Errors[0].Message, "/v1/privacy/profiles/{id}/export") {
			t.Errorf("dataExport over the response limit: %s, want INVALID_ARGUMENT naming the limit and the NDJSON endpoint", r.Raw)
		}
		// Under the default limit it answers, unmasked.
		r = e.as(officer, `query($id: ID!) { dataExport(profileId: $id) }`, map[string]any{"id": wide})
		var d struct {
			X struct {
				Counts      privacy.Counts
				Identifiers []struct{ Type, Value string }
				Events      []struct{ Properties map[string]any }
			} `json:"dataExport"`
		}
		if err := json.Unmarshal(r.Data, &d); err != nil || len(r.Errors) > 0 {
			t.Fatalf("dataExport of the wide profile: %s", r.Raw)
		}
		if d.X.Counts != (privacy.Counts{Identifiers: 2, Events: 3, Links: 1}) || len(d.X.Events) != 3 || d.X.Events[0].Properties["pad"] != pad {
			t.Errorf("dataExport of the wide profile: %+v", d.X.Counts)
		}
		if len(d.X.Identifiers) != 2 || d.X.Identifiers[0].Value != "wide@example.com" {
			t.Errorf("identifiers %+v, want the email unmasked first", d.X.Identifiers)
		}

		// Newest first: the answer, then the two refusals.
		as := e.audit(privacy.ExportAction)
		want := []struct {
			outcome string
			pid     string
		}{{access.OutcomeOK, wide}, {CodeInvalidArgument, ""}, {CodeInvalidArgument, ""}}
		if len(as) != len(want) {
			t.Fatalf("%d export audit entries, want %d: %+v", len(as), len(want), as)
		}
		for i, w := range want {
			if as[i].Outcome != w.outcome || as[i].KeyName != "officer" || (w.pid != "" && (len(as[i].ProfileIDs) != 1 || as[i].ProfileIDs[0] != w.pid)) {
				t.Errorf("audit entry %d: %+v, want outcome %s for %q", i, as[i], w.outcome, w.pid)
			}
		}
	})
}

func pidOf(t *testing.T, eng *graph.Engine, key string) string {
	t.Helper()
	p, err := eng.ProfileByIdentifier(context.Background(), graph.SplitKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}
