package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// A change committed after the profile page read its data, but before
// the server started its subscription, still redraws the page: the page
// follows the profile from the cursor its read returned
// (profileChanged(after:)). The page used to subscribe from whatever was
// newest when the subscription started, and such a change was never
// shown, while the page said it was live. The test holds the page's
// subscribe message until the change is committed.
func TestLiveFollowsFromTheRead(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb := newTab(t, s)
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`(function () {
  var held = [];
  window.heldSubscribes = 0;
  window.releaseSubscribes = function () { var h = held; held = null; h.forEach(function (f) { f(); }); };
  var send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    var ws = this;
    if (held && typeof data === "string" && data.indexOf('"type":"subscribe"') >= 0) {
      window.heldSubscribes++;
      held.push(function () { send.call(ws, data); });
      return;
    }
    return send.call(ws, data);
  };
})();`).Do(ctx)
		return err
	}))
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	tb.waitJS("the profile", `document.getElementById("main").getAttribute("data-rendered")`)
	tb.waitJS("the subscription held", `window.heldSubscribes === 1`)
	tb.eval(`window.sameDocument = true`, nil)

	s.send(t, keys["site"], "track", `{"userId":"u-ann","messageId":"held1","event":"Held Change","timestamp":"`+time.Now().UTC().Format(time.RFC3339)+`"}`)
	tb.eval(`window.releaseSubscribes(); true`, new(bool))
	tb.waitJS("the page redrawn with the change made before the subscription started",
		`window.sameDocument && document.getElementById("notice") && document.getElementById("journey").innerText.indexOf("Held Change") >= 0`)
	s.waitSubscribed(t, 1)
}
