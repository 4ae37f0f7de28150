package console_test

import (
	"strings"
	"testing"
)

// Signing out of an audience editor whose edits are not saved asks
// first, as going to another page does: Cancel stays signed in on the
// editor with the edits, and leaving without saving signs out.
func TestUnsavedAudienceAsksBeforeSigningOut(t *testing.T) {
	_, _, tb := newGoldAudience(t)
	const signOut = `Array.prototype.find.call(document.querySelectorAll("#session button"), function (b) { return b.textContent === "Sign out"; }).click(); true`
	const stayed = `location.hash === "#/audiences" && document.querySelector("#audience-form input[name=name]") && document.querySelector("#audience-form input[name=name]").value === "Gold" && document.getElementById("session").innerText.indexOf("Sign out") >= 0`

	tb.eval(signOut, new(bool))
	tb.waitJS("the question or the sign-in page", `document.querySelector("dialog[open]") || document.querySelector("input[type=password]")`)
	if tb.text(`String(!!document.querySelector("dialog[open]"))`) != "true" {
		t.Fatalf("Sign out with the new audience unsaved signed out without asking: %s", tb.text(`document.getElementById("main").innerText.slice(0, 200)`))
	}
	if got := tb.text(`document.querySelector("dialog[open]").innerText`); !strings.Contains(got, "not saved") {
		t.Errorf("Sign out with the new audience unsaved: the dialog says %q", got)
	}
	tb.eval(`Array.prototype.find.call(document.querySelectorAll("dialog[open] button"), function (b) { return b.textContent === "Cancel"; }).click(); true`, new(bool))
	tb.waitJS("the dialog closed", `!document.querySelector("dialog[open]")`)
	if tb.text(`String(!!(`+stayed+`))`) != "true" {
		t.Fatalf("Cancel did not stay signed in on the editor: %s", tb.text(`location.hash + " " + document.getElementById("main").innerText.slice(0, 200)`))
	}

	tb.eval(signOut, new(bool))
	tb.waitJS("the question", `document.querySelector("dialog[open]")`)
	tb.eval(`document.querySelector("dialog[open] button[value=ok]").click(); true`, new(bool))
	tb.waitJS("the sign-in page", `document.querySelector("input[type=password]") && !document.querySelector("dialog[open]") && document.getElementById("session").innerText.indexOf("Sign out") < 0`)
}
