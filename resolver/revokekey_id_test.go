package resolver

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestRevokeAPIKeyMalformedID: revokeApiKey with an id that is not even
// shaped like a key id (key_ and 1 to 64 letters or digits) is refused
// with INVALID_ARGUMENT naming the argument and the shape, as
// updateAudience and updateDestination refuse a malformed id; a
// well-formed id of no stored key stays NOT_FOUND. Each refusal is
// audited with its code, and the admin key is still usable after them.
func TestRevokeAPIKeyMalformedID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		admin, _ := e.key("admin", "", access.ScopeKeysAdmin)
		malformed := []string{"nope", "", "key_", "key_" + strings.Repeat("a", 65), "key_a-b", "KEY_abc", " key_abc"}
		for _, id := range malformed {
			e.refusedAs(admin, fmt.Sprintf(`mutation { revokeApiKey(id: %q) { id } }`, id), CodeInvalidArgument, `"id"`, "key_ followed by")
		}
		e.refusedAs(admin, `mutation { revokeApiKey(id: "key_0000") { id } }`, CodeNotFound, `"id"`, "no stored key")
		want := []string{CodeNotFound} // newest first
		for range malformed {
			want = append(want, CodeInvalidArgument)
		}
		if got := outcomes(e.audit("revokeApiKey")); !reflect.DeepEqual(got, want) {
			t.Errorf("revokeApiKey outcomes %v, want %v", got, want)
		}
		var n struct {
			APIKeys struct{ Nodes []struct{ Active bool } }
		}
		e.ok(admin, `{ apiKeys { nodes { active } } }`, nil, &n)
		if len(n.APIKeys.Nodes) != 1 || !n.APIKeys.Nodes[0].Active {
			t.Errorf("keys after the refusals: %+v, want the one admin key, active", n.APIKeys.Nodes)
		}
	})
}
