package console_test

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// holder pauses the page's GraphQL requests whose body holds every one of
// the strings of match (the DevTools protocol's Fetch domain), and lets
// every other request go on at once.
type holder struct {
	tb    *tab
	mu    sync.Mutex
	match []string
	held  chan fetch.RequestID
}

func holdRequests(tb *tab) *holder {
	hd := &holder{tb: tb, held: make(chan fetch.RequestID, 4)}
	chromedp.ListenTarget(tb.ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		body := requestBody(e.Request)
		hd.mu.Lock()
		hold := len(hd.match) > 0
		for _, m := range hd.match {
			hold = hold && strings.Contains(body, m)
		}
		hd.mu.Unlock()
		if hold {
			hd.held <- e.RequestID
			return
		}
		go func() { _ = chromedp.Run(tb.ctx, fetch.ContinueRequest(e.RequestID)) }()
	})
	tb.run(fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/graphql"}}))
	return hd
}

func (hd *holder) hold(match ...string) {
	hd.mu.Lock()
	defer hd.mu.Unlock()
	hd.match = match
}

func (hd *holder) release(id fetch.RequestID) {
	hd.hold()
	hd.tb.run(fetch.ContinueRequest(id))
}

func requestBody(r *network.Request) string {
	var b strings.Builder
	for _, e := range r.PostDataEntries {
		if d, err := base64.StdEncoding.DecodeString(e.Bytes); err == nil {
			b.Write(d)
		}
	}
	return b.String()
}

// answeredHook marks window[flag] once the page's handling of an answer
// for the profile id is over: after the promise callbacks the answer's
// JSON runs (a task queued behind them).
func answeredHook(flag, id string) string {
	return `(function () {
		var orig = Response.prototype.json;
		Response.prototype.json = function () {
			var p = orig.call(this);
			p.then(function (b) {
				if (b && b.data && b.data.profile && b.data.profile.id === "` + id + `") setTimeout(function () { window["` + flag + `"] = true; }, 0);
			}, function () {});
			return p;
		};
		return true;
	})()`
}

