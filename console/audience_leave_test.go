package console_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Leaving an audience editor whose edits are not saved asks first: going
// to another page (a link, or Back) opens a dialog, and Cancel stays on
// the editor with the edits; closing or reloading the page asks the
// browser's own question. The console used to drop the edits without a
// word. An editor saved, or opened and not changed, lets the user go.
func TestUnsavedAudienceAsksBeforeLeaving(t *testing.T) {
	s, _, tb := newGoldAudience(t)
	var mu sync.Mutex
	var asked []page.DialogType
	chromedp.ListenTarget(tb.ctx, func(ev any) {
		if e, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			mu.Lock()
			asked = append(asked, e.Type)
			mu.Unlock()
			// Stay: the page's own question is answered No.
			go func() { _ = chromedp.Run(tb.ctx, page.HandleJavaScriptDialog(false)) }()
		}
	})
	const left = `document.getElementById("find-identifier") || document.querySelector("dialog[open]")`
	const stayed = `location.hash === "#/audiences" && document.querySelector("#audience-form input[name=name]") && document.querySelector("#audience-form input[name=name]").value === "Gold"`
	question := func(how string) {
		t.Helper()
		tb.waitJS("the question or another page", left)
		if tb.text(`String(!!document.querySelector("dialog[open]"))`) != "true" {
			t.Fatalf("%s with the new audience unsaved, the console left the editor for %s without asking", how, tb.text(`location.hash`))
		}
		if got := tb.text(`document.querySelector("dialog[open]").innerText`); !strings.Contains(got, "not saved") {
			t.Errorf("%s with the new audience unsaved, the dialog says %q", how, got)
		}
		tb.waitJS("the editor's address again", stayed)
	}
	cancel := func() {
		t.Helper()
		tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Cancel"; }).click(); true`, new(bool))
		tb.waitJS("the dialog closed", `!document.querySelector("dialog[open]")`)
		if tb.text(`String(!!(`+stayed+`))`) != "true" {
			t.Fatalf("Cancel left the editor: %s", tb.text(`location.hash + " " + document.getElementById("main").innerText.slice(0, 300)`))
		}
	}

	// A link to another page: asked, Cancel stays.
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	question("Search clicked")
	cancel()
	// Back: asked, Cancel stays.
	tb.eval(`history.back(); true`, new(bool))
	question("Back pressed")
	cancel()
	// The page closed or reloaded: the browser asks (once the user has
	// typed in it), and No stays.
	tb.run(chromedp.Click(`#audience-form input[name=name]`, chromedp.ByQuery))
	tb.run(chromedp.ActionFunc(func(ctx context.Context) error {
		_, _, _, _, err := page.Navigate(s.base + "/healthz").Do(ctx)
		return err
	}))
	tb.waitJS("still the editor", stayed)
	mu.Lock()
	got := append([]page.DialogType(nil), asked...)
	mu.Unlock()
	if len(got) != 1 || got[0] != page.DialogTypeBeforeunload {
		t.Fatalf("leaving the console with the audience unsaved, the browser asked %v, want one beforeunload question", got)
	}
	// Leaving without saving, once confirmed, goes.
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	tb.waitJS("the question", `document.querySelector("dialog[open]")`)
	tb.eval(`document.querySelector("dialog[open] button[value=ok]").click(); true`, new(bool))
	tb.waitJS("the search page", `location.hash === "#/search" && document.getElementById("find-identifier") && !document.querySelector("dialog[open]")`)

	// Saved: nothing to ask.
	tb.run(chromedp.Click(`a[data-nav=audiences]`, chromedp.ByQuery))
	tb.waitJS("a new audience's editor", `document.getElementById("audience-form") && document.querySelector("#audience-form input[name=name]").value === ""`)
	tb.setValue("#audience-form input[name=name]", "Gold")
	tb.setValue("#audience-form .cond input", "plan")
	tb.setValue("#audience-form .cond input:not([spellcheck])", "gold")
	tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the audience saved", `document.getElementById("saved")`)
	id := tb.text(`document.getElementById("saved").getAttribute("data-id")`)
	tb.run(chromedp.Click(`a[data-nav=search]`, chromedp.ByQuery))
	tb.waitJS("the search page or a question", left)
	if tb.text(`String(!!document.querySelector("dialog[open]"))`) != "false" {
		t.Fatalf("leaving a saved audience's editor, the console asks: %s", tb.text(`document.querySelector("dialog[open]").innerText`))
	}
	// Opened and not changed (Back to it): nothing to ask.
	tb.eval(`history.back(); true`, new(bool))
	tb.waitJS("the saved audience's editor", `location.hash === "#/audiences/`+id+`" && document.getElementById("h-builder") && document.getElementById("h-builder").textContent === "Edit Gold"`)
	tb.run(chromedp.Click(`a[data-nav=privacy]`, chromedp.ByQuery))
	tb.waitJS("the privacy page or a question", `document.querySelector("input[name=action]") || document.querySelector("dialog[open]")`)
	if tb.text(`String(!!document.querySelector("dialog[open]"))`) != "false" {
		t.Fatalf("leaving an audience's editor opened and not changed, the console asks: %s", tb.text(`document.querySelector("dialog[open]").innerText`))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 {
		t.Fatalf("the browser asked %v in all, want the one beforeunload question", asked)
	}
}
