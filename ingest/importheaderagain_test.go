package ingest_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestImportCSVHeaderAgain: exports joined into one file (cat a.csv
// b.csv) repeat the header row, the later one perhaps behind its own byte
// order mark. Such a row is no customer: it is rejected, naming the
// reason, instead of being stored as a person whose user id is
// "customer_id".
func TestImportCSVHeaderAgain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		in := "customer_id,Email,Plan\nc-1,c1@example.com,gold\n" +
			"\ufeffcustomer_id,Email,Plan\r\nc-2,c2@example.com,free\r\n" +
			" customer_id , Email,Plan\nc-3,c3@example.com,\n"
		var rejects bytes.Buffer
		stats, err := ingest.Import(ctx, strings.NewReader(in), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "Email"}},
			Traits:      []ingest.Mapping{{Name: "plan", Column: "Plan"}},
		})
		if err != nil || stats.Rows != 5 || stats.Stored != 3 || stats.Rejected != 2 {
			t.Fatalf("import: %+v, %v; want 5 rows: 3 stored, 2 rejected (rejects %q)", stats, err, rejects.String())
		}
		for _, line := range []string{"3", "5"} {
			if !strings.Contains(rejects.String(), "\n"+line+",the row repeats the header row (files joined into one?),") {
				t.Errorf("rejects %q: want line %s refused as the header again", rejects.String(), line)
			}
		}
		if _, err := h.eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "customer_id"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("user_id customer_id: %v, want not found", err)
		}
		for _, u := range []string{"c-1", "c-2", "c-3"} {
			h.profile(t, graph.TypeUserID, u)
		}
	})
}
