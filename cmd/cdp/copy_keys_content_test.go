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

	variants := []copyVariant{
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
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table[string(dump.APIKeys)] == [2]string{"2", "2"}
	})
}
