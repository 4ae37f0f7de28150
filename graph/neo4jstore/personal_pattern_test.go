package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestPersonalPatternInCypher: Cypher's =~ (Java's regular expressions,
// matching whole strings) reads graph.PersonalPattern as Go's
// graph.LooksPersonal judges a text, on texts judged by hand: an @ in its
// three forms, 7 digits across separators or not, digits of other
// scripts (outside the BMP too), and line breaks, which Java's . does not
// match without (?s).
func TestPersonalPatternInCypher(t *testing.T) {
	storetest.Neo4j(t)
	s := rawSession(t)
	cases := []struct {
		text string
		want bool
	}{
		{"Order Completed", false},
		{"Invite sent to ann@example.com", true},
		{"a\uff20b", true},
		{"a\ufe6bb", true},
		{"555-0100", true},
		{"555-010", false},
		{"sku_1234567", true},
		{"123456x7", false},
		{"(555) 010 0199", true},
		{"\u0661\u0662\u0663\u0664\u0665\u0666\u0667", true},
		{"\U0001D7CF\U0001D7D0\U0001D7D1\U0001D7D2\U0001D7D3\U0001D7D4\U0001D7D5", true},
		{"12345\u00a067", false},
		{"line\n1234567", true},
		{"1234567\r\nend", true},
		// Kawi digits (Unicode 15), newer than the Unicode tables of the
		// Java that runs Neo4j 5.26: Go's tables know them.
		{"\U00011F50\U00011F51\U00011F52\U00011F53\U00011F54\U00011F55\U00011F56", true},
		// Tangsa digits (Unicode 14) behind a dash.
		{"\U00016AC1\U00016AC2\U00016AC3-\U00016AC4\U00016AC5\U00016AC6\U00016AC7", true},
	}
	texts := make([]any, len(cases))
	for i, c := range cases {
		texts[i] = c.text
		if graph.LooksPersonal(c.text) != c.want {
			t.Fatalf("LooksPersonal(%q) is not %v", c.text, c.want)
		}
	}
	got, _ := single(t, s, `RETURN [x IN $xs | x =~ $p]`, map[string]any{"xs": texts, "p": graph.PersonalPattern}).([]any)
	if len(got) != len(cases) {
		t.Fatalf("got %v for %d texts", got, len(cases))
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("%q =~ PersonalPattern: %v, want %v", c.text, got[i], c.want)
		}
	}
	// The expression paths withholds names with, its rough check first.
	shown, _ := single(t, s, `RETURN [x IN $xs | `+neo4jstore.WithholdPersonal+`]`, map[string]any{"xs": texts,
		"maybePersonal": graph.MaybePersonalPattern, "personal": graph.PersonalPattern, "withhold": "***"}).([]any)
	if len(shown) != len(cases) {
		t.Fatalf("got %v for %d texts", shown, len(cases))
	}
	for i, c := range cases {
		want := c.text
		if c.want {
			want = "***"
		}
		if shown[i] != want {
			t.Errorf("paths shows %q as %q, want %q", c.text, shown[i], want)
		}
	}
}
