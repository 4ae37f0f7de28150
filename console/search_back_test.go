package console_test

import (
	"fmt"
	"strings"
	"testing"
)

// Back from a profile found by a filter search shows the search as it was
// left: the filter, the page of results and what was typed to find by
// identifier. It used to show an empty search page, the results and the
// filter gone. Signing out forgets the search.
func TestBackToSearchKeepsTheSearch(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	admin := keys["admin"]
	want := goldPages(t, s, keys["site"], admin)

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.setValue("#find-identifier input[name=value]", "u-g-1")
	tb.setValue(".builder .cond input[spellcheck=false]", "plan")
	tb.setValue(".builder .cond input[name=value]", "gold")
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Search"; }).click(); true`, new(bool))
	tb.waitJS("the first page", `document.getElementById("main").innerText.indexOf("23 profiles match; page 1.") >= 0`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Next page"; }).click(); true`, new(bool))
	tb.waitJS("the second page", `document.getElementById("main").innerText.indexOf("; page 2.") >= 0`)
	tb.eval(`document.querySelector("[aria-labelledby=by-filter] tbody a").click(); true`, new(bool))
	tb.waitJS("the profile", fmt.Sprintf(`document.getElementById("main").getAttribute("data-rendered") === %q`, want[0]))

	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	rows := `Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=by-filter] tbody tr td:first-child"), function (c) { return c.textContent; }).join(" ")`
	tb.waitJS("the second page again", fmt.Sprintf(`document.getElementById("main").innerText.indexOf("23 profiles match; page 2.") >= 0 && %s === %q`, rows, strings.Join(want, " ")))
	fields := `document.querySelector("#find-identifier input[name=value]").value + "|" + document.querySelector(".builder .cond input[spellcheck=false]").value + "|" + document.querySelector(".builder .cond input[name=value]").value`
	if got := tb.text(fields); got != "u-g-1|plan|gold" {
		t.Errorf("back on the search page the fields hold %q, want u-g-1|plan|gold", got)
	}

	// Signed out and in again: a new search.
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.signIn(s.base, admin)
	if got := tb.text(fields + ` + "|" + document.querySelectorAll("[aria-labelledby=by-filter] tbody tr").length`); got != "|||0" {
		t.Errorf("signed in again, the search page holds %q, want an empty search", got)
	}
}
