package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// A copy run again with --force after the source revoked or used a key
// brings the target's key up to date: a key revoked on the source is not
// left usable on the target. Embedded to embedded, then to Neo4j and back.
func TestCopyRerunRefreshesKeys(t *testing.T) {
	ctx := context.Background()
	src, dst, first, back := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	ingestEvents(t, src, map[string][]string{"a1": {"user_id:u1"}})
	created := time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC)
	keys := []access.Key{
		{ID: "key_a1", Name: "crm", Scopes: []access.Scope{access.ScopeProfilesRead}, Hash: sha256Hex("secret a1"), CreatedAt: created},
		{ID: "key_b2", Name: "web", Scopes: []access.Scope{access.ScopeEventsWrite}, Hash: sha256Hex("secret b2"), CreatedAt: created},
	}
	st, err := embedded.Open(src)
	storetest.Must(t, err)
	for _, k := range keys {
		storetest.Must(t, st.CreateKey(ctx, k))
	}
	storetest.Must(t, st.Close(ctx))
	copyOK(t, "--from-data-dir", src, "--to-data-dir", dst)
	copyOK(t, "--from-data-dir", src, "--to-data-dir", first) // the source as it was, for Neo4j below

	// The source revokes key_a1 and sees key_b2 used; the copy runs again.
	revoked, used := created.Add(time.Hour), created.Add(2*time.Hour)
	st, err = embedded.Open(src)
	storetest.Must(t, err)
	_, _, err = st.RevokeKey(ctx, "key_a1", revoked)
	storetest.Must(t, err)
	storetest.Must(t, st.TouchKey(ctx, "key_b2", used))
	storetest.Must(t, st.Close(ctx))
	want := fmt.Sprint([]access.Key{
		{ID: "key_a1", Name: "crm", Scopes: []access.Scope{access.ScopeProfilesRead}, Hash: sha256Hex("secret a1"), CreatedAt: created, RevokedAt: revoked},
		{ID: "key_b2", Name: "web", Scopes: []access.Scope{access.ScopeEventsWrite}, Hash: sha256Hex("secret b2"), CreatedAt: created, LastUsedAt: used},
	})
	keysOf := func(dir string) string {
		t.Helper()
		s, err := embedded.Open(dir)
		storetest.Must(t, err)
		defer s.Close(ctx)
		ks, err := s.Keys(ctx, 10, "")
		storetest.Must(t, err)
		return fmt.Sprint(ks)
	}
	copyOK(t, "--force", "--from-data-dir", src, "--to-data-dir", dst)
	if got := keysOf(dst); got != want {
		t.Errorf("embedded target's keys after the copy ran again:\n got  %s\n want %s", got, want)
	}

	// The same on Neo4j: the first run carries the keys as they were.
	storetest.OpenNeo4j(t) // the lock, and an empty database
	copyOK(t, append([]string{"--from-data-dir", first}, neo4jFlags("to")...)...)
	copyOK(t, append([]string{"--force", "--from-data-dir", src}, neo4jFlags("to")...)...)
	copyOK(t, append(neo4jFlags("from"), "--to-data-dir", back)...)
	if got := keysOf(back); got != want {
		t.Errorf("Neo4j target's keys after the copy ran again:\n got  %s\n want %s", got, want)
	}
}

// A copy run again after the source revoked a key and then the key that
// created it gives the target each key's own revocation time: the
// creator's revocation, which revokes the keys it created with it, does
// not overwrite the earlier time of a key the source revoked before it,
// whichever of the two the copy reaches first. Embedded to embedded, then
// to Neo4j and back.
func TestCopyRerunKeepsEachKeysRevocation(t *testing.T) {
	ctx := context.Background()
	src, dst, first, back := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	ingestEvents(t, src, map[string][]string{"a1": {"user_id:u1"}})
	created := time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC)
	// key_a1 created key_b2, which created key_c3; key_z9 created key_a1
	// (ids both before and after their creators').
	keys := []access.Key{
		{ID: "key_z9", Name: "root", Scopes: []access.Scope{access.ScopeKeysAdmin}, Hash: sha256Hex("secret z9"), CreatedAt: created},
		{ID: "key_a1", Name: "team", Scopes: []access.Scope{access.ScopeKeysAdmin}, Hash: sha256Hex("secret a1"), CreatedAt: created, CreatedBy: "key_z9"},
		{ID: "key_b2", Name: "sub", Scopes: []access.Scope{access.ScopeKeysAdmin}, Hash: sha256Hex("secret b2"), CreatedAt: created, CreatedBy: "key_a1"},
		{ID: "key_c3", Name: "leaf", Scopes: []access.Scope{access.ScopeKeysAdmin}, Hash: sha256Hex("secret c3"), CreatedAt: created, CreatedBy: "key_b2"},
	}
	st, err := embedded.Open(src)
	storetest.Must(t, err)
	for _, k := range keys {
		storetest.Must(t, st.CreateKey(ctx, k))
	}
	storetest.Must(t, st.Close(ctx))
	copyOK(t, "--from-data-dir", src, "--to-data-dir", dst)
	copyOK(t, "--from-data-dir", src, "--to-data-dir", first) // the source as it was, for Neo4j below

	// The source revokes key_c3 at 10:00, key_b2 (so with it nothing
	// more) at 11:00, then key_z9 at 12:00, which takes key_a1 with it.
	t1, t2, t3 := created.Add(30*time.Minute), created.Add(90*time.Minute), created.Add(150*time.Minute)
	st, err = embedded.Open(src)
	storetest.Must(t, err)
	for _, r := range []struct {
		id string
		at time.Time
	}{{"key_c3", t1}, {"key_b2", t2}, {"key_z9", t3}} {
		_, _, err = st.RevokeKey(ctx, r.id, r.at)
		storetest.Must(t, err)
	}
	storetest.Must(t, st.Close(ctx))
	want := map[string]time.Time{"key_a1": t3, "key_b2": t2, "key_c3": t1, "key_z9": t3}
	check := func(what, dir string) {
		t.Helper()
		s, err := embedded.Open(dir)
		storetest.Must(t, err)
		defer s.Close(ctx)
		ks, err := s.Keys(ctx, 10, "")
		storetest.Must(t, err)
		if len(ks) != len(want) {
			t.Fatalf("%s: %d keys, want %d", what, len(ks), len(want))
		}
		for _, k := range ks {
			if !k.RevokedAt.Equal(want[k.ID]) {
				t.Errorf("%s: key %s RevokedAt %v, want %v (the source's)", what, k.ID, k.RevokedAt, want[k.ID])
			}
		}
	}
	check("the source", src)
	copyOK(t, "--force", "--from-data-dir", src, "--to-data-dir", dst)
	check("embedded target after the copy ran again", dst)

	storetest.OpenNeo4j(t) // the lock, and an empty database
	copyOK(t, append([]string{"--from-data-dir", first}, neo4jFlags("to")...)...)
	copyOK(t, append([]string{"--force", "--from-data-dir", src}, neo4jFlags("to")...)...)
	copyOK(t, append(neo4jFlags("from"), "--to-data-dir", back)...)
	check("Neo4j target after the copy ran again", back)
}
