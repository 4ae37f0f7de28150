package console_test

// Browser tests of what the console does with input it cannot send as
// typed, and with answers other than the data asked for.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/idgraph/cdp/internal/app"
)

// A count of events that is not a whole number is refused, naming the
// condition, rather than sent as 0, which every profile meets: "ten"
// once saved an audience of everyone.
func TestEventCountMustBeAWholeNumber(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base+"/console/#/audiences"), chromedp.WaitVisible("#audience-form", chromedp.ByQuery))
	tb.setValue("#audience-form input[name=name]", "Frequent buyers")
	tb.eval(`(function () { var k = document.querySelector("#audience-form .cond select"); k.value = "event"; k.dispatchEvent(new Event("change", { bubbles: true })); return true; })()`, nil)
	tb.setValue("#audience-form .cond input", "Order Completed")
	for _, bad := range []string{"ten", "2.5", "1e3", "-1"} {
		tb.setValue("#audience-form .cond input[inputmode=numeric]", bad)
		tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
		tb.waitJS("the save answered", `document.getElementById("saved") || document.querySelector("#audience-form .error")`)
		msg := tb.text(`(function () { var e = document.querySelector("#audience-form .error"); return e ? e.textContent : "saved"; })()`)
		if !strings.Contains(msg, "Order Completed") || !strings.Contains(msg, "whole number") || !strings.Contains(msg, bad) {
			t.Fatalf("saving with the count %q: %q, want a refusal naming the event condition and the count", bad, msg)
		}
	}
	var list struct {
		Audiences struct{ Nodes []struct{ ID string } }
	}
	s.gql(t, admin, `{audiences{nodes{id}}}`, nil, &list)
	if len(list.Audiences.Nodes) != 0 {
		t.Fatalf("%d audiences were saved from counts that are not whole numbers", len(list.Audiences.Nodes))
	}
	tb.waitJS("the preview refusing the count", `(function () { var n = document.querySelector("#preview .note"); return n && n.textContent.indexOf("whole number") >= 0; })()`)

	// A whole number is sent as it is: at least 1 order is Ann's and Bob's.
	tb.setValue("#audience-form .cond input[inputmode=numeric]", "1")
	tb.waitJS("the live count 2", `(document.getElementById("preview-count") || {}).textContent === "2"`)
}

// An audience id that names no audience (deleted, or mistyped in a link)
// says so, rather than offering an empty "New audience" form.
func TestUnknownAudienceIsSaidSo(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	tb := newTab(t, s)
	tb.signIn(s.base, keys["admin"])
	id := "seg_" + strings.Repeat("0", 32)
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + id))
	tb.waitJS("the editor's card", `document.getElementById("h-builder")`)
	heading := tb.text(`document.getElementById("h-builder").textContent`)
	card := tb.text(`document.querySelector("[aria-labelledby=h-builder]").textContent`)
	if heading == "New audience" || !strings.Contains(card, "No audience has the id "+id) {
		t.Fatalf("an unknown audience shows %q: %q, want a note naming the id", heading, card)
	}
	if tb.text(`String(!!document.getElementById("audience-form"))`) != "false" {
		t.Fatalf("an unknown audience shows an audience form")
	}
}

