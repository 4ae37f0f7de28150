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
	for deadline := time.Now().Add(time.Minute); ; {
		var log struct {
			AuditLog struct{ Nodes []struct{ ID string } }
		}
		s.gql(t, admin, `{auditLog(first:5,filter:{action:"profileByIdentifier"}){nodes{id}}}`, nil, &log)
		if len(log.AuditLog.Nodes) > 0 {
			break
		}
		if time.Now().After(deadline) {
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

// The audit log's filter applied is in the privacy page's address, so a
// reload (or a link copied) shows the log filtered as it was: it used to
// show it unfiltered, the fields empty. Back to an entry shows the filter
// that entry's address names.
func TestPrivacyAddressKeepsTheAuditFilter(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	var made struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation{createAudience(input:{name:"Gold",filter:{trait:{name:"plan",op:EQ,value:"gold"}}}){id}}`, nil, &made)
	var read struct {
		ProfileByIdentifier struct{ Identifiers []struct{ Value string } }
	}
	s.gql(t, admin, `{profileByIdentifier(type:"email",value:"ann@example.com"){identifiers{value}}}`, nil, &read)
	for deadline := time.Now().Add(time.Minute); ; {
		var log struct {
			AuditLog struct{ Nodes []struct{ Action string } }
		}
		s.gql(t, admin, `{auditLog(first:100){nodes{action}}}`, nil, &log)
		actions := map[string]bool{}
		for _, n := range log.AuditLog.Nodes {
			actions[n.Action] = true
		}
		if actions["createAudience"] && actions["profileByIdentifier"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit log holds %v, want createAudience and profileByIdentifier entries", actions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	tb.waitJS("the audit log", `document.querySelector("[aria-labelledby=h-audit] tbody tr")`)
	rows := `Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=h-audit] tbody tr td:nth-child(2)"), function (c) { return c.textContent; })`
	only := func(action string) string {
		return `(function () { var r = ` + rows + `; return r.length > 0 && r.every(function (a) { return a.indexOf("` + action + `") === 0; }); })()`
	}
	filter := func(action string) {
		t.Helper()
		tb.setValue("input[name=action]", action)
		tb.run(chromedp.Click(`[aria-labelledby=h-audit] button[type=submit]`, chromedp.ByQuery))
		tb.waitJS("the log filtered to "+action, only(action))
	}
	filter("createAudience")
	tb.run(chromedp.Reload())
	tb.waitJS("the privacy page", `document.querySelector("input[name=action]")`)
	if got := tb.text(`document.querySelector("input[name=action]").value`); got != "createAudience" {
		t.Errorf("reloaded, the audit filter's action holds %q, want createAudience", got)
	}
	tb.waitJS("the log", `document.querySelector("[aria-labelledby=h-audit] tbody tr")`)
	if tb.text(`String(`+only("createAudience")+`)`) != "true" {
		t.Errorf("reloaded, the audit log lists %s, want createAudience entries only", tb.text(`JSON.stringify(`+rows+`)`))
	}

	// Another filter, in a new entry of the tab's history; Back shows
	// the first.
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy?action=profileByIdentifier"))
	tb.waitJS("the log filtered to profileByIdentifier", only("profileByIdentifier"))
	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("the log filtered to createAudience", only("createAudience")+` && document.querySelector("input[name=action]").value === "createAudience"`)
}

// An address whose audit times are not times (a link cut short, edited
// by hand) shows the log without them, rather than failing to draw.
func TestPrivacyAddressWithABadTime(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	tb := newTab(t, s)
	tb.signIn(s.base, keys["admin"])
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy?action=createAudience&from=yesterday&to=2026-13-99T99:99"))
	tb.waitJS("the audit log", `document.querySelector("[aria-labelledby=h-audit] .muted, [aria-labelledby=h-audit] tbody tr, [aria-labelledby=h-audit] .error")`)
	got := tb.text(`document.querySelector("input[name=action]").value + "|" + document.querySelector("input[name=from]").value + "|" + document.querySelector("input[name=to]").value`)
	if got != "createAudience||" {
		t.Errorf("the audit filter's fields hold %q, want createAudience and no times", got)
	}
	// A time that is one is kept.
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy?action=createAudience&from=2026-11-01T10:00"))
	tb.waitJS("the time in its field", `document.querySelector("input[name=from]").value === "2026-11-01T10:00"`)
}
