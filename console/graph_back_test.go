package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The link of the identity graph explained on a profile page is explained
// again on Back to the page, and on a reload: the address names it, by a
// tag that holds none of the identifiers' values. It used to be lost:
// Back showed the graph with nothing selected.
func TestBackToProfileKeepsTheLinkExplained(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	annShown := `document.getElementById("main").getAttribute("data-rendered") === "` + annID + `"`
	tb.waitJS("Ann's profile", annShown)
	// The link Ann's anonymous id was refused with Mallory's user id, the
	// second in the list: neither the first nor the last.
	const explained = `(function () { var h = document.querySelector("#edge-panel h3"); return h && document.querySelector("#explanation strong") ? h.textContent : ""; })()`
	tb.eval(`(function () {
		var row = Array.prototype.find.call(document.querySelectorAll("tr[data-edge]"), function (r) { return r.textContent.indexOf("u-mallory") >= 0; });
		row.querySelector("button").click(); return true; })()`, new(bool))
	tb.waitJS("the explanation", explained)
	want := tb.text(explained)
	if !strings.Contains(want, "Refused link") || !strings.Contains(want, "user_id: u-mallory") {
		t.Fatalf("the link explained is %q, want the refused link to u-mallory", want)
	}
	hash := tb.text(`location.hash`)
	for _, v := range []string{"mallory", "anon-ann", "u-ann", "example"} {
		if strings.Contains(hash, v) {
			t.Fatalf("the address %s names the identifier value %q", hash, v)
		}
	}

	// Another page, and Back.
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("Ann's profile again", annShown+` && document.getElementById("edge-panel")`)
	tb.waitJS("the explanation or none", explained+` || !document.querySelector("#edge-panel h3")`)
	if got := tb.text(explained); got != want {
		t.Errorf("back on Ann's profile the link explained is %q, want %q, which the user had selected", got, want)
	}

	// Reloaded.
	tb.run(chromedp.Reload())
	tb.waitJS("Ann's profile again", annShown+` && document.getElementById("edge-panel")`)
	tb.waitJS("the explanation or none", explained+` || !document.querySelector("#edge-panel h3")`)
	if got := tb.text(explained); got != want {
		t.Errorf("reloaded, Ann's profile explains %q, want %q, which the user had selected", got, want)
	}
}
