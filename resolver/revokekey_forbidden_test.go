package resolver

import (
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestForbiddenRevokeNamesTheKey: revokeApiKey refused for want of
// keys:admin is audited as every key mutation is, naming in its reason the
// key it tried to revoke ("key key_..."), so the log tells which key was
// aimed at; an id not shaped like a key id is not repeated. The key stays
// usable.
func TestForbiddenRevokeNamesTheKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		admin, adminKey := e.key("admin", "", access.ScopeKeysAdmin)
		reader, readerKey := e.key("reader", "", access.ScopeProfilesRead)

		r := e.as(reader, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": adminKey.ID})
		checkRefused(t, r.gqlResponse, CodeForbidden)
		r = e.as(reader, `mutation { revokeApiKey(id: "ann@example.com") { id } }`, nil)
		checkRefused(t, r.gqlResponse, CodeForbidden)

		es := e.audit("revokeApiKey")
		if len(es) != 2 {
			t.Fatalf("%d revokeApiKey entries, want 2: %+v", len(es), es)
		}
		want := []struct{ reason string }{{""}, {"key " + adminKey.ID}} // newest first
		for i, a := range es {
			if a.Outcome != CodeForbidden || a.KeyID != readerKey.ID || a.Reason != want[i].reason {
				t.Errorf("entry %d: outcome %s key %s reason %q, want FORBIDDEN by %s with reason %q",
					i, a.Outcome, a.KeyID, a.Reason, readerKey.ID, want[i].reason)
			}
		}
		var v struct{ Viewer struct{ KeyID string } }
		e.ok(admin, `{ viewer { keyId } }`, nil, &v)
		if v.Viewer.KeyID != adminKey.ID {
			t.Errorf("viewer %+v, want the admin key still usable", v)
		}
	})
}
