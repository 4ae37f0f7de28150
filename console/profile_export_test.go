package console_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// A data export refused on the profile page is said on the page, under
// the actions, naming the profile and the server's reason, and stays
// until the next try: it used to be said only in the status line, which
// clears itself after five seconds. A later export that succeeds removes
// it.
func TestProfileExportFailureStaysOnThePage(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	annID := s.profileID(t, keys["admin"], "email", "ann@example.com")
	tb := newTab(t, s)
	exportURL := s.base + "/v1/privacy/profiles/" + annID + "/export"
	tb.allowed = []string{"HTTP 503 " + exportURL, "status of 503 (Service Unavailable) " + exportURL}
	tb.signIn(s.base, keys["admin"])
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)

	// The export is answered 503, as by a server whose store is down.
	refuse := make(chan struct{}, 1)
	refuse <- struct{}{}
	chromedp.ListenTarget(tb.ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		select {
		case <-refuse:
			body := base64.StdEncoding.EncodeToString([]byte(`{"error":"the store is unavailable; retry later","code":"UNAVAILABLE"}`))
			go func() {
				_ = chromedp.Run(tb.ctx, fetch.FulfillRequest(e.RequestID, 503).WithBody(body).
					WithResponseHeaders([]*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}}))
			}()
		default:
			go func() { _ = chromedp.Run(tb.ctx, fetch.ContinueRequest(e.RequestID)) }()
		}
	})
	tb.run(fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/export"}}))
	click := `Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent === "Download data export"; }).click(); true`

	tb.eval(click, new(bool))
	tb.waitJS("the refusal on the page", `document.querySelector("#main #export-error")`)
	shown := tb.text(`document.getElementById("export-error").textContent`)
	if !strings.Contains(shown, annID) || !strings.Contains(shown, "the store is unavailable; retry later") ||
		tb.text(`document.getElementById("export-error").getAttribute("role")`) != "alert" {
		t.Fatalf("the refused export shows %q; want an alert naming profile %s and the server's reason", shown, annID)
	}

	tb.eval(click, new(bool))
	tb.waitJS("the export downloaded", `document.getElementById("status").textContent.indexOf("Data export downloaded") === 0`)
	if tb.text(`String(!!document.getElementById("export-error"))`) != "false" {
		t.Fatal("after an export that succeeded, the earlier refusal is still shown")
	}
}
