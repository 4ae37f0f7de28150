// Package accesstest is the conformance suite of access.Store: every store
// runs it (graph/embedded and graph/neo4jstore, through internal/storetest)
// against a real database. Every expectation is worked out by hand from
// the operations the test makes, never read back from what a store wrote.
package accesstest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

var (
	must     = storetest.Must
	wantCode = storetest.WantCode
)

// Store is what a store under test must be: a graph.Store whose write
// transactions implement access.TxAuditor, and an access.Store.
type Store interface {
	graph.Store
	access.Store
}

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	get := storetest.As[Store](open)
	t.Run("Keys", func(t *testing.T) { testKeys(t, get(t)) })
	t.Run("KeyInput", func(t *testing.T) { testKeyInput(t, get(t)) })
	t.Run("LoadKey", func(t *testing.T) { testLoadKey(t, get(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, get(t)) })
	t.Run("AuditInput", func(t *testing.T) { testAuditInput(t, get(t)) })
	t.Run("AuditInTx", func(t *testing.T) { testAuditInTx(t, get(t)) })
	t.Run("AuditHook", func(t *testing.T) { testAuditHook(t, get(t)) })
	t.Run("KeyChangesAudited", func(t *testing.T) { testKeyChangesAudited(t, get(t)) })
	t.Run("RevokeKeepsAnAdmin", func(t *testing.T) { testRevokeKeepsAnAdmin(t, get(t)) })
	t.Run("RevokeRaceKeepsAnAdmin", func(t *testing.T) { testRevokeRaceKeepsAnAdmin(t, get(t)) })
	t.Run("RevokeNeedsHeldScopes", func(t *testing.T) { testRevokeNeedsHeldScopes(t, get(t)) })
	t.Run("RevokeCascades", func(t *testing.T) { testRevokeCascades(t, get(t)) })
	t.Run("RevokeCascadeChecks", func(t *testing.T) { testRevokeCascadeChecks(t, get(t)) })
	t.Run("CascadeRaceLeavesNoChild", func(t *testing.T) { testCascadeRaceLeavesNoChild(t, get(t)) })
}

// t0 is the suite's own time.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// secret returns a fixed, well-formed secret for test key n.
func secret(n int) string {
	return access.SecretPrefix + strings.Repeat(string(rune('A'+n)), 42) + "A"
}

func testKeys(t *testing.T, s Store) {
	ctx := context.Background()
	if n, err := s.CountKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountKeys of an empty store = %d, %v; want 0", n, err)
	}
	// Created out of id order, so the listing's order is the store's.
	keyB := access.Key{ID: "key_b", Name: "collector web", Scopes: []access.Scope{access.ScopeEventsWrite},
		Source: "web.site-1", Hash: access.HashSecret(secret(1)), CreatedAt: at(0)}
	keyA := access.Key{ID: "key_a", Name: "admin", Scopes: []access.Scope{access.ScopeKeysAdmin, access.ScopeAuditRead},
		Hash: access.HashSecret(secret(0)), CreatedAt: t0.Add(1500 * time.Microsecond), ExpiresAt: at(60)}
	keyC := access.Key{ID: "key_c", Name: "analyst é", Scopes: []access.Scope{access.ScopeProfilesRead, access.ScopePIIRead},
		Hash: access.HashSecret(secret(2)), CreatedAt: at(2)}
	for _, k := range []access.Key{keyB, keyA, keyC} {
		must(t, s.CreateKey(ctx, k))
	}
	if n, err := s.CountKeys(ctx); err != nil || n != 3 {
		t.Fatalf("CountKeys = %d, %v; want 3", n, err)
	}

	// Lookup by hash gives the whole record back.
	got, ok, err := s.KeyByHash(ctx, access.HashSecret(secret(0)))
	must(t, err)
	if !ok || !reflect.DeepEqual(got, keyA) {
		t.Fatalf("KeyByHash(admin) = %+v, %v; want %+v", got, ok, keyA)
	}
	if !got.Matches(secret(0)) || got.Matches(secret(1)) {
		t.Fatal("the admin key matches the wrong secrets")
	}
	if _, ok, err := s.KeyByHash(ctx, access.HashSecret(secret(9))); err != nil || ok {
		t.Fatalf("KeyByHash of an unknown secret = %v, %v; want absent", ok, err)
	}

	// A second key with a stored id, or a stored hash, is refused.
	dupID := keyC
	dupID.Hash = access.HashSecret(secret(3))
	wantCode(t, s.CreateKey(ctx, dupID), graph.ECONFLICT, "a key with a stored id")
	dupHash := keyC
	dupHash.ID = "key_d"
	wantCode(t, s.CreateKey(ctx, dupHash), graph.ECONFLICT, "a key with a stored hash")
	if n, err := s.CountKeys(ctx); err != nil || n != 3 {
		t.Fatalf("CountKeys after refused creates = %d, %v; want 3", n, err)
	}

	// Paging by id: a, b | c | nothing.
	ids := func(ks []access.Key) []string {
		out := []string{}
		for _, k := range ks {
			out = append(out, k.ID)
		}
		return out
	}
	for _, c := range []struct {
		first int
		after string
		want  []string
	}{
		{2, "", []string{"key_a", "key_b"}},
		{2, "key_b", []string{"key_c"}},
		{2, "key_c", []string{}},
		{10, "key_a", []string{"key_b", "key_c"}},
		{10, "key_aa", []string{"key_b", "key_c"}}, // after need not be a stored id
		{1, "", []string{"key_a"}},
	} {
		ks, err := s.Keys(ctx, c.first, c.after)
		must(t, err)
		if !slices.Equal(ids(ks), c.want) {
			t.Errorf("Keys(%d, %q) = %v, want %v", c.first, c.after, ids(ks), c.want)
		}
	}
	ks, err := s.Keys(ctx, 10, "")
	must(t, err)
	if len(ks) != 3 || !reflect.DeepEqual(ks[1], keyB) || !reflect.DeepEqual(ks[2], keyC) {
		t.Errorf("Keys = %+v, want %+v", ks, []access.Key{keyA, keyB, keyC})
	}
	_, err = s.Keys(ctx, 0, "")
	wantCode(t, err, graph.EINVALID, "Keys(0)")
	_, err = s.Keys(ctx, access.MaxPage+1, "")
	wantCode(t, err, graph.EINVALID, "Keys(MaxPage+1)")

	// Touch: only a later time moves LastUsedAt.
	must(t, s.TouchKey(ctx, "key_b", at(5)))
	must(t, s.TouchKey(ctx, "key_b", at(3)))
	wantCode(t, s.TouchKey(ctx, "key_zz", at(5)), graph.ENOTFOUND, "TouchKey of an unknown key")
	got, _, err = s.KeyByHash(ctx, keyB.Hash)
	must(t, err)
	if !got.LastUsedAt.Equal(at(5)) {
		t.Fatalf("LastUsedAt after touches at 5 and 3 minutes = %v, want %v", got.LastUsedAt, at(5))
	}

	// Revoke: the first time stays; the key is kept, and counted.
	rk, _, err := s.RevokeKey(ctx, "key_c", at(10))
	must(t, err)
	wantC := keyC
	wantC.RevokedAt = at(10)
	if !reflect.DeepEqual(rk, wantC) {
		t.Fatalf("RevokeKey = %+v, want %+v", rk, wantC)
	}
	rk, _, err = s.RevokeKey(ctx, "key_c", at(20))
	must(t, err)
	if !rk.RevokedAt.Equal(at(10)) {
		t.Fatalf("revoking again moved RevokedAt to %v, want %v", rk.RevokedAt, at(10))
	}
	_, _, err = s.RevokeKey(ctx, "key_zz", at(10))
	wantCode(t, err, graph.ENOTFOUND, "RevokeKey of an unknown key")
	got, ok, err = s.KeyByHash(ctx, keyC.Hash)
	must(t, err)
	if !ok || !reflect.DeepEqual(got, wantC) {
		t.Fatalf("revoked key read back as %+v, %v; want %+v", got, ok, wantC)
	}
	if got.Usable(at(9)) || got.Usable(at(11)) {
		// Revocation is not time-bound: once revoked, refused at any time.
		t.Fatal("a revoked key is usable")
	}
	if n, err := s.CountKeys(ctx); err != nil || n != 3 {
		t.Fatalf("CountKeys after a revocation = %d, %v; want 3", n, err)
	}

	// Expiry, as stored: usable until the instant ExpiresAt.
	got, _, err = s.KeyByHash(ctx, keyA.Hash)
	must(t, err)
	for _, c := range []struct {
		now  time.Time
		want bool
	}{{at(0), true}, {at(60).Add(-time.Microsecond), true}, {at(60), false}, {at(61), false}} {
		if got.Usable(c.now) != c.want {
			t.Errorf("key expiring at %v: Usable(%v) = %v, want %v", at(60), c.now, !c.want, c.want)
		}
	}
}

