package console_test

// Browser tests of what the console does with input it cannot send as
// typed, and with answers other than the data asked for.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/idgraph/cdp/internal/app"
)

// A count of events that is not a whole number is refused, naming the
// condition, rather than sent as 0, which every profile meets: "ten"
// once saved an audience of everyone.
func TestEventCountMustBeAWholeNumber(t *testing.T) {
	s, admin, tb := audienceEditor(t)
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
	tb.waitJS("the editor's card", `document.getElementById("h-builder") && document.getElementById("h-builder").textContent !== "Loading audience…"`)
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
	// Its one request, the erasure receipts, answered before the key is
	// revoked: a later one would be refused, and only the download's may.
	tb.waitJS("the erasure receipts", `(document.querySelector("[aria-labelledby=h-rec]") || {}).innerText && document.querySelector("[aria-labelledby=h-rec]").innerText.indexOf("No erasure yet.") >= 0`)

	agentID := s.revokeKey(t, admin, "agent")

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
		s.goldAudience(t, admin, fmt.Sprintf("Audience %03d", i))
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

// Next page continues the search that was run, even when the filter was
// edited meanwhile (and not searched again): its cursor is a position in
// that search's results, not in another's.
func TestSearchNextPageKeepsTheFilterSearched(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	admin := keys["admin"]
	for i := 0; i < 6; i++ {
		s.send(t, keys["site"], "identify", fmt.Sprintf(`{"userId":"u-s-%d","messageId":"s%d","timestamp":"2026-11-01T10:00:00Z","traits":{"plan":"silver"}}`, i, i))
	}
	want := goldPages(t, s, keys["site"], admin)

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.setValue(".builder .cond input[spellcheck=false]", "plan")
	tb.setValue(".builder .cond input[name=value]", "gold")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Search"; }).click(); true`, new(bool))
	tb.waitJS("the first page", `document.getElementById("main").innerText.indexOf("23 profiles match; page 1.") >= 0`)
	tb.setValue(".builder .cond input[name=value]", "silver")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Next page"; }).click(); true`, new(bool))
	tb.waitJS("the second page", `document.getElementById("main").innerText.indexOf("; page 2.") >= 0`)
	var ids []string
	tb.eval(`Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=by-filter] tbody tr td:first-child"), function (c) { return c.textContent; })`, &ids)
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Fatalf("page 2 lists %v, want the second page of the search run, %v", ids, want)
	}
}

// goldPages stores 23 profiles of plan gold (user ids u-g-0 to u-g-22)
// and returns the ids of the second page of 20 the API gives of them, in
// order: the 3 a console's "Next page" must show.
func goldPages(t *testing.T, s *service, site, admin string) []string {
	t.Helper()
	for i := 0; i < 23; i++ {
		s.send(t, site, "identify", fmt.Sprintf(`{"userId":"u-g-%d","messageId":"g%d","timestamp":"2026-11-01T10:00:00Z","traits":{"plan":"gold"}}`, i, i))
	}
	gold := map[string]any{"trait": map[string]any{"name": "plan", "op": "EQ", "value": "gold"}}
	var p1, p2 struct {
		Profiles struct {
			PageInfo struct{ EndCursor string }
			Nodes    []struct{ ID string }
		}
	}
	q := `query($f:AudienceFilter,$after:String){profiles(filter:$f,first:20,after:$after){pageInfo{endCursor} nodes{id}}}`
	s.gql(t, admin, q, map[string]any{"f": gold}, &p1)
	s.gql(t, admin, q, map[string]any{"f": gold, "after": p1.Profiles.PageInfo.EndCursor}, &p2)
	var want []string
	for _, n := range p2.Profiles.Nodes {
		want = append(want, n.ID)
	}
	if len(p1.Profiles.Nodes) != 20 || len(want) != 3 {
		t.Fatalf("the API's pages of gold profiles hold %d and %d, want 20 and 3", len(p1.Profiles.Nodes), len(want))
	}
	return want
}

