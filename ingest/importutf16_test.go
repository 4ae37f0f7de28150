package ingest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// utf16File encodes s as UTF-16 with a byte order mark, as Excel's
// "Unicode Text" and Windows tools save files.
func utf16File(s string, order binary.AppendByteOrder) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune("\ufeff" + s)) {
		out = order.AppendUint16(out, u)
	}
	return out
}

// TestImportUTF16: a CSV or NDJSON file in UTF-16 with a byte order mark
// (little- or big-endian) imports as the same file in UTF-8 does: the
// same identifiers and traits, a character outside the BMP (a surrogate
// pair) included, and the same message ids, so importing the UTF-8 file
// after it stores nothing. A code unit that is half a surrogate pair is
// no character: its row is refused as a UTF-8 file's invalid bytes are,
// never stored with U+FFFD in its place.
func TestImportUTF16(t *testing.T) {
	const csvFile = "customer_id,Email,Name\r\n" +
		"u-1,Jose@Example.com,José 🎉\r\n" +
		"u-2,ana@example.com,\"Ana\r\nSecond line\"\r\n"
	const ndjsonFile = `{"type":"identify","userId":"n-1","traits":{"name":"Zoë 🎉"}}` + "\r\n" +
		`{"type":"track","event":"Bought","userId":"n-1","timestamp":"2026-01-02T03:04:05Z"}` + "\r\n"
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		csvCfg, ndCfg := crmImportConfigs(h, ingest.Mapping{Name: "name", Column: "Name"})
		for i, f := range []struct {
			name string
			in   []byte
			cfg  func(*bytes.Buffer) ingest.ImportConfig
			want ingest.ImportStats
		}{
			{"CSV, UTF-16LE", utf16File(csvFile, binary.LittleEndian), csvCfg, ingest.ImportStats{Rows: 2, Stored: 2}},
			{"CSV, UTF-16BE", utf16File(csvFile, binary.BigEndian), csvCfg, ingest.ImportStats{Rows: 2, Duplicates: 2}},
			{"CSV, UTF-8", []byte(csvFile), csvCfg, ingest.ImportStats{Rows: 2, Duplicates: 2}},
			{"NDJSON, UTF-16LE", utf16File(ndjsonFile, binary.LittleEndian), ndCfg, ingest.ImportStats{Rows: 2, Stored: 2}},
			{"NDJSON, UTF-8", []byte(ndjsonFile), ndCfg, ingest.ImportStats{Rows: 2, Duplicates: 2}},
		} {
			var rejects bytes.Buffer
			// One byte at a time: a code unit, and a surrogate pair, split
			// between reads.
			stats, err := ingest.Import(ctx, iotest.OneByteReader(bytes.NewReader(f.in)), f.cfg(&rejects))
			stats.Bytes = 0
			if err != nil || stats != f.want {
				t.Fatalf("%d. %s: %+v, %v; want %+v (rejects %q)", i+1, f.name, stats, err, f.want, rejects.String())
			}
		}
		u1 := graph.FoldTraits(mustMembers(t, h, "u-1"))
		if u1["name"].Value != "José 🎉" {
			t.Errorf("u-1's name %q, want %q", u1["name"].Value, "José 🎉")
		}
		if p := h.profile(t, graph.TypeEmail, "jose@example.com"); p.ID != h.profile(t, graph.TypeUserID, "u-1").ID {
			t.Error("u-1's email is not in its profile")
		}
		if v := graph.FoldTraits(mustMembers(t, h, "u-2"))["name"].Value; v != "Ana\nSecond line" {
			t.Errorf("u-2's name %q, want the two lines", v)
		}
		if v := graph.FoldTraits(mustMembers(t, h, "n-1"))["name"].Value; v != "Zoë 🎉" {
			t.Errorf("n-1's name %q", v)
		}
		if n := len(h.journey(t, h.profile(t, graph.TypeUserID, "n-1").ID)); n != 2 {
			t.Errorf("n-1 has %d events, want 2", n)
		}

		// Half a surrogate pair: the code unit 0xD800 alone, in u-3's name.
		bad := utf16File("customer_id,Email,Name\r\nu-3,u3@example.com,Bad X\r\nu-4,u4@example.com,Fine\r\n", binary.LittleEndian)
		at := bytes.Index(bad, []byte{'X', 0})
		bad[at], bad[at+1] = 0x00, 0xD8
		var rejects bytes.Buffer
		stats, err := ingest.Import(ctx, bytes.NewReader(bad), csvCfg(&rejects))
		if err != nil || stats.Rows != 2 || stats.Stored != 1 || stats.Rejected != 1 {
			t.Fatalf("half a surrogate pair: %+v, %v; want 2 rows, 1 stored, 1 rejected", stats, err)
		}
		if !strings.Contains(rejects.String(), `2,"invalid_utf8: column ""Name""`) {
			t.Errorf("rejects %q, want line 2 refused naming the column Name", rejects.String())
		}
		h.profile(t, graph.TypeUserID, "u-4")
	})
}
