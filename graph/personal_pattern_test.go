package graph

import (
	"regexp"
	"testing"
	"unicode"

	"pgregory.net/rapid"
)

// personalCases are texts judged by hand by the rule of LooksPersonal: an
// @ (or its fullwidth or small form), or 7 decimal digits with only
// spaces, dots, dashes, slashes, pluses and parentheses between them.
var personalCases = []struct {
	text string
	want bool
}{
	{"Order Completed", false},
	{"Invite sent to ann@example.com", true},
	{"a\uff20b", true},
	{"a\ufe6bb", true},
	{"555-0100", true},
	{"555-010", false},
	{"sku_123456", false},
	{"sku_1234567", true},
	{"12 34 56 7", true},
	{"123456x7", false},
	{"q2_2024 (v1.2.3)", false},
	{"(555) 010 0199", true},
	{"\u0661\u0662\u0663\u0664\u0665\u0666\u0667", true}, // Arabic-Indic digits
	{"\U0001D7CF\U0001D7D0\U0001D7D1\U0001D7D2\U0001D7D3\U0001D7D4\U0001D7D5", true}, // mathematical bold digits, outside the BMP
	{"12345\u00a067", false}, // a no-break space is no separator
	{"line\n1234567", true},
	{"1234567\nend", true},
	{"", false},
}

// TestLooksPersonal checks the rule against the texts judged by hand, and
// PersonalPattern, read by Go's regexp, against both: the hand-judged
// texts and random texts over digits, separators, @ and letters.
func TestLooksPersonal(t *testing.T) {
	re := regexp.MustCompile(`^(?:` + PersonalPattern + `)$`)
	for _, c := range personalCases {
		if got := LooksPersonal(c.text); got != c.want {
			t.Errorf("LooksPersonal(%q) = %v, want %v", c.text, got, c.want)
		}
		if got := re.MatchString(c.text); got != c.want {
			t.Errorf("PersonalPattern on %q: %v, want %v", c.text, got, c.want)
		}
	}
	maybe := regexp.MustCompile(`^(?:` + MaybePersonalPattern + `)$`)
	for _, c := range personalCases {
		if c.want && !maybe.MatchString(c.text) {
			t.Errorf("MaybePersonalPattern misses %q, which looks personal", c.text)
		}
	}
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringOf(rapid.RuneFrom([]rune("0123456789 .-/+()@x\n\u0661\uff20\u00e9\u4e2d"))).Draw(t, "text")
		if a, b := LooksPersonal(s), re.MatchString(s); a != b {
			t.Fatalf("%q: LooksPersonal %v, PersonalPattern %v", s, a, b)
		}
		if a := LooksPersonal(s); a && !maybe.MatchString(s) {
			t.Fatalf("%q looks personal, and MaybePersonalPattern misses it", s)
		}
	})
	// Every decimal digit is one of the rough class's.
	rough := regexp.MustCompile(`^` + roughDigitClass + `$`)
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if unicode.IsDigit(c) && !rough.MatchString(string(c)) {
			t.Errorf("U+%04X is a digit outside the rough class", c)
		}
	}
}