func testKeyInput(t *testing.T, s Store) {
	ctx := context.Background()
	good := access.Key{ID: "key_ok", Name: "ok", Scopes: []access.Scope{access.ScopeMetricsRead},
		Hash: access.HashSecret(secret(0)), CreatedAt: at(0)}
	for _, c := range []struct {
		what, mention string
		edit          func(k *access.Key)
	}{
		{"empty name", "name", func(k *access.Key) { k.Name = "  " }},
		{"a C0 control in the name", "name", func(k *access.Key) { k.Name = "bot\x1b[2J" }},
		{"a C1 control in the name", "name", func(k *access.Key) { k.Name = "bot\u009b2J" }},
		{"NEL in the name", "name", func(k *access.Key) { k.Name = "bot\u0085two" }},
		{"unknown scope", "profiles:write", func(k *access.Key) { k.Scopes = []access.Scope{"profiles:write"} }},
		{"no scope", "scope", func(k *access.Key) { k.Scopes = nil }},
		{"bad source", "-web", func(k *access.Key) { k.Source = "-web" }},
		{"source too long", "source", func(k *access.Key) { k.Source = strings.Repeat("s", 65) }},
		{"bad id", "id", func(k *access.Key) { k.ID = "k1" }},
		{"bad hash", "hash", func(k *access.Key) { k.Hash = "cdp_secret" }},
		{"no creation time", "creation", func(k *access.Key) { k.CreatedAt = time.Time{} }},
		{"expiry before creation", "expiry", func(k *access.Key) { k.ExpiresAt = at(-1) }},
	} {
		k := good
		c.edit(&k)
		err := s.CreateKey(ctx, k)
		wantCode(t, err, graph.EINVALID, c.what)
		if !strings.Contains(err.Error(), c.mention) {
			t.Errorf("%s: error %q does not mention %q", c.what, err, c.mention)
		}
	}
	if n, err := s.CountKeys(ctx); err != nil || n != 0 {
		t.Fatalf("CountKeys after refused keys = %d, %v; want 0", n, err)
	}
	// NewKey makes a key the store takes, found by its secret's hash.
	k, sec, err := access.NewKey(" bot ", []string{"events:write", "profiles:read", "events:write"}, "app", time.Time{}, at(0))
	must(t, err)
	must(t, s.CreateKey(ctx, k))
	got, ok, err := s.KeyByHash(ctx, access.HashSecret(sec))
	must(t, err)
	want := access.Key{ID: k.ID, Name: "bot", Scopes: []access.Scope{access.ScopeProfilesRead, access.ScopeEventsWrite},
		Source: "app", Hash: access.HashSecret(sec), CreatedAt: at(0)}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("NewKey's key read back as %+v, %v; want %+v", got, ok, want)
	}
	_, _, err = access.NewKey("x", []string{"profiles:read", "pii:write"}, "", time.Time{}, at(0))
	wantCode(t, err, graph.EINVALID, "NewKey with an unknown scope")
	if !strings.Contains(err.Error(), `"pii:write"`) || !strings.Contains(err.Error(), "pii:read") {
		t.Errorf("NewKey's error %q does not name the bad scope and list the valid ones", err)
	}
}

