package console_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// Deleting an audience from the list leaves the editor as it is, unless
// it edits the audience deleted: the console used to go to a blank "New
// audience" form, losing the edit under way of another audience.
func TestDeletingAnotherAudienceKeepsTheEditor(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	create := func(name string) string { return s.goldAudience(t, admin, name) }
	keep, drop := create("Keep"), create("Drop")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	del := func(id string) {
		t.Helper()
		tb.waitJS("the audience listed", fmt.Sprintf(`document.querySelector('tr[data-audience="%s"]')`, id))
		tb.eval(fmt.Sprintf(`Array.prototype.find.call(document.querySelectorAll('tr[data-audience="%s"] button'), function (b) { return b.textContent === "Delete"; }).click(); true`, id), new(bool))
		tb.run(chromedp.WaitVisible("dialog[open]", chromedp.ByQuery), chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
		tb.waitJS("the audience gone from the list", fmt.Sprintf(`!document.querySelector("dialog[open]") && document.querySelector('tr[data-audience="%s"]') === null && document.querySelector("#main tr[data-audience]")`, id))
	}

	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + keep))
	tb.waitJS("the editor of Keep", `document.getElementById("h-builder").textContent === "Edit Keep" && document.querySelector("#audience-form input[name=name]").value === "Keep"`)
	tb.setValue("#audience-form input[name=name]", "Keep, renamed")
	del(drop)
	if got := tb.text(`location.hash + " " + document.getElementById("h-builder").textContent + " " + document.querySelector("#audience-form input[name=name]").value`); got != "#/audiences/"+keep+" Edit Keep Keep, renamed" {
		t.Fatalf("after deleting another audience the page shows %q, want the editor of Keep with its name as typed", got)
	}

	// The audience edited, deleted: the editor goes with it. (Keep's
	// edit undone first: an editor holding an edit asks before it is left.)
	tb.setValue("#audience-form input[name=name]", "Keep")
	other := create("Other")
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + other))
	tb.waitJS("the editor of Other", `document.getElementById("h-builder").textContent === "Edit Other"`)
	del(other)
	tb.waitJS("a new audience", `location.hash === "#/audiences" && document.getElementById("h-builder").textContent === "New audience"`)
}
