package ingest_test

import (
	"bytes"
	"context"
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
