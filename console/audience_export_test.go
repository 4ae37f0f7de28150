package console_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// The export options of the audience list (the identifier types, hashed
// or not) stay as the user set them when the list is drawn again (after
// an audience is saved or deleted) and when they come back to the page,
// until they sign out. They used to go back to email, phone and user_id,
// raw, at every redraw: an export after deleting an audience, meant
// hashed, sent raw personal values, phone numbers included.
func TestAudienceExportOptionsStay(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	create := func(name string) string { return s.goldAudience(t, admin, name) }
	create("Keep")
	drop := create("Drop")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences"))
	tb.waitJS("the list", `document.querySelector("input[name=exportTypes]")`)
	const options = `document.querySelector("input[name=exportTypes]").value + " hashed=" + document.querySelector("input[name=hashed]").checked`
	tb.setValue("input[name=exportTypes]", "email")
	tb.eval(`document.querySelector("input[name=hashed]").click(); true`, new(bool))
	const want = "email hashed=true"
	if got := tb.text(options); got != want {
		t.Fatalf("the export options set show %q, want %q", got, want)
	}

	// An audience deleted: the list is drawn again.
	tb.eval(fmt.Sprintf(`Array.prototype.find.call(document.querySelectorAll('tr[data-audience="%s"] button'), function (b) { return b.textContent === "Delete"; }).click(); true`, drop), new(bool))
	tb.run(chromedp.WaitVisible("dialog[open]", chromedp.ByQuery), chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the list drawn again", fmt.Sprintf(`!document.querySelector('tr[data-audience="%s"]') && document.querySelector("input[name=exportTypes]")`, drop))
	if got := tb.text(options); got != want {
		t.Errorf("after deleting an audience the export options show %q, want %q as set", got, want)
	}

	// Another page, and back.
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	tb.run(chromedp.Click(`a[data-nav=audiences]`, chromedp.ByQuery))
	tb.waitJS("the list", `document.querySelector("input[name=exportTypes]")`)
	if got := tb.text(options); got != want {
		t.Errorf("back on the audiences page the export options show %q, want %q as set", got, want)
	}

	// Signed out and in again: the options as at first.
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.signIn(s.base, admin)
	tb.run(chromedp.Click(`a[data-nav=audiences]`, chromedp.ByQuery))
	tb.waitJS("the list", `document.querySelector("input[name=exportTypes]")`)
	if got := tb.text(options); got != "email,phone,user_id hashed=false" {
		t.Errorf("signed in again, the export options show %q, want the first ones", got)
	}
}