// A key refused on a download (here revoked meanwhile) signs the console
// out with the reason, as a refused GraphQL request does, rather than
// showing "HTTP 401".
func TestRefusedDownloadSignsOut(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "agent": {"profiles:read", "privacy:read"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 401 " + s.base + "/v1/privacy/", "status of 401 (Unauthorized) " + s.base + "/v1/privacy/"}
	tb.signIn(s.base, keys["agent"])
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy?profile=" + annID))
	tb.waitJS("the privacy page", `document.querySelector("input[name=profile]")`)

	var ks struct {
		APIKeys struct{ Nodes []struct{ ID, Name string } }
	}
	s.gql(t, admin, `{apiKeys{nodes{id name}}}`, nil, &ks)
	agentID := ""
	for _, k := range ks.APIKeys.Nodes {
		if k.Name == "agent" {
			agentID = k.ID
		}
	}
	if agentID == "" {
		t.Fatal("no key named agent")
	}
	var rv struct{ RevokeApiKey struct{ ID string } }
	s.gql(t, admin, `mutation($id:ID!){revokeApiKey(id:$id){id}}`, map[string]any{"id": agentID}, &rv)

	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Download data export"; }).click()`, nil)
	tb.waitJS("an answer", `document.getElementById("signin") || document.querySelector("#main .error")`)
	shown := tb.text(`document.getElementById("main").innerText`)
	if tb.text(`String(!!document.getElementById("signin"))`) != "true" || !strings.Contains(shown, "API key "+agentID+" was revoked") {
		t.Fatalf("after a refused download the page shows:\n%s\nwant the sign-in page with the reason", shown)
	}
	if tb.text(`String(sessionStorage.getItem("cdp.console.key"))`) != "null" {
		t.Fatalf("the refused key is still kept in the tab")
	}
}

// A reload answered 429 (the key over its rate limit) keeps the key in
// the tab and says why nothing is shown: the key was not refused, and it
// may not be at hand to paste again.
func TestRateLimitedReloadKeepsTheKey(t *testing.T) {
	s, keys := startServiceConfig(t, map[string][]string{"admin": allScopes}, false, func(c *app.Config) {
		// One GraphQL request, the sign-in's, and none after it for a
		// thousand seconds.
		c.Auth.RateLimit, c.Auth.Burst = 0.001, 1
	})
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 429 " + s.base + "/graphql", "status of 429 (Too Many Requests) " + s.base + "/graphql"}
	tb.signIn(s.base, keys["admin"])
	tb.run(chromedp.Reload())
	tb.waitJS("an answer", `document.getElementById("signin") || document.querySelector("#main .error")`)
	shown := tb.text(`document.getElementById("main").innerText`)
	if tb.text(`String(!!document.getElementById("signin"))`) != "false" || !strings.Contains(shown, "over its rate limit") {
		t.Fatalf("a rate-limited reload shows:\n%s\nwant the rate limit's message and no sign-in form", shown)
	}
	if tb.text(`String(sessionStorage.getItem("cdp.console.key"))`) != keys["admin"] {
		t.Fatalf("a rate-limited reload dropped the key from the tab")
	}
}

// Every saved audience is listed, not only the first page of the API's.
func TestAllAudiencesAreListed(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	admin := keys["admin"]
	const n = 103
	for i := 0; i < n; i++ {
		var made struct{ CreateAudience struct{ ID string } }
		s.gql(t, admin, `mutation($n:String!){createAudience(input:{name:$n,filter:{trait:{name:"plan",op:EQ,value:"gold"}}}){id}}`,
			map[string]any{"n": fmt.Sprintf("Audience %03d", i)}, &made)
	}
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences"))
	tb.waitJS("the list", `document.querySelectorAll("tr[data-audience]").length > 0`)
	var rows []string
	tb.eval(`Array.prototype.map.call(document.querySelectorAll("tr[data-audience] td:first-child"), function (c) { return c.textContent; })`, &rows)
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r] = true
	}
	for i := 0; i < n; i++ {
		if name := fmt.Sprintf("Audience %03d", i); !seen[name] {
			t.Fatalf("%d audiences listed, %s not among them; want all %d", len(rows), name, n)
		}
	}
	if len(rows) != n {
		t.Fatalf("%d audiences listed, want %d", len(rows), n)
	}
}

