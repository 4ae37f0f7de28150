package app_test

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Zora's email and name reach Bob's event on her device inside URLs, as a
// page call sends its url, search and referrer: percent-encoded
// (zora.quill%40example.org, in capitals too), and her name as a form
// encodes it (Zora+Quillfeather) or as a path does (Zora%20Quillfeather),
// her phone in a tel: link, written otherwise (%28415%29%20555-0199), and
// her email encoded twice in a URL carried in a redirect's query
// (zora.quill%2540example.org).
// After forgetProfile, on both stores, the raw scan finds none of these
// forms: each is replaced where it stands, and the rest of each URL stays
// Bob's.
func TestForgetProfileScrubsPercentEncodedValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		sendTo(t, dial, "", "identify", `{"userId":"u-bob-9","messageId":"b1","traits":{"name":"Bob Roe"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1",
			"traits":{"email":"zora.quill@example.org","name":"Zora Quillfeather","phone":"+1 415 555 0199"}}`)
		sendTo(t, dial, "", "page", `{"userId":"u-bob-9","anonymousId":"anon-zora-1","messageId":"b2","name":"Welcome",
			"properties":{"url":"https://shop.example/welcome?email=zora.quill%40example.org&src=mail",
			"search":"?to=ZORA.QUILL%40EXAMPLE.ORG&n=Zora+Quillfeather",
			"referrer":"https://mail.example/u/Zora%20Quillfeather/inbox","path":"/call?tel=%28415%29%20555-0199","screen":"tv",
			"redirect":"https://t.example/r?u=https%3A%2F%2Fshop.example%2Fw%3Fe%3Dzora.quill%2540example.org"}}`)
		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		needles := []string{"zora.quill%40example.org", "zora+quillfeather", "zora%20quillfeather", "%28415%29%20555-0199", "zora.quill%2540example.org"}
		if got := leftovers(t, st, needles...); len(got) != len(needles) {
			t.Fatalf("before the erasure the raw scan finds %v: it could not tell the erasure worked", got)
		}
		gqlData(t, dial, "", `mutation { forgetProfile(id: "`+zora+`", reason: "ticket 9") { id } }`, nil)
		if got := leftovers(t, st, append(needles, "quill%40", "quillfeather", "%20555-0199", "u-zora-77", "anon-zora-1")...); len(got) > 0 {
			t.Errorf("the raw scan still finds %v", got)
		}
		kept := []string{"https://shop.example/welcome?email=[erased]", "?to=[erased]", "n=[erased]",
			"https://mail.example/u/[erased]/inbox", "/call?tel=[erased]", "%2Fw%3Fe%3D[erased]", "u-bob-9", `"tv"`}
		if got := leftovers(t, st, kept...); len(got) != len(kept) {
			t.Errorf("Bob's event lost more than Zora's values: the scan finds only %v of %v", got, kept)
		}
	})
}

// Zora's phone, outside the default region, reaches Bob's event as a
// form's query writes it (URLSearchParams, an HTML form): a space as '+'
// and her number's own '+' as %2B, %2B44+20+7946+0958. After
// forgetProfile, on both stores, the raw scan finds it in no form, and
// the rest of Bob's URL stays.
func TestForgetProfileScrubsFormEncodedPhone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		sendTo(t, dial, "", "identify", `{"userId":"u-bob-9","messageId":"b1","traits":{"name":"Bob Roe"}}`)
		sendTo(t, dial, "", "identify", `{"userId":"u-zora-77","anonymousId":"anon-zora-1","messageId":"z1",
			"traits":{"phone":"+44 20 7946 0958"}}`)
		sendTo(t, dial, "", "page", `{"userId":"u-bob-9","anonymousId":"anon-zora-1","messageId":"b2","name":"Callback",
			"properties":{"url":"https://shop.example/callback?phone=%2B44+20+7946+0958&slot=am"}}`)
		zora := profileIDOf(t, svc.Engine)("user_id", "u-zora-77")
		needles := []string{"%2b44+20+7946+0958"}
		if got := leftovers(t, st, needles...); len(got) != len(needles) {
			t.Fatalf("before the erasure the raw scan finds %v: it could not tell the erasure worked", got)
		}
		gqlData(t, dial, "", `mutation { forgetProfile(id: "`+zora+`", reason: "ticket 9") { id } }`, nil)
		if got := leftovers(t, st, append(needles, "7946+0958", "7946 0958", "79460958")...); len(got) > 0 {
			t.Errorf("the raw scan still finds %v", got)
		}
		kept := []string{"https://shop.example/callback?phone=[erased]", "slot=am"}
		if got := leftovers(t, st, kept...); len(got) != len(kept) {
			t.Errorf("Bob's event lost more than Zora's values: the scan finds only %v of %v", got, kept)
		}
	})
}
