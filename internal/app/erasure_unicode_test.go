package app_test

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Zoë's name reaches the service decomposed (e and a combining
// diaeresis), as some systems send text; Bob's event on her device names
// her decomposed, composed and in capitals. After forgetProfile, on both
// stores, the raw scan finds her name in none of these forms: the event
// stays Bob's with each of them scrubbed.
func TestForgetProfileScrubsNamesInAnyUnicodeForm(t *testing.T) {
	const (
		nfd   = "zoe\u0308 quillfe\u0301ather"
		nfc   = "zo\u00eb quillf\u00e9ather"
		upper = "ZO\u00cb QUILLF\u00c9ATHER"
	)
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		sendTo(t, dial, "", "identify", `{"userId":"u-bob-9","messageId":"b1","traits":{"name":"Bob Roe"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zoe-7","anonymousId":"anon-zoe-1","messageId":"z1","traits":{"name":"Zoe\u0308 Quillfe\u0301ather"}}`)
		sendTo(t, dial, "", "track", `{"userId":"u-bob-9","anonymousId":"anon-zoe-1","messageId":"b2","event":"Invited",
			"properties":{"a":"met Zoe\u0308 Quillfe\u0301ather","b":"met Zo\u00eb Quillf\u00e9ather","c":"met ZO\u00cb QUILLF\u00c9ATHER","screen":"tv"}}`)
		zoe := profileIDOf(t, svc.Engine)("user_id", "u-zoe-7")
		if got := leftovers(t, st, nfd, nfc, upper); len(got) != 3 {
			t.Fatalf("before the erasure the raw scan finds %v: it could not tell the erasure worked", got)
		}
		gqlData(t, dial, "", `mutation { forgetProfile(id: "`+zoe+`", reason: "ticket 9") { id } }`, nil)
		if got := leftovers(t, st, nfd, nfc, upper, "u-zoe-7", "anon-zoe-1"); len(got) > 0 {
			t.Errorf("the raw scan still finds %v", got)
		}
		if got := leftovers(t, st, "u-bob-9", "met [erased]", `"tv"`); len(got) != 3 {
			t.Errorf("Bob's event lost more than Zoë's name: the scan finds only %v", got)
		}
	})
}
