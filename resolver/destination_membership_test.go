package resolver

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestDestinationMembershipNeedsAudiencesRead: audience membership is
// audiences:read data wherever it is read, so a destination that would
// receive AUDIENCE_ENTERED or AUDIENCE_EXITED entries (every kind does when
// kinds is left out) is refused to a key without audiences:read, with
// FORBIDDEN naming input.kinds and the scope, on create and on update; one
// whose kinds leave them out is not, and a key holding audiences:read may
// create any.
func TestDestinationMembershipNeedsAudiencesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newKeyEnv(t, s, testConfig(), nil)
		hooks, _ := e.key("hooks", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
		reader, _ := e.key("hooks and membership", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead, access.ScopeAudiencesRead)
		for _, kinds := range []any{nil, []string{"AUDIENCE_ENTERED"}, []string{"EVENT_ADDED", "AUDIENCE_EXITED"}} {
			r := e.as(hooks, createDestOp, destInput(func(m map[string]any) {
				if kinds == nil {
					delete(m, "kinds")
				} else {
					m["kinds"] = kinds
				}
			}))
			checkRefused(t, r.gqlResponse, CodeForbidden, `"input.kinds"`, "audiences:read")
			if got := r.Errors[0].Extensions["scope"]; got != string(access.ScopeAudiencesRead) {
				t.Fatalf("kinds %v: extensions.scope %v, want audiences:read", kinds, got)
			}
		}
		if ds, err := s.(destination.Store).DestinationPage(ctx, "", 10); err != nil || len(ds) != 0 {
			t.Fatalf("after the refusals, %d destinations are stored (%v), want none", len(ds), err)
		}

		// Kinds without membership: created, and an update that would add
		// membership is refused and changes nothing.
		var created struct{ CreateDestination destOut }
		e.ok(hooks, createDestOp, destInput(nil), &created)
		id := created.CreateDestination.ID
		upd := `mutation($id: ID!, $in: DestinationInput!) { updateDestination(id: $id, input: $in) { id kinds } }`
		for _, kinds := range []any{nil, []string{"AUDIENCE_EXITED"}} {
			in := destInput(func(m map[string]any) {
				if kinds == nil {
					delete(m, "kinds")
				} else {
					m["kinds"] = kinds
				}
			})["in"]
			r := e.as(hooks, upd, map[string]any{"id": id, "in": in})
			checkRefused(t, r.gqlResponse, CodeForbidden, `"input.kinds"`, "audiences:read")
		}
		stored, err := s.(destination.Store).Destination(ctx, id)
		storetest.Must(t, err)
		if len(stored.Kinds) != 2 || stored.Kinds[0] != graph.FeedEventAdded || stored.Kinds[1] != graph.FeedMerged {
			t.Fatalf("after the refused updates, kinds %v, want [EVENT_ADDED MERGED]", stored.Kinds)
		}

		// With audiences:read, every kind.
		e.ok(reader, createDestOp, destInput(func(m map[string]any) { delete(m, "kinds") }), nil)
		e.ok(reader, upd, map[string]any{"id": id, "in": destInput(func(m map[string]any) { m["kinds"] = []string{"AUDIENCE_ENTERED"} })["in"]}, nil)
	})
}
