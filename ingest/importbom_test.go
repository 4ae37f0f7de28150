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

// TestImportNDJSONJoinedFiles: NDJSON files joined into one (cat a.ndjson
// b.ndjson), each saved with a byte order mark, hold one in the middle,
// at the start of the first line of each later file: it is no part of
// that line's JSON, which imports as the line without it does.
func TestImportNDJSONJoinedFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		in := "\ufeff{\"type\":\"identify\",\"userId\":\"j-1\"}\r\n\ufeff{\"type\":\"identify\",\"userId\":\"j-2\"}\r\n \ufeff{\"type\":\"identify\",\"userId\":\"j-3\"}\n"
		var rejects bytes.Buffer
		stats, err := ingest.Import(context.Background(), strings.NewReader(in), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: &rejects,
		})
		if err != nil || stats.Rows != 3 || stats.Stored != 3 || stats.Rejected != 0 {
			t.Fatalf("stats %+v %v, want 3 lines stored (rejects %q)", stats, err, rejects.String())
		}
		stats, err = ingest.Import(context.Background(), strings.NewReader("{\"type\":\"identify\",\"userId\":\"j-2\"}\n"), ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatNDJSON, Concurrency: 1, Rejects: &rejects,
		})
		if err != nil || stats.Duplicates != 1 {
			t.Fatalf("the line without its mark again: %+v %v, want it already present", stats, err)
		}
	})
}
