package main

import (
	"strings"
	"testing"
)

// A Neo4j URI whose address no server can have (no host, an empty port,
// a port of 0 or above 65535) is bad usage, as a bad scheme is: exit 2 at
// once, naming the flag, rather than the wait of --store-timeout for a
// Neo4j that could never answer there.
func TestNeo4jURIWithoutAnAddressIsBadUsage(t *testing.T) {
	for _, c := range []struct{ uri, says string }{
		{"bolt://127.0.0.1:99999", "port 99999"},
		{"bolt://127.0.0.1:0", "port 0"},
		{"neo4j://127.0.0.1:", "an empty port"},
		{"bolt://", "no host"},
		{"bolt://ann:s3cret@:70000", "port 70000"},
		{"neo4j://ann:2024#s3cret@127.0.0.1:7687", "user information cut short"},
	} {
		for _, args := range [][]string{
			{"migrate", "--neo4j-uri", c.uri, "--store-timeout", "3s"},
			{"copy", "--from-neo4j-uri", c.uri, "--to-data-dir", t.TempDir(), "--store-timeout", "3s"},
		} {
			out, errOut, code := runCDP(t, []string{"CDP_DATA_DIR=" + t.TempDir()}, args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], c.says) || !strings.Contains(lines[0], "-neo4j-uri") || strings.Contains(out+errOut, "s3cret") {
				t.Errorf("cdp %s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming the flag and %q", strings.Join(args, " "), code, out, errOut, c.says)
			}
		}
	}
}
