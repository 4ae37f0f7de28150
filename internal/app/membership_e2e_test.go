package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Membership is kept by the service, on both stores: once a message that
// makes a profile match an audience is acknowledged, the profile enters it
// within moments, with no other request; a later message that makes it
// stop matching makes it exit.
func TestMembershipKeptAfterIngest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := sourcedKey(t, st, "site", "web", "events:write")
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		ctx := context.Background()
		as := st.(audience.Store)
		pro := "pro"
		a := audience.Audience{ID: audience.NewAudienceID(), Name: "pro plan",
			Filter:    audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: pro}},
			CreatedAt: graph.Now(), UpdatedAt: graph.Now()}
		if err := as.PutAudience(ctx, a); err != nil {
			t.Fatal(err)
		}
		members := func() []string {
			ms, err := as.Members(ctx, a.ID, audience.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ProfileID)
			}
			return ids
		}
		wait := func(want int) []string {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				got := members()
				if len(got) == want || time.Now().After(deadline) {
					return got
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		sendTo(t, dial, web, "identify", `{"userId":"u-kim","messageId":"k1","traits":{"plan":"pro"}}`)
		sendTo(t, dial, web, "identify", `{"userId":"u-lou","messageId":"l1","traits":{"plan":"free"}}`)
		kim, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-kim"})
		if err != nil {
			t.Fatal(err)
		}
		if got := wait(1); len(got) != 1 || got[0] != kim.ID {
			t.Fatalf("members after kim's identify = %v, want [%s]", got, kim.ID)
		}
		sendTo(t, dial, web, "identify", `{"userId":"u-kim","messageId":"k2","traits":{"plan":"free"}}`)
		if got := wait(0); len(got) != 0 {
			t.Fatalf("members after kim's downgrade = %v, want none", got)
		}
		cs, err := as.Changes(ctx, a.ID, audience.ChangePage{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 2 || cs[0].Kind != audience.Exited || cs[1].Kind != audience.Entered || cs[0].ProfileID != kim.ID {
			t.Errorf("changes = %+v, want kim's ENTERED then EXITED (newest first)", cs)
		}
	})
}
