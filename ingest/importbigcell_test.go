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
)

// TestImportCSVRowOverTheLimitNamesTheColumn: a row whose message would
// be over the per-message limit is rejected with a reason that names the
// mapped column holding its longest cell, which is what to shorten or
// leave out, besides the sizes; never the cell itself.
func TestImportCSVRowOverTheLimitNamesTheColumn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		long := strings.Repeat("Lorem ipsum ", 4000) // 48,000 bytes; 47,999 once trimmed, as sent
		in := "id,Name,Notes,Unused\n" +
			"b-1,Bea,\"" + long + "\"," + strings.Repeat("u", 60000) + "\n" +
			"b-2,Bo,short,\n"
		var rejects bytes.Buffer
		stats, err := ingest.Import(context.Background(), strings.NewReader(in), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
			Traits:      []ingest.Mapping{{Name: "name", Column: "Name"}, {Name: "notes", Column: "Notes"}},
		})
		if err != nil || stats.Rows != 2 || stats.Stored != 1 || stats.Rejected != 1 {
			t.Fatalf("import: %+v, %v; want 2 rows: 1 stored, 1 rejected", stats, err)
		}
		recs, err := csv.NewReader(strings.NewReader(rejects.String())).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("rejects (%v): %d records", err, len(recs))
		}
		const want = `its longest mapped cell is in column "Notes" (47999 bytes)`
		if r := recs[1]; r[0] != "2" || !strings.Contains(r[1], "over the 32 KiB per-message limit") || !strings.Contains(r[1], want) || strings.Contains(r[1], "Lorem") {
			t.Errorf("line %s: reason %q, want the size and %q", r[0], r[1], want)
		}
		h.profile(t, graph.TypeUserID, "b-2")
	})
}
