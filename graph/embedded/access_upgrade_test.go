package embedded

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
)

// A file of a layout before 6 opens with empty access buckets that take
// keys and entries; the layout 6 fixture reads back the key and entries
// writeLayoutDataset wrote, worked out by hand, and from layout 16 the key
// that key created. In every file, keys stored before creators were
// recorded have none, and keys created after the upgrade record theirs.
func TestAccessAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	eachFixture(t, func(t *testing.T, v uint64, s *Store) {
		n, err := s.CountKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := s.Audit(ctx, access.AuditQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if v < 6 {
			if n != 0 || len(entries) != 0 {
				t.Fatalf("an upgraded file holds %d keys and %d entries, want none", n, len(entries))
			}
			k := access.Key{ID: "key_new", Name: "new", Scopes: []access.Scope{access.ScopeAuditRead},
				Hash: access.HashSecret("cdp_" + strings.Repeat("B", 43)), CreatedAt: lt(5)}
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := s.AppendAudit(ctx, []access.AuditEntry{{ID: "aud_new", At: lt(5), Action: "x", Outcome: "ok"}}); err != nil {
				t.Fatal(err)
			}
			return
		}
		want := access.Key{
			ID: "key_admin", Name: "ops admin", Scopes: []access.Scope{access.ScopeKeysAdmin, access.ScopeEventsWrite},
			Source: "crm", Hash: access.HashSecret("cdp_" + strings.Repeat("A", 43)),
			CreatedAt: lt(0), LastUsedAt: lt(1), ExpiresAt: lt(100), RevokedAt: lt(2),
		}
		wantN := 1
		if v >= 16 {
			wantN = 2
		}
		got, ok, err := s.KeyByHash(ctx, want.Hash)
		if err != nil || !ok || !reflect.DeepEqual(got, want) || n != wantN {
			t.Fatalf("key = %+v, %v, %v (of %d); want %+v (of %d)", got, ok, err, n, want, wantN)
		}
		// Since layout 16 a key records its creator: the dataset's second
		// key was created by key_admin, and revoked with it.
		made := access.Key{
			ID: "key_made", Name: "made by ops", Scopes: []access.Scope{access.ScopeEventsWrite},
			Hash: access.HashSecret("cdp_" + strings.Repeat("C", 43)), CreatedAt: lt(1), RevokedAt: lt(2), CreatedBy: "key_admin",
		}
		got, ok, err = s.KeyByHash(ctx, made.Hash)
		if v >= 16 && (err != nil || !ok || !reflect.DeepEqual(got, made)) {
			t.Fatalf("key = %+v, %v, %v; want %+v", got, ok, err, made)
		}
		if v < 16 && (err != nil || ok) {
			t.Fatalf("a file of layout %d holds a key it never held: %+v, %v", v, got, err)
		}
		// Keys stored before creators were recorded have none; keys
		// created after the upgrade by a key go with it.
		root := access.Key{ID: "key_root", Name: "root", Scopes: []access.Scope{access.ScopeKeysAdmin},
			Hash: access.HashSecret("cdp_" + strings.Repeat("D", 43)), CreatedAt: lt(5)}
		child := access.Key{ID: "key_child", Name: "child", Scopes: []access.Scope{access.ScopeKeysAdmin},
			Hash: access.HashSecret("cdp_" + strings.Repeat("E", 43)), CreatedAt: lt(6), CreatedBy: root.ID}
		for _, k := range []access.Key{root, child} {
			if err := s.CreateKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if _, with, err := s.RevokeKey(ctx, root.ID, lt(7)); err != nil || !slices.Equal(with, []string{child.ID}) {
			t.Fatalf("revoking a key created after the upgrade took %v with it (%v), want [%s]", with, err, child.ID)
		}
		ids := []string{}
		for _, e := range entries {
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, []string{"aud_1", "aud_2"}) || !slices.Equal(entries[0].ProfileIDs, []string{"p_ann", "p_gone"}) {
			t.Fatalf("audit = %+v, want aud_1 (p_ann, p_gone) then aud_2", entries)
		}
	})
}
