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

// The final check of cdp copy tells apart a target whose API keys differ
// from the source's in what decides who gets in: a key revoked on the
// source but usable on the target, or a key with other scopes, has the
// same count on both sides, so only a content checksum of the keys finds
// it. On both stores.
func TestCopyComparesAPIKeys(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	st, err := embedded.Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i, k := range []access.Key{
		{ID: "key_a", Name: "admin", Scopes: []access.Scope{access.ScopeKeysAdmin, access.ScopeAuditRead}, Hash: access.HashSecret("cdp_" + strings.Repeat("a", 40)), CreatedAt: at},
		{ID: "key_b", Name: "reader", Scopes: []access.Scope{access.ScopeProfilesRead}, Hash: access.HashSecret("cdp_" + strings.Repeat("b", 40)), CreatedAt: at, LastUsedAt: at.Add(time.Hour)},
	} {
		storetest.Must(t, st.CreateKey(ctx, k))
		if i == 0 {
			if _, err := st.RevokeKey(ctx, k.ID, at.Add(2*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	storetest.Must(t, st.Close(ctx))

	variants := []struct {
		name  string
		alter func(b *dump.Batch)
		want  string
	}{
		{"unaltered", func(*dump.Batch) {}, ""},
		{"revocation", func(b *dump.Batch) {
			for i := range b.APIKeys {
				b.APIKeys[i].RevokedAt = time.Time{}
			}
		}, "api_keys content"},
		{"scopes", func(b *dump.Batch) {
			for i := range b.APIKeys {
				if b.APIKeys[i].ID == "key_b" {
					b.APIKeys[i].Scopes = []access.Scope{access.ScopeProfilesRead, access.ScopePIIRead}
				}
			}
		}, "api_keys content"},
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
				if table := copyTable(out); table[string(dump.APIKeys)] != [2]string{"2", "2"} {
					t.Fatalf("API key counts differ, or the source is not as built:\n%s", out)
				}
				if v.want == "" {
					if code != 0 || errOut != "" {
						t.Fatalf("verify an unaltered copy: exit %d\n%s\n%s", code, out, errOut)
					}
					return
				}
				if want := "cdp copy: the stores differ: " + v.want + "\n"; code != 1 || errOut != want || strings.Contains(out, "match") {
					t.Errorf("verify a copy with other %s: exit %d, stderr %q, want %q\n%s", v.name, code, errOut, want, out)
				}
			})
		}
	}
}
