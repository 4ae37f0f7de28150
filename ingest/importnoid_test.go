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

// TestImportCSVRowWithoutIdentifierNamesTheColumns: a row whose mapped
// identifier cells are all empty (a person with traits and no id, or a
// spreadsheet's empty row of commas) is rejected with a reason that
// names the --map columns, not the Segment fields the server would list.
func TestImportCSVRowWithoutIdentifierNamesTheColumns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		in := "customer_id,Email,Name\n" +
			"c-1,c1@example.com,Cy\n" +
			" ,,Ann\n" +
			",,\n"
		var rejects bytes.Buffer
		stats, err := ingest.Import(context.Background(), strings.NewReader(in), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "Email"}},
			Traits:      []ingest.Mapping{{Name: "name", Column: "Name"}},
		})
		if err != nil || stats.Rows != 3 || stats.Stored != 1 || stats.Rejected != 2 {
			t.Fatalf("import: %+v, %v; want 3 rows: 1 stored, 2 rejected (rejects %q)", stats, err, rejects.String())
		}
		recs, err := csv.NewReader(strings.NewReader(rejects.String())).ReadAll()
		if err != nil || len(recs) != 3 {
			t.Fatalf("rejects %q (%v)", rejects.String(), err)
		}
		const reason = `no identifier: the --map columns "customer_id", "Email" are empty`
		for _, r := range recs[1:] {
			if (r[0] != "3" && r[0] != "4") || r[1] != reason {
				t.Errorf("rejected line %s: %q, want lines 3 and 4 with %q", r[0], r[1], reason)
			}
		}
	})
}
