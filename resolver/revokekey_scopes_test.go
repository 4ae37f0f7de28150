package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestRevokeNeedsTheKeysScopes: revoking a key needs every scope it
// holds, as creating it did. A key with keys:admin and profiles:read
// cannot revoke one that holds pii:read, nor one that holds every scope:
// FORBIDDEN, extensions.scope naming the first scope it lacks in the
// canonical order (pii:read, both times), audited with the key aimed at;
// both keys stay usable. It revokes a key within its scopes; a key with
// every scope revokes the bigger one; open mode revokes any.
func TestRevokeNeedsTheKeysScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		boss, bossKey := e.key("boss", "", access.AllScopes()...)
		lesser, lesserKey := e.key("lesser admin", "", access.ScopeKeysAdmin, access.ScopeProfilesRead)
		support, supportKey := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
		_, readerKey := e.key("reader", "", access.ScopeProfilesRead)
		const revoke = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`

		for _, target := range []access.Key{supportKey, bossKey} {
			r := e.as(lesser, revoke, map[string]any{"id": target.ID})
			checkRefused(t, r.gqlResponse, CodeForbidden, `"id"`, "pii:read")
			if got := r.Errors[0].Extensions["scope"]; got != "pii:read" {
				t.Errorf("revoking %s: extensions.scope %v, want pii:read", target.Name, got)
			}
			if strings.Contains(string(r.Raw), "cdp_") {
				t.Errorf("refusal repeats a secret: %s", r.Raw)
			}
		}
		for _, secret := range []string{support, boss} {
			var v struct{ Viewer struct{ KeyID string } }
			e.ok(secret, `{ viewer { keyId } }`, nil, &v)
			if v.Viewer.KeyID == "" {
				t.Errorf("a key whose revocation was refused no longer authenticates")
			}
		}
		es := e.audit("revokeApiKey")
		want := []string{"key " + bossKey.ID, "key " + supportKey.ID} // newest first
		if len(es) != len(want) {
			t.Fatalf("%d revokeApiKey entries, want %d: %+v", len(es), len(want), es)
		}
		for i, a := range es {
			if a.Outcome != CodeForbidden || a.KeyID != lesserKey.ID || a.Reason != want[i] {
				t.Errorf("entry %d: outcome %s key %s reason %q, want FORBIDDEN by %s with reason %q",
					i, a.Outcome, a.KeyID, a.Reason, lesserKey.ID, want[i])
			}
		}

		// Within its scopes: revoked. A key with every scope revokes the
		// bigger key.
		e.ok(lesser, revoke, map[string]any{"id": readerKey.ID}, nil)
		e.ok(boss, revoke, map[string]any{"id": supportKey.ID}, nil)
		if r := e.as(support, `{ viewer { keyId } }`, nil); r.Status != 401 {
			t.Errorf("support key after its revocation: status %d, want 401", r.Status)
		}

		// Open mode holds every scope: it revokes the key with every scope.
		open := newEnv(t, s, testConfig(), nil)
		var out struct {
			RevokeAPIKey struct{ ID string } `json:"revokeApiKey"`
		}
		open.query(revoke, map[string]any{"id": bossKey.ID}, &out)
		if out.RevokeAPIKey.ID != bossKey.ID {
			t.Errorf("open mode revoking the boss key answered %+v", out)
		}
	})
}
