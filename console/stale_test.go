package console_test

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// holder pauses the page's GraphQL requests whose body holds every one of
// the strings of match (the DevTools protocol's Fetch domain), and lets
// every other request go on at once.
type holder struct {
	tb    *tab
	mu    sync.Mutex
	match []string
	held  chan fetch.RequestID
}

func holdRequests(tb *tab) *holder {
	hd := &holder{tb: tb, held: make(chan fetch.RequestID, 4)}
	chromedp.ListenTarget(tb.ctx, func(ev any) {
		e, ok := ev.(*fetch.EventRequestPaused)
		if !ok {
			return
		}
		body := requestBody(e.Request)
		hd.mu.Lock()
		hold := len(hd.match) > 0
		for _, m := range hd.match {
			hold = hold && strings.Contains(body, m)
		}
		hd.mu.Unlock()
		if hold {
			hd.held <- e.RequestID
			return
		}
		go func() { _ = chromedp.Run(tb.ctx, fetch.ContinueRequest(e.RequestID)) }()
	})
	tb.run(fetch.Enable().WithPatterns([]*fetch.RequestPattern{{URLPattern: "*/graphql"}}))
	return hd
}

func (hd *holder) hold(match ...string) {
	hd.mu.Lock()
	defer hd.mu.Unlock()
	hd.match = match
}

func (hd *holder) release(id fetch.RequestID) {
	hd.hold()
	hd.tb.run(fetch.ContinueRequest(id))
}

func requestBody(r *network.Request) string {
	var b strings.Builder
	for _, e := range r.PostDataEntries {
		if d, err := base64.StdEncoding.DecodeString(e.Bytes); err == nil {
			b.Write(d)
		}
	}
	return b.String()
}

// answeredHook marks window[flag] once the page's handling of an answer
// for the profile id is over: after the promise callbacks the answer's
// JSON runs (a task queued behind them).
func answeredHook(flag, id string) string {
	return `(function () {
		var orig = Response.prototype.json;
		Response.prototype.json = function () {
			var p = orig.call(this);
			p.then(function (b) {
				if (b && b.data && b.data.profile && b.data.profile.id === "` + id + `") setTimeout(function () { window["` + flag + `"] = true; }, 0);
			}, function () {});
			return p;
		};
		return true;
	})()`
}

// A profile's answer that arrives after the user went on to another page
// (another profile, here) is dropped: it used to be drawn over the page
// shown, so the address named Bob's profile while Ann's was on screen;
// and after signing out it drew Ann's profile over the sign-in page.
func TestLateProfileAnswerIsNotShownOverAnotherPage(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	annID := s.profileID(t, admin, "email", "ann@example.com")
	bobID := s.profileID(t, admin, "email", "bob@example.com")
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	hd := holdRequests(tb)

	// Ann's profile is asked for and its answer held; Bob's is opened.
	hd.hold("Profile360", annID)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	held := <-hd.held
	tb.eval(answeredHook("annAnswered", annID), new(bool))
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + bobID))
	tb.waitJS("Bob's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+bobID+`"`)
	hd.release(held)
	tb.waitJS("Ann's late answer handled", `window.annAnswered === true`)
	main := tb.text(`document.getElementById("main").innerText`)
	rendered := tb.text(`document.getElementById("main").getAttribute("data-rendered")`)
	if rendered != bobID || strings.Contains(main, "ann@example.com") || !strings.Contains(main, "bob@example.com") {
		t.Fatalf("at #/profile/%s (Bob) after Ann's late answer the page shows profile %s:\n%s", bobID, rendered, main)
	}

	// Ann's profile is asked for again, held, and the user signs out.
	tb.eval(`window.annAnswered = false; true`, new(bool))
	hd.hold("Profile360", annID)
	tb.run(chromedp.Navigate(s.base + "/console/#/profile/" + annID))
	held = <-hd.held
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`, new(bool))
	tb.waitJS("the sign-in page", `document.getElementById("signin")`)
	hd.release(held)
	tb.waitJS("Ann's late answer handled", `window.annAnswered === true`)
	main = tb.text(`document.getElementById("main").innerText`)
	if tb.text(`String(!!document.getElementById("signin"))`) != "true" || strings.Contains(main, "ann@example.com") {
		t.Fatalf("after signing out, Ann's late answer shows:\n%s", main)
	}
}
