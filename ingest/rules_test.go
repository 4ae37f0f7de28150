package ingest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestMaxIdentifiersOverHTTP replays the abuse that built a profile of
// 20,001 identifiers: 20 requests of 100 distinct context.externalIds types
// with one user id. Under the default maxIdentifiers (200) the profile stops
// at 200: the user id and the first 199 external ids; every later link is
// refused and the events are still stored.
func TestMaxIdentifiersOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		for r := 0; r < 20; r++ {
			ids := make([]string, 100)
			for i := range ids {
				ids[i] = fmt.Sprintf(`{"type":"t%d_%d","id":"x"}`, r, i)
			}
			body := fmt.Sprintf(`{"type":"track","event":"e","messageId":"m%d","userId":"u1","context":{"externalIds":[%s]}}`, r, strings.Join(ids, ","))
			if rep := h.rawPost(t, "/v1/track", []byte(body), map[string]string{"Authorization": basic("wk-node")}); rep.status != http.StatusOK || rep.body.Stored != 1 {
				t.Fatalf("request %d: %d %s", r, rep.status, rep.raw)
			}
		}
		if p := h.profile(t, graph.TypeUserID, "u1"); p.Size != graph.DefaultMaxIdentifiers {
			t.Fatalf("profile size = %d, want %d", p.Size, graph.DefaultMaxIdentifiers)
		}
	})
}

// TestUnknownIdentifierType: with allowAnyType false, a message carrying a
// type the rules neither build in nor list is refused per item with reason
// unknown_identifier_type, counted under that reason; the others are stored.
func TestUnknownIdentifierType(t *testing.T) {
	rules, err := graph.ParseRules([]byte(`{"allowAnyType": false, "types": {"crm_id": {"priority": 10, "limit": 1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarnessRules(t, s, ingest.Config{}, rules)
		batch := `{"batch":[
			{"type":"identify","messageId":"k-0","userId":"u1","context":{"externalIds":[{"type":"crm_id","id":"C1"}]}},
			{"type":"identify","messageId":"k-1","userId":"u2","context":{"externalIds":[{"type":"loyalty_id","id":"L1"}]}},
			{"type":"identify","messageId":"k-2","userId":"u3"}
		]}`
		r := h.rawPost(t, "/v1/batch", []byte(batch), map[string]string{"Authorization": basic("wk-node")})
		if r.status != http.StatusOK || r.body.Stored != 2 || r.body.Rejected != 1 {
			t.Fatalf("%d %s; want 2 stored and 1 rejected", r.status, r.raw)
		}
		if len(r.body.Errors) != 1 || r.body.Errors[0].Index != 1 || !strings.Contains(r.body.Errors[0].Reason, "unknown_identifier_type") || !strings.Contains(r.body.Errors[0].Reason, "loyalty_id") {
			t.Fatalf("errors %+v, want item 1 refused as unknown_identifier_type naming loyalty_id", r.body.Errors)
		}
		if got := h.metric(t, "cdp_ingest_events_rejected_total"); got != 1 {
			t.Fatalf("rejected_total = %v, want 1", got)
		}
	})
}
