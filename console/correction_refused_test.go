package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A merge the API refuses says why on the profile page, naming the
// profile it was to merge with, until the page is drawn again. It was
// said only in the status line, which empties after five seconds: a user
// who looked away from it saw the dialog close and the profile unchanged,
// with no reason.
func TestRefusedMergeIsSaidOnThePage(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	deeID := s.profileID(t, admin, "email", "dee@example.net")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + bobID))
	tb.waitJS("Bob's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+bobID+`"`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent.indexOf("Merge with another profile") === 0; }).click(); true`, new(bool))
	tb.waitJS("the merge dialog", `document.querySelector("dialog[open] input[name=mvalue]")`)
	// Bob and Dee each have a user id: the rules allow one a profile.
	tb.setValue("dialog[open] input[name=mvalue]", "dee@example.net")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Find"; }).click(); true`, new(bool))
	tb.waitJS("Dee found", `document.querySelector("dialog[open] p.ok")`)
	tb.setValue("dialog[open] textarea[name=reason]", "same person, ticket 46")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the refusal", `document.getElementById("status").textContent || document.querySelector("#main .error")`)
	got := tb.text(`(document.querySelector("#main .error") || {}).textContent || ""`)
	if !strings.Contains(got, deeID) || !strings.Contains(got, "user_id") {
		t.Errorf("the refused merge of Bob with Dee shows %q on the page, want the refusal naming Dee's profile and why", got)
	}
}