// auditLog is the suite's log: (at, id) chosen so that the order is not
// the order of appending, and two entries share a time.
func auditLog() []access.AuditEntry {
	return []access.AuditEntry{
		{ID: "aud_e1", At: at(1), KeyID: "key_a", KeyName: "admin", Action: "mergeProfiles", OperationName: "Fix",
			RequestID: "r1", ProfileIDs: []string{"p1", "p2"}, ProfileCount: 2, Reason: "ticket 1", Outcome: access.OutcomeOK},
		{ID: "aud_e3", At: at(3), KeyID: "key_b", KeyName: "reader", Action: "profile",
			RequestID: "r3", ProfileIDs: []string{"p2"}, ProfileCount: 1, Outcome: access.OutcomeOK},
		{ID: "aud_e2", At: at(2), KeyID: "key_a", KeyName: "admin", Action: "unlinkIdentifiers",
			ProfileIDs: []string{"p3"}, ProfileCount: 1, Outcome: "FORBIDDEN"},
		// e4a and e4b share a time: the id breaks the tie.
		{ID: "aud_e4b", At: at(4), KeyID: "key_b", KeyName: "reader", Action: "profile",
			ProfileIDs: []string{"p1"}, ProfileCount: 250, Outcome: access.OutcomeOK},
		{ID: "aud_e4a", At: at(4), Action: "profile", Outcome: access.OutcomeOK},
		{ID: "aud_e5", At: at(5).Add(1500 * time.Microsecond), KeyID: "key_a", KeyName: "admin", Action: "mergeProfiles",
			ProfileIDs: []string{"p1"}, ProfileCount: 1, Reason: "ticket 2", Outcome: "conflict"},
	}
}

func entryIDs(es []access.AuditEntry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testAudit(t *testing.T, s Store) {
	ctx := context.Background()
	log := auditLog()
	// Two batches, the second holding the tie.
	must(t, s.AppendAudit(ctx, log[:3]))
	must(t, s.AppendAudit(ctx, log[3:]))
	must(t, s.AppendAudit(ctx, nil))

	all, err := s.Audit(ctx, access.AuditQuery{Limit: 100})
	must(t, err)
	// Newest first: e5 (5m), e4b, e4a (4m, id descending), e3, e2, e1.
	order := []string{"aud_e5", "aud_e4b", "aud_e4a", "aud_e3", "aud_e2", "aud_e1"}
	if !slices.Equal(entryIDs(all), order) {
		t.Fatalf("Audit = %v, want %v", entryIDs(all), order)
	}
	byID := map[string]access.AuditEntry{}
	for _, e := range log {
		byID[e.ID] = e
	}
	for _, e := range all {
		if !reflect.DeepEqual(e, byID[e.ID]) {
			t.Errorf("entry read back as %+v, want %+v", e, byID[e.ID])
		}
	}

	for _, c := range []struct {
		what string
		q    access.AuditQuery
		want []string
	}{
		{"key_a", access.AuditQuery{KeyID: "key_a"}, []string{"aud_e5", "aud_e2", "aud_e1"}},
		{"key_b", access.AuditQuery{KeyID: "key_b"}, []string{"aud_e4b", "aud_e3"}},
		{"unknown key", access.AuditQuery{KeyID: "key_zz"}, []string{}},
		{"profile p1", access.AuditQuery{ProfileID: "p1"}, []string{"aud_e5", "aud_e4b", "aud_e1"}},
		{"profile p2", access.AuditQuery{ProfileID: "p2"}, []string{"aud_e3", "aud_e1"}},
		{"profile p", access.AuditQuery{ProfileID: "p"}, []string{}}, // no prefix match
		{"action", access.AuditQuery{Action: "mergeProfiles"}, []string{"aud_e5", "aud_e1"}},
		{"from 3m (inclusive)", access.AuditQuery{From: at(3)}, []string{"aud_e5", "aud_e4b", "aud_e4a", "aud_e3"}},
		{"to 4m (exclusive)", access.AuditQuery{To: at(4)}, []string{"aud_e3", "aud_e2", "aud_e1"}},
		{"from 2m to 4m", access.AuditQuery{From: at(2), To: at(4)}, []string{"aud_e3", "aud_e2"}},
		{"to 5m", access.AuditQuery{To: at(5)}, []string{"aud_e4b", "aud_e4a", "aud_e3", "aud_e2", "aud_e1"}},
		{"to 5m + 1ms", access.AuditQuery{To: at(5).Add(time.Millisecond)}, []string{"aud_e4b", "aud_e4a", "aud_e3", "aud_e2", "aud_e1"}},
		{"to 5m + 2ms", access.AuditQuery{To: at(5).Add(2 * time.Millisecond)}, order},
		// Bounds finer than the stored microseconds keep their meaning:
		// e4a and e4b (at 4m) are before 4m + 500ns, e5 before its own
		// time + 500ns.
		{"from 4m + 500ns", access.AuditQuery{From: at(4).Add(500)}, []string{"aud_e5"}},
		{"from e5 + 500ns", access.AuditQuery{From: at(5).Add(1500*time.Microsecond + 500)}, []string{}},
		{"to 4m + 500ns", access.AuditQuery{To: at(4).Add(500)}, []string{"aud_e4b", "aud_e4a", "aud_e3", "aud_e2", "aud_e1"}},
		{"to e5 + 500ns", access.AuditQuery{To: at(5).Add(1500*time.Microsecond + 500)}, order},
		{"key_b, from 4m + 500ns", access.AuditQuery{KeyID: "key_b", From: at(4).Add(500)}, []string{}},
		{"p1, to 4m + 500ns", access.AuditQuery{ProfileID: "p1", To: at(4).Add(500)}, []string{"aud_e4b", "aud_e1"}},
		{"after 4m + 500ns", access.AuditQuery{After: access.AuditCursor{At: at(4).Add(500), ID: "aud_e4a"}}, []string{"aud_e4b", "aud_e4a", "aud_e3", "aud_e2", "aud_e1"}},
		{"key_a and p1", access.AuditQuery{KeyID: "key_a", ProfileID: "p1"}, []string{"aud_e5", "aud_e1"}},
		{"p1, from 2m", access.AuditQuery{ProfileID: "p1", From: at(2)}, []string{"aud_e5", "aud_e4b"}},
		{"key_b, to 4m", access.AuditQuery{KeyID: "key_b", To: at(4)}, []string{"aud_e3"}},
		{"profile p1, action profile", access.AuditQuery{ProfileID: "p1", Action: "profile"}, []string{"aud_e4b"}},
		{"after e4b", access.AuditQuery{After: access.AuditCursor{At: at(4), ID: "aud_e4b"}}, []string{"aud_e4a", "aud_e3", "aud_e2", "aud_e1"}},
		{"after e4a", access.AuditQuery{After: access.AuditCursor{At: at(4), ID: "aud_e4a"}}, []string{"aud_e3", "aud_e2", "aud_e1"}},
		{"p1 after e5", access.AuditQuery{ProfileID: "p1", After: access.AuditCursor{At: at(5).Add(1500 * time.Microsecond), ID: "aud_e5"}}, []string{"aud_e4b", "aud_e1"}},
		{"key_a after e2, from 1m", access.AuditQuery{KeyID: "key_a", From: at(1), After: access.AuditCursor{At: at(2), ID: "aud_e2"}}, []string{"aud_e1"}},
		{"limit 2", access.AuditQuery{Limit: 2}, []string{"aud_e5", "aud_e4b"}},
		{"p1 limit 1", access.AuditQuery{ProfileID: "p1", Limit: 1}, []string{"aud_e5"}},
	} {
		q := c.q
		if q.Limit == 0 {
			q.Limit = 100
		}
		got, err := s.Audit(ctx, q)
		must(t, err)
		if !slices.Equal(entryIDs(got), c.want) {
			t.Errorf("%s: Audit = %v, want %v", c.what, entryIDs(got), c.want)
		}
	}

	// Paging two at a time walks the whole order, each entry once.
	for _, filter := range []access.AuditQuery{{}, {KeyID: "key_a"}, {ProfileID: "p1"}} {
		var walked []string
		q := filter
		q.Limit = 2
		for range 10 {
			page, err := s.Audit(ctx, q)
			must(t, err)
			if len(page) == 0 {
				break
			}
			walked = append(walked, entryIDs(page)...)
			q.After = page[len(page)-1].Cursor()
		}
		want := []string{}
		for _, id := range order {
			if filter.Matches(byID[id]) {
				want = append(want, id)
			}
		}
		if !slices.Equal(walked, want) {
			t.Errorf("paging %+v walked %v, want %v", filter, walked, want)
		}
	}

	// Prune before 3m: e1 and e2 go; their index entries with them.
	n, err := s.PruneAudit(ctx, at(3))
	must(t, err)
	if n != 2 {
		t.Fatalf("PruneAudit(3m) = %d, want 2", n)
	}
	for _, c := range []struct {
		q    access.AuditQuery
		want []string
	}{
		{access.AuditQuery{Limit: 100}, []string{"aud_e5", "aud_e4b", "aud_e4a", "aud_e3"}},
		{access.AuditQuery{KeyID: "key_a", Limit: 100}, []string{"aud_e5"}},
		{access.AuditQuery{ProfileID: "p2", Limit: 100}, []string{"aud_e3"}},
		{access.AuditQuery{ProfileID: "p3", Limit: 100}, []string{}},
	} {
		got, err := s.Audit(ctx, c.q)
		must(t, err)
		if !slices.Equal(entryIDs(got), c.want) {
			t.Errorf("after pruning, Audit(%+v) = %v, want %v", c.q, entryIDs(got), c.want)
		}
	}
	if n, err := s.PruneAudit(ctx, at(3)); err != nil || n != 0 {
		t.Fatalf("pruning again = %d, %v; want 0", n, err)
	}
	// e3, at 3m, is older than 3m + 500ns, a bound finer than the stored
	// microseconds.
	if n, err := s.PruneAudit(ctx, at(3).Add(500)); err != nil || n != 1 {
		t.Fatalf("PruneAudit(3m + 500ns) = %d, %v; want 1 (e3)", n, err)
	}
	// A pruned id may be used again: the log keeps nothing of it.
	must(t, s.AppendAudit(ctx, []access.AuditEntry{log[0]}))
	if n, err := s.PruneAudit(ctx, at(100)); err != nil || n != 4 {
		t.Fatalf("PruneAudit(100m) = %d, %v; want 4", n, err)
	}
	got, err := s.Audit(ctx, access.AuditQuery{Limit: 100})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("after pruning everything, Audit = %v", entryIDs(got))
	}
}

