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

// Membership follows the profiles an event is shared with, on both
// stores. A profile holds one user id, so a purchase by u-b on a device
// u-a used before cannot link them: the device's profile (u-a's) sees the
// event too and enters the audience of buyers as u-b's does. A purchase
// whose properties belong to its anchor, u-c, counts for u-c alone; when
// u-c is erased the event stays in the other profile's journey, but its
// properties go with u-c, so the other profile never enters an audience
// on them (it would otherwise be counted a big spender for u-c's
// purchase).
func TestMembershipFollowsSharedEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := sourcedKey(t, st, "site", "web", "events:write")
		admin := sourcedKey(t, st, "dpo", "", "privacy:write", "profiles:read")
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		ctx := context.Background()
		as := st.(audience.Store)
		put := func(f audience.Filter) string {
			a := audience.Audience{ID: audience.NewAudienceID(), Name: "a", Filter: f, CreatedAt: graph.Now(), UpdatedAt: graph.Now()}
			if err := as.PutAudience(ctx, a); err != nil {
				t.Fatal(err)
			}
			return a.ID
		}
		buyers := put(audience.Filter{Event: &audience.EventCondition{Name: "Order Completed"}})
		big := put(audience.Filter{Event: &audience.EventCondition{Name: "Purchase",
			Where: []audience.PropertyFilter{{Path: "total", Op: audience.OpGT, Value: 10.0}}}})
		pid := profileIDOf(t, svc.Engine)
		waitMembers := func(what, id string, want ...string) {
			t.Helper()
			slices.Sort(want)
			deadline := time.Now().Add(keptLimit) // a safety net, not a timing assertion
			for {
				ms, err := as.Members(ctx, id, audience.Page{Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range ms {
					got = append(got, m.ProfileID)
				}
				slices.Sort(got)
				if slices.Equal(got, want) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: members %v, want %v", what, got, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		sendTo(t, dial, web, "track", `{"userId":"u-a","anonymousId":"dev-1","messageId":"s1","event":"View"}`)
		sendTo(t, dial, web, "track", `{"userId":"u-b","anonymousId":"dev-1","messageId":"s2","event":"Order Completed"}`)
		pa, pb := pid("user_id", "u-a"), pid("user_id", "u-b")
		if pa == pb {
			t.Fatal("u-a and u-b were linked; the rules allow one user id per profile")
		}
		waitMembers("buyers", buyers, pa, pb)

		sendTo(t, dial, web, "track", `{"userId":"u-d","anonymousId":"dev-2","messageId":"s3","event":"View"}`)
		sendTo(t, dial, web, "track", `{"userId":"u-c","anonymousId":"dev-2","messageId":"s4","event":"Purchase","properties":{"total":50}}`)
		pc, pd := pid("user_id", "u-c"), pid("user_id", "u-d")
		// The properties belong to the event's anchor, u-c (user ids rank
		// above anonymous ids).
		waitMembers("big spenders", big, pc)
		gqlData(t, dial, admin, `mutation { forgetProfile(id: "`+pc+`", reason: "request") { id } }`, nil)
		waitMembers("big spenders after u-c's erasure", big)
		// A purchase of u-d's own, sent after the erasure: once u-d is a
		// buyer, u-d was evaluated on a read that follows the erasure, and
		// is still no big spender.
		sendTo(t, dial, web, "track", `{"userId":"u-d","messageId":"s5","event":"Order Completed"}`)
		waitMembers("buyers after u-d's own purchase", buyers, pa, pb, pd)
		ms, err := as.Members(ctx, big, audience.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 0 {
			t.Fatalf("big spenders once u-d is a buyer: %v, want none: u-c's total went with u-c", ms)
		}
	})
}
