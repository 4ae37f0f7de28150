package main

import (
	"context"
	"strings"
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

	variants := []struct {
		name  string
		alter func(b *dump.Batch)
		want  string
	}{
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
	for _, target := range copyTargets() {
		for _, v := range variants {
			t.Run(target.name+"/"+v.name, func(t *testing.T) {
				st, during, flags, _ := target.open(t)
				copyAltered(t, dirA, st, v.alter)
				var out, errOut string
				var code int
				during(func() {
					out, errOut, code = copyRun(t, append([]string{"--verify-only", "--from-data-dir", dirA}, flags...)...)
				})
				if table := copyTable(out); table[string(dump.Audit)] != [2]string{"2", "2"} {
					t.Fatalf("audit counts differ, or the source is not as built:\n%s", out)
				}
				if v.want == "" {
					if code != 0 || errOut != "" {
						t.Fatalf("verify an unaltered copy: exit %d\n%s\n%s", code, out, errOut)
					}
					return
				}
				if want := "cdp copy: the stores differ: " + v.want + "\n"; code != 1 || errOut != want || strings.Contains(out, "match") {
					t.Errorf("verify a copy with another %s: exit %d, stderr %q, want %q\n%s", v.name, code, errOut, want, out)
				}
			})
		}
	}
}
