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

// TestUpdateKeepsAStoredControlName: a destination whose name holds a C1
// control character, as stores took before the rule against them (here
// loaded as a copy would), is updated by updateDestination when the input
// gives the name back unchanged; a name given anew with such a character
// is refused naming input.name, and the stored name stays.
func TestUpdateKeepsAStoredControlName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newKeyEnv(t, s, testConfig(), nil)
		// Its updates give no kinds: every kind, audience changes included.
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead, access.ScopeAudiencesRead)
		const old = "crm \u0085legacy"
		now := graph.Now()
		d := destination.Destination{ID: destination.NewID(), Name: old, URL: "https://93.184.215.14/hook",
			Secret: hookSecret, CreatedAt: now, UpdatedAt: now}
		storetest.Must(t, s.(destination.Loader).LoadDestinations(ctx, []destination.Destination{d}))

		const upd = `mutation($id: ID!, $in: DestinationInput!) { updateDestination(id: $id, input: $in) { name url } }`
		var got struct{ UpdateDestination struct{ Name, URL string } }
		e.ok(hooks, upd, map[string]any{"id": d.ID, "in": map[string]any{"name": old, "url": "https://93.184.215.14/v2"}}, &got)
		if got.UpdateDestination.Name != "crm \u0085legacy" || got.UpdateDestination.URL != "https://93.184.215.14/v2" {
			t.Fatalf("update keeping the name answered %+v", got.UpdateDestination)
		}
		r := e.as(hooks, upd, map[string]any{"id": d.ID, "in": map[string]any{"name": "crm \u0085other", "url": "https://93.184.215.14/v3"}})
		checkRefused(t, r.gqlResponse, CodeInvalidArgument, "input.name")
		stored, err := s.(destination.Store).Destination(ctx, d.ID)
		storetest.Must(t, err)
		if stored.Name != "crm \u0085legacy" || stored.URL != "https://93.184.215.14/v2" {
			t.Fatalf("after the refused rename: stored %q %q", stored.Name, stored.URL)
		}
	})
}
