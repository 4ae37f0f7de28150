package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// watchRequests records, in the page, every request it sends (fetch) and
// every websocket it opens once window.signedOut is set, and the timers
// pending then: window.timersLeft() counts those not run yet.
func watchRequests(tb *tab) {
	tb.t.Helper()
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, err := page.AddScriptToEvaluateOnNewDocument(`(function () {
  window.afterSignOut = [];
  var pending = {}, at = null;
  var st = window.setTimeout, ct = window.clearTimeout;
  window.setTimeout = function (f, ms) {
    var args = Array.prototype.slice.call(arguments, 2), id;
    id = st.call(window, function () { delete pending[id]; if (typeof f === "function") f.apply(window, args); }, ms);
    pending[id] = true;
    return id;
  };
  window.clearTimeout = function (id) { delete pending[id]; return ct.call(window, id); };
  window.markSignedOut = function () { window.signedOut = true; at = Object.keys(pending); };
  window.timersLeft = function () { return (at || []).filter(function (id) { return pending[id]; }).length; };
  var f = window.fetch;
  window.fetch = function (url, init) {
    if (window.signedOut) {
      var hd = (init && init.headers) || {};
      window.afterSignOut.push(String(url) + (hd.Authorization ? " with a key" : " without a key"));
    }
    return f.apply(window, arguments);
  };
  var W = window.WebSocket;
  window.WebSocket = function (u, p) {
    if (window.signedOut) window.afterSignOut.push("websocket " + u);
    return new W(u, p);
  };
})();`).Do(ctx)
		return err
	}))
}

// signOutNow clicks Sign out, and marks the page signed out in the same
// task, so that nothing the console does afterwards goes unrecorded. An
// edit not saved (an audience's filter typed) makes Sign out ask first:
// the answer, leaving, is given in the same task.
const signOutNow = `(function () {
	Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click();
	var leave = document.querySelector("dialog[open] button[value=ok]");
	if (leave) leave.click();
	window.markSignedOut();
	return true; })()`

// After signing out the console asks nothing more: not the preview of an
// audience being edited (debounced, it used to be sent after the sign-out,
// without a key, and its refusal replaced "Signed out." with "The key was
// refused"), nor what follows an answer that comes back after the
// sign-out (the erasure receipts listed again once a profile is
// forgotten, sent without a key as well).
func TestNoRequestAfterSignOut(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb := newTab(t, s)
	watchRequests(tb)
	tb.signIn(s.base, admin)

	// An audience's filter typed, and the console signed out before its
	// preview is asked for.
	tb.run(chromedp.Navigate(s.base+"/console/#/audiences"), chromedp.WaitVisible("#audience-form .cond input", chromedp.ByQuery))
	tb.waitJS("the first preview", `document.getElementById("preview").textContent.indexOf("Preview waits") >= 0`)
	tb.eval(`(function () { var i = document.querySelector("#audience-form .cond input"); i.value = "plan";
		i.dispatchEvent(new Event("input", { bubbles: true })); return true; })()`, new(bool))
	tb.eval(signOutNow, new(bool))
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	tb.waitJS("the timers pending at the sign-out run", `window.timersLeft() === 0`)
	var sent []string
	tb.eval(`window.afterSignOut`, &sent)
	msg := tb.text(`document.getElementById("main").innerText`)
	if len(sent) > 0 || !strings.Contains(msg, "Signed out.") {
		t.Errorf("signed out with an audience's preview pending, the console sent %q; the sign-in page says:\n%s", sent, msg)
	}

	// A profile forgotten, its answer held until the console signed out.
	tb.eval(`window.signedOut = false; window.afterSignOut = []; true`, new(bool))
	tb.signIn(s.base, admin)
	hd := holdRequests(tb)
	tb.eval(`(function () {
		var orig = Response.prototype.json;
		Response.prototype.json = function () {
			var p = orig.call(this);
			p.then(function (b) { if (b && b.data && b.data.forgetProfile) setTimeout(function () { window.forgetAnswered = true; }, 0); }, function () {});
			return p;
		};
		return true;
	})()`, new(bool))
	tb.run(chromedp.Navigate(s.base+"/console/#/privacy?profile="+bobID), chromedp.WaitVisible("input[name=profile]", chromedp.ByQuery))
	tb.waitJS("the receipts listed", `document.querySelector("[aria-labelledby=h-rec]").innerText.indexOf("No erasure yet") >= 0`)
	hd.hold("forgetProfile", bobID)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("button"), function (b) { return b.textContent.indexOf("Forget") === 0; }).click(); true`, new(bool))
	tb.run(chromedp.WaitVisible("dialog[open] textarea", chromedp.ByQuery))
	tb.setValue("dialog[open] textarea", "erasure request by email")
	tb.setValue("dialog[open] input[name=confirm]", bobID)
	tb.run(chromedp.Click(`dialog[open] button[value=ok]`, chromedp.ByQuery))
	held := <-hd.held
	tb.eval(signOutNow, new(bool))
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	hd.release(held)
	tb.waitJS("the erasure's answer handled", `window.forgetAnswered === true`)
	tb.waitJS("the timers pending at the sign-out run", `window.timersLeft() === 0`)
	tb.eval(`window.afterSignOut`, &sent)
	msg = tb.text(`document.getElementById("main").innerText`)
	if len(sent) > 0 || !strings.Contains(msg, "Signed out.") {
		t.Errorf("signed out with an erasure's answer pending, the console sent %q; the sign-in page says:\n%s", sent, msg)
	}
}
