package console_test

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// An audience whose description has several lines (as the API allows:
// tab and newline) keeps them when it is renamed in the console. The
// description used to be edited in a one-line field, which drops line
// breaks, so renaming an audience silently rewrote its description.
func TestAudienceDescriptionKeepsItsLines(t *testing.T) {
	s, keys := startService(t, map[string][]string{"admin": allScopes})
	admin := keys["admin"]
	const desc = "Spring campaign.\nOwner: CRM team\tsince 2026."
	var made struct{ CreateAudience struct{ ID string } }
	s.gql(t, admin, `mutation($d:String){createAudience(input:{name:"Gold",description:$d,filter:{trait:{name:"plan",op:EQ,value:"gold"}}}){id}}`,
		map[string]any{"d": desc}, &made)
	id := made.CreateAudience.ID

	tb := newTab(t, s)
	tb.signIn(s.base, admin)
	tb.run(chromedp.Navigate(s.base + "/console/#/audiences/" + id))
	tb.waitJS("the editor", `document.getElementById("h-builder").textContent === "Edit Gold"`)
	tb.setValue("#audience-form input[name=name]", "Gold members")
	tb.run(chromedp.Click(`#audience-form button[type=submit]`, chromedp.ByQuery))
	tb.waitJS("the audience saved", `document.getElementById("saved") || document.querySelector("#audience-form .error")`)
	if msg := tb.text(`(function () { var e = document.querySelector("#audience-form .error"); return e ? e.textContent : ""; })()`); msg != "" {
		t.Fatalf("saving failed: %s", msg)
	}
	var got struct {
		Audience struct{ Name, Description string }
	}
	s.gql(t, admin, `query($id:ID!){audience(id:$id){name description}}`, map[string]any{"id": id}, &got)
	if got.Audience.Name != "Gold members" || got.Audience.Description != desc {
		t.Fatalf("after renaming, the audience is named %q described %q, want %q described %q", got.Audience.Name, got.Audience.Description, "Gold members", desc)
	}
}
