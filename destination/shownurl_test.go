package destination

import "testing"

func TestShownURL(t *testing.T) {
	for _, c := range []struct{ raw, want string }{
		{"https://hooks.example.com/x", "https://hooks.example.com/x"},
		{"https://hooks.example.com/x?token=abc", "https://hooks.example.com/x?…"},
		{"https://hooks.example.com:8443/a%20b/c?", "https://hooks.example.com:8443/a%20b/c?…"},
		{"http://user:pass@hooks.example.com/x", "http://…@hooks.example.com/x"},
		{"http://[2001:db8::1]:8080/?a=1#frag", "http://[2001:db8::1]:8080/?…#…"},
		{"https://hooks.example.com", "https://hooks.example.com"},
		{"::not a url", "(not a URL)"},
	} {
		if got := ShownURL(c.raw); got != c.want {
			t.Errorf("ShownURL(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
	for _, c := range []struct {
		raw  string
		want bool
	}{
		{"https://hooks.example.com/x?…", true},
		{"https://hooks.example.com/x?%E2%80%A6", true},
		{"https://hooks.example.com/x?token=…", false},
		{"https://hooks.example.com/x", false},
	} {
		if got := HoldsShownQuery(c.raw); got != c.want {
			t.Errorf("HoldsShownQuery(%q) = %v, want %v", c.raw, got, c.want)
		}
	}
}
