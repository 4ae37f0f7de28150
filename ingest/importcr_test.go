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

// TestImportCRLineEnds: a file whose lines end in CR alone (Excel for
// Mac's "CSV (Macintosh)", classic Mac tools) imports as the same file
// with LF line ends does: the same rows, the same line numbers in the
// rejects file, a quoted cell over two lines as the same two lines, and
// the same message ids, so importing the LF file after it stores nothing.
// NDJSON lines ended by CR alone are lines too.
func TestImportCRLineEnds(t *testing.T) {
	const csvFile = "customer_id,Email,Note\n" +
		"m-1,mac1@example.com,\"first\nsecond\"\n" +
		"m-2,mac2@example.com\n" + // one field short: refused, line 4
		"m-3,mac3@example.com,plain\n"
	const ndjsonFile = `{"type":"identify","userId":"mn-1"}` + "\n" + `{"type":"identify","userId":"mn-2"}` + "\n"
	cr := func(s string) string { return strings.ReplaceAll(s, "\n", "\r") }
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		csvCfg, ndCfg := crmImportConfigs(h, ingest.Mapping{Name: "note", Column: "Note"})
		for i, f := range []struct {
			name string
			in   string
			cfg  func(*bytes.Buffer) ingest.ImportConfig
			want ingest.ImportStats
		}{
			{"CSV, CR", cr(csvFile), csvCfg, ingest.ImportStats{Rows: 3, Stored: 2, Rejected: 1}},
			{"CSV, CR without the last", strings.TrimSuffix(cr(csvFile), "\r"), csvCfg, ingest.ImportStats{Rows: 3, Duplicates: 2, Rejected: 1}},
			{"CSV, LF", csvFile, csvCfg, ingest.ImportStats{Rows: 3, Duplicates: 2, Rejected: 1}},
			{"NDJSON, CR", cr(ndjsonFile), ndCfg, ingest.ImportStats{Rows: 2, Stored: 2}},
			{"NDJSON, LF", ndjsonFile, ndCfg, ingest.ImportStats{Rows: 2, Duplicates: 2}},
		} {
			var rejects bytes.Buffer
			stats, err := ingest.Import(ctx, strings.NewReader(f.in), f.cfg(&rejects))
			stats.Bytes = 0
			if err != nil || stats != f.want {
				t.Fatalf("%d. %s: %+v, %v; want %+v (rejects %q)", i+1, f.name, stats, err, f.want, rejects.String())
			}
			if f.want.Rejected > 0 && !strings.Contains(rejects.String(), "\n4,\"CSV: row has 2 fields, the header has 3\",m-2,mac2@example.com\n") {
				t.Errorf("%s: rejects %q, want line 4 refused for its field count", f.name, rejects.String())
			}
		}
		if v := graph.FoldTraits(mustMembers(t, h, "m-1"))["note"].Value; v != "first\nsecond" {
			t.Errorf("m-1's note %q, want the two lines", v)
		}
		if p := h.profile(t, graph.TypeEmail, "mac3@example.com"); p.ID != h.profile(t, graph.TypeUserID, "m-3").ID {
			t.Error("m-3's email is not in its profile")
		}
		h.profile(t, graph.TypeUserID, "mn-2")
	})
}

// crmImportConfigs returns the import configurations, rejects going to
// the buffer given, of a CSV keyed by customer_id (user_id) and Email with
// one trait column, and of NDJSON, both sent to h as source crm one
// request at a time.
func crmImportConfigs(h *harness, trait ingest.Mapping) (csvCfg, ndCfg func(*bytes.Buffer) ingest.ImportConfig) {
	csvCfg = func(rejects *bytes.Buffer) ingest.ImportConfig {
		return ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: rejects,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "Email"}},
			Traits:      []ingest.Mapping{trait},
		}
	}
	ndCfg = func(rejects *bytes.Buffer) ingest.ImportConfig {
		return ingest.ImportConfig{Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: rejects}
	}
	return csvCfg, ndCfg
}
