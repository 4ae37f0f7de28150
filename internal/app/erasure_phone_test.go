package app_test

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Zora's phone, sent as +1 415 555 0199, is written otherwise in Bob's
// event on her device: in national form with brackets and a dash, with
// dots, in a longer text. After forgetProfile, on both stores, the raw
// scan finds it in none of these forms, and Bob's other number stays.
func TestForgetProfileScrubsPhoneWrittenAnyWay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		sendTo(t, dial, "", "identify", `{"userId":"u-bob-9","messageId":"b1","traits":{"name":"Bob Roe"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1","traits":{"phone":"+1 415 555 0199"}}`)
		sendTo(t, dial, "", "track", `{"userId":"u-bob-9","anonymousId":"anon-zora-1","messageId":"b2","event":"Invited",
			"properties":{"note":"call her at (415) 555-0199 or 415.555.0199, not (415) 555-0142","screen":"tv"}}`)
		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		needles := []string{"555-0199", "555.0199"}
		if got := leftovers(t, st, needles...); len(got) != len(needles) {
			t.Fatalf("before the erasure the raw scan finds %v: it could not tell the erasure worked", got)
		}
		gqlData(t, dial, "", `mutation { forgetProfile(id: "`+zora+`", reason: "ticket 9") { id } }`, nil)
		if got := leftovers(t, st, append(needles, "4155550199")...); len(got) > 0 {
			t.Errorf("the raw scan still finds %v", got)
		}
		if got := leftovers(t, st, "call her at [erased] or [erased], not (415) 555-0142"); len(got) != 1 {
			t.Error("Bob's event is not scrubbed of Zora's phone alone")
		}
	})
}
