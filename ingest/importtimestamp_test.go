package ingest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestImportCSVTimestampNamesTheColumn: a --timestamp cell that is no
// time the collector takes (a spreadsheet's 03/04/2024, a serial number,
// a date before 2000) rejects its row with a reason that names the
// column, as a --consent cell's does, never the cell; rows with a time in
// an accepted form are dated by it.
func TestImportCSVTimestampNamesTheColumn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		in := "id,Joined on\n" +
			"t-1,03/04/2024\n" +
			"t-2,45355\n" +
			"t-3,1999-12-31\n" +
			"t-4,2024-03-04 9:15\n" +
			"t-5,\n"
		var rejects bytes.Buffer
		stats, err := ingest.Import(ctx, strings.NewReader(in), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}}, TimestampColumn: "Joined on",
		})
		if err != nil || stats.Rows != 5 || stats.Stored != 2 || stats.Rejected != 3 {
			t.Fatalf("import: %+v, %v; want 5 rows: 2 stored, 3 rejected (rejects %q)", stats, err, rejects.String())
		}
		recs, err := csv.NewReader(strings.NewReader(rejects.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"2": `--timestamp "Joined on": the cell is not an ISO-8601 time`,
			"3": `--timestamp "Joined on": the cell is not an ISO-8601 time`,
			"4": `--timestamp "Joined on": the cell is before 2000-01-01`,
		}
		for _, r := range recs[1:] {
			if !strings.HasPrefix(r[1], want[r[0]]) || strings.Contains(r[1], r[3]) {
				t.Errorf("line %s: reason %q, want it to start %q and not repeat the cell", r[0], r[1], want[r[0]])
			}
			delete(want, r[0])
		}
		if len(want) > 0 {
			t.Errorf("lines not rejected: %v", want)
		}
		evs := h.journey(t, h.profile(t, graph.TypeUserID, "t-4").ID)
		if len(evs) != 1 || !evs[0].Timestamp.Equal(time.Date(2024, 3, 4, 9, 15, 0, 0, time.UTC)) {
			t.Errorf("t-4's events %+v, want one dated 2024-03-04 09:15 UTC", evs)
		}
		h.profile(t, graph.TypeUserID, "t-5")
	})
}