// A profile's answer that arrives after the user went on to another page
// (another profile, here) is dropped: it used to be drawn over the page
// shown, so the address named Bob's profile while Ann's was on screen;
// and after signing out it drew Ann's profile over the sign-in page.
func TestLateProfileAnswerIsNotShownOverAnotherPage(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	hd := holdRequests(tb)

	// Ann's profile is asked for and its answer held; Bob's is opened.
	hd.hold("Profile360", annID)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	held := <-hd.held
	tb.eval(answeredHook("annAnswered", annID), new(bool))
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + bobID))
	tb.waitJS("Bob's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+bobID+`"`)
	hd.release(held)
	tb.waitJS("Ann's late answer handled", `window.annAnswered === true`)
	main := tb.text(`document.getElementById("main").innerText`)
	rendered := tb.text(`document.getElementById("main").getAttribute("data-rendered")`)
	if rendered != bobID || strings.Contains(main, "ann@example.com") || !strings.Contains(main, "bob@example.com") {
		t.Fatalf("at #/profile/%s (Bob) after Ann's late answer the page shows profile %s:\n%s", bobID, rendered, main)
	}

	// Ann's profile is asked for again, held, and the user signs out.
	tb.eval(`window.annAnswered = false; true`, new(bool))
	hd.hold("Profile360", annID)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	held = <-hd.held
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	hd.release(held)
	tb.waitJS("Ann's late answer handled", `window.annAnswered === true`)
	main = tb.text(`document.getElementById("main").innerText`)
	if tb.text(`String(!!document.getElementById("signin"))`) != "true" || strings.Contains(main, "ann@example.com") {
		t.Fatalf("after signing out, Ann's late answer shows:\n%s", main)
	}
}

// An unlink refused because the key was revoked meanwhile signs the
// console out with that reason. It used to ask for the profile again once
// signed out, without a key, so the sign-in page said "an API key is
// required" instead of why the key was refused.
func TestRefusedUnlinkSignsOutWithTheReason(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "agent": {"profiles:read", "pii:read", "identity:write"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 401 " + s.base + "/graphql", "status of 401 (Unauthorized) " + s.base + "/graphql"}
	tb.signIn(s.base, keys["agent"])
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	edge := `(function () { var rows = document.querySelectorAll("tr[data-edge]"); for (var i = 0; i < rows.length; i++) {
		var t = rows[i].innerText; if (t.indexOf("anon-ann") >= 0 && t.indexOf("u-ann") >= 0 && t.indexOf("refused") < 0) return rows[i]; } return null; })()`
	tb.eval(edge+`.querySelector("button").click()`, nil)
	tb.waitJS("the link explained", `document.querySelector("#explanation button")`)

	agentID := s.revokeKey(t, admin, "agent")

	tb.run(chromedp.Click("#explanation button", chromedp.ByQuery), chromedp.WaitVisible("dialog[open] textarea", chromedp.ByQuery))
	tb.setValue("dialog[open] textarea", "support ticket 43")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	// The page settles: whatever the console does after the refusal is
	// over once no GraphQL request is pending (each is answered at once).
	tb.waitJS("no profile page", `document.getElementById("signin") && !document.getElementById("main").getAttribute("data-rendered")`)
	shown := tb.text(`document.getElementById("main").innerText`)
	if !strings.Contains(shown, "API key "+agentID+" was revoked") {
		t.Fatalf("after an unlink refused for a revoked key the page shows:\n%s\nwant the sign-in page naming the revocation", shown)
	}
}

// A key revoked while a profile is open ends the page's live updates (the
// server ends the subscription with UNAUTHENTICATED within 5 s): the
// console signs out with the reason, as for any refused request. It used
// to go on saying "Live: changes appear here." over the profile, with no
// change ever shown again.
func TestRevokedKeySignsOutTheLiveProfile(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "agent": {"profiles:read", "pii:read"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 401 " + s.base + "/graphql", "status of 401 (Unauthorized) " + s.base + "/graphql"}
	tb.signIn(s.base, keys["agent"])
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.waitJS("the subscription", `document.getElementById("live").textContent.indexOf("Live") === 0`)

	agentID := s.revokeKey(t, admin, "agent")

	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	shown := tb.text(`document.getElementById("main").innerText`)
	if !strings.Contains(shown, "API key "+agentID+" was revoked") || strings.Contains(shown, "ann@example.com") {
		t.Fatalf("after the key was revoked the page shows:\n%s\nwant the sign-in page naming the revocation", shown)
	}
	if tb.text(`String(sessionStorage.getItem("cdp.console.key"))`) != "null" {
		t.Fatalf("the revoked key is still kept in the tab")
	}
}

// A search by identifier answered after the user went on to another page
// leaves them there: it used to take them to the profile found, away
// from the page they had chosen meanwhile.
func TestLateFindDoesNotLeaveThePageShown(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	tb := newTab(t, s)
	tb.signIn(s.base, keys["admin"])
	hd, held := findAnnHeld(tb)
	tb.run(chromedp.Click(`a[data-nav=audiences]`, chromedp.ByQuery))
	tb.waitJS("the audiences page", `document.getElementById("audience-form")`)
	hd.release(held)
	tb.waitJS("the late answer handled", `window.findAnswered === true`)
	if h := tb.text(`location.hash`); h != "#/audiences" {
		t.Fatalf("after a late answer to Find the console went to %q, want to stay on #/audiences", h)
	}
}

// A search by identifier answered after a later one is dropped: the
// answer shown is the last Find's. An earlier Find answered late used to
// take the user to the profile it found, away from the later Find's
// answer ("No profile holds this identifier") they were reading.
func TestEarlierFindDoesNotOverrideTheLater(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	tb := newTab(t, s)
	tb.signIn(s.base, keys["admin"])
	hd, held := findAnnHeld(tb)
	// Corrected, and found again: no one.
	tb.setValue("#find-identifier input[name=value]", "nobody@example.com")
	tb.run(chromedp.Click("#find-identifier button[type=submit]", chromedp.ByQuery))
	tb.waitJS("the later answer", `document.querySelector("#find-identifier ~ div .note")`)
	hd.release(held)
	tb.waitJS("the earlier answer handled", `window.findAnswered === true`)
	if got := tb.text(`location.hash + " " + (document.querySelector("#find-identifier ~ div") || {}).textContent`); got != "#/search No profile holds this identifier." {
		t.Fatalf("after the earlier Find's late answer the console shows %q, want the later Find's answer on #/search", got)
	}
}

// A correction (an unlink, a merge) answered after the user went on to
// another page leaves them there: the unlink's answer used to draw the
// profile over the page shown, the address naming another, and the
// merge's took them to the merged profile.
func TestLateCorrectionDoesNotLeaveThePageShown(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	s.send(t, keys["site"], "identify", `{"anonymousId":"anon-eve","messageId":"e1","timestamp":"2026-11-06T10:00:00Z","traits":{"email":"eve@example.org"}}`)
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	hd := holdRequests(tb)
	tb.eval(`(function () {
		var orig = Response.prototype.json;
		Response.prototype.json = function () {
			var p = orig.call(this);
			p.then(function (b) {
				if (b && b.data && (b.data.unlinkIdentifiers || b.data.mergeProfiles)) setTimeout(function () { window.corrected = true; }, 0);
			}, function () {});
			return p;
		};
		return true;
	})()`, new(bool))
	const onSearch = `location.hash + " " + (document.getElementById("find-identifier") ? "search" : "other") + " " + (document.getElementById("main").getAttribute("data-rendered") || "no profile")`

	// Ann's anonymous id unlinked from her user id; the user goes to Search.
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("Ann's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+annID+`"`)
	edge := `(function () { var rows = document.querySelectorAll("tr[data-edge]"); for (var i = 0; i < rows.length; i++) {
		var t = rows[i].innerText; if (t.indexOf("anon-ann") >= 0 && t.indexOf("u-ann") >= 0 && t.indexOf("refused") < 0) return rows[i]; } return null; })()`
	tb.eval(edge+`.querySelector("button").click(); true`, new(bool))
	tb.waitJS("the link explained", `document.querySelector("#explanation button")`)
	tb.run(chromedp.Click("#explanation button", chromedp.ByQuery), chromedp.WaitVisible("dialog[open] textarea", chromedp.ByQuery))
	tb.setValue("dialog[open] textarea", "support ticket 44")
	hd.hold("unlinkIdentifiers")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	held := <-hd.held
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	hd.release(held)
	tb.waitJS("the unlink answered", `window.corrected === true`)
	if got := tb.text(onSearch); got != "#/search search no profile" {
		t.Errorf("after the unlink's late answer the console shows %q, want Search as the user chose", got)
	}

	// Bob merged with Eve; the user goes to Search.
	tb.eval(`window.corrected = false; true`, new(bool))
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + bobID))
	tb.waitJS("Bob's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+bobID+`"`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent.indexOf("Merge with another profile") === 0; }).click(); true`, new(bool))
	tb.waitJS("the merge dialog", `document.querySelector("dialog[open] input[name=mvalue]")`)
	tb.setValue("dialog[open] input[name=mvalue]", "eve@example.org")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Find"; }).click(); true`, new(bool))
	tb.waitJS("Eve found", `document.querySelector("dialog[open] p.ok")`)
	tb.setValue("dialog[open] textarea[name=reason]", "same person, ticket 45")
	hd.hold("mergeProfiles")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	held = <-hd.held
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	hd.release(held)
	tb.waitJS("the merge answered", `window.corrected === true`)
	if got := tb.text(onSearch); got != "#/search search no profile" {
		t.Errorf("after the merge's late answer the console shows %q, want Search as the user chose", got)
	}
}

// findAnnHeld asks Search to find ann@example.com and holds the answer,
// returned to be released; window.findAnswered turns true once the page
// has read any profileByIdentifier answer.
func findAnnHeld(tb *tab) (*holder, fetch.RequestID) {
	hd := holdRequests(tb)
	tb.eval(`(function () {
		var orig = Response.prototype.json;
		Response.prototype.json = function () {
			var p = orig.call(this);
			p.then(function (b) {
				if (b && b.data && b.data.profileByIdentifier) setTimeout(function () { window.findAnswered = true; }, 0);
			}, function () {});
			return p;
		};
		return true;
	})()`, new(bool))
	hd.hold("profileByIdentifier", "ann@example.com")
	tb.setValue("#find-identifier input[name=type]", "email")
	tb.setValue("#find-identifier input[name=value]", "ann@example.com")
	tb.run(chromedp.Click("#find-identifier button[type=submit]", chromedp.ByQuery))
	return hd, <-hd.held
}
