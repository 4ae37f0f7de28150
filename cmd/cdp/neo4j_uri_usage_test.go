package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// A --neo4j-uri of another scheme than bolt or neo4j, or a CA file beside
// a URI that checks no certificate, is bad usage (exit 2) in every command
// that takes the Neo4j flags, as in cdp copy: refused before anything is
// opened (serve binds no port, bench generates nothing), naming the flag,
// with the password shown as xxxxx.
func TestNeo4jURISchemeIsBadUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem") // never read: refused before
	const bad = "http://ann:s3cret@127.0.0.1:1"
	const badShown = `--neo4j-uri "http://ann:xxxxx@127.0.0.1:1" is not a Neo4j URI`
	const caShown = "--neo4j-ca-file needs a bolt+s:// or neo4j+s:// --neo4j-uri"
	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		// The port is in use: refusing the URI first is what gives 2.
		{"serve", []string{"serve", "--addr", busy.Addr().String(), "--neo4j-uri", bad}, badShown},
		{"serve with a CA file", []string{"serve", "--addr", busy.Addr().String(), "--neo4j-uri", "bolt://127.0.0.1:1", "--neo4j-ca-file", ca}, caShown},
		{"migrate", []string{"migrate", "--neo4j-uri", bad}, badShown},
		{"migrate with a CA file", []string{"migrate", "--neo4j-uri", "neo4j+ssc://127.0.0.1:1", "--neo4j-ca-file", ca}, caShown},
		{"keys list", []string{"keys", "list", "--neo4j-uri", bad}, badShown},
		{"keys create", []string{"keys", "create", "--name", "a", "--scopes", "profiles:read", "--neo4j-uri", bad}, badShown},
		{"keys revoke", []string{"keys", "revoke", "--neo4j-uri", bad, "key_abc"}, badShown},
		{"bench", []string{"bench", "--store", "neo4j", "--neo4j-lock=false", "--neo4j-uri", bad}, badShown},
		{"bench soak", []string{"bench", "soak", "--store", "neo4j", "--neo4j-lock=false", "--neo4j-uri", bad}, badShown},
		{"bench with a CA file", []string{"bench", "--store", "neo4j", "--neo4j-lock=false", "--neo4j-uri", "bolt://127.0.0.1:1", "--neo4j-ca-file", ca}, caShown},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCDP(t, []string{"CDP_DATA_DIR=" + t.TempDir()}, c.args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], c.says) || strings.Contains(out+errOut, "s3cret") {
				t.Fatalf("cdp %s: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", strings.Join(c.args, " "), code, out, errOut, c.says)
			}
		})
	}
}
