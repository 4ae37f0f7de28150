package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// A dialog belongs to the page it was opened on: it closes when the user
// goes to another page (Back, a link), and when the console signs out. It
// used to stay open over the next page, so that confirming it corrected
// the profile left behind and drew it over the page the address named;
// and over the sign-in page after a refused key, where it hid the form
// and its buttons asked without a key.
func TestDialogClosesWithItsPage(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "agent": {"profiles:read", "pii:read", "identity:write"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 401 " + s.base + "/graphql", "status of 401 (Unauthorized) " + s.base + "/graphql"}
	tb.signIn(s.base, keys["agent"])
	openMerge := func() {
		t.Helper()
		tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent.indexOf("Merge with another profile") === 0; }).click(); true`, new(bool))
		tb.waitJS("the merge dialog", `document.querySelector("dialog[open] input[name=mvalue]")`)
	}

	// Ann's merge dialog open, the user goes to Bob's profile.
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("Ann's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+annID+`"`)
	openMerge()
	tb.eval(`location.hash = "#/profile/`+bobID+`"; true`, new(bool))
	tb.waitJS("Bob's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+bobID+`"`)
	if tb.text(`String(document.querySelectorAll("dialog[open]").length)`) != "0" {
		t.Errorf("on Bob's profile, the merge dialog opened on Ann's is still open")
	}

	// Bob's merge dialog open, the key is revoked: the console signs out.
	tb.waitJS("the subscription", `document.getElementById("live").textContent.indexOf("Live") === 0`)
	openMerge()
	s.revokeKey(t, admin, "agent")
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	if tb.text(`String(document.querySelectorAll("dialog[open]").length)`) != "0" {
		t.Errorf("signed out, the merge dialog is still open over the sign-in page")
	}
}
