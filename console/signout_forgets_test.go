package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// Signing out forgets the profile last opened: the next person to sign in
// in the tab used to find it filled in on the privacy page, ready to be
// exported or forgotten, and the audit log filtered to it, though they
// never opened it.
func TestSignOutForgetsTheLastProfile(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "officer": {"privacy:read", "privacy:write", "audit:read"}, "site": {"events:write"}})
	s.seed(t, keys["site"])
	annID := s.profileID(t, keys["admin"], "email", "ann@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, keys["admin"])
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)

	tb.setValue("#signin input[name=key]", keys["officer"])
	tb.run(chromedp.Click("#signin button[type=submit]", chromedp.ByQuery))
	tb.waitJS("signed in", `document.getElementById("session").innerText.indexOf("Signed in") === 0`)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	tb.waitJS("the privacy page", `document.querySelector("input[name=profile]") && document.querySelector("input[name=profileId]")`)
	got := tb.text(`document.querySelector("input[name=profile]").value + "|" + document.querySelector("input[name=profileId]").value`)
	if got != "|" {
		t.Fatalf("after another sign-in the privacy page holds the profile the previous key opened: %q", got)
	}
}
