package resolver

import (
	"context"
	"fmt"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A lookalike learns from the audience's members as Audience.members lists
// them: of an audience for email, a kept member who has withdrawn since the
// keeper last evaluated it is no seed. Campers (purpose email) keeps u0 to
// u10, all granting; u9 and u10 then withdraw, with no keeper round: 9
// members remain, fewer than the 10 a lookalike needs, on both stores. u9
// grants again: 10, and the lookalike runs, never returning the 10.
func TestLookalikeLearnsFromMembersGrantingThePurpose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		aid, _ := lookalikeData(e)
		var upd struct{ UpdateAudience *struct{ ID string } }
		e.query(`mutation($id: ID!, $in: AudienceInput!) { updateAudience(id: $id, input: $in) { id } }`, map[string]any{"id": aid, "in": map[string]any{
			"name": "Campers", "purpose": "email", "filter": jsonOf(t, `{"trait":{"name":"interest","op":"EQ","value":"outdoor"}}`)}}, &upd)
		var kept, gone []string
		for i := range 15 {
			if id := e.profileID("user_id", fmt.Sprintf("u%d", i)); i < 11 {
				kept = append(kept, id)
			} else {
				gone = append(gone, id)
			}
		}
		// lookalikeData kept u0 to u14: u11 to u14 leave.
		storetest.Must(t, s.(audience.Store).ApplyMembership(context.Background(), aid, nil, gone, graph.Now()))
		for i := range 11 {
			status := "GRANTED"
			if i >= 9 {
				status = "WITHDRAWN"
			}
			setConsent(e, map[string]any{"identifier": ident("user_id", fmt.Sprintf("u%d", i)), "purpose": "email", "status": status})
		}
		const op = `query($a: ID!) { lookalike(audienceId: $a, size: 20) { profile { id } } }`
		var q struct {
			Lookalike []struct{ Profile struct{ ID string } }
		}
		e.refused(op, map[string]any{"a": aid}, "INVALID_ARGUMENT", "has 9 members")
		setConsent(e, map[string]any{"identifier": ident("user_id", "u9"), "purpose": "email", "status": "GRANTED"})
		e.query(op, map[string]any{"a": aid}, &q)
		if len(q.Lookalike) != 20 {
			t.Fatalf("lookalike: %d profiles, want 20", len(q.Lookalike))
		}
		seeds := map[string]bool{}
		for _, id := range kept[:10] {
			seeds[id] = true
		}
		for _, m := range q.Lookalike {
			if seeds[m.Profile.ID] {
				t.Fatalf("lookalike returned the member %s", m.Profile.ID)
			}
		}
	})
}
