package console_test

import (
	"encoding/json"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The console's dialogs, with the keyboard alone: one that asks for input
// starts in its first field, one that only asks whether to go on starts
// on Cancel, never on the button that destroys (Enter pressed at once
// does nothing); Escape cancels, doing nothing, and focus goes back to
// the control that opened the dialog. The dialog deleting an audience
// started on Delete, and the one asking to leave an editor with edits
// not saved, cancelled, left focus at the top of the page.
func TestDialogsWithTheKeyboard(t *testing.T) {
	s, admin, tb := audienceEditor(t)
	var made struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation{createAudience(input:{name:"Silver",filter:{trait:{name:"plan",op:EQ,value:"silver"}}}){id}}`, nil, &made)
	// The editor again, Silver in its list, and a name typed, not saved.
	tb.eval(`location.hash = "#/audiences/new"; true`, new(bool))
	tb.waitJS("Silver in the list", `document.querySelector("tr[data-audience] button")`)
	// Typed without focusing the field: a browser's suggestions for a
	// field focused would take the Enter pressed below.
	tb.eval(`(function () { var i = document.querySelector("#audience-form input[name=name]"); i.value = "Gold";
		i.dispatchEvent(new Event("input", { bubbles: true })); return true; })()`, new(bool))
	const focused = `(function () { var a = document.activeElement; return a ? a.tagName + " " + (a.getAttribute("aria-label") || a.textContent || a.name) : "none"; })()`
	// open focuses the control (sel, then the one whose text is txt) and
	// activates it, as Enter pressed on it does (a click; the key itself
	// may be taken by the browser's own prompts, such as one offering to
	// save the key typed at sign-in).
	open := func(sel, txt string) {
		t.Helper()
		tb.eval(`(function () { var b = Array.prototype.find.call(document.querySelectorAll(`+jsString(sel)+`), function (x) { return x.textContent === `+jsString(txt)+` || x.getAttribute("aria-label") === `+jsString(txt)+`; }); b.focus(); b.click(); return true; })()`, new(bool))
		tb.waitJS("the dialog", `document.querySelector("dialog[open]")`)
	}
	escape := func(what, back string) {
		t.Helper()
		tb.run(chromedp.KeyEvent(kb.Escape))
		tb.waitJS("the dialog closed", `!document.querySelector("dialog[open]")`)
		if got := tb.text(focused); got != back {
			t.Errorf("%s: after Escape the focus is on %q, want %q, which opened the dialog", what, got, back)
		}
	}

	// Leaving the editor, edits not saved, by the nav link.
	open(`a[data-nav]`, "Search")
	if got := tb.text(focused); got != "BUTTON Cancel" {
		t.Errorf("leaving the editor: the dialog starts on %q, want Cancel", got)
	}
	escape("leaving the editor by Search", "A Search")
	// By Sign out.
	open(`#session button`, "Sign out")
	if got := tb.text(focused); got != "BUTTON Cancel" {
		t.Errorf("signing out of the editor: the dialog starts on %q, want Cancel", got)
	}
	escape("signing out of the editor", "BUTTON Sign out")
	if got := tb.text(`location.hash + " " + document.querySelector("#audience-form input[name=name]").value`); got != "#/audiences/new Gold" {
		t.Fatalf("after Escape the page is %q, want the editor with its edits", got)
	}

	// Deleting an audience: starts on Cancel; Escape deletes nothing.
	open(`tr[data-audience] button`, "Delete Silver")
	if got := tb.text(focused); got != "BUTTON Cancel" {
		t.Errorf("deleting an audience: the dialog starts on %q, want Cancel", got)
	}
	escape("deleting an audience", "BUTTON Delete Silver")
	var list struct {
		Audiences struct{ Nodes []struct{ ID string } }
	}
	s.gql(t, admin, `{audiences(first:100){nodes{id}}}`, nil, &list)
	if len(list.Audiences.Nodes) != 1 {
		t.Errorf("after Escape on the delete dialog the API lists %d audiences, want Silver still there", len(list.Audiences.Nodes))
	}

	// A dialog asking for input (merge, on a profile): its first field.
	annID := s.profileID(t, admin, "email", "ann@example.com")
	tb.eval(`location.hash = "#/profile/`+annID+`"; true`, new(bool))
	tb.waitJS("the leave dialog", `document.querySelector("dialog[open]")`)
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Leave without saving"; }).click(); true`, new(bool))
	tb.waitJS("Ann's profile", `document.getElementById("main").getAttribute("data-rendered") === "`+annID+`"`)
	open(`#main button`, "Merge with another profile…")
	if got := tb.text(focused); got != "INPUT mtype" {
		t.Errorf("merging: the dialog starts on %q, want its first field, the identifier type", got)
	}
	escape("merging", "BUTTON Merge with another profile…")
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
