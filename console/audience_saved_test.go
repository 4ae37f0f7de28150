package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// A new audience, once saved, is the audience the editor edits, and the
// page the address names: saved again, it is updated. The editor used to
// stay a "New audience" form at #/audiences, so a second Save created a
// second audience, and a reload lost the audience shown.
func TestSavedNewAudienceIsEditedAfter(t *testing.T) {
	s, admin, tb := newGoldAudience(t)
	save := func() string {
		t.Helper()
		tb.eval(`(function () { var s = document.getElementById("saved"); if (s) s.remove(); return true; })()`, nil)
		tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
		tb.waitJS("the audience saved", `document.getElementById("saved") || document.querySelector("#audience-form .error")`)
		if msg := tb.text(`(function () { var e = document.querySelector("#audience-form .error"); return e ? e.textContent : ""; })()`); msg != "" {
			t.Fatalf("saving failed: %s", msg)
		}
		return tb.text(`document.getElementById("saved").getAttribute("data-id")`)
	}
	id := save()
	tb.setValue("#audience-form input[name=name]", "Gold, renamed")
	if again := save(); again != id {
		t.Errorf("saved again, the new audience %s was saved as another one, %s", id, again)
	}
	var list struct {
		Audiences struct{ Nodes []struct{ ID, Name string } }
	}
	s.gql(t, admin, `{audiences(first:100){nodes{id name}}}`, nil, &list)
	if len(list.Audiences.Nodes) != 1 || list.Audiences.Nodes[0].ID != id || list.Audiences.Nodes[0].Name != "Gold, renamed" {
		t.Errorf("after saving a new audience twice the API lists %+v, want %s alone, renamed", list.Audiences.Nodes, id)
	}
	if got := tb.text(`location.hash + " " + document.getElementById("h-builder").textContent`); got != "#/audiences/"+id+" Edit Gold, renamed" {
		t.Errorf("after saving a new audience the page is %q, want its editor at its address", got)
	}
	// Reloaded, the page shows the audience saved.
	tb.run(chromedp.Reload())
	tb.waitJS("the editor of the audience saved", `document.getElementById("h-builder") && document.getElementById("h-builder").textContent === "Edit Gold, renamed"`)
}

// Save pressed twice before the first answer saves one audience: the
// second press, while the first is on its way, does nothing.
func TestDoubleSaveCreatesOneAudience(t *testing.T) {
	s, admin, tb := newGoldAudience(t)
	// Both presses in one task: no answer can arrive between them.
	tb.eval(`(function () { var b = document.querySelector("#audience-form button[type=submit]"); b.click(); b.click(); return true; })()`, nil)
	tb.waitJS("the audience saved", `document.getElementById("saved") || document.querySelector("#audience-form .error")`)
	var list struct {
		Audiences struct{ Nodes []struct{ ID, Name string } }
	}
	// The list the editor reloads after saving has come back: any second
	// create sent with the first has been answered by now.
	tb.waitJS("the list reloaded", `document.querySelectorAll("a[href^='#/audiences/seg_']").length > 0`)
	s.gql(t, admin, `{audiences(first:100){nodes{id name}}}`, nil, &list)
	if len(list.Audiences.Nodes) != 1 {
		t.Errorf("Save pressed twice saved %d audiences: %+v", len(list.Audiences.Nodes), list.Audiences.Nodes)
	}
}

// audienceEditor signs an admin (every scope) in on the seeded store and
// opens the editor of a new audience. It returns the service, the admin's
// key and the tab.
func audienceEditor(t *testing.T) (*service, string, *tab) {
	t.Helper()
	s, keys := startService(t, map[string][]string{"admin": allScopes, "site": {"events:write"}})
	s.seed(t, keys["site"])
	admin := keys["admin"]
	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base+"/console/#/audiences"), chromedp.WaitVisible("#audience-form", chromedp.ByQuery))
	return s, admin, tb
}

// newGoldAudience is audienceEditor with the editor filled: named Gold,
// of the profiles whose plan is gold, not yet saved.
func newGoldAudience(t *testing.T) (*service, string, *tab) {
	t.Helper()
	s, admin, tb := audienceEditor(t)
	tb.setValue("#audience-form input[name=name]", "Gold")
	tb.setValue("#audience-form .cond input", "plan")
	tb.setValue("#audience-form .cond input:not([spellcheck])", "gold")
	return s, admin, tb
}