// Older in the audit log continues the filter that was applied, even when
// its fields were edited meanwhile (and not applied).
func TestAuditOlderKeepsTheFilterApplied(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	admin := keys["admin"]
	s.send(t, keys["site"], "identify", `{"userId":"u-audit","messageId":"a1","timestamp":"2026-11-01T10:00:00Z","traits":{"email":"audit@example.com"}}`)
	for i := 0; i < 3; i++ {
		s.goldAudience(t, admin, fmt.Sprintf("Audience %d", i))
	}
	const n = 31
	// Each read of unmasked personal values is an audit entry.
	for i := 0; i < n; i++ {
		var read struct {
			ProfileByIdentifier struct{ Identifiers []struct{ Value string } }
		}
		s.gql(t, admin, `{profileByIdentifier(type:"email",value:"audit@example.com"){identifiers{value}}}`, nil, &read)
	}
	type entries struct {
		AuditLog struct {
			PageInfo struct{ EndCursor string }
			Nodes    []struct{ ID, Action string }
		}
	}
	q := `query($f:AuditFilter,$after:String){auditLog(first:25,after:$after,filter:$f){pageInfo{endCursor} nodes{id action}}}`
	f := map[string]any{"action": "profileByIdentifier"}
	var all entries
	for deadline := time.Now().Add(time.Minute); ; {
		s.gql(t, admin, `query($f:AuditFilter){auditLog(first:500,filter:$f){nodes{id action}}}`, map[string]any{"f": f}, &all)
		if len(all.AuditLog.Nodes) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit log holds %d profileByIdentifier entries, want %d", len(all.AuditLog.Nodes), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var p1, p2 entries
	s.gql(t, admin, q, map[string]any{"f": f}, &p1)
	s.gql(t, admin, q, map[string]any{"f": f, "after": p1.AuditLog.PageInfo.EndCursor}, &p2)
	if len(p2.AuditLog.Nodes) == 0 {
		t.Fatal("the API's second page of profileByIdentifier entries is empty")
	}

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	tb.waitJS("the audit log", `document.querySelector("input[name=action]")`)
	// The log unfiltered, drawn first, and marked: its newest 25 entries
	// are the reads too, so only its replacement tells that the filter's
	// first page is drawn.
	tb.waitJS("the log unfiltered", `document.querySelector("[aria-labelledby=h-audit] table")`)
	tb.eval(`document.querySelector("[aria-labelledby=h-audit] table").setAttribute("data-unfiltered", ""); true`, new(bool))
	tb.setValue("input[name=action]", "profileByIdentifier")
	tb.run(chromedp.Click(`[aria-labelledby=h-audit] button[type=submit]`, chromedp.ByQuery))
	rows := `Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=h-audit] tbody tr td:nth-child(2)"), function (c) { return c.textContent; })`
	tb.waitJS("the first page", `(function () { var r = `+rows+`; return !document.querySelector("[aria-labelledby=h-audit] table[data-unfiltered]") &&
		r.length === 25 && r.every(function (a) { return a.indexOf("profileByIdentifier") === 0; }); })()`)
	tb.setValue("input[name=action]", "createAudience")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("[aria-labelledby=h-audit] button"), function (b) { return b.textContent === "Older"; }).click(); true`, new(bool))
	tb.waitJS("the second page", `(function () { var b = Array.prototype.find.call(document.querySelectorAll("[aria-labelledby=h-audit] button"), function (b) { return b.textContent === "Newer"; }); return b && !b.disabled; })()`)
	var got []string
	tb.eval(rows, &got)
	if len(got) != len(p2.AuditLog.Nodes) {
		t.Fatalf("the second page lists %d entries %v, want the %d of the filter applied", len(got), got, len(p2.AuditLog.Nodes))
	}
	for _, a := range got {
		if !strings.HasPrefix(a, "profileByIdentifier") {
			t.Fatalf("the second page lists %v, want profileByIdentifier entries only", got)
		}
	}
}

// A console opened in open mode, when the server starts to need keys (the
// first key was created), asks for a key and then shows what that key may
// do: not "Open mode" with every control enabled.
func TestOpenModeEndedAsksForAKeyAndItsScopes(t *testing.T) {
	s, _ := startService(t, nil)
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 401 " + s.base + "/graphql", "status of 401 (Unauthorized) " + s.base + "/graphql"}
	tb.run(chromedp.Navigate(s.base + "/console/#/search"))
	tb.waitJS("the console in open mode", `document.getElementById("find-identifier") && document.getElementById("session").textContent.indexOf("Open mode") >= 0`)
	var made struct {
		CreateApiKey struct{ Secret string }
	}
	s.gql(t, "", `mutation{createApiKey(input:{name:"reader",scopes:["profiles:read"]}){secret}}`, nil, &made)
	for deadline := time.Now().Add(time.Minute); ; {
		res, err := http.Post(s.base+"/graphql", "application/json", strings.NewReader(`{"query":"{viewer{open}}"}`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server still answers %d without a key", res.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences"))
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	tb.setValue("#signin input[name=key]", made.CreateApiKey.Secret)
	tb.run(chromedp.Click("#signin button[type=submit]", chromedp.ByQuery))
	// Signed in, the console shows the page the address names.
	tb.waitJS("the audiences page", `!document.getElementById("signin") && document.querySelector("#main .note, #main .error, #audience-form")`)
	if got := tb.text(`document.getElementById("session").textContent`); !strings.Contains(got, "scopes: profiles:read") {
		t.Fatalf("signed in with a profiles:read key, the console says %q", got)
	}
	if got := tb.text(`document.getElementById("main").innerText`); !strings.Contains(got, "Needs the audiences:read scope") {
		t.Fatalf("the audiences page for a profiles:read key shows:\n%s\nwant the scope it lacks", got)
	}
}

// A journey filter applied while more events are loading is applied: the
// list ends up holding the filter's events alone, not the unfiltered page
// that was loading.
func TestJourneyFilterWhileLoading(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	var api struct {
		Profile struct {
			Journey struct {
				Edges []struct{ Node struct{ Type string } }
			}
		}
	}
	s.gql(t, admin, `query($id:ID!){profile(id:$id){journey(first:100,types:["identify"]){edges{node{type}}}}}`, map[string]any{"id": annID}, &api)
	want := len(api.Profile.Journey.Edges)
	if want == 0 || want >= 20 {
		t.Fatalf("the API lists %d identify events of Ann's, want a few", want)
	}
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	// Load more, and at once the filter: both before any answer.
	tb.eval(`(function () {
		var sec = document.querySelector("[aria-labelledby=h-journey]");
		Array.prototype.find.call(sec.querySelectorAll("button"), function (b) { return b.textContent === "Load more events"; }).click();
		var sel = sec.querySelector("select[name=types]"); sel.value = "identify";
		sec.querySelector("form").requestSubmit();
		return true; })()`, new(bool))
	list := `Array.prototype.map.call(document.querySelectorAll("#journey li strong"), function (s) { return s.textContent; })`
	tb.waitJS("the filtered journey", `(function () { var t = document.querySelector("[aria-labelledby=h-journey] p.muted").textContent; return t.indexOf("all of them") >= 0; })()`)
	var got []string
	tb.eval(list, &got)
	bad := 0
	for _, g := range got {
		if !strings.HasPrefix(g, "identify") {
			bad++
		}
	}
	if len(got) != want || bad > 0 {
		t.Fatalf("after filtering on identify the journey lists %d events, %d of another type; want the API's %d identify events", len(got), bad, want)
	}
}

// A correction the API refuses leaves the profile page following the
// profile: the live updates it stopped for the correction start again, so
// a change after it still appears, as the page's "Live" says.
func TestRefusedRemoveKeepsLiveUpdates(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	annID := s.profileID(t, keys["admin"], "email", "ann@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, keys["admin"])
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.waitJS("the subscription", `document.getElementById("live").textContent.indexOf("Live") === 0`)
	tb.eval(`document.querySelector('tr[data-key="device_id:dev-ann-phone"] button').click(); true`, new(bool))
	tb.waitJS("the remove dialog", `document.querySelector("dialog[open] textarea")`)
	// A reason past the API's 500 bytes: refused, nothing removed.
	tb.setValue("dialog[open] textarea", strings.Repeat("r", 501))
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Remove"; }).click(); true`, new(bool))
	tb.waitJS("the refusal", `document.getElementById("status").textContent.indexOf("reason") >= 0`)
	tb.waitJS("the subscription again", `document.getElementById("live").textContent.indexOf("Live") === 0`)
	s.send(t, keys["site"], "track", `{"userId":"u-ann","messageId":"after-refusal","event":"After The Refusal","timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`"}`)
	tb.waitJS("the event in the journey", `document.getElementById("journey").innerText.indexOf("After The Refusal") >= 0`)

	// And a merge refused the same way.
	tb.waitJS("the subscription after the redraw", `document.getElementById("live").textContent.indexOf("Live") === 0 && !document.querySelector("dialog[open]")`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent.indexOf("Merge with another profile") === 0; }).click(); true`, new(bool))
	tb.waitJS("the merge dialog", `document.querySelector("dialog[open] input[name=mvalue]")`)
	tb.setValue("dialog[open] input[name=mvalue]", "bob@example.com")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Find"; }).click(); true`, new(bool))
	tb.waitJS("the other profile found", `document.querySelector("dialog[open] .ok")`)
	tb.setValue("dialog[open] textarea", strings.Repeat("r", 501))
	tb.eval(`document.getElementById("status").textContent = ""; Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Merge"; }).click(); true`, new(bool))
	tb.waitJS("the merge refused", `!document.querySelector("dialog[open]") && document.getElementById("status").textContent.indexOf("reason") >= 0`)
	tb.waitJS("the subscription after the merge", `document.getElementById("live").textContent.indexOf("Live") === 0`)
	s.send(t, keys["site"], "track", `{"userId":"u-ann","messageId":"after-merge-refusal","event":"After The Merge Refusal","timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`"}`)
	tb.waitJS("the second event in the journey", `document.getElementById("journey").innerText.indexOf("After The Merge Refusal") >= 0`)
}
