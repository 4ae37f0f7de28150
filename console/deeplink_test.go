package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// A link to a page of the console (a profile, here) opened signed out
// leads to that page once signed in: the console used to go to Search,
// and the link was lost. So does the page shown when a refused key signed
// the console out: signed in again, the user is back on it. A sign-out
// asked for leaves nothing of the session's place to the next sign-in in
// the tab, which starts at Search.
func TestDeepLinkLandsOnItsPageAfterSignIn(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "agent": {"profiles:read", "pii:read"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 401 " + s.base + "/graphql", "status of 401 (Unauthorized) " + s.base + "/graphql"}
	signIn := func(key string) {
		t.Helper()
		tb.run(chromedp.WaitVisible("#signin input[name=key]", chromedp.ByQuery))
		tb.setValue("#signin input[name=key]", key)
		tb.run(chromedp.Click("#signin button[type=submit]", chromedp.ByQuery))
		tb.waitJS("signed in", `document.getElementById("session").innerText.indexOf("Signed in") === 0 && !document.getElementById("signin")`)
	}
	annShown := `document.getElementById("main").getAttribute("data-rendered") === "` + annID + `"`

	// A link to Ann's profile, opened signed out.
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	signIn(keys["agent"])
	tb.waitJS("a page drawn", `document.getElementById("find-identifier") || `+annShown)
	if got := tb.text(`location.hash + " " + (document.getElementById("main").getAttribute("data-rendered") || "no profile")`); got != "#/profile/"+annID+" "+annID {
		t.Fatalf("signed in from a link to Ann's profile, the console shows %q, want Ann's profile", got)
	}

	// The key refused (revoked) while the profile is shown: signed in
	// again, with another key, the user is back on it.
	tb.waitJS("the subscription", `document.getElementById("live").textContent.indexOf("Live") === 0`)
	s.revokeKey(t, admin, "agent")
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	signIn(admin)
	tb.waitJS("Ann's profile again", annShown)

	// Signed out on purpose: the next sign-in starts at Search.
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	signIn(admin)
	tb.waitJS("a page drawn", `document.getElementById("find-identifier") || `+annShown)
	if got := tb.text(`location.hash + " " + (document.getElementById("main").getAttribute("data-rendered") || "no profile")`); got != "#/search no profile" {
		t.Fatalf("signed in after a sign-out on Ann's profile, the console shows %q, want Search", got)
	}
}
