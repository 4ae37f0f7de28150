package graph

import "testing"

// scrubField, for an event's name, channel and campaign: an erased value
// inside is replaced, a field that is one as a whole (however spelt)
// becomes [erased], and a short value alone, which names no person there,
// stays.
func TestErasedScrubField(t *testing.T) {
	x := annErased()
	for _, c := range []struct {
		in, want string
		changed  bool
	}{
		{"Invited ann@example.com", "Invited [erased]", true},
		{"winback  ANN@Example.com (2nd)", "winback  [erased] (2nd)", true},
		{" ANN@EXAMPLE.COM ", "[erased]", true}, // whole, generic normal form
		{"(415) 555-0167", "[erased]", true},    // whole, as a phone
		// The phone normalization reads the whole text as the erased
		// phone, as it does for a property value.
		{"call (415) 555-0167", "[erased]", true},
		{"call +14155550167", "[erased]", true},
		{"ref +14155550167 and ann@example.com", "ref [erased] and [erased]", true},
		{"user_id:7 signed up", "[erased] signed up", true}, // an erased key
		{"7", "7", false}, // a short id alone: an event named "7"
		{"Annabel  Quist's order", "[erased]'s order", true},
		{"spring-sale", "spring-sale", false},
		{"", "", false},
		{"[erased]", "[erased]", false},
	} {
		got, changed := x.scrubField(c.in)
		if got != c.want || changed != c.changed {
			t.Errorf("scrubField(%q) = %q, %v; want %q, %v", c.in, got, changed, c.want, c.changed)
		}
	}
}
