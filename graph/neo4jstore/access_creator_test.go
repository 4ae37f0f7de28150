package neo4jstore_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// A key node written before keys recorded their creator (no createdBy
// property, as an older version wrote it) reads back as a key without
// one, authenticates, and creates keys that go with it when it is
// revoked. The new ones hold the property createdBy, the creator's id, as
// an analyst sees it.
func TestKeysStoredBeforeCreators(t *testing.T) {
	s := storetest.Neo4j(t).(*neo4jstore.Store)
	ctx := context.Background()
	raw := rawSession(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	hash := access.HashSecret("cdp_" + strings.Repeat("O", 43))
	single(t, raw, `CREATE (k:ApiKey {id: $id, hash: $hash, name: 'old admin', scopes: ['keys:admin'], createdAt: $at}) RETURN k.id`,
		map[string]any{"id": "key_old", "hash": hash, "at": t0})
	got, ok, err := s.KeyByHash(ctx, hash)
	storetest.Must(t, err)
	want := access.Key{ID: "key_old", Name: "old admin", Scopes: []access.Scope{access.ScopeKeysAdmin}, Hash: hash, CreatedAt: t0}
	if !ok || !reflect.DeepEqual(got, want) || !got.Usable(t0.Add(time.Hour)) {
		t.Fatalf("old key = %+v, %v; want %+v, usable", got, ok, want)
	}
	child := access.Key{ID: "key_new", Name: "new", Scopes: []access.Scope{access.ScopeKeysAdmin},
		Hash: access.HashSecret("cdp_" + strings.Repeat("N", 43)), CreatedAt: t0.Add(time.Minute), CreatedBy: "key_old"}
	storetest.Must(t, s.CreateKey(ctx, child))
	if by := single(t, raw, `MATCH (k:ApiKey {id: 'key_new'}) RETURN k.createdBy`, nil); by != "key_old" {
		t.Errorf("createdBy of the new key = %v, want key_old", by)
	}
	if by := single(t, raw, `MATCH (k:ApiKey {id: 'key_old'}) RETURN k.createdBy`, nil); by != nil {
		t.Errorf("createdBy of the old key = %v, want none", by)
	}
	_, with, err := s.RevokeKey(ctx, "key_old", t0.Add(time.Hour))
	storetest.Must(t, err)
	if !slices.Equal(with, []string{"key_new"}) {
		t.Errorf("revoked with the old key: %v, want [key_new]", with)
	}
}
