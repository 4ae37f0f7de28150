package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// padded is a track message of exactly n bytes.
func padded(t *testing.T, id string, n int) string {
	t.Helper()
	head := `{"type":"track","event":"e","userId":"` + id + `","properties":{"pad":"`
	tail := `"}}`
	if n < len(head)+len(tail) {
		t.Fatalf("%d bytes is too short for a message", n)
	}
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

// TestImportNDJSONMessageAtTheLimit: a message of exactly the per-message
// limit is imported, as the server takes it, whatever line ending or
// spaces surround it; one byte more is rejected, by its own length.
func TestImportNDJSONMessageAtTheLimit(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	const limit = 32 << 10
	input := padded(t, "at-limit", limit) + "\r\n" +
		"  " + padded(t, "spaced", limit) + " \n" +
		padded(t, "over", limit+1) + "\n"
	var rejects bytes.Buffer
	cfg := ingest.ImportConfig{Server: h.srv.URL, Source: "pos", Format: ingest.FormatNDJSON, Rejects: &rejects}
	stats, err := ingest.Import(context.Background(), strings.NewReader(input), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Rows != 3 || stats.Stored != 2 || stats.Rejected != 1 {
		t.Fatalf("stats %+v, want 3 lines: 2 stored, 1 rejected", stats)
	}
	if want := `"line":3,"reason":"message is 32769 bytes, over the 32 KiB per-message limit"`; !strings.Contains(rejects.String(), want) {
		t.Fatalf("rejects %.300s\nmissing %s", rejects.String(), want)
	}
}

// TestImportCSVUnclosedQuote: a quoted field opened and never closed
// swallows every later line; the import stops with an error naming the
// lines, after storing the rows before it, instead of reporting one
// rejected row.
func TestImportCSVUnclosedQuote(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}})
	input := "id,email\n1,a@x.com\n2,\"b@x.com\n3,c@x.com\n4,d@x.com\n5,e@x.com\n"
	cfg := ingest.ImportConfig{Server: h.srv.URL, Source: "crm", Format: ingest.FormatCSV,
		Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}, {Name: "email", Column: "email"}}}
	stats, err := ingest.Import(context.Background(), strings.NewReader(input), cfg)
	var ie *ingest.ImportError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "opens on line 3 is never closed") || !strings.Contains(err.Error(), "lines 3 to 6") {
		t.Fatalf("Import = %+v, %v; want an import error naming lines 3 to 6", stats, err)
	}
	if stats.Stored != 1 {
		t.Fatalf("stats %+v: want the row before the quote stored", stats)
	}
}
