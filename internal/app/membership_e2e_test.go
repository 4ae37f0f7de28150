package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// keptLimit bounds how long a test waits for what the service does in the
// background after a request (the keeper's rounds, the feed's trimming).
// They take well under a second alone, but many seconds on a loaded
// machine running Neo4j beside the tests; reaching it means the change
// was never made.
const keptLimit = time.Minute

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
			deadline := time.Now().Add(keptLimit)
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

// Membership follows GraphQL too, on both stores: an audience created over
// GraphQL takes in the profiles that already match; a profile erased over
// GraphQL leaves it; a merge over GraphQL makes the merged-away profile
// leave and the survivor be evaluated.
func TestMembershipFollowsMutations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := sourcedKey(t, st, "site", "web", "events:write")
		marketer := sourcedKey(t, st, "marketer", "", "audiences:write", "audiences:read", "profiles:read", "privacy:write", "identity:write")
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		ctx := context.Background()
		as := st.(audience.Store)
		sendTo(t, dial, web, "identify", `{"userId":"u-kim","messageId":"k1","traits":{"plan":"pro"}}`)
		sendTo(t, dial, web, "identify", `{"userId":"u-lou","messageId":"l1","traits":{"plan":"free"}}`)
		sendTo(t, dial, web, "identify", `{"anonymousId":"a-max","messageId":"m1","traits":{"plan":"pro"}}`)
		pid := profileIDOf(t, svc.Engine)
		kim, max := pid("user_id", "u-kim"), pid("anonymous_id", "a-max")
		var cr struct {
			C struct{ ID string } `json:"createAudience"`
		}
		gqlData(t, dial, marketer, `mutation { createAudience(input: {name: "pro", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id } }`, &cr)
		members := func(want int) []string {
			t.Helper()
			deadline := time.Now().Add(keptLimit)
			for {
				ms, err := as.Members(ctx, cr.C.ID, audience.Page{Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, m := range ms {
					ids = append(ids, m.ProfileID)
				}
				if len(ids) == want || time.Now().After(deadline) {
					return ids
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		want := []string{kim, max}
		slices.Sort(want)
		if got := members(2); !slices.Equal(got, want) {
			t.Fatalf("members after createAudience = %v, want %v (the profiles that already matched)", got, want)
		}
		// lou and max merge: both profiles hold one identifier, so the
		// older, lou's, survives; its current plan is the newest value
		// across both, max's "pro" (sent after lou's "free"), so lou's
		// profile enters and max's id, merged away, leaves.
		lou := pid("user_id", "u-lou")
		var mg struct {
			M struct{ ID string } `json:"mergeProfiles"`
		}
		gqlData(t, dial, marketer, `mutation { mergeProfiles(ids: ["`+lou+`", "`+max+`"], reason: "same person") { id } }`, &mg)
		if mg.M.ID != lou {
			t.Fatalf("the merge kept %s, want lou's older profile %s", mg.M.ID, lou)
		}
		want = []string{kim, lou}
		slices.Sort(want)
		deadline := time.Now().Add(keptLimit)
		for {
			got := members(2)
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("members after the merge = %v, want %v", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		gqlData(t, dial, marketer, `mutation { forgetProfile(id: "`+kim+`", reason: "request") { id } }`, nil)
		deadline = time.Now().Add(keptLimit)
		for {
			ms, err := as.Members(ctx, cr.C.ID, audience.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			gone := true
			for _, m := range ms {
				if m.ProfileID == kim {
					gone = false
				}
			}
			if gone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the erased profile %s is still a member %v after forgetProfile", kim, keptLimit)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// Defining a computed trait backfills it: with no new event, every
// profile's kept facts soon hold the trait's value, counted here by hand
// from the events sent. Only the pass the definition starts can write
// them: the periodic refresh is off (it runs every minute by default,
// within the test's wait on a slow machine).
func TestComputedTraitBackfilled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := sourcedKey(t, st, "site", "web", "events:write")
		marketer := sourcedKey(t, st, "marketer", "", "audiences:write", "audiences:read", "profiles:read")
		svc, dial := startSubs(t, st, app.Defaults().Feed, func(c *app.Config) { c.AudienceRefresh = -1 })
		ctx := context.Background()
		as := st.(audience.Store)
		sendTo(t, dial, web, "track", `{"userId":"u-kim","messageId":"k1","event":"Order Completed"}`)
		sendTo(t, dial, web, "track", `{"userId":"u-kim","messageId":"k2","event":"Order Completed"}`)
		sendTo(t, dial, web, "track", `{"userId":"u-kim","messageId":"k3","event":"Page Viewed"}`)
		sendTo(t, dial, web, "track", `{"userId":"u-lou","messageId":"l1","event":"Order Completed"}`)
		sendTo(t, dial, web, "track", `{"userId":"u-max","messageId":"m1","event":"Page Viewed"}`)
		pid := func(v string) string {
			p, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: v})
			if err != nil {
				t.Fatal(err)
			}
			return p.ID
		}
		// By hand: kim placed two orders, lou one, max none (COUNT of no
		// event is 0).
		want := map[string]float64{pid("u-kim"): 2, pid("u-lou"): 1, pid("u-max"): 0}
		ids := make([]string, 0, len(want))
		for id := range want {
			ids = append(ids, id)
		}
		// Facts are kept while an audience exists.
		var cr struct {
			C struct{ ID string } `json:"createAudience"`
		}
		gqlData(t, dial, marketer, `mutation { createAudience(input: {name: "known", filter: {identifier: {type: "user_id"}}}) { id } }`, &cr)
		waitFor := func(what string, ok func(map[string]audience.Facts) bool) {
			t.Helper()
			deadline := time.Now().Add(keptLimit)
			for {
				fs, err := as.Facts(ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				if ok(fs) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: kept facts after %v: %+v", what, keptLimit, fs)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		waitFor("facts of every profile after createAudience", func(fs map[string]audience.Facts) bool { return len(fs) == len(want) })
		gqlData(t, dial, marketer, `mutation { defineComputedTrait(input: {name: "orders", aggregate: COUNT, event: "Order Completed"}) { name } }`, nil)
		waitFor("orders backfilled", func(fs map[string]audience.Facts) bool {
			for id, n := range want {
				f, ok := fs[id]
				if !ok {
					return false
				}
				i := slices.IndexFunc(f.Computed, func(c audience.ComputedFact) bool { return c.Name == "orders" })
				if i < 0 {
					return false
				}
				if v, _ := f.Computed[i].Value.(float64); v != n {
					t.Fatalf("kept orders of %s = %v, want %v", id, f.Computed[i].Value, n)
				}
			}
			return true
		})
	})
}

// What a process left unevaluated (killed between a commit and its keeper's
// round) is caught up when the next one starts: the audience and the event
// are in the store, the membership is not, and the service started on it
// keeps the member without a new touch.
func TestMembershipCaughtUpAtStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		as := st.(audience.Store)
		a := audience.Audience{ID: audience.NewAudienceID(), Name: "pro plan",
			Filter:    audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}},
			CreatedAt: graph.Now(), UpdatedAt: graph.Now()}
		if err := as.PutAudience(ctx, a); err != nil {
			t.Fatal(err)
		}
		// As a process killed after the commit leaves them.
		eng := graph.NewEngine(st, nil)
		if _, err := eng.ApplyBatch(ctx, []graph.Event{{ID: "web/k1", Type: "identify", Source: "web", Timestamp: time.Now().UTC(),
			ReceivedAt: time.Now().UTC(), Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u-kim"}}, Traits: map[string]any{"plan": "pro"}}}); err != nil {
			t.Fatal(err)
		}
		kim, err := eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-kim"})
		if err != nil {
			t.Fatal(err)
		}
		startService(t, st, "127.0.0.1:0", app.Auth{})
		deadline := time.Now().Add(keptLimit)
		for {
			ms, err := as.Members(ctx, a.ID, audience.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 1 && ms[0].ProfileID == kim.ID {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%v after start the audience keeps %+v, want %s", keptLimit, ms, kim.ID)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
