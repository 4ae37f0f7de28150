package access

import (
	"reflect"
	"testing"

	"github.com/idgraph/cdp/graph"
)

func TestMaskEmailAndPhone(t *testing.T) {
	for in, want := range map[string]string{
		"ann@example.com":    "a***@example.com",
		"élodie@exemple.fr":  "é***@exemple.fr",
		"not-an-email":       "***",
		"@example.com":       "***",
		"x@y":                "x***@y",
		"first.last@corp.io": "f***@corp.io",
	} {
		if got := MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"+14155550167":    "+*********67", // the example: 11 digits, 9 hidden
		"+39 333 1234567": "+**********67",
		"0167":            "**67",
		"67":              "***",
		"":                "***",
	} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskerFollowsTheRules(t *testing.T) {
	m := NewMasker(graph.DefaultRules())
	if got := m.Key("email:ann@example.com"); got != "email:a***@example.com" {
		t.Errorf("Key(email) = %q", got)
	}
	if got := m.Key("user_id:u-42"); got != "user_id:u-42" {
		t.Errorf("Key(user_id) = %q, want it unmasked", got)
	}
	if got := m.Value("phone", "+14155550167"); got != "+*********67" {
		t.Errorf("Value(phone) = %q", got)
	}
	traits := map[string]any{
		"name": "Ann", "email": "ann@example.com", "plan": "pro", "age": 41.0,
		"address": map[string]any{"city": "Oslo"},
		"context": map[string]any{"firstName": "Ann", "score": 3.0},
		"contacts": []any{
			map[string]any{"email": "bo@corp.io", "role": "billing"},
			[]any{map[string]any{"phone": "+14155550167"}, "plain"},
			"x",
		},
		"emails": []any{"ann@example.com"},
	}
	want := map[string]any{
		"name": "***", "email": "a***@example.com", "plan": "pro", "age": 41.0,
		"address": "***",
		"context": map[string]any{"firstName": "***", "score": 3.0},
		"contacts": []any{
			map[string]any{"email": "b***@corp.io", "role": "billing"},
			[]any{map[string]any{"phone": "+*********67"}, "plain"},
			"x",
		},
		// A bare value under a name that is not personal is not recognized.
		"emails": []any{"ann@example.com"},
	}
	if got := m.Traits(traits); !reflect.DeepEqual(got, want) {
		t.Errorf("Traits = %v, want %v", got, want)
	}
	if traits["name"] != "Ann" {
		t.Error("Traits changed its argument")
	}
	r, err := graph.ParseRules([]byte(`{"personalData": {"identifierTypes": ["crm_id"], "traits": ["nickname"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	m = NewMasker(r)
	if m.Key("crm_id:C1") != "crm_id:***" || m.Key("email:ann@example.com") != "email:ann@example.com" || m.Trait("nickname", "Annie") != "***" || m.Trait("name", "Ann") != "Ann" {
		t.Error("a rules file's personalData replaces the default lists")
	}
	if _, err := graph.ParseRules([]byte(`{"personalData": {"identifierTypes": ["Bad Type"]}}`)); err == nil {
		t.Error("a bad type name in personalData was accepted")
	}
}

func TestMaskerText(t *testing.T) {
	m := NewMasker(graph.DefaultRules())
	for in, want := range map[string]string{
		"unlinked email:ann@example.com and user_id:u1: wrong merge":     "unlinked email:a***@example.com and user_id:u1: wrong merge",
		"unlinked phone:+14155550167 and email:bo@corp.io: reason":       "unlinked phone:+*********67 and email:b***@corp.io: reason",
		"identifier removed: asked to be forgotten":                      "identifier removed: asked to be forgotten",
		"work_email:ann@example.com is not a personal type in the rules": "work_email:ann@example.com is not a personal type in the rules",
		// Emails may hold quotes, colons and a quoted @ before their last @.
		"unlinked email:o'brien@example.com and user_id:u9: x":   "unlinked email:o***@example.com and user_id:u9: x",
		`unlinked email:"ann.lee"@example.com and user_id:u9: x`: `unlinked email:"***@example.com and user_id:u9: x`,
		`unlinked email:"a@b"@example.com and user_id:u9: x`:     `unlinked email:"***@example.com and user_id:u9: x`,
		"unlinked email:a:b@example.com and email:c'd@corp.io.":  "unlinked email:a***@example.com and email:c***@corp.io.",
		"ends with email:ann@example.com: then more":             "ends with email:a***@example.com: then more",
	} {
		if got := m.Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskerHasPersonal(t *testing.T) {
	m := NewMasker(graph.DefaultRules())
	for _, c := range []struct {
		in   map[string]any
		want bool
	}{
		{map[string]any{"plan": "pro"}, false},
		{map[string]any{"plan": "pro", "name": "Ann"}, true},
		{map[string]any{"billing": map[string]any{"phone": "+14155550167"}}, true},
		{map[string]any{"billing": map[string]any{"zip": "94110"}}, false},
		{map[string]any{"contacts": []any{"x", map[string]any{"name": "Bo"}}}, true},
		{map[string]any{"contacts": []any{[]any{map[string]any{"zip": "94110"}}, "x"}}, false},
		{nil, false},
	} {
		if got := m.HasPersonal(c.in); got != c.want {
			t.Errorf("HasPersonal(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// A trait name is personal in any spelling the erasure takes for it (see
// graph.FieldName): case, '_', '-' and spaces aside, so that "Email" or
// "First Name" is masked as "email" or "first_name" is. The masks are
// worked by hand.
func TestMaskerFoldsTraitNames(t *testing.T) {
	m := NewMasker(graph.DefaultRules())
	traits := map[string]any{
		"Email": "ann@example.com", "EMAIL": "bo@corp.io", "e-mail": "cy@corp.io", "E_Mail ": "di@corp.io",
		"Phone": "+14155550167", "PHONE": "+14155550199",
		"Name": "Ann", "First Name": "Ann", "LAST_NAME": "Lee", "Birth-Day": "1980-01-01",
		"Address": map[string]any{"City": "Oslo"},
		"billing": map[string]any{"Email": "ann@example.com", "zip": "94110"},
		"emails":  "ann@example.com", // another name: not personal
		"Plan":    "pro",
	}
	want := map[string]any{
		"Email": "a***@example.com", "EMAIL": "b***@corp.io", "e-mail": "c***@corp.io", "E_Mail ": "d***@corp.io",
		"Phone": "+*********67", "PHONE": "+*********99",
		"Name": "***", "First Name": "***", "LAST_NAME": "***", "Birth-Day": "***",
		"Address": "***",
		"billing": map[string]any{"Email": "a***@example.com", "zip": "94110"},
		"emails":  "ann@example.com",
		"Plan":    "pro",
	}
	if got := m.Traits(traits); !reflect.DeepEqual(got, want) {
		t.Errorf("Traits\n got %v\nwant %v", got, want)
	}
	for _, name := range []string{"Email", "First Name", "PHONE", "Last-Name"} {
		if !m.PersonalTrait(name) {
			t.Errorf("PersonalTrait(%q) = false", name)
		}
	}
	if m.PersonalTrait("emails") || m.PersonalTrait("plan") {
		t.Error("a name the rules do not list is personal")
	}
	if got := m.Trait("Phone", "+14155550167"); got != "+*********67" {
		t.Errorf("Trait(Phone) = %v", got)
	}
	if !m.HasPersonal(map[string]any{"x": []any{map[string]any{"E-Mail": "a@b.c"}}}) {
		t.Error("HasPersonal misses E-Mail inside a list")
	}
	// A rules file's name folds the same way.
	r, err := graph.ParseRules([]byte(`{"personalData": {"traits": ["Nick Name"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := NewMasker(r).Trait("nickname", "Annie"); got != "***" {
		t.Errorf("rules name \"Nick Name\": Trait(nickname) = %v", got)
	}
	// An email or a phone is masked as one whichever spelling lists it.
	r, err = graph.ParseRules([]byte(`{"personalData": {"traits": ["E-Mail", "PHONE"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := NewMasker(r).Traits(map[string]any{"email": "ann@example.com", "Phone": "+14155550167"}); !reflect.DeepEqual(got,
		map[string]any{"email": "a***@example.com", "Phone": "+*********67"}) {
		t.Errorf("rules names E-Mail and PHONE: Traits = %v", got)
	}
}
