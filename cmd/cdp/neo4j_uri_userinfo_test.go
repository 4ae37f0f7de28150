package main

import (
	"net"
	"strings"
	"testing"
)

// A user name or password written into a Neo4j URI is not read from
// there: the driver takes credentials only from --neo4j-user and
// --neo4j-password. Rather than connecting without them, every command
// that takes a Neo4j URI refuses one holding user information as bad
// usage (exit 2), before anything is opened, in one line that names the
// flags to use and never repeats the password.
func TestNeo4jURIWithUserInfoIsBadUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	const pw = "Pw-9e1b-never-shown"
	for _, uri := range []string{"bolt://ann:" + pw + "@127.0.0.1:1", "neo4j+s://ann:" + pw + "@db.example.com", "bolt://" + pw + "@127.0.0.1:1"} {
		for _, c := range []struct {
			name string
			args []string
			says []string
		}{
			// The port is in use: refusing the URI first is what gives 2.
			{"serve", []string{"serve", "--addr", busy.Addr().String(), "--store-timeout", "1s", "--neo4j-uri", uri}, []string{"--neo4j-uri", "--neo4j-user", "--neo4j-password"}},
			{"migrate", []string{"migrate", "--store-timeout", "1s", "--neo4j-uri", uri}, []string{"--neo4j-uri", "--neo4j-user", "--neo4j-password"}},
			{"keys list", []string{"keys", "list", "--store-timeout", "1s", "--neo4j-uri", uri}, []string{"--neo4j-uri", "--neo4j-user", "--neo4j-password"}},
			{"bench", []string{"bench", "--store", "neo4j", "--neo4j-lock=false", "--neo4j-uri", uri}, []string{"--neo4j-uri", "--neo4j-user", "--neo4j-password"}},
			{"copy from", []string{"copy", "--store-timeout", "1s", "--from-neo4j-uri", uri, "--to-data-dir", t.TempDir()}, []string{"--from-neo4j-uri", "--from-neo4j-user", "--from-neo4j-password"}},
			{"copy to", []string{"copy", "--store-timeout", "1s", "--from-data-dir", t.TempDir(), "--to-neo4j-uri", uri}, []string{"--to-neo4j-uri", "--to-neo4j-user", "--to-neo4j-password"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				out, errOut, code := runCDP(t, []string{"CDP_DATA_DIR=" + t.TempDir()}, c.args...)
				lines := strings.Split(strings.TrimSpace(errOut), "\n")
				ok := code == 2 && len(lines) == 1 && strings.Contains(lines[0], "user information") && !strings.Contains(out+errOut, pw)
				for _, s := range c.says {
					ok = ok && strings.Contains(lines[0], s)
				}
				if !ok {
					t.Fatalf("cdp %s: exit %d\nstdout %q\nstderr %q\nwant exit 2 and one line saying the URI holds user information, naming %v, without the password",
						strings.Join(c.args, " "), code, out, errOut, c.says)
				}
			})
		}
	}
}
