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

// TestImportCSVQuotedHeaderAfterBOM: a spreadsheet export that starts
// with a byte order mark and quotes every field, CRLF line ends, imports
// like the same file without them.
func TestImportCSVQuotedHeaderAfterBOM(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	in := "\ufeff\"customer_id\",\"Email\"\r\n\"q-1\",\"Quinn@Example.com\"\r\n\"q-2\",\"\"\r\n"
	var rejects bytes.Buffer
	stats, err := ingest.Import(context.Background(), strings.NewReader(in), ingest.ImportConfig{
		Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV,
		Identifiers: []ingest.Mapping{{Name: "user_id", Column: "customer_id"}, {Name: "email", Column: "Email"}},
		BatchSize:   10, Concurrency: 1, Rejects: &rejects,
	})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if stats.Rows != 2 || stats.Stored != 2 || stats.Rejected != 0 {
		t.Fatalf("stats %+v, want 2 rows stored (rejects %q)", stats, rejects.String())
	}
	if p := h.profile(t, graph.TypeEmail, "quinn@example.com"); p.ID != h.profile(t, graph.TypeUserID, "q-1").ID {
		t.Error("the quoted Email column did not link into q-1's profile")
	}
}

// TestImportNDJSONAfterBOM: an NDJSON file that starts with a byte order
// mark imports its first line like the others.
func TestImportNDJSONAfterBOM(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	in := "\ufeff{\"type\":\"identify\",\"userId\":\"bom-1\"}\r\n{\"type\":\"identify\",\"userId\":\"bom-2\"}\r\n"
	var rejects bytes.Buffer
	stats, err := ingest.Import(context.Background(), strings.NewReader(in), ingest.ImportConfig{
		Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: &rejects,
	})
	if err != nil || stats.Rows != 2 || stats.Stored != 2 || stats.Rejected != 0 {
		t.Fatalf("stats %+v %v, want 2 lines stored (rejects %q)", stats, err, rejects.String())
	}
	h.profile(t, graph.TypeUserID, "bom-1")
}
