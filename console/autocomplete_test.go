package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// The fields that take an identifier's value (Search's and the merge
// dialog's) ask the browser to keep no history of what is typed: an email
// or phone typed there would otherwise be offered again to whoever uses
// the browser next, after sign-out.
func TestIdentifierFieldsKeepNoHistory(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.waitJS("Search's value field", `document.querySelector("#main input[name=value]")`)
	var got string
	tb.eval(`document.querySelector("#main input[name=value]").getAttribute("autocomplete") || ""`, &got)
	if got != "off" {
		t.Errorf("Search's value field: autocomplete %q, want off", got)
	}
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + bobID))
	tb.waitJS("Bob's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+bobID+`"`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent.indexOf("Merge with another profile") === 0; }).click(); true`, new(bool))
	tb.waitJS("the merge dialog", `document.querySelector("dialog[open] input[name=mvalue]")`)
	tb.eval(`document.querySelector("dialog[open] input[name=mvalue]").getAttribute("autocomplete") || ""`, &got)
	if got != "off" {
		t.Errorf("the merge dialog's value field: autocomplete %q, want off", got)
	}
}
