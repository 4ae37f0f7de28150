package console_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// answeredWith marks window[flag] once the page's handling of an answer
// whose data[field].nodes holds the node id is over (a task queued behind
// the promise callbacks the answer's JSON runs).
func answeredWith(flag, field, id string) string {
	return fmt.Sprintf(`(function () {
		var orig = Response.prototype.json;
		Response.prototype.json = function () {
			var p = orig.call(this);
			p.then(function (b) {
				var c = b && b.data && b.data[%q];
				if (c && c.nodes && c.nodes.some(function (n) { return n.id === %q; })) setTimeout(function () { window[%q] = true; }, 0);
			}, function () {});
			return p;
		};
		return true;
	})()`, field, id, flag)
}

// A page of search results answered after the user asked for another
// (Next page, then Search again before the second page came) is dropped:
// it used to be drawn too, below the page asked last, so that the search
// showed page 1 and page 2 at once.
func TestLateSearchPageIsNotDrawn(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	admin := keys["admin"]
	second := goldPages(t, s, keys["site"], admin)
	var p1 struct {
		Profiles struct{ Nodes []struct{ ID string } }
	}
	s.gql(t, admin, `query($f:AudienceFilter){profiles(filter:$f,first:20){nodes{id}}}`,
		map[string]any{"f": map[string]any{"trait": map[string]any{"name": "plan", "op": "EQ", "value": "gold"}}}, &p1)
	var first []string
	for _, n := range p1.Profiles.Nodes {
		first = append(first, n.ID)
	}

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	hd := holdRequests(tb)
	tb.setValue(".builder .cond input[spellcheck=false]", "plan")
	tb.setValue(".builder .cond input[name=value]", "gold")
	search := `Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Search"; }).click(); true`
	tb.eval(search, new(bool))
	tb.waitJS("the first page", `document.getElementById("main").innerText.indexOf("23 profiles match; page 1.") >= 0`)

	// Next page, its answer held; Search again, answered at once.
	tb.eval(answeredWith("secondAnswered", "profiles", second[0]), new(bool))
	hd.hold("query Filtered", `"after":"`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Next page"; }).click(); true`, new(bool))
	held := <-hd.held
	tb.eval(search, new(bool))
	tb.waitJS("the first page again", `document.getElementById("main").innerText.indexOf("23 profiles match; page 1.") >= 0`)
	hd.release(held)
	tb.waitJS("the second page's late answer handled", `window.secondAnswered === true`)

	var rows []string
	tb.eval(`Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=by-filter] tbody tr td:first-child"), function (c) { return c.textContent; })`, &rows)
	shown := tb.text(`document.querySelector("[aria-labelledby=by-filter]").innerText`)
	if strings.Join(rows, " ") != strings.Join(first, " ") || strings.Contains(shown, "page 2.") {
		t.Fatalf("after Search, the late answer for page 2 leaves the results listing %v:\n%s\nwant page 1 alone, %v", rows, shown, first)
	}
}

// The audit log and the erasure receipts show the page asked for last: an
// older page answered after it (Older, then Filter or a forget before that
// page came) used to be drawn over it, so that the log applied one filter
// and listed the entries of another, and the receipts listed old ones
// without the erasure just made.
func TestLatePrivacyPagesAreNotDrawn(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	admin := keys["admin"]
	for i := 0; i < 3; i++ {
		s.goldAudience(t, admin, fmt.Sprintf("Audience %d", i))
	}
	s.send(t, keys["site"], "identify", `{"userId":"u-audit","messageId":"a1","timestamp":"2026-11-01T10:00:00Z","traits":{"email":"audit@example.com"}}`)
	// Each read of unmasked personal values is an audit entry.
	const reads = 31
	for i := 0; i < reads; i++ {
		var read struct {
			ProfileByIdentifier struct{ Identifiers []struct{ Value string } }
		}
		s.gql(t, admin, `{profileByIdentifier(type:"email",value:"audit@example.com"){identifiers{value}}}`, nil, &read)
	}
	// 23 erasure receipts: two pages of them.
	for i := 0; i < 23; i++ {
		s.send(t, keys["site"], "identify", fmt.Sprintf(`{"userId":"u-gone-%d","messageId":"g%d","timestamp":"2026-11-01T10:00:00Z"}`, i, i))
		id := s.profileID(t, admin, "user_id", fmt.Sprintf("u-gone-%d", i))
		var r struct{ ForgetProfile struct{ ID string } }
		s.gql(t, admin, `mutation($id:ID!){forgetProfile(id:$id,reason:"request"){id}}`, map[string]any{"id": id}, &r)
	}
	type page struct {
		PageInfo struct{ EndCursor string }
		Nodes    []struct{ ID, Action string }
	}
	byAction := func(action string, want int) []string {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; {
			var all struct{ AuditLog page }
			s.gql(t, admin, `query($f:AuditFilter){auditLog(first:500,filter:$f){nodes{id action}}}`, map[string]any{"f": map[string]any{"action": action}}, &all)
			if len(all.AuditLog.Nodes) >= want {
				var ids []string
				for _, n := range all.AuditLog.Nodes {
					ids = append(ids, n.ID)
				}
				return ids
			}
			if time.Now().After(deadline) {
				t.Fatalf("the audit log holds %d %s entries, want %d", len(all.AuditLog.Nodes), action, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	reads1 := byAction("profileByIdentifier", reads)
	created := byAction("createAudience", 3)
	if len(created) != 3 || len(reads1) < 26 {
		t.Fatalf("the audit log holds %d createAudience and %d profileByIdentifier entries, want 3 and at least 26", len(created), len(reads1))
	}
	// The second page of profileByIdentifier entries starts at the 26th.
	secondRead := reads1[25]

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	hd := holdRequests(tb)
	tb.run(chromedp.Navigate(s.base + "/console/#/privacy"))
	tb.waitJS("the audit log", `document.querySelector("input[name=action]")`)
	tb.setValue("input[name=action]", "profileByIdentifier")
	tb.run(chromedp.Click(`[aria-labelledby=h-audit] button[type=submit]`, chromedp.ByQuery))
	logRows := `Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=h-audit] tbody tr td:nth-child(2)"), function (c) { return c.textContent; })`
	tb.waitJS("the first page of reads", `(function () { var r = `+logRows+`; return r.length === 25 && r.every(function (a) { return a.indexOf("profileByIdentifier") === 0; }); })()`)

	// Older, its answer held; another filter applied, answered at once.
	tb.eval(answeredWith("olderAnswered", "auditLog", secondRead), new(bool))
	hd.hold("query Audit", `"after":"`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("[aria-labelledby=h-audit] button"), function (b) { return b.textContent === "Older"; }).click(); true`, new(bool))
	held := <-hd.held
	tb.setValue("input[name=action]", "createAudience")
	tb.run(chromedp.Click(`[aria-labelledby=h-audit] button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the createAudience entries", `(function () { var r = `+logRows+`; return r.length > 0 && r.every(function (a) { return a.indexOf("createAudience") === 0; }); })()`)
	hd.release(held)
	tb.waitJS("the older page's late answer handled", `window.olderAnswered === true`)
	var got []string
	tb.eval(logRows, &got)
	bad := 0
	for _, a := range got {
		if !strings.HasPrefix(a, "createAudience") {
			bad++
		}
	}
	if len(got) != len(created) || bad > 0 {
		t.Errorf("with the filter createAudience applied, after the late answer of the reads' older page the log lists %d entries, %d of another action: %v; want the API's %d createAudience entries",
			len(got), bad, got, len(created))
	}

	// Receipts: Older, its answer held; a profile forgotten meanwhile
	// shows the newest page again, with its receipt.
	var oldest struct {
		ErasureReceipts struct{ Nodes []struct{ ID string } }
	}
	s.gql(t, admin, `{erasureReceipts(first:500){nodes{id}}}`, nil, &oldest)
	if len(oldest.ErasureReceipts.Nodes) != 23 {
		t.Fatalf("the API holds %d erasure receipts, want 23", len(oldest.ErasureReceipts.Nodes))
	}
	s.send(t, keys["site"], "identify", `{"userId":"u-last","messageId":"last","timestamp":"2026-11-01T10:00:00Z"}`)
	lastID := s.profileID(t, admin, "user_id", "u-last")
	tb.eval(answeredWith("olderReceipts", "erasureReceipts", oldest.ErasureReceipts.Nodes[22].ID), new(bool))
	hd.hold("query Receipts", `"after":"`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("[aria-labelledby=h-rec] button"), function (b) { return b.textContent === "Older"; }).click(); true`, new(bool))
	held = <-hd.held
	tb.setValue("input[name=profile]", lastID)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent.indexOf("Forget") === 0; }).click()`, nil)
	tb.run(chromedp.WaitVisible("dialog[open] textarea", chromedp.ByQuery))
	tb.setValue("dialog[open] textarea", "erasure request")
	tb.setValue("dialog[open] input[name=confirm]", lastID)
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the receipt", `document.getElementById("receipt")`)
	var newest struct {
		ErasureReceipts struct{ Nodes []struct{ ID string } }
	}
	s.gql(t, admin, `{erasureReceipts(first:20){nodes{id}}}`, nil, &newest)
	var want []string
	for _, n := range newest.ErasureReceipts.Nodes {
		want = append(want, n.ID)
	}
	recRows := `Array.prototype.map.call(document.querySelectorAll("[aria-labelledby=h-rec] tbody tr td:first-child"), function (c) { return c.textContent; }).join(" ")`
	tb.waitJS("the newest receipts", fmt.Sprintf(`%s === %q`, recRows, strings.Join(want, " ")))
	hd.release(held)
	tb.waitJS("the older receipts' late answer handled", `window.olderReceipts === true`)
	if got := tb.text(recRows); got != strings.Join(want, " ") {
		t.Errorf("after a forget, the late answer of the older receipts leaves the list at %q, want the newest 20, %q", got, strings.Join(want, " "))
	}
}
