package ingest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// TestImportConsentPurposeTheServerLacks: --consent names a purpose. One
// the server's rules do not know (a typo, "emial") records nothing, so a
// row that carries a decision for it is rejected, the reason naming the
// purpose and the server's purposes, instead of being stored as accepted
// with its decision dropped. Rows with no decision for it are stored, a
// decision for a known purpose recorded; live traffic, whose banner
// categories need not be purposes, still has unknown categories skipped.
func TestImportConsentPurposeTheServerLacks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		var rejects bytes.Buffer
		stats, err := ingest.Import(ctx, strings.NewReader("id,news,sms\nc-1,true,false\nc-2,,true\nc-3,false,\n"), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
			Consent:     []ingest.Mapping{{Name: "emial", Column: "news"}, {Name: "sms", Column: "sms"}},
		})
		if err != nil || stats.Rows != 3 || stats.Stored != 1 || stats.Rejected != 2 {
			t.Fatalf("import: %+v, %v; want 3 rows: 1 stored, 2 rejected (rejects %q)", stats, err, rejects.String())
		}
		const reason = `consent purpose "emial" is not known; the purposes are analytics, personalization, advertising, email, sms, push`
		recs, err := csv.NewReader(strings.NewReader(rejects.String())).ReadAll()
		if err != nil || len(recs) != 3 {
			t.Fatalf("rejects %q (%v), want a header and 2 rows", rejects.String(), err)
		}
		for _, r := range recs[1:] {
			if (r[0] != "2" && r[0] != "4") || r[1] != reason {
				t.Errorf("rejected line %s: %q, want lines 2 and 4 with %q", r[0], r[1], reason)
			}
		}
		m, err := s.(privacy.ConsentStore).ConsentOf(ctx, []string{"user_id:c-1", "user_id:c-2", "user_id:c-3"})
		if err != nil {
			t.Fatal(err)
		}
		if rs := m["user_id:c-2"]; len(rs) != 1 || rs[0].Purpose != "sms" || rs[0].Status != privacy.StatusGranted {
			t.Errorf("c-2's records %+v, want sms GRANTED", rs)
		}
		if len(m["user_id:c-1"]) != 0 || len(m["user_id:c-3"]) != 0 {
			t.Errorf("records of rejected rows: %+v", m)
		}
		if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "c-1"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("c-1, a rejected row: %v, want not found", err)
		}

		// An NDJSON line is a message as sent live: a banner's category
		// that maps to no purpose is skipped, as it is live, and the line
		// stored.
		rejects.Reset()
		stats, err = ingest.Import(ctx, strings.NewReader(`{"type":"identify","userId":"nd-1","context":{"consent":{"categoryPreferences":{"Functional":true,"sms":true}}}}`+"\n"), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: &rejects,
		})
		if err != nil || stats.Stored != 1 || stats.Rejected != 0 {
			t.Fatalf("NDJSON line with a banner category: %+v, %v, rejects %q; want it stored", stats, err, rejects.String())
		}
		m, err = s.(privacy.ConsentStore).ConsentOf(ctx, []string{"user_id:nd-1"})
		if err != nil {
			t.Fatal(err)
		}
		if rs := m["user_id:nd-1"]; len(rs) != 1 || rs[0].Purpose != "sms" {
			t.Errorf("nd-1's records %+v, want sms alone", rs)
		}

		// Live: a banner's category that maps to no purpose is skipped.
		r := h.sdkPost(t, "/v1/identify", "wk-crm", map[string]any{"userId": "live-1",
			"context": map[string]any{"consent": map[string]any{"categoryPreferences": map[string]any{"functional": true, "sms": true}}}})
		if r.status != 200 || r.body.Stored != 1 {
			t.Fatalf("live message with a banner category: %d %s", r.status, r.raw)
		}
		r = h.rawPost(t, "/v1/identify", []byte(`{"userId":"live-2"}`), map[string]string{
			"Authorization": basic("wk-crm"), "Content-Type": "application/json", ingest.ConsentPurposesHeader: "lenient"})
		if r.status != 400 || !strings.Contains(r.raw, "X-CDP-Consent-Purposes must be strict, or absent") {
			t.Errorf("an unknown value of the header: %d %s, want 400 naming it", r.status, r.raw)
		}
	})
}