func testAuditInput(t *testing.T, s Store) {
	ctx := context.Background()
	log := auditLog()
	must(t, s.AppendAudit(ctx, log[:1]))

	// A batch holding a stored id is refused whole.
	fresh := log[1]
	wantCode(t, s.AppendAudit(ctx, []access.AuditEntry{fresh, log[0]}), graph.ECONFLICT, "a batch with a stored id")
	wantCode(t, s.AppendAudit(ctx, []access.AuditEntry{fresh, fresh}), graph.ECONFLICT, "a batch with an id twice")
	tooMany := log[2]
	for i := range 101 {
		tooMany.ProfileIDs = append(tooMany.ProfileIDs, fmt.Sprintf("p%d", i))
	}
	tooMany.ProfileCount = 101
	for _, c := range []struct {
		what string
		edit func(e *access.AuditEntry)
	}{
		{"101 profile ids", func(e *access.AuditEntry) { *e = tooMany }},
		{"count below ids", func(e *access.AuditEntry) { e.ProfileCount = 0 }},
		{"no action", func(e *access.AuditEntry) { e.Action = "" }},
		{"no outcome", func(e *access.AuditEntry) { e.Outcome = "" }},
		{"no time", func(e *access.AuditEntry) { e.At = time.Time{} }},
		{"bad id", func(e *access.AuditEntry) { e.ID = "e1" }},
		{"bad key id", func(e *access.AuditEntry) { e.KeyID = "admin" }},
	} {
		e := log[2]
		c.edit(&e)
		wantCode(t, s.AppendAudit(ctx, []access.AuditEntry{fresh, e}), graph.EINVALID, c.what)
	}
	got, err := s.Audit(ctx, access.AuditQuery{Limit: 100})
	must(t, err)
	if !slices.Equal(entryIDs(got), []string{"aud_e1"}) {
		t.Fatalf("after refused batches, Audit = %v, want only aud_e1", entryIDs(got))
	}
	for _, q := range []access.AuditQuery{
		{Limit: 0}, {Limit: access.MaxPage + 1}, {Limit: 1, After: access.AuditCursor{ID: "aud_e1"}},
	} {
		_, err := s.Audit(ctx, q)
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("Audit(%+v)", q))
	}
	// SetProfiles caps the ids and counts them all.
	var e access.AuditEntry
	ids := []string{"p1", ""}
	for i := range 150 {
		ids = append(ids, fmt.Sprintf("q%03d", i), fmt.Sprintf("q%03d", i))
	}
	e.SetProfiles(ids)
	if e.ProfileCount != 151 || len(e.ProfileIDs) != 100 || e.ProfileIDs[0] != "p1" || e.ProfileIDs[99] != "q098" {
		t.Fatalf("SetProfiles: count %d, %d ids from %v to %v; want 151, 100 from p1 to q098",
			e.ProfileCount, len(e.ProfileIDs), e.ProfileIDs[0], e.ProfileIDs[len(e.ProfileIDs)-1])
	}
}

