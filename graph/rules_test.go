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
