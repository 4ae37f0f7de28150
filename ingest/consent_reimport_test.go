package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// TestImportConsentWithoutTimestampKeepsTheLatestDecision: files imported
// without --timestamp date their decisions at receipt, so a person who
// denied, then granted, then denied again (three daily exports of a CRM)
// ends DENIED, although the third file's row reads as the first one's.
func TestImportConsentWithoutTimestampKeepsTheLatestDecision(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		cfg := ingest.ImportConfig{
			Server: h.srv.URL, WriteKey: "wk-crm", Source: "crm", Format: ingest.FormatCSV,
			Identifiers: []ingest.Mapping{{Name: "user_id", Column: "id"}},
			Consent:     []ingest.Mapping{{Name: "email", Column: "news"}},
		}
		for i, file := range []string{"id,news\nc-9,false\n", "id,news\nc-9,true\n", "id,news\nc-9,false\n"} {
			stats, err := ingest.Import(context.Background(), strings.NewReader(file), cfg)
			if err != nil || stats.Rejected != 0 {
				t.Fatalf("import %d: %+v, %v", i+1, stats, err)
			}
		}
		m, err := s.(privacy.ConsentStore).ConsentOf(context.Background(), []string{"user_id:c-9"})
		if err != nil {
			t.Fatal(err)
		}
		rs := m["user_id:c-9"]
		if st := privacy.StateOf(rs, "email", graph.Now()); st.State != privacy.StateDenied || len(rs) != 3 {
			t.Errorf("after deny, grant, deny: %d records, email state %s; want 3 records and DENIED", len(rs), st.State)
		}

		// Files dated alike (cdp import gives a file's modification
		// time): the same file again is already present, a newer one's
		// decision counts, dated as its file.
		cfg.Identifiers = []ingest.Mapping{{Name: "user_id", Column: "id"}}
		day := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		for i, f := range []struct {
			file       string
			dated      time.Time
			stored     int
			duplicates int
		}{
			{"id,news\nc-8,false\n", day, 1, 0},
			{"id,news\nc-8,true\n", day.Add(24 * time.Hour), 1, 0},
			{"id,news\nc-8,true\n", day.Add(24 * time.Hour), 0, 1},
			{"id,news\nc-8,false\n", day.Add(48 * time.Hour), 1, 0},
		} {
			cfg.ConsentDated = f.dated
			stats, err := ingest.Import(context.Background(), strings.NewReader(f.file), cfg)
			if err != nil || stats.Stored != f.stored || stats.Duplicates != f.duplicates {
				t.Fatalf("dated import %d: %+v, %v; want %d stored, %d duplicates", i+1, stats, err, f.stored, f.duplicates)
			}
		}
		m, err = s.(privacy.ConsentStore).ConsentOf(context.Background(), []string{"user_id:c-8"})
		if err != nil {
			t.Fatal(err)
		}
		rs = m["user_id:c-8"]
		st := privacy.StateOf(rs, "email", graph.Now())
		if len(rs) != 3 || st.State != privacy.StateDenied || !st.At.Equal(day.Add(48*time.Hour)) {
			t.Errorf("dated imports: %d records, email state %s at %s; want 3 records, DENIED at %s", len(rs), st.State, st.At, day.Add(48*time.Hour))
		}
	})
}
