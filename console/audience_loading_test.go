package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// While an audience opened by its address is being read, its card says
// so under a heading: it used to stay blank until the answer came, which
// on a slow link looked like a console that had drawn nothing, and the
// page offered no form to type into by mistake either way. Once the
// answer comes, the card is the audience's editor.
func TestAudienceEditorSaysItIsLoading(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	admin := keys["admin"]
	id := s.goldAudience(t, admin, "Gold")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	hd := holdRequests(tb)
	hd.hold("query Aud(")
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + id))
	held := <-hd.held

	heading := tb.text(`(document.getElementById("h-builder") || {}).textContent || "no heading"`)
	card := tb.text(`(document.querySelector("[aria-labelledby=h-builder]") || {}).textContent || ""`)
	busy := tb.text(`String((document.querySelector("[aria-labelledby=h-builder]") || {getAttribute: function () { return null; }}).getAttribute("aria-busy"))`)
	if heading != "Loading audience…" || !strings.Contains(card, id) || busy != "true" {
		t.Errorf("while the audience is read, its card shows heading %q, text %q, aria-busy %s; want \"Loading audience…\" naming %s, busy", heading, card, busy, id)
	}
	if tb.text(`String(!!document.getElementById("audience-form"))`) != "false" {
		t.Error("while the audience is read, the card shows a form")
	}

	hd.release(held)
	tb.waitJS("the editor", `(document.getElementById("h-builder") || {}).textContent === "Edit Gold"`)
	if busy := tb.text(`String(document.querySelector("[aria-labelledby=h-builder]").getAttribute("aria-busy"))`); busy != "null" {
		t.Errorf("the editor drawn, its card is still aria-busy %s", busy)
	}
}
