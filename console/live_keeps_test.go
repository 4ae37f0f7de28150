package console_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A change to the profile redraws its page where the user left it: the
// journey's events loaded past the first page, its filter (applied, and as
// typed, with the focus), a consent history opened and the link explained
// stay as they were. A change used to put the page back as it first
// loads: 20 events, unfiltered, the filter's fields emptied, every history
// closed and no link selected.
func TestLiveChangeKeepsThePlace(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.waitJS("the subscription", `document.getElementById("live").textContent.indexOf("Live") === 0`)
	s.waitSubscribed(t, 1)
	tb.eval(`window.sameDocument = true`, nil)

	const sec = `document.querySelector("[aria-labelledby=h-journey]")`
	// A second page of events.
	tb.eval(`Array.prototype.find.call(`+sec+`.querySelectorAll("button"), function (b) { return b.textContent === "Load more events"; }).click(); true`, new(bool))
	tb.waitJS("40 events", `document.getElementById("journey").children.length === 40`)
	// The history of one purpose opened.
	const advertising = `Array.prototype.find.call(document.querySelectorAll("#main details"), function (d) { return d.querySelector("summary").textContent.indexOf("History of advertising") === 0; })`
	tb.eval(advertising+`.open = true; true`, new(bool))
	// A link explained.
	tb.eval(`(function () { var rows = document.querySelectorAll("tr[data-edge]"); for (var i = 0; i < rows.length; i++) {
		var t = rows[i].innerText; if (t.indexOf("anon-ann") >= 0 && t.indexOf("u-ann") >= 0 && t.indexOf("refused") < 0) { rows[i].querySelector("button").click(); return true; } } return false; })()`, new(bool))
	tb.waitJS("the link explained", `(document.getElementById("explanation") || {}).innerText && document.getElementById("explanation").innerText.indexOf("web/m1") >= 0`)
	// A channel typed in the journey's filter, not applied yet.
	tb.setValue("[aria-labelledby=h-journey] input[name=channels]", "mobile")

	s.send(t, keys["site"], "track", `{"userId":"u-ann","messageId":"keep1","event":"Coupon Redeemed","timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`"}`)
	tb.waitJS("the page redrawn after the change", `window.sameDocument && document.getElementById("notice") && document.getElementById("journey").innerText.indexOf("Coupon Redeemed") >= 0`)
	var n int
	tb.eval(`document.getElementById("journey").children.length`, &n)
	if n < 40 {
		t.Errorf("after a change the journey lists %d events; the user had loaded 40", n)
	}
	var open bool
	tb.eval(`!!(`+advertising+` || {}).open`, &open)
	if !open {
		t.Errorf("after a change the history of advertising is closed; the user had opened it")
	}
	if got := tb.text(sec + `.querySelector("input[name=channels]").value`); got != "mobile" {
		t.Errorf("after a change the journey's channels field holds %q, want what was typed, mobile", got)
	}
	if got := tb.text(`document.activeElement ? document.activeElement.name || document.activeElement.tagName : ""`); got != "channels" {
		t.Errorf("after a change the focus is on %q, want the channels field the user was typing in", got)
	}
	tb.waitJS("the link explained again", `(document.getElementById("explanation") || {}).innerText && document.getElementById("explanation").innerText.indexOf("web/m1") >= 0`)

	// A filter applied: a change keeps the events it selects, and the
	// filter shown.
	var api struct {
		Profile struct {
			Journey struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
	}
	journey := func() []string {
		s.gql(t, admin, `query($id:ID!){profile(id:$id){journey(first:100,types:["track"],channels:["mobile"]){edges{node{name}}}}}`, map[string]any{"id": annID}, &api)
		var names []string
		for _, e := range api.Profile.Journey.Edges {
			names = append(names, e.Node.Name)
		}
		return names
	}
	tb.eval(`(function () { var sel = `+sec+`.querySelector("select[name=types]"); sel.value = "track"; `+sec+`.querySelector("form").requestSubmit(); return true; })()`, new(bool))
	want := journey()
	names := `Array.prototype.map.call(document.querySelectorAll("#journey li strong"), function (s) { return s.textContent; }).join("|")`
	wantJS := func(names []string) string {
		var w []string
		for _, n := range names {
			w = append(w, "track · "+n)
		}
		return strings.Join(w, "|")
	}
	tb.waitJS("the filtered journey", fmt.Sprintf(`%s === %q`, names, wantJS(want)))
	tb.eval(`document.getElementById("notice").remove(); true`, new(bool))
	s.send(t, keys["site"], "track", `{"userId":"u-ann","messageId":"keep2","event":"Mobile Coupon","timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`","context":{"channel":"mobile"}}`)
	tb.waitJS("the page redrawn after the second change", `window.sameDocument && document.getElementById("notice")`)
	want = journey()
	if len(want) < 2 || want[0] != "Mobile Coupon" {
		t.Fatalf("the API lists %q as Ann's mobile track events, want Mobile Coupon first", want)
	}
	if got := tb.text(names); got != wantJS(want) {
		t.Errorf("after a change the filtered journey lists %q, want the filter's events %q", got, wantJS(want))
	}
	if got := tb.text(sec + `.querySelector("select[name=types]").value + "|" + ` + sec + `.querySelector("input[name=channels]").value`); got != "track|mobile" {
		t.Errorf("after a change the journey's filter shows %q, want track|mobile", got)
	}
}
