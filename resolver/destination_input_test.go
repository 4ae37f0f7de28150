package resolver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestDestinationAudienceIDsMustExist: createDestination and
// updateDestination refuse an audience id that names no stored audience
// (NOT_FOUND) or is not an audience id (INVALID_ARGUMENT), naming its
// position in the input as given (not as sorted), and store nothing; the
// ids are read in one call however many they are.
func TestDestinationAudienceIDsMustExist(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		auds := newCountingAudiences(s.(audience.Store))
		cfg := testConfig()
		cfg.Audiences = auds
		e := newKeyEnv(t, s, cfg, nil)
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		now := graph.Now()
		known := make([]string, 50)
		for i := range known {
			known[i] = audience.NewAudienceID()
			storetest.Must(t, auds.Store.PutAudience(ctx, audience.Audience{ID: known[i], Name: fmt.Sprintf("a%d", i), Static: true, CreatedAt: now, UpdatedAt: now}))
		}
		// Sorted, the unknown id would come first and the malformed one
		// last: the messages name the positions given.
		unknown := "seg_00000000000000000000000000000000"
		with := func(ids ...string) map[string]any {
			return destInput(func(m map[string]any) { m["audienceIds"] = ids })
		}
		r := e.as(hooks, createDestOp, with(known[0], unknown))
		checkRefused(t, r.gqlResponse, CodeNotFound, `"input.audienceIds[1]"`)
		r = e.as(hooks, createDestOp, with("zz", known[0]))
		checkRefused(t, r.gqlResponse, CodeInvalidArgument, `"input.audienceIds[0]"`)
		if ds, err := s.(destination.Store).DestinationPage(ctx, "", 10); err != nil || len(ds) != 0 {
			t.Fatalf("after the refusals, stored %d destinations (%v)", len(ds), err)
		}

		// One read, for one id or fifty.
		var created struct{ CreateDestination destOut }
		auds.reset()
		e.ok(hooks, createDestOp, with(known[0]), &created)
		one := auds.reset()["Audiences"]
		e.ok(hooks, createDestOp, with(known...), nil)
		fifty := auds.reset()["Audiences"]
		if one != 1 || fifty != 1 {
			t.Errorf("audience reads: %d for one id, %d for fifty, want 1 each", one, fifty)
		}

		// An update is checked the same way and changes nothing.
		id := created.CreateDestination.ID
		upd := `mutation($id: ID!, $in: DestinationInput!) { updateDestination(id: $id, input: $in) { id audienceIds } }`
		in := with(known[1], known[2], unknown)["in"]
		r = e.as(hooks, upd, map[string]any{"id": id, "in": in})
		checkRefused(t, r.gqlResponse, CodeNotFound, `"input.audienceIds[2]"`)
		stored, err := s.(destination.Store).Destination(ctx, id)
		storetest.Must(t, err)
		if strings.Join(stored.AudienceIDs, ",") != known[0] {
			t.Fatalf("after a refused update, audienceIds %v, want %s", stored.AudienceIDs, known[0])
		}
	})
}