// testAuditInTx: an entry appended inside a graph write transaction commits
// with its effect and rolls back with it.
func testAuditInTx(t *testing.T, s Store) {
	ctx := context.Background()
	seen := func(key string) []graph.IdentifierSeen {
		return []graph.IdentifierSeen{{Key: key, Type: "user_id", Value: strings.TrimPrefix(key, "user_id:"),
			First: at(0), Last: at(0), Sources: []string{"test"}}}
	}
	entry := func(id string) access.AuditEntry {
		return access.AuditEntry{ID: id, At: at(1), Action: "test", Outcome: access.OutcomeOK}
	}
	errFail := errors.New("failed after its checks")
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("user_id:u-fail"), true); err != nil {
			return err
		}
		if err := access.AppendInTx(ctx, tx, []access.AuditEntry{entry("aud_fail")}); err != nil {
			return err
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("Update = %v, want %v", err, errFail)
	}
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("user_id:u-ok"), true); err != nil {
			return err
		}
		return access.AppendInTx(ctx, tx, []access.AuditEntry{entry("aud_ok")})
	}))
	var idents map[string]graph.Identifier
	must(t, s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		idents, err = tx.Identifiers(ctx, []string{"user_id:u-fail", "user_id:u-ok"})
		return err
	}))
	if _, ok := idents["user_id:u-fail"]; ok || len(idents) != 1 {
		t.Errorf("identifiers after one failed and one committed transaction: %v, want only user_id:u-ok", slices.Sorted(maps.Keys(idents)))
	}
	got, err := s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	if !slices.Equal(entryIDs(got), []string{"aud_ok"}) {
		t.Errorf("audit after one failed and one committed transaction: %v, want [aud_ok]", entryIDs(got))
	}
	// A refused entry fails the transaction it is in.
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("user_id:u-dup"), true); err != nil {
			return err
		}
		return access.AppendInTx(ctx, tx, []access.AuditEntry{entry("aud_ok")})
	})
	wantCode(t, err, graph.ECONFLICT, "a stored id appended in a transaction")
	must(t, s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		idents, err = tx.Identifiers(ctx, []string{"user_id:u-dup"})
		return err
	}))
	if len(idents) != 0 {
		t.Errorf("the transaction whose audit entry was refused committed its effect")
	}
}

// testAuditHook: a correction run with AuditHook commits with its entry; a
// hook that fails after appending rolls both back.
func testAuditHook(t *testing.T, s Store) {
	ctx := context.Background()
	e := graph.NewEngine(s, nil)
	e.Now = func() time.Time { return at(30) }
	ev := func(id, user string) graph.Event {
		return graph.Event{ID: id, Type: "track", Name: "Viewed", Source: "test", Timestamp: at(0),
			Identifiers: []graph.IdentifierRef{{Type: graph.TypeAnonymousID, Value: user}}}
	}
	if _, err := e.ApplyBatch(ctx, []graph.Event{ev("m1", "u1"), ev("m2", "u2"), ev("m3", "u3")}); err != nil {
		t.Fatal(err)
	}
	pid := func(user string) string {
		t.Helper()
		p, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: user})
		must(t, err)
		return p.ID
	}
	p1, p2, p3 := pid("u1"), pid("u2"), pid("u3")
	entry := func(id string) access.AuditEntry {
		return access.AuditEntry{ID: id, At: at(30), KeyID: "key_a", KeyName: "admin", Action: "mergeProfiles",
			Reason: "same person", Outcome: access.OutcomeOK}
	}

	// A hook that fails after its entry was appended: neither the merge
	// nor the entry is stored, and the merge returns the hook's error.
	errHook := errors.New("failed after the checks")
	failing := func(ctx context.Context, tx graph.Tx, w *graph.Write) error {
		if err := access.AuditHook(entry("aud_fail"))(ctx, tx, w); err != nil {
			return err
		}
		return errHook
	}
	_, err := e.MergeProfiles(graph.WithBeforeCommit(ctx, failing), []string{p1, p2}, "same person")
	if !errors.Is(err, errHook) {
		t.Fatalf("merge with a failing hook = %v, want %v", err, errHook)
	}
	if pid("u1") != p1 || pid("u2") != p2 {
		t.Fatal("the merge whose hook failed was committed")
	}
	got, err := s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("the entry of a rolled-back merge is stored: %v", entryIDs(got))
	}

	// The same merge with the plain hook commits both.
	merged, err := e.MergeProfiles(graph.WithBeforeCommit(ctx, access.AuditHook(entry("aud_ok"))), []string{p1, p2}, "same person")
	must(t, err)
	if pid("u1") != merged.ID || pid("u2") != merged.ID {
		t.Fatal("the merge did not join u1 and u2")
	}
	got, err = s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	want := entry("aud_ok")
	want.ProfileIDs = slices.Sorted(slices.Values([]string{p1, p2}))
	want.ProfileCount = 2
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("audit after the merge = %+v, want [%+v]", got, want)
	}
	// A correction without a hook appends nothing; u3 is untouched.
	if _, err := e.MergeProfiles(ctx, []string{merged.ID, p3}, "same person"); err != nil {
		t.Fatal(err)
	}
	got, err = s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("a merge without a hook appended entries: %v", entryIDs(got))
	}
}

