package privacy

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

func TestConsentPurposes(t *testing.T) {
	p, err := NewPurposes(graph.ConsentRules{
		Purposes:   []string{"analytics", "personalization", "advertising", "email"},
		Categories: map[string]string{"C0004": "advertising", "Analytics": "personalization", "Email Marketing": "email"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		category, want string
		ok             bool
	}{
		{"Advertising", "advertising", true},   // by name, case-insensitively
		{" ADVERTISING ", "advertising", true}, // spaces ignored
		{"email", "email", true},               // exact name
		{"C0004", "advertising", true},         // an explicit entry
		{"c0004", "advertising", true},         // explicit entries ignore case too
		{"email marketing", "email", true},     // explicit, folded
		{"Analytics", "personalization", true}, // an explicit entry wins over the name
		{"analytics", "personalization", true}, // whatever its case
		{"Personalization", "personalization", true},
		{"Functional", "", false},
		{"sms", "", false}, // a default purpose these rules do not list
		{"", "", false},
	}
	for _, c := range cases {
		got, ok := p.Resolve(c.category)
		if got != c.want || ok != c.ok {
			t.Errorf("Resolve(%q) = %q, %v, want %q, %v", c.category, got, ok, c.want, c.ok)
		}
	}
	list := p.List()
	if strings.Join(list, ",") != "analytics,personalization,advertising,email" {
		t.Fatalf("List = %v", list)
	}
	list[0] = "changed"
	if p.List()[0] != "analytics" {
		t.Fatal("List hands out the purposes' own slice")
	}
	if !p.Known("email") || p.Known("sms") || p.Known("Email") {
		t.Fatal("Known is wrong")
	}
	if err := p.Check("email"); err != nil {
		t.Fatal(err)
	}
	err = p.Check("sms")
	if graph.ErrorCode(err) != graph.EINVALID || err.Error() != `purpose "sms" is not known; the purposes are analytics, personalization, advertising, email` {
		t.Fatalf("Check(sms) = %v", err)
	}
}

func TestConsentPurposesDefault(t *testing.T) {
	p := defaultPurposes(t)
	if p.String() != "analytics, personalization, advertising, email, sms, push" {
		t.Fatalf("default purposes = %s", p)
	}
	for _, c := range []string{"Advertising", "Analytics", "Personalization", "Email", "SMS", "Push"} {
		if got, ok := p.Resolve(c); !ok || got != strings.ToLower(c) {
			t.Errorf("Resolve(%q) = %q, %v", c, got, ok)
		}
	}
}

func TestConsentPurposesInvalid(t *testing.T) {
	cases := []struct {
		rules graph.ConsentRules
		want  string
	}{
		{graph.ConsentRules{}, "consent.purposes: list at least one purpose"},
		{graph.ConsentRules{Purposes: []string{"email", "Email"}}, `consent.purposes[1]: "Email" is not a purpose name`},
		{graph.ConsentRules{Purposes: []string{"email"}, Categories: map[string]string{"Ads": "advertising"}}, `consent.categories.Ads: "advertising" is not a purpose; the purposes are email`},
	}
	for _, c := range cases {
		_, err := NewPurposes(c.rules)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewPurposes(%+v) error = %v, want %q", c.rules, err, c.want)
		}
	}
}
