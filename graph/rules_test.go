package graph

import (
	"strings"
	"testing"
)

// A rules file is one JSON object. Anything else (nothing, null, an array,
// a second value after the object) is refused with a message that says
// what the file holds instead, never read as the built-in rules.
func TestParseRulesOneObject(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "empty: the file must hold one JSON object"},
		{"blank", " \n\t\r\n", "empty: the file must hold one JSON object"},
		{"null", "null", "the file must hold one JSON object ({...}), not null"},
		{"null with spaces", "\n  null \n", "the file must hold one JSON object ({...}), not null"},
		{"array", "[]", "the file must hold one JSON object ({...}), not an array"},
		{"array of the object", `[{"maxIdentifiers": 3}]`, "the file must hold one JSON object ({...}), not an array"},
		{"string", `"rules.json"`, "the file must hold one JSON object ({...}), not a string"},
		{"number", "5", "the file must hold one JSON object ({...}), not a number"},
		{"negative number", "-5", "the file must hold one JSON object ({...}), not a number"},
		{"boolean", "true", "the file must hold one JSON object ({...}), not true or false"},
		{"junk after", `{"maxIdentifiers": 3} x`, "line 1, column 23: more after the rules object"},
		{"second object", "{\"maxIdentifiers\": 3}\n{\"maxIdentifiers\": 4}\n", "line 2, column 1: more after the rules object"},
		{"comment after", "{}\n// the rules\n", "line 2, column 1: more after the rules object"},
		{"bracket after", "{}}", "line 1, column 3: more after the rules object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := ParseRules([]byte(c.in))
			if err == nil {
				t.Fatalf("ParseRules(%q) = rules with maxIdentifiers %d, want an error saying %q", c.in, r.MaxIdentifiers, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseRules(%q) error %q, want it to say %q", c.in, err, c.want)
			}
		})
	}
	// What may surround the object: JSON whitespace, and a UTF-8 byte
	// order mark, which some editors write first.
	for _, in := range []string{"{\"maxIdentifiers\": 7}\n", "\n\t {\"maxIdentifiers\": 7} \r\n\n", "\ufeff{\"maxIdentifiers\": 7}"} {
		r, err := ParseRules([]byte(in))
		if err != nil {
			t.Errorf("ParseRules(%q): %v", in, err)
			continue
		}
		if r.MaxIdentifiers != 7 {
			t.Errorf("ParseRules(%q): maxIdentifiers %d, want 7", in, r.MaxIdentifiers)
		}
	}
}

