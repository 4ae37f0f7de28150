package app_test

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Zora changed her name and address: the traits now hold the new ones,
// her first identify the old ones. Bob's event on her device names her by
// her old name and address. After forgetProfile, on both stores, the raw
// scan finds neither the old values nor the new: the erased values are
// those of every trait sent for her identifiers, not only the latest.
func TestForgetProfileScrubsEarlierTraitValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		sendTo(t, dial, "", "identify", `{"userId":"u-bob-9","messageId":"b1","traits":{"name":"Bob Roe"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1","timestamp":"2026-01-01T10:00:00Z",
			"traits":{"name":"Zora Quillfeather","address":{"street":"17 Marigold Lane"}}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","messageId":"z2","timestamp":"2026-02-01T10:00:00Z",
			"traits":{"name":"Zora Brightwater","address":{"street":"9 Juniper Court"}}}`)
		sendTo(t, dial, "", "track", `{"userId":"u-bob-9","anonymousId":"anon-zora-1","messageId":"b2","event":"Invited","timestamp":"2026-01-05T10:00:00Z",
			"properties":{"invitee":"Zora Quillfeather","note":"parcel for 17 Marigold Lane","to":"Zora Brightwater","screen":"tv"}}`)
		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		needles := []string{"quillfeather", "marigold", "brightwater", "juniper"}
		if got := leftovers(t, st, needles...); len(got) != len(needles) {
			t.Fatalf("before the erasure the raw scan finds %v: it could not tell the erasure worked", got)
		}
		gqlData(t, dial, "", `mutation { forgetProfile(id: "`+zora+`", reason: "ticket 9") { id } }`, nil)
		if got := leftovers(t, st, needles...); len(got) > 0 {
			t.Errorf("the raw scan still finds %v", got)
		}
		if got := leftovers(t, st, "u-bob-9", "parcel for [erased]", `"tv"`); len(got) != 3 {
			t.Errorf("Bob's event lost more than Zora's values: the scan finds only %v", got)
		}
	})
}
