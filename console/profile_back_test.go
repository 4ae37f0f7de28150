package console_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// Back to a profile shows it as the user left it: the journey's filter
// applied, as many of its events as were loaded, and the consent histories
// opened. It used to show the profile as first opened: 20 events,
// unfiltered, every history closed.
func TestBackToProfileKeepsItsPlace(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	var api struct {
		Profile struct {
			Journey struct {
				Edges []struct {
					Node struct{ Type, Name, Timestamp string }
				}
			}
		}
	}
	s.gql(t, admin, `query($id:ID!){profile(id:$id){journey(first:40,types:["track"]){edges{node{type name timestamp}}}}}`, map[string]any{"id": annID}, &api)
	if len(api.Profile.Journey.Edges) != 40 {
		t.Fatalf("the API lists %d track events of Ann's, want 40 (of more)", len(api.Profile.Journey.Edges))
	}
	frac := regexp.MustCompile(`(\.\d+)?Z$`)
	var want []string
	for _, e := range api.Profile.Journey.Edges {
		want = append(want, frac.ReplaceAllString(strings.Replace(e.Node.Timestamp, "T", " ", 1), " UTC")+" "+e.Node.Type+" · "+e.Node.Name)
	}

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered") === "`+annID+`"`)
	const sec = `document.querySelector("[aria-labelledby=h-journey]")`
	const events = `Array.prototype.map.call(document.querySelectorAll("#journey li"), function (li) { return li.querySelector(".when").textContent + " " + li.querySelector("strong").textContent; }).join("\n")`
	// The journey filtered to track events, a second page of them loaded.
	tb.eval(`(function () { var sel = `+sec+`.querySelector("select[name=types]"); sel.value = "track"; sel.dispatchEvent(new Event("change", { bubbles: true })); `+sec+`.querySelector("form").requestSubmit(); return true; })()`, new(bool))
	tb.waitJS("the first 20 track events", fmt.Sprintf(`%s === %q`, events, strings.Join(want[:20], "\n")))
	tb.eval(`Array.prototype.find.call(`+sec+`.querySelectorAll("button"), function (b) { return b.textContent === "Load more events"; }).click(); true`, new(bool))
	tb.waitJS("40 track events", fmt.Sprintf(`%s === %q`, events, strings.Join(want, "\n")))
	// The history of one purpose opened.
	const advertising = `Array.prototype.find.call(document.querySelectorAll("#main details"), function (d) { return d.querySelector("summary").textContent.indexOf("History of advertising") === 0; })`
	tb.eval(advertising+`.querySelector("summary").click(); true`, new(bool))
	tb.waitJS("the history opened", advertising+`.open`)

	// Another page, and Back.
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	tb.waitJS("the search page", `document.getElementById("find-identifier")`)
	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("the profile again", `document.getElementById("main").getAttribute("data-rendered") === "`+annID+`" && document.getElementById("journey")`)
	if got := tb.text(events); got != strings.Join(want, "\n") {
		t.Errorf("back on Ann's profile the journey lists:\n%s\nwant the 40 track events the user had loaded:\n%s", got, strings.Join(want, "\n"))
	}
	if got := tb.text(sec + `.querySelector("select[name=types]").value`); got != "track" {
		t.Errorf("back on Ann's profile the journey's type filter shows %q, want track", got)
	}
	var open bool
	tb.eval(`!!(`+advertising+` || {}).open`, &open)
	if !open {
		t.Errorf("back on Ann's profile the history of advertising is closed; the user had opened it")
	}
}
