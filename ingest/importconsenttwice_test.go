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

// TestImportConsentPurposeFromTwoColumns: one purpose given two columns
// (--consent email=News --consent email=Mail, a column for each list a
// CRM keeps) takes whichever is filled, and the same decision from both;
// a row where they disagree is rejected naming both columns, never the
// cells, instead of recording whichever flag came last.
func TestImportConsentPurposeFromTwoColumns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		in := "id,News,Mail\n" +
			"c-1,true,granted\n" +
			"c-2,,false\n" +
			"c-3,true,false\n" +
			"c-4,withdrawn,TRUE\n"
		var rejects bytes.Buffer
		stats, err := ingest.Import(ctx, strings.NewReader(in), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
			Consent:     []ingest.Mapping{{Name: "email", Column: "News"}, {Name: "email", Column: "Mail"}},
		})
		if err != nil || stats.Rows != 4 || stats.Stored != 2 || stats.Rejected != 2 {
			t.Fatalf("import: %+v, %v; want 4 rows: 2 stored, 2 rejected (rejects %q)", stats, err, rejects.String())
		}
		recs, err := csv.NewReader(strings.NewReader(rejects.String())).ReadAll()
		if err != nil || len(recs) != 3 {
			t.Fatalf("rejects %q (%v)", rejects.String(), err)
		}
		const reason = "--consent email=News and --consent email=Mail disagree: one row gives one decision per purpose"
		for _, r := range recs[1:] {
			if (r[0] != "4" && r[0] != "5") || r[1] != reason {
				t.Errorf("rejected line %s: %q, want lines 4 and 5 with %q", r[0], r[1], reason)
			}
		}
		m, err := s.(privacy.ConsentStore).ConsentOf(ctx, []string{"user_id:c-1", "user_id:c-2", "user_id:c-3", "user_id:c-4"})
		if err != nil {
			t.Fatal(err)
		}
		for user, want := range map[string]privacy.Status{"c-1": privacy.StatusGranted, "c-2": privacy.StatusDenied} {
			if rs := m["user_id:"+user]; len(rs) != 1 || rs[0].Status != want {
				t.Errorf("%s: records %+v, want one %s", user, rs, want)
			}
		}
		if len(m["user_id:c-3"])+len(m["user_id:c-4"]) != 0 {
			t.Errorf("records of rejected rows: %+v %+v", m["user_id:c-3"], m["user_id:c-4"])
		}
	})
}
