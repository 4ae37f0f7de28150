package dump

import "testing"

// A copy's verification compares every count but a suppression secret
// that keys nothing on either side.
func TestCountsDiffer(t *testing.T) {
	for _, c := range []struct {
		name string
		a, b Counts
		k    Kind
		want bool
	}{
		{"same", Counts{Profiles: 3}, Counts{Profiles: 3}, Profiles, false},
		{"profiles", Counts{Profiles: 3}, Counts{Profiles: 4}, Profiles, true},
		{"a secret keying nothing on one side", Counts{SuppressionKey: 0}, Counts{SuppressionKey: 1}, SuppressionKey, false},
		{"a secret keying suppressed hashes", Counts{SuppressionKey: 1, Suppressed: 2}, Counts{SuppressionKey: 0}, SuppressionKey, true},
		{"a secret keying retired profile ids", Counts{SuppressionKey: 0}, Counts{SuppressionKey: 1, RetiredIDs: 1}, SuppressionKey, true},
		{"suppressed hashes", Counts{SuppressionKey: 1, Suppressed: 2}, Counts{SuppressionKey: 1}, Suppressed, true},
	} {
		for _, ab := range [][2]Counts{{c.a, c.b}, {c.b, c.a}} {
			if got := ab[0].Differ(ab[1], c.k); got != c.want {
				t.Errorf("%s: %v and %v differ in %s: %v, want %v", c.name, ab[0], ab[1], c.k, got, c.want)
			}
		}
	}
}
