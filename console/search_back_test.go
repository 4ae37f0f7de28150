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
	for i := 0; i < 23; i++ {
		s.send(t, keys["site"], "identify", fmt.Sprintf(`{"userId":"u-g-%d","messageId":"g%d","timestamp":"2026-11-01T10:00:00Z","traits":{"plan":"gold"}}`, i, i))
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
