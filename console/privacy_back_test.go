package console_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Back from a profile opened from the audit log shows the log as it was
// left: the filter applied, and the fields as typed. It used to show the
// log unfiltered, and filtered to that profile (the last one opened)
// instead. Signing out forgets it.
func TestBackToPrivacyKeepsTheAuditFilter(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	// A read of unmasked personal values is an audit entry.
	var read struct {
		ProfileByIdentifier struct{ Identifiers []struct{ Value string } }
	}
	s.gql(t, admin, `{profileByIdentifier(type:"email",value:"ann@example.com"){identifiers{value}}}`, nil, &read)
	for i := 0; ; i++ {
		var log struct {
			AuditLog struct{ Nodes []struct{ ID string } }
		}
		s.gql(t, admin, `{auditLog(first:5,filter:{action:"profileByIdentifier"}){nodes{id}}}`, nil, &log)
		if len(log.AuditLog.Nodes) > 0 {
			break
		}
		if i > 200 {
			t.Fatal("the audit log holds no profileByIdentifier entry")
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	tb.waitJS("the audit log", `document.querySelector("input[name=action]")`)
	tb.setValue("input[name=action]", "profileByIdentifier")
	tb.run(chromedp.Click(`[aria-labelledby=h-audit] button[type=submit]`, chromedp.ByQuery))
	rows := `Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=h-audit] tbody tr td:nth-child(2)"), function (c) { return c.textContent; })`
	filtered := `(function () { var r = ` + rows + `; return r.length > 0 && r.every(function (a) { return a.indexOf("profileByIdentifier") === 0; }); })()`
	tb.waitJS("the log filtered", filtered)
	tb.setValue("input[name=keyId]", "typed, not applied")
	tb.eval(`document.querySelector('[aria-labelledby=h-audit] tbody a[href="#/profile/`+annID+`"]').click(); true`, new(bool))
	tb.waitJS("Ann's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+annID+`"`)

	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("the privacy page", `document.querySelector("input[name=action]")`)
	fields := `document.querySelector("input[name=action]").value + "|" + document.querySelector("input[name=keyId]").value + "|" + document.querySelector("input[name=profileId]").value`
	if got := tb.text(fields); got != "profileByIdentifier|typed, not applied|" {
		t.Errorf("back on the privacy page the audit filter's fields hold %q, want profileByIdentifier|typed, not applied|", got)
	}
	tb.waitJS("the log filtered again", filtered)

	// Signed out and in again: the log as first shown.
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	tb.waitJS("the privacy page", `document.querySelector("input[name=action]")`)
	if got := tb.text(fields); got != "||" {
		t.Errorf("signed in again, the audit filter's fields hold %q, want none", got)
	}
}
