package main

import (
	"context"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/internal/storetest"
)

// withUserInfo writes user:password into a Bolt URI, as some users try to
// give their credentials.
func withUserInfo(t *testing.T, uri, user, password string) string {
	t.Helper()
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		t.Fatalf("URI %q has no scheme", uri)
	}
	return scheme + "://" + user + ":" + password + "@" + rest
}

// A password written into a Neo4j URI is never repeated by cdp copy,
// which refuses such a URI (credentials are not read from it): not when
// one store is given twice, not when the URI cannot be read as a URL, not
// when the other side is a Neo4j that answers, which is left as it was.
func TestCopyNeverShowsAPasswordOfAURI(t *testing.T) {
	const password = "Pw-4c1d-never-shown"
	check := func(what, out, errOut string, code, wantCode int, wantText string) {
		t.Helper()
		if code != wantCode {
			t.Errorf("%s: exit %d, want %d\n%s\n%s", what, code, wantCode, out, errOut)
		}
		if strings.Contains(out+errOut, password) {
			t.Errorf("%s shows the URI's password:\n%s\n%s", what, out, errOut)
		}
		if !strings.Contains(out+errOut, wantText) {
			t.Errorf("%s does not say %q:\n%s\n%s", what, wantText, out, errOut)
		}
	}

	// Refused before either store is opened, so no Neo4j is needed.
	same := "bolt://ann:" + password + "@127.0.0.1:1"
	out, errOut, code := copyRun(t, "--from-neo4j-uri", same, "--to-neo4j-uri", same)
	check("the same store twice", out, errOut, code, 2, `--from-neo4j-uri "bolt://xxxxx@127.0.0.1:1" holds user information`)
	// A password with a stray % makes the URI unreadable as a URL, which
	// is refused: none of its user information is shown then.
	odd := "bolt://ann:" + password + "%zz@127.0.0.1:1"
	out, errOut, code = copyRun(t, "--from-neo4j-uri", odd, "--to-neo4j-uri", odd)
	check("an unreadable URI", out, errOut, code, 2, `"bolt://xxxxx@127.0.0.1:1" is not a Neo4j URI`)

	// Into the test Neo4j, with the credentials in the URI: refused, the
	// database left empty.
	dir := t.TempDir()
	ingestEvents(t, dir, map[string][]string{"a1": {"user_id:u1", "email:a@x.example"}})
	neo := storetest.OpenNeo4j(t) // the lock, and an empty database
	to := neo4jFlags("to")
	to[1] = withUserInfo(t, to[1], "ann", password)
	out, errOut, code = copyRun(t, append([]string{"--from-data-dir", dir}, to...)...)
	check("a copy into Neo4j", out, errOut, code, 2, "--to-neo4j-user and --to-neo4j-password")
	if n, err := neo.Count(context.Background(), dump.Identifiers); err != nil || n != 0 {
		t.Errorf("the refused Neo4j holds %d identifiers (%v), want 0", n, err)
	}
}

// A password with a # (or / or ?) not percent-encoded, after digits,
// makes the URI read as host "ann", port 2024, and no user information:
// it is refused as bad usage, and not shown in the refusal either.
func TestCopyNeverShowsAPasswordCutByAHash(t *testing.T) {
	const rest = "Never-shown-7f3e"
	uri := "bolt://ann:2024#" + rest + "@127.0.0.1:1"
	out, errOut, code := copyRun(t, "--from-neo4j-uri", uri, "--to-data-dir", t.TempDir(), "--store-timeout", "1s")
	if code != 2 || strings.Contains(out+errOut, rest) || !strings.Contains(errOut, "bolt://xxxxx@127.0.0.1:1") {
		t.Fatalf("exit %d, want 2, with the URI shown as bolt://xxxxx@127.0.0.1:1 and no piece of its password:\n%s\n%s", code, out, errOut)
	}
}
