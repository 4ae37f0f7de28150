package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// A path-style link to a profile, /console/profile/{id}, shows that
// profile, at its address in the console (/console/#/profile/{id}),
// signed in or once signed in. It used to show Search. Other paths under
// /console/ still show the console's first page.
func TestProfilePathShowsTheProfile(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	annShown := `document.getElementById("main").getAttribute("data-rendered") === "` + annID + `"`
	const drawn = `document.getElementById("find-identifier") || document.getElementById("main").getAttribute("data-rendered") || document.querySelector("#main .note, #main .error")`
	where := `location.pathname + location.hash + " " + (document.getElementById("main").getAttribute("data-rendered") || (document.getElementById("find-identifier") ? "search" : "other"))`

	// Opened signed out: the sign-in page, then Ann's profile.
	tb.run(chromedp.Navigate(s.base+"/console/profile/"+annID), chromedp.WaitVisible("#signin input[name=key]", chromedp.ByQuery))
	tb.setValue("#signin input[name=key]", admin)
	tb.run(chromedp.Click("#signin button[type=submit]", chromedp.ByQuery))
	tb.waitJS("a page drawn", `!document.getElementById("signin") && (`+drawn+`)`)
	if got := tb.text(where); got != "/console/#/profile/"+annID+" "+annID {
		t.Fatalf("signed in from /console/profile/%s, the console shows %q, want Ann's profile at /console/#/profile/%s", annID, got, annID)
	}

	// Signed in.
	tb.run(chromedp.Navigate(s.base + "/console/#/search"))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	tb.run(chromedp.Navigate(s.base + "/console/profile/" + annID))
	tb.waitJS("a page drawn", drawn)
	tb.waitJS("Ann's profile", annShown+` || document.getElementById("find-identifier")`)
	if got := tb.text(where); got != "/console/#/profile/"+annID+" "+annID {
		t.Fatalf("/console/profile/%s shows %q, want Ann's profile at /console/#/profile/%s", annID, got, annID)
	}

	// Other paths: the console's first page, as before.
	for _, p := range []string{"/console/nothing/here", "/console/profile/"} {
		tb.run(chromedp.Navigate(s.base + p))
		tb.waitJS("a page drawn", drawn)
		if got := tb.text(where); got != p+" search" {
			t.Errorf("%s shows %q, want the search page at that address", p, got)
		}
	}
}
