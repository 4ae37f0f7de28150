package graph

import (
	"strings"
	"testing"
)

func TestReasonProblem(t *testing.T) {
	for _, c := range []struct {
		reason, want string
	}{
		{"GDPR request 1234", ""},
		{"ticket 7:\tnot the same person\nsee notes", ""},
		{strings.Repeat("é", 250), ""}, // 500 bytes
		{"", "must not be empty"},
		{" \t\n ", "must not be empty"},
		{strings.Repeat("é", 250) + "x", "is longer than 500 bytes"},
		{"a\x00b", "holds a control character (only tab and newline are allowed)"},
		{"a\r\nb", "holds a control character (only tab and newline are allowed)"},
		{"a\x1b[2Jb", "holds a control character (only tab and newline are allowed)"},
		{"a\x7fb", "holds a control character (only tab and newline are allowed)"},
		{"a\u0085b", "holds a control character (only tab and newline are allowed)"},
		{"a\xffb", "is not valid UTF-8"},
	} {
		if got := ReasonProblem(c.reason); got != c.want {
			t.Errorf("ReasonProblem(%q) = %q, want %q", c.reason, got, c.want)
		}
	}
}
