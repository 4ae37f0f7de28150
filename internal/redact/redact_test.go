package redact

import "testing"

func TestURI(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"bolt://127.0.0.1:7687", "bolt://127.0.0.1:7687"},
		{"neo4j+s://neo4j:s3cret@db.example:7687", "neo4j+s://neo4j:xxxxx@db.example:7687"},
		{"http://admin@cdp.example", "http://admin@cdp.example"},
		// Not a URL (a stray % in the password): no user information.
		{"http://admin:pw%zz@cdp.example:8080", "http://xxxxx@cdp.example:8080"},
		{"admin:pw%zz@cdp.example", "xxxxx@cdp.example"},
		// No "//": read as scheme "admin", the rest opaque.
		{"admin:pw@cdp.example:8080", "xxxxx@cdp.example:8080"},
		{"http://cdp.example/a@b?c=d@e", "http://cdp.example/a@b?c=d@e"},
		{"not a url", "not a url"},
		// A password with a #, / or ? not percent-encoded ends the host
		// there: what comes before it, digits or nothing, reads as a
		// port, so the URL parses with no user information at all and
		// the password's rest stands in its fragment, path or query.
		{"bolt://neo4j:2024#Summer@db.example:7687", "bolt://xxxxx@db.example:7687"},
		{"neo4j://neo4j:2024/x@db.example", "neo4j://xxxxx@db.example"},
		{"bolt://neo4j:99?q@db.example:7687", "bolt://xxxxx@db.example:7687"},
		{"bolt://neo4j:#secret@db.example:7687", "bolt://xxxxx@db.example:7687"},
		{"http://admin:7/pw@cdp.example:8080/readyz", "http://xxxxx@cdp.example:8080/readyz"},
		// Or the user name holds one: the whole user information stands
		// in the fragment, path or query.
		{"bolt://ne#o4j:s3cret@db.example:7687", "bolt://xxxxx@db.example:7687"},
		{"neo4j://ne/o4j:s3cret@db.example", "neo4j://xxxxx@db.example"},
	} {
		if got := URI(c.in); got != c.want {
			t.Errorf("URI(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMethod(t *testing.T) {
	for _, c := range []struct{ in, log, text string }{
		{"GET", "GET", "GET"},
		{"PROPFIND", "HTTP", "(one HTTP does not define, not repeated)"},
		{"get", "HTTP", "(one HTTP does not define, not repeated)"},
		{"ANN.LEE-EXAMPLE.COM", "HTTP", "(one HTTP does not define, not repeated)"},
	} {
		if got := Method(c.in); got != c.log {
			t.Errorf("Method(%q) = %q, want %q", c.in, got, c.log)
		}
		if got := MethodText(c.in); got != c.text {
			t.Errorf("MethodText(%q) = %q, want %q", c.in, got, c.text)
		}
	}
}