// testKeyChangesAudited checks that CreateKey and RevokeKey store their
// audit entries with their effect, and neither when either fails.
func testKeyChangesAudited(t *testing.T, s Store) {
	ctx := context.Background()
	entry := func(id, action string) access.AuditEntry {
		return access.AuditEntry{ID: id, At: at(1), Action: action, Outcome: access.OutcomeOK}
	}
	k := access.Key{ID: "key_a", Name: "a", Scopes: []access.Scope{access.ScopeAuditRead},
		Hash: access.HashSecret(secret(1)), CreatedAt: at(0)}
	must(t, s.CreateKey(ctx, k, entry("aud_create", "createApiKey")))
	// The same id again: refused, and its entry is not stored.
	dup := k
	dup.Hash = access.HashSecret(secret(2))
	wantCode(t, s.CreateKey(ctx, dup, entry("aud_dup", "createApiKey")), graph.ECONFLICT, "a key with a stored id")
	// An entry id already stored: the key is not stored either.
	k2 := access.Key{ID: "key_b", Name: "b", Scopes: []access.Scope{access.ScopeAuditRead},
		Hash: access.HashSecret(secret(3)), CreatedAt: at(0)}
	wantCode(t, s.CreateKey(ctx, k2, entry("aud_create", "createApiKey")), graph.ECONFLICT, "an audit id already stored")
	if _, ok, err := s.KeyByHash(ctx, k2.Hash); err != nil || ok {
		t.Fatalf("key whose audit entry was refused: found %v, %v; want not stored", ok, err)
	}
	_, _, err := s.RevokeKey(ctx, "key_zz", at(2), entry("aud_revokemissing", "revokeApiKey"))
	wantCode(t, err, graph.ENOTFOUND, "RevokeKey of an unknown key")
	rk, _, err := s.RevokeKey(ctx, "key_a", at(2), entry("aud_revoke", "revokeApiKey"))
	must(t, err)
	if !rk.RevokedAt.Equal(at(2)) {
		t.Errorf("revoked key's RevokedAt = %v, want %v", rk.RevokedAt, at(2))
	}
	// A refused audit entry rolls the revocation back.
	must(t, s.CreateKey(ctx, k2))
	_, _, err = s.RevokeKey(ctx, "key_b", at(3), entry("aud_revoke", "revokeApiKey"))
	wantCode(t, err, graph.ECONFLICT, "RevokeKey with an audit id already stored")
	if got, _, err := s.KeyByHash(ctx, k2.Hash); err != nil || !got.RevokedAt.IsZero() {
		t.Errorf("key whose revocation's audit entry was refused: RevokedAt %v, %v; want not revoked", got.RevokedAt, err)
	}
	got, err := s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	if want := []string{"aud_revoke", "aud_create"}; !slices.Equal(entryIDs(got), want) {
		t.Errorf("audit after two changes and four refusals: %v, want %v", entryIDs(got), want)
	}
}

// testRevokeKeepsAnAdmin: asked to keep an admin key (access.WithKeepAdmin),
// RevokeKey refuses the last key usable with keys:admin, counting neither
// revoked nor expired ones, and appends nothing then; unasked, it revokes
// it.
func testRevokeKeepsAnAdmin(t *testing.T, s Store) {
	ctx := context.Background()
	keep := access.WithKeepAdmin(ctx)
	admin := []access.Scope{access.ScopeKeysAdmin}
	keys := []access.Key{
		{ID: "key_a", Name: "admin", Scopes: []access.Scope{access.ScopeAuditRead, access.ScopeKeysAdmin}, Hash: access.HashSecret(secret(0)), CreatedAt: at(0)},
		{ID: "key_b", Name: "reader", Scopes: []access.Scope{access.ScopeProfilesRead}, Hash: access.HashSecret(secret(1)), CreatedAt: at(0)},
		{ID: "key_c", Name: "expired admin", Scopes: admin, Hash: access.HashSecret(secret(2)), CreatedAt: at(0), ExpiresAt: at(5)},
		{ID: "key_d", Name: "revoked admin", Scopes: admin, Hash: access.HashSecret(secret(3)), CreatedAt: at(0)},
	}
	for _, k := range keys {
		must(t, s.CreateKey(ctx, k))
	}
	_, _, err := s.RevokeKey(ctx, "key_d", at(1))
	must(t, err)

	// At minute 10 key_c has expired and key_d is revoked: key_a is the
	// last admin.
	_, _, err = s.RevokeKey(keep, "key_a", at(10), access.AuditEntry{ID: "aud_last", At: at(10), Action: "revokeApiKey", Outcome: access.OutcomeOK})
	wantCode(t, err, graph.ECONFLICT, "RevokeKey of the last usable admin key")
	if err != nil && !strings.Contains(graph.ErrorMessage(err), "key_a") {
		t.Errorf("refusal %q does not name the key", graph.ErrorMessage(err))
	}
	if got, _, err := s.KeyByHash(ctx, keys[0].Hash); err != nil || !got.RevokedAt.IsZero() {
		t.Fatalf("the refused key: RevokedAt %v, %v; want not revoked", got.RevokedAt, err)
	}
	_, _, err = s.RevokeKey(keep, "key_b", at(10))
	must(t, err) // not an admin key
	_, _, err = s.RevokeKey(keep, "key_d", at(10))
	must(t, err) // already revoked: no change
	e := access.Key{ID: "key_e", Name: "second admin", Scopes: admin, Hash: access.HashSecret(secret(4)), CreatedAt: at(11)}
	must(t, s.CreateKey(ctx, e))
	rk, _, err := s.RevokeKey(keep, "key_a", at(12))
	must(t, err)
	if !rk.RevokedAt.Equal(at(12)) {
		t.Fatalf("key_a with another admin key: RevokedAt %v, want %v", rk.RevokedAt, at(12))
	}
	_, _, err = s.RevokeKey(keep, "key_e", at(13))
	wantCode(t, err, graph.ECONFLICT, "RevokeKey of the admin key left")
	// Not asked to keep one (`cdp keys revoke`): revoked.
	rk, _, err = s.RevokeKey(ctx, "key_e", at(14))
	must(t, err)
	if !rk.RevokedAt.Equal(at(14)) {
		t.Fatalf("key_e revoked unasked: RevokedAt %v, want %v", rk.RevokedAt, at(14))
	}
	got, err := s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	if len(got) != 0 {
		t.Errorf("audit entries %v after a refused revocation; want none", entryIDs(got))
	}
}

