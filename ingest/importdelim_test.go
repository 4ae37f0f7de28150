package ingest_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestImportCSVDelimiter: a CSV whose header is one cell when read with
// commas, and several with semicolons (a European export, where the comma
// is the decimal mark) or tabs (Excel's "Unicode Text"), is read with that
// delimiter: each row's cells are its cells, a comma in a cell (a decimal
// comma, a thousands separator) is part of it, and the rejects file uses
// the input's delimiter, so it opens as the input does.
func TestImportCSVDelimiter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ctx := context.Background()
		cfg := func(rejects *bytes.Buffer) ingest.ImportConfig {
			return ingest.ImportConfig{
				Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: rejects,
				Identifiers: []ingest.Mapping{{Name: "user_id", Column: "Kundennummer"}, {Name: "email", Column: "E-Mail"}},
				Traits:      []ingest.Mapping{{Name: "revenue", Column: "Umsatz"}, {Name: "city", Column: "Ort"}},
			}
		}
		for _, f := range []struct {
			name, in, rejected string
			bytes              []byte
		}{
			{name: "semicolons", in: "Kundennummer;E-Mail;Umsatz;Ort\r\n" +
				"k-1;k1@example.de;1.234,56;\"Frankfurt; Main\"\r\n" +
				"k-2;k2@example.de;0,5\r\n" + // one cell short
				"k-3;k3@example.de;12,00;Köln\r\n",
				rejected: "line;reason;Kundennummer;E-Mail;Umsatz;Ort\n3;CSV: row has 3 fields, the header has 4;k-2;k2@example.de;0,5\n"},
			{name: "tabs, UTF-16", bytes: utf16File("Kundennummer\tE-Mail\tUmsatz\tOrt\r\n"+
				"t-1\tt1@example.de\t1,5\tBern, Altstadt\r\n"+
				"t-2\tt2@example.de\t2\r\n"+
				"t-3\tt3@example.de\t3\tBasel\r\n", binary.LittleEndian),
				rejected: "line\treason\tKundennummer\tE-Mail\tUmsatz\tOrt\n3\tCSV: row has 3 fields, the header has 4\tt-2\tt2@example.de\t2\n"},
		} {
			in := f.bytes
			if in == nil {
				in = []byte(f.in)
			}
			var rejects bytes.Buffer
			stats, err := ingest.Import(ctx, bytes.NewReader(in), cfg(&rejects))
			if err != nil || stats.Rows != 3 || stats.Stored != 2 || stats.Rejected != 1 {
				t.Fatalf("%s: %+v, %v; want 3 rows, 2 stored, 1 rejected (rejects %q)", f.name, stats, err, rejects.String())
			}
			if rejects.String() != f.rejected {
				t.Errorf("%s: rejects file\n%q, want\n%q", f.name, rejects.String(), f.rejected)
			}
		}
		for user, want := range map[string]map[string]string{
			"k-1": {"revenue": "1.234,56", "city": "Frankfurt; Main"},
			"k-3": {"revenue": "12,00", "city": "Köln"},
			"t-1": {"revenue": "1,5", "city": "Bern, Altstadt"},
		} {
			tr := graph.FoldTraits(mustMembers(t, h, user))
			for name, v := range want {
				if tr[name].Value != v {
					t.Errorf("%s: trait %s = %q, want %q", user, name, tr[name].Value, v)
				}
			}
		}
		if p := h.profile(t, graph.TypeEmail, "k3@example.de"); p.ID != h.profile(t, graph.TypeUserID, "k-3").ID {
			t.Error("k-3's email is not in its profile")
		}
	})
}

// TestImportCSVSepLine: a first line "sep=;" (the hint Excel reads, and
// exporters for Excel write) names the delimiter and is no header: the
// header is the line after it, and line numbers count it.
func TestImportCSVSepLine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		for _, f := range []struct{ name, in, rejected string }{
			{"semicolons", "\ufeffsep=;\r\nid;Email;Amount\r\nsep-1;s1@example.com;1,5\r\nsep-2;s2@example.com\r\n",
				"line;reason;id;Email;Amount\n4;CSV: row has 2 fields, the header has 3;sep-2;s2@example.com\n"},
			{"commas", "sep=,\nid,Email,Amount\nsep-3,s3@example.com,\"1,5\"\nsep-4,s4@example.com\n",
				"line,reason,id,Email,Amount\n4,\"CSV: row has 2 fields, the header has 3\",sep-4,s4@example.com\n"},
			{"semicolons, spaces after the hint", "sep=;  \r\nid;Email;Amount\r\nsep-5;s5@example.com;2,5\r\nsep-6;s6@example.com\r\n",
				"line;reason;id;Email;Amount\n4;CSV: row has 2 fields, the header has 3;sep-6;s6@example.com\n"},
		} {
			var rejects bytes.Buffer
			stats, err := ingest.Import(context.Background(), bytes.NewReader([]byte(f.in)), ingest.ImportConfig{
				Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
				Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}, {Name: "email", Column: "Email"}},
				Traits:      []ingest.Mapping{{Name: "amount", Column: "Amount"}},
			})
			if err != nil || stats.Rows != 2 || stats.Stored != 1 || stats.Rejected != 1 {
				t.Fatalf("%s: %+v, %v; want 2 rows: 1 stored, 1 rejected (rejects %q)", f.name, stats, err, rejects.String())
			}
			if rejects.String() != f.rejected {
				t.Errorf("%s: rejects\n%q, want\n%q", f.name, rejects.String(), f.rejected)
			}
		}
		for user, amount := range map[string]string{"sep-1": "1,5", "sep-3": "1,5", "sep-5": "2,5"} {
			if v := graph.FoldTraits(mustMembers(t, h, user))["amount"].Value; v != amount {
				t.Errorf("%s: amount %q, want %q", user, v, amount)
			}
		}
	})
}

// TestImportCSVOneMappedColumnKeepsTheComma: a file of one column whose
// header holds a semicolon or a tab ("E-Mail; privat", "Email" and a
// trailing tab) and names the column the mapping asks for is read with
// commas: the header is that one column, as it was before semicolons and
// tabs were told apart, not two columns of which neither is mapped.
func TestImportCSVOneMappedColumnKeepsTheComma(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		for _, f := range []struct{ column, in string }{
			{"E-Mail; privat", "E-Mail; privat\r\nsemi1@example.com\r\nsemi2@example.com\r\n"},
			{"Email", "Email\t\ntab1@example.com\ntab2@example.com\n"},
		} {
			var rejects bytes.Buffer
			stats, err := ingest.Import(context.Background(), bytes.NewReader([]byte(f.in)), ingest.ImportConfig{
				Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV, Concurrency: 1, Rejects: &rejects,
				Identifiers: []ingest.Mapping{{Name: "email", Column: f.column}},
			})
			if err != nil || stats.Rows != 2 || stats.Stored != 2 || stats.Rejected != 0 {
				t.Fatalf("%q: %+v, %v; want 2 rows, both stored (rejects %q)", f.column, stats, err, rejects.String())
			}
		}
		for _, email := range []string{"semi1@example.com", "semi2@example.com", "tab1@example.com", "tab2@example.com"} {
			if p := h.profile(t, graph.TypeEmail, email); p.ID == "" {
				t.Errorf("no profile holds the email of row %s", email)
			}
		}
	})
}
