package resolver

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// createdKey creates a key over GraphQL with the key secret, and returns
// the new key's secret and id.
func (e *keyEnv) createdKey(secret, name string, scopes ...access.Scope) (string, string) {
	e.t.Helper()
	var out struct {
		C struct {
			Secret string
			Key    struct{ ID string }
		} `json:"createApiKey"`
	}
	e.ok(secret, `mutation($n: String!, $s: [String!]!) { createApiKey(input: {name: $n, scopes: $s}) { secret key { id } } }`,
		map[string]any{"n": name, "s": access.ScopeNames(scopes)}, &out)
	return out.C.Secret, out.C.Key.ID
}

type listedKey struct {
	ID        string
	CreatedBy *string
	RevokedAt *time.Time
	Active    bool
}

// listed returns apiKeys, as the secret sees it, by id.
func (e *keyEnv) listed(secret string) map[string]listedKey {
	e.t.Helper()
	var out struct {
		APIKeys struct{ Nodes []listedKey } `json:"apiKeys"`
	}
	e.ok(secret, `{ apiKeys(first: 500) { nodes { id createdBy revokedAt active } } }`, nil, &out)
	m := map[string]listedKey{}
	for _, k := range out.APIKeys.Nodes {
		m[k.ID] = k
	}
	return m
}

// TestRevokingAKeyRevokesTheKeysItCreated: a key created over GraphQL by
// a key records its creator (apiKeys' createdBy); one created with `cdp
// keys create` (here, straight in the store) or in open mode has none.
// Revoking a key revokes, in the same write and at the same time, every
// key it created, directly or not: none of them authenticates any more,
// the server forgets them at once (OnRevoke for each), and the audit entry
// names them. Keys outside that tree stay usable.
func TestRevokingAKeyRevokesTheKeysItCreated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		var (
			mu      sync.Mutex
			revoked []string
		)
		cfg := testConfig()
		cfg.OnRevoke = func(id string) {
			mu.Lock()
			defer mu.Unlock()
			revoked = append(revoked, id)
		}
		e := newKeyEnv(t, s, cfg, nil)
		root, rootKey := e.key("root", "", access.AllScopes()...)
		other, otherKey := e.key("other admin", "", access.ScopeKeysAdmin, access.ScopeProfilesRead)
		team, teamID := e.createdKey(root, "team admin", access.ScopeKeysAdmin, access.ScopeProfilesRead, access.ScopePIIRead)
		app, appID := e.createdKey(team, "app", access.ScopeProfilesRead, access.ScopePIIRead)
		sub, subID := e.createdKey(team, "sub admin", access.ScopeKeysAdmin, access.ScopeProfilesRead)
		leaf, leafID := e.createdKey(sub, "leaf", access.ScopeProfilesRead)
		sibling, siblingID := e.createdKey(root, "sibling", access.ScopeProfilesRead)
		var opened struct {
			C struct{ Key struct{ ID string } } `json:"createApiKey"`
		}
		newEnv(t, s, testConfig(), nil).query(`mutation { createApiKey(input: {name: "open", scopes: ["profiles:read"]}) { key { id } } }`, nil, &opened)
		openID := opened.C.Key.ID

		ptr := func(s string) *string { return &s }
		want := map[string]*string{
			rootKey.ID: nil, otherKey.ID: nil, openID: nil,
			teamID: ptr(rootKey.ID), siblingID: ptr(rootKey.ID),
			appID: ptr(teamID), subID: ptr(teamID), leafID: ptr(subID),
		}
		got := e.listed(root)
		for id, by := range want {
			if k, ok := got[id]; !ok || !reflect.DeepEqual(k.CreatedBy, by) {
				t.Errorf("apiKeys: key %s createdBy %v, want %v", id, orNil(got[id].CreatedBy), orNil(by))
			}
		}

		// root revokes team: team, app, sub and leaf go.
		var rv struct {
			R struct {
				ID        string
				RevokedAt *time.Time
			} `json:"revokeApiKey"`
		}
		e.ok(root, `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`, map[string]any{"id": teamID}, &rv)
		if rv.R.ID != teamID || rv.R.RevokedAt == nil {
			t.Fatalf("revokeApiKey answered %+v", rv.R)
		}
		gone := []string{teamID, appID, subID, leafID}
		for _, secret := range []string{team, app, sub, leaf} {
			if r := e.as(secret, `{ viewer { keyId } }`, nil); r.Status != 401 {
				t.Errorf("a key created by the revoked key answered %d, want 401", r.Status)
			}
		}
		for _, secret := range []string{root, other, sibling} {
			if r := e.as(secret, `{ viewer { keyId } }`, nil); r.Status != 200 {
				t.Errorf("a key outside the revoked tree answered %d, want 200", r.Status)
			}
		}
		got = e.listed(root)
		for _, id := range gone {
			if k := got[id]; k.Active || k.RevokedAt == nil || !k.RevokedAt.Equal(*rv.R.RevokedAt) {
				t.Errorf("key %s after the revocation: %+v, want revoked at %v", id, k, rv.R.RevokedAt)
			}
		}
		for _, id := range []string{rootKey.ID, otherKey.ID, openID, siblingID} {
			if k := got[id]; !k.Active || k.RevokedAt != nil {
				t.Errorf("key %s outside the revoked tree: %+v, want active", id, k)
			}
		}
		mu.Lock()
		if !reflect.DeepEqual(slices.Sorted(slices.Values(revoked)), slices.Sorted(slices.Values(gone))) {
			t.Errorf("OnRevoke got %v, want %v", revoked, gone)
		}
		mu.Unlock()
		with := slices.Sorted(slices.Values([]string{appID, subID, leafID}))
		wantReason := "key " + teamID + "; with it 3 keys it created, directly or not: " + with[0] + ", " + with[1] + ", " + with[2]
		ok := e.audit("revokeApiKey")
		if len(ok) != 1 || ok[0].Outcome != access.OutcomeOK || ok[0].Reason != wantReason {
			t.Errorf("revokeApiKey entries %+v, want one ok entry with reason %q", ok, wantReason)
		}
		// Revoked keys create nothing: the store refuses a creator that
		// is revoked, whatever a server's cache still holds.
		if err := e.keys.CreateKey(context.Background(), childOf(t, subID)); graph.ErrorCode(err) != graph.ECONFLICT {
			t.Errorf("CreateKey by a revoked key: %v, want ECONFLICT", err)
		}
	})
}

