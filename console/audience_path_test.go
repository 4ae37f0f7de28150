package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A path-style link to an audience, /console/audiences/{id}, opens that
// audience in the editor, at its address in the console
// (/console/#/audiences/{id}), signed in or once signed in, as
// /console/profile/{id} opens a profile. It used to show Search. An id
// that names no audience, or that the API refuses as no audience id, is
// named on the page, under a heading, with no editor.
func TestAudiencePathOpensTheAudience(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	admin := keys["admin"]
	var made struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation{createAudience(input:{name:"Gold",filter:{trait:{name:"plan",op:EQ,value:"gold"}}}){id}}`, nil, &made)
	id := made.CreateAudience.ID
	tb := newTab(t, s)
	const drawn = `document.getElementById("find-identifier") || (document.getElementById("h-builder") && document.getElementById("h-builder").textContent !== "Loading audience…") || document.querySelector("#main .error")`
	where := `location.pathname + location.hash + " " + (document.getElementById("find-identifier") ? "search" : (document.getElementById("h-builder") || {}).textContent)`

	// Opened signed out: the sign-in page, then the audience's editor.
	tb.run(chromedp.Navigate(s.base+"/console/audiences/"+id), chromedp.WaitVisible("#signin input[name=key]", chromedp.ByQuery))
	tb.setValue("#signin input[name=key]", admin)
	tb.run(chromedp.Click("#signin button[type=submit]", chromedp.ByQuery))
	tb.waitJS("a page drawn", `!document.getElementById("signin") && (`+drawn+`)`)
	if got := tb.text(where); got != "/console/#/audiences/"+id+" Edit Gold" {
		t.Fatalf("signed in from /console/audiences/%s, the console shows %q, want Gold's editor at /console/#/audiences/%s", id, got, id)
	}

	// Signed in.
	tb.run(chromedp.Navigate(s.base + "/console/#/search"))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	tb.run(chromedp.Navigate(s.base + "/console/audiences/" + id))
	tb.waitJS("a page drawn", drawn)
	if got := tb.text(where); got != "/console/#/audiences/"+id+" Edit Gold" {
		t.Fatalf("/console/audiences/%s shows %q, want Gold's editor at /console/#/audiences/%s", id, got, id)
	}

	// No such audience (deleted), and an id the API refuses: each named,
	// with no editor.
	var deleted struct{ DeleteAudience bool }
	s.gql(t, admin, `mutation($id:ID!){deleteAudience(id:$id)}`, map[string]any{"id": id}, &deleted)
	for _, bad := range []string{id, "gold-members"} {
		tb.run(chromedp.Navigate(s.base + "/console/#/search"))
		tb.waitJS("the search page", `document.getElementById("find-identifier")`)
		tb.run(chromedp.Navigate(s.base + "/console/audiences/" + bad))
		tb.waitJS("a page drawn", drawn)
		heading := tb.text(`(document.getElementById("h-builder") || {}).textContent || "no heading"`)
		card := tb.text(`(document.querySelector("[aria-labelledby=h-builder]") || {}).textContent || ""`)
		if heading == "New audience" || strings.HasPrefix(heading, "Edit") || heading == "no heading" || !strings.Contains(card, bad) {
			t.Errorf("/console/audiences/%s shows %q: %q, want a heading and a note naming the id", bad, heading, card)
		}
		if tb.text(`String(!!document.getElementById("audience-form"))`) != "false" {
			t.Errorf("/console/audiences/%s shows an audience form", bad)
		}
		if got := tb.text(`location.pathname + location.hash`); got != "/console/#/audiences/"+bad {
			t.Errorf("/console/audiences/%s is at %s, want /console/#/audiences/%s", bad, got, bad)
		}
	}

	// Other paths under /console/audiences: the console's first page.
	for _, p := range []string{"/console/audiences/", "/console/audiences/" + id + "/more"} {
		tb.run(chromedp.Navigate(s.base + p))
		tb.waitJS("a page drawn", drawn)
		if got := tb.text(where); got != p+" search" {
			t.Errorf("%s shows %q, want the search page at that address", p, got)
		}
	}
}
