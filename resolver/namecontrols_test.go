package resolver

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestNamesRefuseControlCharacters: the name of an API key and of a
// destination is refused with INVALID_ARGUMENT naming input.name when it
// holds a control character, C1 (U+0080 to U+009F, such as NEL or the
// CSI that starts a terminal escape) as well as C0, as an audience's name
// is; nothing is stored. A name with other non-ASCII letters is taken.
func TestNamesRefuseControlCharacters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newKeyEnv(t, s, testConfig(), nil)
		admin, _ := e.key("admin", "", access.ScopeKeysAdmin, access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		const createKey = `mutation($name: String!) { createApiKey(input: {name: $name, scopes: ["profiles:read"]}) { key { name } } }`
		for _, name := range []string{"bot\x1b[2J", "bot\u009b2J", "bot\u0085two", "\u0080"} {
			r := e.as(admin, createKey, map[string]any{"name": name})
			checkRefused(t, r.gqlResponse, CodeInvalidArgument, `"input.name"`)
			r = e.as(admin, createDestOp, destInput(func(m map[string]any) { m["name"] = name }))
			checkRefused(t, r.gqlResponse, CodeInvalidArgument, "input.name")
		}
		if n, err := e.keys.CountKeys(ctx); err != nil || n != 1 {
			t.Errorf("keys after the refusals: %d (%v), want the admin key alone", n, err)
		}
		if ds, err := s.(destination.Store).DestinationPage(ctx, "", 10); err != nil || len(ds) != 0 {
			t.Errorf("destinations after the refusals: %d (%v), want none", len(ds), err)
		}
		var k struct {
			CreateAPIKey struct{ Key struct{ Name string } }
		}
		e.ok(admin, createKey, map[string]any{"name": "clé ünïcode ¡"}, &k)
		if k.CreateAPIKey.Key.Name != "clé ünïcode ¡" {
			t.Errorf("a name with non-ASCII letters: stored as %q", k.CreateAPIKey.Key.Name)
		}
		e.ok(admin, createDestOp, destInput(func(m map[string]any) { m["name"] = "crm ¡olé" }), nil)
	})
}
