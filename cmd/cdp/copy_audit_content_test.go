package main

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// The final check of cdp copy tells apart a target whose audit log says
// something else than the source's: an entry with another outcome, or
// naming other profiles, leaves the number of entries equal, so only a
// content checksum of the log finds it. On both stores.
func TestCopyComparesTheAuditLog(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	st, err := embedded.Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	storetest.Must(t, st.AppendAudit(ctx, []access.AuditEntry{
		{ID: "aud_e1", At: at, KeyID: "key_a", KeyName: "admin", Action: "mergeProfiles", OperationName: "Fix", RequestID: "r1",
			ProfileIDs: []string{"p_b", "p_a"}, ProfileCount: 2, Reason: "same person, ticket 12", Outcome: access.OutcomeOK},
		{ID: "aud_e2", At: at.Add(time.Second), Action: "store.backup", Reason: "a copy of the whole store", Outcome: access.OutcomeOK},
	}))
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"unaltered", func(*dump.Batch) {}, ""},
		{"outcome", func(b *dump.Batch) {
			for i := range b.Audit {
				if b.Audit[i].ID == "aud_e1" {
					b.Audit[i].Outcome = "FORBIDDEN"
				}
			}
		}, "audit content"},
		{"profiles", func(b *dump.Batch) {
			for i := range b.Audit {
				if b.Audit[i].ID == "aud_e1" {
					b.Audit[i].ProfileIDs = []string{"p_a", "p_c"}
				}
			}
		}, "audit content"},
	}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table[string(dump.Audit)] == [2]string{"2", "2"}
	})
}
