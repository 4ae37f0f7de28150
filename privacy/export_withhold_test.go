package privacy

import "testing"

// withholdKey replaces a key where it stands whole, as the engine writes
// keys in reasons, and never the start of a longer key.
func TestWithholdKey(t *testing.T) {
	for _, c := range []struct{ in, key, want string }{
		{"event e linked user_id:u1 and email:b@x.com", "email:b@x.com", "event e linked user_id:u1 and email:[withheld]"},
		{"unlinked email:b@x.com and user_id:u1: not hers", "email:b@x.com", "unlinked email:[withheld] and user_id:u1: not hers"},
		{"unlinked user_id:70 and user_id:7: no", "user_id:7", "unlinked user_id:70 and user_id:[withheld]: no"},
		{"event e linked user_id:70 and anonymous_id:a", "user_id:7", "event e linked user_id:70 and anonymous_id:a"},
		{"event xuser_id:7 linked user_id:7 and user_id:7", "user_id:7", "event xuser_id:7 linked user_id:[withheld] and user_id:[withheld]"},
		{"manual: same person", "user_id:7", "manual: same person"},
	} {
		if got := withholdKey(c.in, c.key); got != c.want {
			t.Errorf("withholdKey(%q, %q) = %q, want %q", c.in, c.key, got, c.want)
		}
	}
}
