package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// The privacy page's answers name the profile id they are for: a refusal
// of the export or of the erasure names the id typed (the API does not
// repeat it: it may be an email pasted by mistake), and an export
// downloaded names the profile it holds, not the id the field holds by
// the time it came. A refusal used to say only that "argument id" or
// "profileId" is not a profile id, and an export of Ann's, answered after
// the field was changed to Bob's id, said Bob's was downloaded.
func TestPrivacyAnswersNameTheProfile(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 400 " + s.base + "/v1/privacy/", "status of 400 (Bad Request) " + s.base + "/v1/privacy/"}
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	tb.waitJS("the privacy page", `document.querySelector("input[name=profile]")`)
	const answer = `(document.querySelector("[aria-labelledby=h-req] .error, #export-done") || {}).textContent || ""`
	click := func(text string) {
		t.Helper()
		tb.eval(`Array.prototype.find.call(document.querySelectorAll("#main button"), function (b) { return b.textContent === "`+text+`"; }).click(); true`, new(bool))
	}

	// An email pasted where the profile id goes.
	const pasted = "ann@example.com"
	tb.setValue("input[name=profile]", pasted)
	click("Download data export")
	tb.waitJS("the export refused", answer)
	if got := tb.text(answer); !strings.Contains(got, "Profile "+pasted+":") {
		t.Errorf("the export of %q answers %q, want the id typed named", pasted, got)
	}
	click("Forget this profile…")
	tb.waitJS("the forget dialog", `document.querySelector("dialog[open] textarea")`)
	tb.setValue("dialog[open] textarea", "ticket 9")
	tb.setValue("dialog[open] input[name=confirm]", pasted)
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the erasure refused", `!document.querySelector("dialog[open]") && document.querySelector("[aria-labelledby=h-req] .error")`)
	if got := tb.text(answer); !strings.Contains(got, "Profile "+pasted+":") {
		t.Errorf("forgetting %q answers %q, want the id typed named", pasted, got)
	}

	// Ann's export asked for and held; the field changed to Bob's id.
	held := make(chan fetch.RequestID, 1)
	chromedp.ListenTarget(tb.ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			held <- e.RequestID
		}
	})
	tb.run(fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/export"}}))
	tb.setValue("input[name=profile]", annID)
	click("Download data export")
	id := <-held
	tb.setValue("input[name=profile]", bobID)
	tb.run(fetch.ContinueRequest(id))
	tb.waitJS("the export downloaded", `document.getElementById("export-done")`)
	if got := tb.text(answer); !strings.Contains(got, annID) || strings.Contains(got, bobID) {
		t.Errorf("Ann's export, answered once the field held Bob's id, says %q, want Ann's id %s named", got, annID)
	}
}