// testLoadKey: a key name with a C1 control character, which stores took
// before the rule against them, is loaded (cdp copy of an older store) as
// it is, and the key authenticates; CreateKey still refuses such a name,
// and LoadKey the C0 controls no version took, and a repeated id.
func testLoadKey(t *testing.T, s Store) {
	ctx := context.Background()
	const old = "bot \u0085legacy\u009b"
	k := access.Key{ID: "key_old", Name: old, Scopes: []access.Scope{access.ScopeProfilesRead},
		Hash: access.HashSecret(secret(1)), CreatedAt: at(0), LastUsedAt: at(5)}
	must(t, s.(access.Loader).LoadKey(ctx, k))
	got, ok, err := s.KeyByHash(ctx, access.HashSecret(secret(1)))
	must(t, err)
	want := access.Key{ID: "key_old", Name: "bot \u0085legacy\u009b", Scopes: []access.Scope{access.ScopeProfilesRead},
		Hash: access.HashSecret(secret(1)), CreatedAt: at(0), LastUsedAt: at(5)}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded key read back as %+v, %v; want %+v", got, ok, want)
	}
	err = s.(access.Loader).LoadKey(ctx, k)
	wantCode(t, err, graph.ECONFLICT, "a key loaded twice")

	n := k
	n.ID, n.Hash = "key_new", access.HashSecret(secret(2))
	err = s.CreateKey(ctx, n)
	wantCode(t, err, graph.EINVALID, "CreateKey with a C1 name")
	n.Name = "bot\x1b[2J"
	err = s.(access.Loader).LoadKey(ctx, n)
	wantCode(t, err, graph.EINVALID, "LoadKey with a C0 name")
	if !strings.Contains(err.Error(), "name") {
		t.Errorf("LoadKey with a C0 name: error %q does not name the name", err)
	}
	if c, err := s.CountKeys(ctx); err != nil || c != 1 {
		t.Fatalf("CountKeys = %d, %v; want the loaded key alone", c, err)
	}
}

// testRevokeNeedsHeldScopes: asked to revoke only keys within the caller's
// scopes (access.WithHolds), RevokeKey refuses a key holding another with
// a *access.NotHeldError naming the key and the first such scope in the
// canonical order, revokes nothing and appends nothing; a key within them
// is revoked; an unknown id is still ENOTFOUND.
func testRevokeNeedsHeldScopes(t *testing.T, s Store) {
	ctx := context.Background()
	lesser := access.WithHolds(ctx, []access.Scope{access.ScopeKeysAdmin, access.ScopeProfilesRead})
	support := access.Key{ID: "key_support", Name: "support", Scopes: []access.Scope{access.ScopeProfilesRead, access.ScopePIIRead, access.ScopeAuditRead},
		Hash: access.HashSecret(secret(1)), CreatedAt: at(0)}
	reader := access.Key{ID: "key_reader", Name: "reader", Scopes: []access.Scope{access.ScopeProfilesRead},
		Hash: access.HashSecret(secret(2)), CreatedAt: at(0)}
	must(t, s.CreateKey(ctx, support))
	must(t, s.CreateKey(ctx, reader))
	entry := func(id string) access.AuditEntry {
		return access.AuditEntry{ID: id, At: at(1), Action: "revokeApiKey", Outcome: access.OutcomeOK}
	}

	for _, c := range []struct {
		ctx   context.Context
		scope access.Scope
	}{
		{lesser, access.ScopePIIRead},
		{access.WithHolds(ctx, nil), access.ScopeProfilesRead}, // no scope at all
		{access.WithKeepAdmin(lesser), access.ScopePIIRead},
	} {
		_, _, err := s.RevokeKey(c.ctx, support.ID, at(1), entry("aud_refused"))
		var nh *access.NotHeldError
		if !errors.As(err, &nh) || nh.Scope != c.scope || nh.KeyID != support.ID {
			t.Fatalf("RevokeKey of a key holding %s the caller lacks: %v, want a NotHeldError naming %s and %s", c.scope, err, support.ID, c.scope)
		}
	}
	if got, _, err := s.KeyByHash(ctx, support.Hash); err != nil || !got.RevokedAt.IsZero() {
		t.Fatalf("refused revocation: RevokedAt %v, %v; want not revoked", got.RevokedAt, err)
	}
	_, _, err := s.RevokeKey(lesser, "key_none", at(1))
	wantCode(t, err, graph.ENOTFOUND, "RevokeKey of an unknown key within WithHolds")

	rk, _, err := s.RevokeKey(lesser, reader.ID, at(2), entry("aud_reader"))
	must(t, err)
	if !rk.RevokedAt.Equal(at(2)) {
		t.Errorf("key within the caller's scopes: RevokedAt %v, want %v", rk.RevokedAt, at(2))
	}
	// Holding every scope of the key is enough.
	rk, _, err = s.RevokeKey(access.WithHolds(ctx, access.AllScopes()), support.ID, at(3))
	must(t, err)
	if !rk.RevokedAt.Equal(at(3)) {
		t.Errorf("key within every scope: RevokedAt %v, want %v", rk.RevokedAt, at(3))
	}
	got, err := s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	if want := []string{"aud_reader"}; !slices.Equal(entryIDs(got), want) {
		t.Errorf("audit after refused and granted revocations: %v, want %v", entryIDs(got), want)
	}
}