// Every erasure receipt can be reached from the privacy page, not only
// the newest 20: the older ones a page at a time.
func TestAllErasureReceiptsAreReachable(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	admin := keys["admin"]
	const n = 23
	for i := 0; i < n; i++ {
		s.send(t, keys["site"], "identify", fmt.Sprintf(`{"userId":"u-gone-%d","messageId":"g%d","timestamp":"2026-11-01T10:00:00Z"}`, i, i))
		id := s.profileID(t, admin, "user_id", fmt.Sprintf("u-gone-%d", i))
		var r struct{ ForgetProfile struct{ ID string } }
		s.gql(t, admin, `mutation($id:ID!){forgetProfile(id:$id,reason:"request"){id}}`, map[string]any{"id": id}, &r)
	}
	var api struct {
		ErasureReceipts struct{ Nodes []struct{ ID string } }
	}
	s.gql(t, admin, `{erasureReceipts(first:500){nodes{id}}}`, nil, &api)
	if len(api.ErasureReceipts.Nodes) != n {
		t.Fatalf("the API holds %d erasure receipts, want %d", len(api.ErasureReceipts.Nodes), n)
	}
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	rows := `Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=h-rec] tbody tr td:first-child"), function (c) { return c.textContent; })`
	tb.waitJS("the receipts", `document.querySelectorAll("[aria-labelledby=h-rec] tbody tr").length > 0`)
	seen := map[string]bool{}
	for page := 0; ; page++ {
		var ids []string
		tb.eval(rows, &ids)
		for _, id := range ids {
			seen[id] = true
		}
		var older bool
		tb.eval(`(function () { var b = Array.prototype.find.call(document.querySelectorAll("[aria-labelledby=h-rec] button"), function (b) { return b.textContent === "Older"; });
			if (!b || b.disabled) return false; b.click(); return true; })()`, &older)
		if !older || page > n {
			break
		}
		first := ids[0]
		tb.waitJS("the next page of receipts", fmt.Sprintf(`(function () { var c = document.querySelector("[aria-labelledby=h-rec] tbody tr td:first-child"); return c && c.textContent !== %q; })()`, first))
	}
	for _, r := range api.ErasureReceipts.Nodes {
		if !seen[r.ID] {
			t.Fatalf("%d of %d receipts reachable, %s not among them", len(seen), n, r.ID)
		}
	}
}

// A link whose escapes do not decode (cut short at a "%") shows what it
// names, not a page left as it was by an exception.
func TestLinkWithABadEscape(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	tb := newTab(t, s)
	tb.signIn(s.base, keys["admin"])
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/p_abc%zz"))
	tb.waitJS("the profile page's answer", `document.querySelector("#main .note, #main .error")`)
	if got := tb.text(`document.querySelector("#main .note, #main .error").textContent`); !strings.Contains(got, "p_abc%zz") {
		t.Fatalf("a link to the profile p_abc%%zz shows %q, want the id named", got)
	}
}

// Back to a console page the browser kept for back and forward, after the
// console signed out in a later page of the tab, must not bring back a
// signed-in console holding the key in memory: it loads again, with what
// the tab holds now (no key: the sign-in page).
func TestConsoleBackAfterSignOut(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	tb := newTab(t, s)
	tb.allowed = []string{s.base + "/favicon.ico"} // asked for by the health page
	tb.signIn(s.base, keys["admin"])
	tb.eval(`window.__left = "the first page"; true`, new(bool))
	tb.run(chromedp.Navigate(s.base + "/healthz"))
	tb.run(chromedp.Navigate(s.base + "/console/#/search"))
	tb.waitJS("the console again", `document.getElementById("find-identifier") && window.__left === undefined`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.waitJS("signed out", `document.getElementById("signin") && sessionStorage.length === 0`)
	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("the health page", `location.pathname === "/healthz"`)
	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("the first console page", `location.pathname === "/console/" && (document.getElementById("signin") || document.getElementById("find-identifier"))`)
	if tb.text(`String(!!document.getElementById("signin"))`) != "true" {
		t.Fatalf("Back after a sign-out shows the console signed in: %s (left behind: %s)",
			tb.text(`document.getElementById("session").textContent`), tb.text(`String(window.__left)`))
	}
}