// A key given twice is refused: JSON decoders keep the last one, so the
// first would be dropped without a word. An unknown field is placed where
// it is written, with the path to it and the fields that are known there.
func TestParseRulesKeys(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"type twice", `{"types": {"email": {"limit": 2}, "email": {"limit": 3}}}`,
			`line 1, column 35: field "types.email" is given twice`},
		{"top-level field twice", "{\"maxIdentifiers\": 3,\n \"maxIdentifiers\": 4}",
			`line 2, column 2: field "maxIdentifiers" is given twice`},
		{"field twice in a type", "{\"types\": {\n  \"email\": {\"limit\": 2, \"limit\": 3}\n}}",
			`line 2, column 25: field "types.email.limit" is given twice`},
		// encoding/json matches field names ignoring case: "Limit" is limit.
		{"field twice, other case", `{"default": {"limit": 2, "Limit": 3}}`,
			`line 1, column 26: field "default.limit" is given twice`},
		{"category twice", `{"consent": {"categories": {"C0004": "advertising", "C0004": "email"}}}`,
			`line 1, column 53: field "consent.categories.C0004" is given twice`},
		{"unknown field in a type", "{\"types\": {\n  \"email\": {\"limt\": 3}\n},\n\"maxIdentifiers\": 9}",
			`line 2, column 13: unknown field "limt" in types.email (the fields are priority, limit, blocked, blockedPatterns)`},
		{"unknown top-level field", "{\n\"typos\": {}}",
			`line 2, column 1: unknown field "typos" (the fields are defaultRegion, default, types, blocked, blockedPatterns, maxIdentifiers, allowAnyType, personalData, consent)`},
		{"unknown field in consent", `{"consent": {"purpose": ["email"]}}`,
			`line 1, column 14: unknown field "purpose" in consent (the fields are purposes, categories)`},
		{"unknown field in default", `{"default": {"priority": 3, "blocked": [], "Blockd": []}}`,
			`line 1, column 44: unknown field "Blockd" in default`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseRules(%s) error %v, want it to say %q", c.in, err, c.want)
			}
		})
	}
	// Map keys are not fields: a type or a category may be named like one.
	r, err := ParseRules([]byte(`{"types": {"limit": {"limit": 2}, "priority": {"priority": 7}}, "consent": {"categories": {"purposes": "email"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Rule("limit").Limit != 2 || r.Rule("priority").Priority != 7 || r.Consent.Categories["purposes"] != "email" {
		t.Fatalf("types %+v %+v, categories %v", r.Rule("limit"), r.Rule("priority"), r.Consent.Categories)
	}
}

// The top-level blocked values apply to every type, and each is compared
// as that type normalizes it, as a type's own blocked values are: a phone
// number written one way blocks the number however it is sent, an email
// its address whatever the case or form of its domain. The expected keys
// are worked out by hand from the normalization rules in the README.
func TestTopLevelBlockedNormalized(t *testing.T) {
	r, err := ParseRules([]byte(`{
  "blocked": ["null", "555-555-5555", "Ann@STRA\u1e9eE.de", "test@B\u00dcCHER.example", "Jose\u0301"],
  "default": {"blocked": ["Rene\u0301e"]}
}`))
	if err != nil {
		t.Fatal(err)
	}
	n := NewNormalizer(r)
	blocked := []IdentifierRef{
		{"user_id", "null"},
		{"phone", "(555) 555-5555"},
		{"phone", "+1 555 555 5555"},
		{"phone", "+15555555555"},
		{"user_id", "555-555-5555"}, // as written, for a type kept as written
		{"email", "ann@strasse.de"}, // the capital sharp s is ss in a domain
		{"email", "ANN@Strasse.DE"}, // and case does not count
		{"email", "test@xn--bcher-kva.example"},
		{"email", "Test@b\u00fccher.example"},
		{"user_id", "Jos\u00e9"}, // NFC of the value written decomposed
		{"crm_id", "Ren\u00e9e"}, // default's own list, decomposed too
	}
	for _, ref := range blocked {
		if got, why := n.Normalize(ref); why != DropBlocked {
			t.Errorf("%s %q: key %q, drop %q; want blocked", ref.Type, ref.Value, got.Key(), why)
		}
	}
	kept := map[IdentifierRef]string{
		{"phone", "(555) 555-5556"}:      "phone:+15555555556",
		{"user_id", "+15555555555"}:      "user_id:+15555555555", // a user id is not a phone number
		{"email", "ann@strasse.com"}:     "email:ann@strasse.com",
		{"email", "test@bucher.example"}: "email:test@bucher.example",
		{"user_id", "Jose"}:              "user_id:Jose",
	}
	for ref, want := range kept {
		if got, why := n.Normalize(ref); why != "" || got.Key() != want {
			t.Errorf("%s %q: key %q, drop %q; want %q", ref.Type, ref.Value, got.Key(), why, want)
		}
	}
	// A phone number written without its country code is read in the
	// rules' default region.
	it, err := ParseRules([]byte(`{"defaultRegion": "IT", "blocked": ["333 123 4567"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, why := NewNormalizer(it).Normalize(IdentifierRef{"phone", "+39 333 1234567"}); why != DropBlocked {
		t.Errorf("+39 333 1234567 under IT: key %q, drop %q; want blocked", got.Key(), why)
	}
}

// A blocked value no identifier can have (blank, too long, with a control
// or format character, which normalization drops first) would block
// nothing: it is refused, named by its place, never by its value, which
// may be personal data.
func TestBlockedValuesThatBlockNothing(t *testing.T) {
	long := strings.Repeat("a", MaxValueBytes+1)
	for _, c := range []struct{ in, want, secret string }{
		{`{"blocked": ["null", ""]}`, "blocked[1]: empty", ""},
		{`{"blocked": ["   "]}`, "blocked[0]: empty", ""},
		{`{"blocked": ["ann.secret@example.com\u200b"]}`, "blocked[0]: holds a format character", "ann.secret"},
		{`{"blocked": ["ann.secret\u034f@example.com"]}`, "blocked[0]: holds a format character or another invisible one", "ann.secret"},
		{`{"types": {"crm_id": {"blocked": ["\u3164"]}}}`, "types.crm_id.blocked[0]: holds a format character or another invisible one", ""},
		{`{"types": {"phone": {"blocked": ["+1 415\t555 2671", "x"]}}}`, "types.phone.blocked[0]: holds a control character", "415"},
		{`{"types": {"email": {"blocked": ["a", "b", "ann.secret@exa\u0085mple.com"]}}}`, "types.email.blocked[2]: holds a control character", "ann.secret"},
		{`{"default": {"blocked": ["` + long + `"]}}`, "default.blocked[0]: over 1024 bytes", "aaaa"},
		{`{"types": {"crm_id": {"blocked": [" \n "]}}}`, "types.crm_id.blocked[0]: empty", ""},
	} {
		_, err := ParseRules([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRules(%.80s) error %v, want it to say %q", c.in, err, c.want)
			continue
		}
		if c.secret != "" && strings.Contains(err.Error(), c.secret) {
			t.Errorf("ParseRules(%.80s) error %q repeats the value", c.in, err)
		}
	}
	// Whitespace around a value is trimmed, as around an identifier's.
	r, err := ParseRules([]byte(`{"blocked": ["  n/a  "]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, why := NewNormalizer(r).Normalize(IdentifierRef{"user_id", "N/A"}); why != DropBlocked {
		t.Errorf("N/A: drop %q, want blocked", why)
	}
}

// The built-in blocklist, against a list written by hand. What belongs:
// the words programs write for a missing value (null, nil, none,
// undefined, nan, n/a) and for a person not known (anonymous, unknown),
// what languages print for a missing string or object (C's "(null)", Go's
// "<nil>", JavaScript's "[object Object]"), and the sentinels -1 and
// zeros, in any case and in their compatibility forms.
// A minus is a minus however it is typed: the minus sign U+2212 (its
// superscript and subscript forms fold to it), the hyphens U+2010/U+2011,
// the figure dash U+2012 and the en dash U+2013, which word processors and
// spreadsheets put for "-", and the small and fullwidth hyphen-minus. An
// em dash is not a minus.
func TestDefaultBlocklist(t *testing.T) {
	n := NewNormalizer(DefaultRules())
	blocked := []string{
		"null", "NULL", "Null", "nil", "NIL", "Nil", " nil ", "\uff4e\uff49\uff4c",
		"none", "None", "undefined", "nan", "NaN", "anonymous", "unknown", "Unknown",
		"-1", "\u22121", "\u20101", "\u20111", "\u20121", "\u20131", "\ufe631", "\uff0d1", "\u207b1", "\u208b1",
		"0", "000", "-", "--", "0-0", "0\u22120", "\u2212", "\u2013", "\u22120",
		"(null)", "(NULL)", " (null) ", "\uff08null\uff09", "<nil>", "<NIL>", "\uff1cnil\uff1e",
		"[object Object]", "[object object]", "[OBJECT OBJECT]", "n/a", "N/A", "N/a", "\uff4e\uff0f\uff41",
	}
	kept := []string{
		"nil1", "nils", "Nilsson", "anil", "n1l", "nul", "1", "-2", "\u22122", "\u221210", "\u20141",
		"+1", "1-0", "0x0", "10", "nonexistent", "nana",
		"(null", "null)", "(nil)", "<null>", "nil>", "[object]", "[object Array]", "object Object", "na", "n/a/b", "n\\a",
	}
	for _, typ := range []string{TypeUserID, TypeAnonymousID, "crm_id"} {
		for _, v := range blocked {
			if got, why := n.Normalize(IdentifierRef{typ, v}); why != DropBlocked {
				t.Errorf("%s %q (%+q): key %q, drop %q; want blocked", typ, v, v, got.Key(), why)
			}
		}
		for _, v := range kept {
			got, why := n.Normalize(IdentifierRef{typ, v})
			if why != "" || got.Value != v {
				t.Errorf("%s %q (%+q): key %q, drop %q; want kept as sent", typ, v, v, got.Key(), why)
			}
		}
	}
	// An email or phone placeholder is dropped as blocked, before it is
	// read as an address or a number.
	for _, typ := range []string{TypeEmail, TypePhone} {
		for _, v := range []string{"(null)", "<nil>", "[object Object]", "N/A"} {
			if got, why := n.Normalize(IdentifierRef{typ, v}); why != DropBlocked {
				t.Errorf("%s %q: key %q, drop %q; want blocked", typ, v, got.Key(), why)
			}
		}
	}
	// A rules file's own list folds the same way: "-1" there blocks "−1".
	r, err := ParseRules([]byte(`{"blocked": ["-1", "n-a"], "blockedPatterns": []}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"\u22121", "n\u2013a", "n\u2010a"} {
		if got, why := NewNormalizer(r).Normalize(IdentifierRef{TypeUserID, v}); why != DropBlocked {
			t.Errorf("%+q under the file's list: key %q, drop %q; want blocked", v, got.Key(), why)
		}
	}
}

// The names personalData lists are refused when empty or listed twice,
// named by their place: an empty trait name masks nothing, and a name
// listed twice is a mistake (a typo for another name, most often).
func TestParseRulesPersonalDataNames(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"personalData": {"traits": ["email", ""]}}`, "personalData.traits[1]: empty"},
		{`{"personalData": {"traits": ["  "]}}`, "personalData.traits[0]: empty"},
		{`{"personalData": {"traits": ["email", "phone", "email"]}}`, `personalData.traits[2]: "email" is listed twice (also at [0])`},
		{`{"personalData": {"identifierTypes": ["email", "crm_id", "crm_id"]}}`, `personalData.identifierTypes[2]: "crm_id" is listed twice (also at [1])`},
		{`{"personalData": {"identifierTypes": ["email", ""]}}`, `personalData.identifierTypes[1]: "" is not a type name`},
	} {
		_, err := ParseRules([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRules(%s) error %v, want it to say %q", c.in, err, c.want)
		}
	}
	// Names differing in case are two names: masking compares them exactly.
	r, err := ParseRules([]byte(`{"personalData": {"identifierTypes": ["email", "phone"], "traits": ["email", "Email", "nickname"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.PersonalData.Traits) != 3 || len(r.PersonalData.IdentifierTypes) != 2 {
		t.Fatalf("personalData %+v", r.PersonalData)
	}
}

// A value of the wrong type under consent is named by its JSON path,
// category included: the decoder leaves map keys out of its path, which
// named "consent.categories" for a category mapped to a list, as if the
// categories were to be a string.
func TestParseRulesConsentTypeErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"consent": {"categories": {"C0004": ["advertising"]}}}`,
			`line 1, column 39: field "consent.categories.C0004" must be string, not array`},
		{"{\"consent\": {\"categories\": {\"C0001\": \"analytics\",\n  \"C0004\": 4}}}",
			`line 2, column 13: field "consent.categories.C0004" must be string, not number`},
		{`{"consent": {"purposes": ["email"], "categories": {"C0002": "email", "C0003": {"purpose": "email"}}}}`,
			`field "consent.categories.C0003" must be string, not object`},
		// encoding/json matches field names ignoring case.
		{`{"Consent": {"Categories": {"C0004": true}}}`,
			`field "consent.categories.C0004" must be string, not bool`},
		{`{"consent": {"categories": "advertising"}}`,
			`line 1, column 41: field "consent.categories" must be map[string]string, not string`},
		{`{"consent": {"categories": ["C0004"]}}`,
			`field "consent.categories" must be map[string]string, not array`},
		{`{"consent": {"purposes": "email"}}`,
			`field "consent.purposes" must be []string, not string`},
		{`{"consent": "all"}`,
			`field "consent" must be graph.ConsentRules, not string`},
		// A type's rule of the wrong type is named the same way.
		{`{"types": {"email": {"limit": 5}, "crm_id": 3}}`,
			`field "types.crm_id" must be graph.TypeRule, not number`},
		{`{"Types": {"email": {"limit": "five"}}}`,
			`field "types.email.limit" must be int, not string`},
	} {
		_, err := ParseRules([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseRules(%s) error %v, want it to say %q", c.in, err, c.want)
		}
	}
}

// TestTopLevelBlockedEmailByItsAddress: a top-level blocked email blocks
// the address it normalizes to, and no other. Lowercasing an address as
// sent is not its normalization: a capital sharp s (U+1E9E) lowercases to
// ß, while in a domain IDNA maps it to ss, so "ann@STRAẞE.de" is
// ann@strasse.de, another address than ann@straße.de
// (ann@xn--strae-oqa.de). Worked by hand from the README's rules: the
// entry "ann@straße.de" blocks ann@xn--strae-oqa.de however it is
// written, and neither spelling of ann@strasse.de; the entry
// "bob@STRAẞE.de" blocks bob@strasse.de and not bob@straße.de.
func TestTopLevelBlockedEmailByItsAddress(t *testing.T) {
	r, err := ParseRules([]byte(`{"blocked": ["null", "ann@stra\u00dfe.de", "bob@STRA\u1e9eE.de"]}`))
	if err != nil {
		t.Fatal(err)
	}
	n := NewNormalizer(r)
	for _, v := range []string{"ann@stra\u00dfe.de", "ANN@STRA\u00dfE.DE", "ann@xn--strae-oqa.de", "bob@strasse.de", "bob@STRA\u1e9eE.de", "Bob@Strasse.de", "null"} {
		if got, why := n.Normalize(IdentifierRef{"email", v}); why != DropBlocked {
			t.Errorf("email %q: key %q, drop %q; want blocked", v, got.Key(), why)
		}
	}
	kept := map[string]string{
		"ann@STRA\u1e9eE.de":   "email:ann@strasse.de",
		"ann@strasse.de":       "email:ann@strasse.de",
		"bob@stra\u00dfe.de":   "email:bob@xn--strae-oqa.de",
		"BOB@xn--strae-oqa.de": "email:bob@xn--strae-oqa.de",
	}
	for v, want := range kept {
		if got, why := n.Normalize(IdentifierRef{"email", v}); why != "" || got.Key() != want {
			t.Errorf("email %q: key %q, drop %q; want %q", v, got.Key(), why, want)
		}
	}
}