// testRevokeCascades: a key's creator (CreatedBy) is stored and read back;
// CreateKey takes a key only while its creator is stored and usable, and
// LoadKey any. Revoking a key revokes, in the same transaction and at the
// same time, every key it created, directly or not; one already revoked
// keeps its time; keys outside that tree are untouched. RevokeKey returns
// the ids it revoked with the key, and the audit entry names them.
func testRevokeCascades(t *testing.T, s Store) {
	ctx := context.Background()
	n := 0
	key := func(id, by string, scopes ...access.Scope) access.Key {
		n++
		return access.Key{ID: id, Name: id, Scopes: scopes, Hash: access.HashSecret(secret(n)), CreatedAt: at(0), CreatedBy: by}
	}
	pr, ka := access.ScopeProfilesRead, access.ScopeKeysAdmin
	// root ─ team ─┬─ app
	//              └─ sub ─ leaf
	// root ─ sibling;  other (no creator)
	tree := []access.Key{
		key("key_root", "", ka, pr), key("key_other", "", ka, pr), key("key_team", "key_root", ka, pr),
		key("key_sibling", "key_root", pr), key("key_app", "key_team", pr), key("key_sub", "key_team", ka, pr),
		key("key_leaf", "key_sub", pr),
	}
	for _, k := range tree {
		must(t, s.CreateKey(ctx, k))
	}
	got, ok, err := s.KeyByHash(ctx, tree[6].Hash)
	must(t, err)
	if !ok || !reflect.DeepEqual(got, tree[6]) {
		t.Fatalf("KeyByHash(leaf) = %+v, %v; want %+v", got, ok, tree[6])
	}

	// Creators that cannot create: unknown, revoked, expired.
	_, _, err = s.RevokeKey(ctx, "key_app", at(1))
	must(t, err)
	expiring := key("key_expiring", "", ka)
	expiring.ExpiresAt = at(3)
	must(t, s.CreateKey(ctx, expiring))
	for _, by := range []string{"key_nobody", "key_app", "key_expiring"} {
		k := key("key_new", by, pr)
		k.CreatedAt = at(4)
		wantCode(t, s.CreateKey(ctx, k), graph.ECONFLICT, "CreateKey by "+by)
	}
	if _, ok, err := s.KeyByHash(ctx, access.HashSecret(secret(n))); err != nil || ok {
		t.Fatalf("a key whose creator cannot create: stored %v, %v", ok, err)
	}
	// A loaded key may name a creator not (yet) stored.
	loaded := key("key_loaded", "key_nobody", pr)
	must(t, s.(access.Loader).LoadKey(ctx, loaded))

	// Revoke team at minute 5: app keeps minute 1; sub and leaf go at 5.
	entry := access.AuditEntry{ID: "aud_team", At: at(5), Action: "revokeApiKey", Reason: "key key_team", Outcome: access.OutcomeOK}
	rk, with, err := s.RevokeKey(ctx, "key_team", at(5), entry)
	must(t, err)
	if rk.ID != "key_team" || !rk.RevokedAt.Equal(at(5)) {
		t.Errorf("RevokeKey(team) = %+v, want team revoked at minute 5", rk)
	}
	if want := []string{"key_leaf", "key_sub"}; !slices.Equal(with, want) {
		t.Errorf("revoked with team: %v, want %v", with, want)
	}
	wantRevoked := map[string]time.Time{"key_team": at(5), "key_sub": at(5), "key_leaf": at(5), "key_app": at(1)}
	ks, err := s.Keys(ctx, access.MaxPage, "")
	must(t, err)
	for _, k := range ks {
		if !k.RevokedAt.Equal(wantRevoked[k.ID]) {
			t.Errorf("key %s RevokedAt %v, want %v", k.ID, k.RevokedAt, wantRevoked[k.ID])
		}
	}
	es, err := s.Audit(ctx, access.AuditQuery{Limit: 10})
	must(t, err)
	if want := "key key_team; with it 2 keys it created, directly or not: key_leaf, key_sub"; len(es) != 1 || es[0].Reason != want {
		t.Errorf("audit %+v, want one entry with reason %q", es, want)
	}
	// Again: nothing more is revoked, and nothing moves.
	rk, with, err = s.RevokeKey(ctx, "key_team", at(6))
	must(t, err)
	if !rk.RevokedAt.Equal(at(5)) || len(with) != 0 {
		t.Errorf("RevokeKey(team) again = %v, %v; want its first time and none with it", rk.RevokedAt, with)
	}
	// A key revoked along, revoked again at an earlier time (as a copy
	// brings the source's, which revoked it before its creator), takes
	// that time; the others stay.
	rk, with, err = s.RevokeKey(ctx, "key_leaf", at(4))
	must(t, err)
	if !rk.RevokedAt.Equal(at(4)) || len(with) != 0 {
		t.Errorf("RevokeKey(leaf) at minute 4 = %v, %v; want minute 4 and none with it", rk.RevokedAt, with)
	}
	wantRevoked["key_leaf"] = at(4)
	ks, err = s.Keys(ctx, access.MaxPage, "")
	must(t, err)
	for _, k := range ks {
		if !k.RevokedAt.Equal(wantRevoked[k.ID]) {
			t.Errorf("after leaf at minute 4: key %s RevokedAt %v, want %v", k.ID, k.RevokedAt, wantRevoked[k.ID])
		}
	}
}

// testRevokeCascadeChecks: a revocation that takes keys with it checks
// them all: a key among them holding a scope the caller lacks
// (WithHolds) refuses it, and so does the last usable admin key being
// among them (WithKeepAdmin); nothing is revoked then.
func testRevokeCascadeChecks(t *testing.T, s Store) {
	ctx := context.Background()
	pr, pii, ka := access.ScopeProfilesRead, access.ScopePIIRead, access.ScopeKeysAdmin
	keys := []access.Key{
		{ID: "key_root", Name: "root", Scopes: []access.Scope{ka, pr}, Hash: access.HashSecret(secret(1)), CreatedAt: at(0)},
		{ID: "key_child", Name: "child admin", Scopes: []access.Scope{ka, pr}, Hash: access.HashSecret(secret(2)), CreatedAt: at(0), CreatedBy: "key_root"},
		// Wider than its creator: only a load (a copy of data written
		// otherwise) stores such a key.
		{ID: "key_wide", Name: "wide", Scopes: []access.Scope{pr, pii}, Hash: access.HashSecret(secret(3)), CreatedAt: at(0), CreatedBy: "key_child"},
	}
	must(t, s.CreateKey(ctx, keys[0]))
	must(t, s.CreateKey(ctx, keys[1]))
	must(t, s.(access.Loader).LoadKey(ctx, keys[2]))

	_, _, err := s.RevokeKey(access.WithHolds(ctx, []access.Scope{ka, pr}), "key_root", at(1))
	var nh *access.NotHeldError
	if !errors.As(err, &nh) || nh.KeyID != "key_wide" || nh.Scope != pii {
		t.Errorf("revoking root, which takes key_wide (pii:read) with it, without pii:read: %v, want a NotHeldError naming key_wide and pii:read", err)
	}
	_, _, err = s.RevokeKey(access.WithKeepAdmin(ctx), "key_root", at(1))
	wantCode(t, err, graph.ECONFLICT, "revoking root, which takes the other admin key with it")
	if err != nil && (!strings.Contains(graph.ErrorMessage(err), "key_root") || !strings.Contains(graph.ErrorMessage(err), "key_child")) {
		t.Errorf("refusal %q does not name both admin keys", graph.ErrorMessage(err))
	}
	ks, err := s.Keys(ctx, access.MaxPage, "")
	must(t, err)
	for _, k := range ks {
		if !k.RevokedAt.IsZero() {
			t.Errorf("key %s revoked by a refused revocation", k.ID)
		}
	}
	// Revoking the child alone keeps root, the other admin key.
	_, with, err := s.RevokeKey(access.WithKeepAdmin(access.WithHolds(ctx, access.AllScopes())), "key_child", at(2))
	must(t, err)
	if !slices.Equal(with, []string{"key_wide"}) {
		t.Errorf("revoked with child: %v, want [key_wide]", with)
	}
}