// TestRevokeCascadeKeepsAnAdmin: the last usable admin key is kept whether
// it is the key revoked or one revoked with it: a root admin whose only
// other admin key is one it created cannot be revoked over GraphQL (by
// that key), CONFLICT naming both keys that would be lost; with a second
// root admin it can, and takes the key it created with it.
func TestRevokeCascadeKeepsAnAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		root, rootKey := e.key("root", "", access.AllScopes()...)
		child, childID := e.createdKey(root, "child admin", access.AllScopes()...)
		r := e.as(child, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": rootKey.ID})
		checkRefused(t, r.gqlResponse, CodeConflict, rootKey.ID, childID, "last usable keys with keys:admin")
		for _, secret := range []string{root, child} {
			if r := e.as(secret, `{ viewer { keyId } }`, nil); r.Status != 200 {
				t.Errorf("an admin key after the refused revocation answered %d, want 200", r.Status)
			}
		}
		second, _ := e.key("second root", "", access.AllScopes()...)
		e.ok(child, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": rootKey.ID}, nil)
		for _, secret := range []string{root, child} {
			if r := e.as(secret, `{ viewer { keyId } }`, nil); r.Status != 401 {
				t.Errorf("a revoked admin key answered %d, want 401", r.Status)
			}
		}
		if r := e.as(second, `{ viewer { keyId } }`, nil); r.Status != 200 {
			t.Errorf("the second root answered %d, want 200", r.Status)
		}
	})
}

func orNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// childOf is a new key created by the key id.
func childOf(t *testing.T, id string) access.Key {
	t.Helper()
	k, _, err := access.NewKey("child", []string{"profiles:read"}, "", time.Time{}, graph.Now())
	if err != nil {
		t.Fatal(err)
	}
	k.CreatedBy = id
	return k
}
