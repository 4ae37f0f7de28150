package console_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An audience edited in the console after another editor saved it since
// the console read it is not saved over the other edit: the save is
// refused, saying so, and the other editor's definition stays whole.
// Opened again, the editor reads what is stored and saves.
func TestAudienceEditorDoesNotOverwriteAnotherEdit(t *testing.T) {
	s, admin, tb := newGoldAudience(t)
	save := func() (id, refusal string) {
		t.Helper()
		tb.eval(`(function () { var s = document.getElementById("saved"); if (s) s.remove(); var e = document.querySelector("#audience-form .error"); if (e) e.remove(); return true; })()`, nil)
		tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
		tb.waitJS("the answer to the save", `document.getElementById("saved") || document.querySelector("#audience-form .error")`)
		refusal = tb.text(`(function () { var e = document.querySelector("#audience-form .error"); return e ? e.textContent : ""; })()`)
		if refusal != "" {
			return "", refusal
		}
		return tb.text(`document.getElementById("saved").getAttribute("data-id")`), ""
	}
	id, refusal := save()
	if refusal != "" {
		t.Fatalf("saving the new audience failed: %s", refusal)
	}
	// Saved again from the editor: its own save is no other edit.
	tb.setValue("#audience-form input[name=name]", "Gold, renamed")
	if _, refusal := save(); refusal != "" {
		t.Fatalf("saving the audience again from its editor failed: %s", refusal)
	}
	// Another editor saves a description meanwhile.
	s.gql(t, admin, `mutation($id: ID!) { updateAudience(id: $id, input: {name: "Gold, renamed", description: "kept by the other editor", filter: {trait: {name: "plan", op: EQ, value: "gold"}}}) { id } }`,
		map[string]any{"id": id}, &struct{}{})
	tb.setValue("#audience-form input[name=name]", "Gold, stale")
	if _, refusal := save(); !strings.Contains(refusal, "changed since") {
		t.Fatalf("saving over another edit answered %q, want a refusal saying the audience changed since", refusal)
	}
	var got struct {
		Audience struct {
			Name        string
			Description *string
		}
	}
	s.gql(t, admin, `query($id: ID!) { audience(id: $id) { name description } }`, map[string]any{"id": id}, &got)
	if got.Audience.Name != "Gold, renamed" || got.Audience.Description == nil || *got.Audience.Description != "kept by the other editor" {
		t.Fatalf("after the refused save the audience is %+v, want the other editor's", got.Audience)
	}
	// The edit not saved is given up (leaving would ask first), and the
	// page read again.
	tb.setValue("#audience-form input[name=name]", "Gold, renamed")
	tb.run(chromedp.Reload())
	tb.waitJS("the editor of the audience", `document.getElementById("h-builder") && document.getElementById("h-builder").textContent === "Edit Gold, renamed"`)
	tb.setValue("#audience-form input[name=name]", "Gold, again")
	if _, refusal := save(); refusal != "" {
		t.Fatalf("saving after reading again failed: %s", refusal)
	}
	s.gql(t, admin, `query($id: ID!) { audience(id: $id) { name description } }`, map[string]any{"id": id}, &got)
	if got.Audience.Name != "Gold, again" || got.Audience.Description == nil || *got.Audience.Description != "kept by the other editor" {
		t.Fatalf("after saving again the audience is %+v", got.Audience)
	}
}
