package console_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An action on a listed audience that the API refuses says so on the
// page, naming the audience: a deletion refused (another audience's
// filter names it) was said only in the status line, gone after five
// seconds, as "the audience is named by ..." with no name of the one the
// user meant to delete; a refused export said "Export failed", whichever
// audience it was.
func TestRefusedAudienceActionsNameTheAudience(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "analyst": {"audiences:read", "audiences:write", "profiles:read"}})
	admin := keys["admin"]
	var gold struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation{createAudience(input:{name:"Gold",filter:{trait:{name:"plan",op:EQ,value:"gold"}}}){id}}`, nil, &gold)
	var vip struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation($a:ID!){createAudience(input:{name:"Gold buyers",filter:{and:[{inAudience:$a},{event:{name:"Order Completed"}}]}}){id}}`,
		map[string]any{"a": gold.CreateAudience.ID}, &vip)
	tb := newTab(t, s)
	tb.allowed = []string{"HTTP 403 " + s.base + "/v1/audiences/", "status of 403 (Forbidden) " + s.base + "/v1/audiences/"}
	tb.signIn(s.base, keys["analyst"])
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences"))
	row := fmt.Sprintf(`'tr[data-audience="%s"] button'`, gold.CreateAudience.ID)
	tb.waitJS("the list", `document.querySelector(`+row+`)`)
	const listed = `(document.querySelector("[aria-labelledby=h-list] .error") || {}).textContent || ""`

	// Gold is named by Gold buyers' filter: its deletion is refused.
	tb.eval(`Array.prototype.find.call(document.querySelectorAll(`+row+`), function (b) { return b.textContent === "Delete"; }).click(); true`, new(bool))
	tb.run(chromedp.WaitVisible("dialog[open]", chromedp.ByQuery), chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	tb.waitJS("the refusal", `document.getElementById("status").textContent || document.querySelector("[aria-labelledby=h-list] .error")`)
	if got := tb.text(listed); !strings.Contains(got, "Gold") || !strings.Contains(got, vip.CreateAudience.ID) {
		t.Errorf("the refused deletion of Gold shows %q in the list, want it naming Gold and the audience that names it", got)
	}

	// A raw export without pii:read is refused.
	tb.eval(`Array.prototype.find.call(document.querySelectorAll(`+row+`), function (b) { return b.textContent === "Export CSV"; }).click(); true`, new(bool))
	tb.waitJS("the export refused", `document.querySelector("#export-result.error")`)
	if got := tb.text(`document.getElementById("export-result").textContent`); !strings.Contains(got, "Gold") || !strings.Contains(got, "pii:read") {
		t.Errorf("the refused export of Gold says %q, want it naming Gold and the scope", got)
	}
}
