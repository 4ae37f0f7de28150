package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// In the merge dialog, the profile found is the one the last Find asked
// for: an earlier Find's answer that comes after it is dropped. It used to
// be shown beside the later one and taken as the profile to merge with,
// so that Merge joined Bob to Cy when the dialog showed Dee found last.
func TestMergeFindKeepsTheLastAnswer(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	// Two people known by an anonymous id and an email only: either can
	// join Bob (one user id a profile).
	s.send(t, keys["site"], "identify", `{"anonymousId":"anon-cy","messageId":"x1","timestamp":"2026-11-06T10:00:00Z","traits":{"email":"cy@example.org"}}`)
	s.send(t, keys["site"], "identify", `{"anonymousId":"anon-dee","messageId":"x2","timestamp":"2026-11-06T11:00:00Z","traits":{"email":"dee@example.org"}}`)
	admin := keys["admin"]
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	cyID := s.profileID(t, admin, "email", "cy@example.org")
	deeID := s.profileID(t, admin, "email", "dee@example.org")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + bobID))
	tb.waitJS("Bob's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+bobID+`"`)
	hd := holdRequests(tb)
	tb.eval(`(function () {
		var orig = Response.prototype.json;
		Response.prototype.json = function () {
			var p = orig.call(this);
			p.then(function (b) {
				if (b && b.data && b.data.profileByIdentifier && JSON.stringify(b).indexOf("cy@example.org") >= 0) setTimeout(function () { window.cyAnswered = true; }, 0);
			}, function () {});
			return p;
		};
		return true;
	})()`, new(bool))
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent.indexOf("Merge with another profile") === 0; }).click(); true`, new(bool))
	tb.waitJS("the merge dialog", `document.querySelector("dialog[open] input[name=mvalue]")`)
	find := func() {
		t.Helper()
		tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Find"; }).click(); true`, new(bool))
	}
	const found = `Array.prototype.map.call(document.querySelectorAll("dialog[open] p.ok, dialog[open] .note, dialog[open] .error"), function (p) { return p.textContent; }).join(" | ")`

	// Cy is asked for, and the answer held; the user corrects the value to
	// Dee's and finds her.
	hd.hold("profileByIdentifier", "cy@example.org")
	tb.setValue("dialog[open] input[name=mvalue]", "cy@example.org")
	find()
	held := <-hd.held
	tb.setValue("dialog[open] input[name=mvalue]", "dee@example.org")
	find()
	tb.waitJS("Dee found", found+`.indexOf("`+deeID+`") >= 0`)
	hd.release(held)
	tb.waitJS("Cy's late answer handled", `window.cyAnswered === true`)
	if got := tb.text(found); strings.Contains(got, cyID) || !strings.Contains(got, deeID) {
		t.Fatalf("after Cy's late answer the merge dialog shows %q, want Dee (%s) found alone", got, deeID)
	}

	tb.setValue("dialog[open] textarea[name=reason]", "same person, ticket 7")
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the merge answered", `document.getElementById("status").textContent`)
	if got := tb.text(`document.getElementById("status").textContent`); !strings.HasPrefix(got, "Merged into") {
		t.Fatalf("Merge answered %q", got)
	}
	if got := s.profileID(t, admin, "email", "cy@example.org"); got != cyID {
		t.Errorf("Merge with Dee found joined Cy's profile %s into %s", cyID, got)
	}
	if got, bob := s.profileID(t, admin, "email", "dee@example.org"), s.profileID(t, admin, "email", "bob@example.com"); got != bob {
		t.Errorf("after Merge with Dee found, Dee is in %s and Bob in %s, want one profile", got, bob)
	}
}
