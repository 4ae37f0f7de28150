package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// A --server that is not an http or https URL is bad usage, and the
// message naming it never repeats a password written into it (Go's HTTP
// client sends one as Basic authentication, so users write them there).
func TestServerURLErrorsHideThePassword(t *testing.T) {
	const password = "Pw-77-never-shown"
	out := filepath.Join(t.TempDir(), "backup.db")
	for _, server := range []string{
		"ftp://admin:" + password + "@cdp.example:8080",
		"http://admin:" + password + "%zz@cdp.example:8080",
	} {
		for _, args := range [][]string{
			{"backup", "--server", server, "--out", out},
			{"audience", "export", "--server", server, "--out", out, "seg_00000000000000000000000000000001"},
		} {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, &stdout, &stderr)
			msg := stdout.String() + stderr.String()
			if code != 2 || !strings.Contains(msg, "is not an http or https URL") || !strings.Contains(msg, "cdp.example:8080") {
				t.Errorf("cdp %s: exit %d, want 2 naming the server: %s", args[0], code, msg)
			}
			if strings.Contains(msg, password) {
				t.Errorf("cdp %s repeats the password of --server: %s", args[0], msg)
			}
		}
	}
}

// A password with a / not percent-encoded, after digits, cuts the URL's
// host short: the URL reads as host "admin", port 7, and no user
// information, so the password's rest stands in its path. The message
// that no server answered at that address does not show it either, in
// cdp backup, cdp audience export and cdp health.
func TestUnreachableServerHidesAPasswordCutBySlash(t *testing.T) {
	const rest = "Pw-cut-never-shown"
	server := "http://admin:7/" + rest + "@127.0.0.1:1"
	out := filepath.Join(t.TempDir(), "backup.db")
	for _, args := range [][]string{
		{"backup", "--server", server, "--out", out},
		{"audience", "export", "--server", server, "--out", out, "seg_00000000000000000000000000000001"},
		{"health", "--url", server + "/readyz", "--timeout", "2s"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		msg := stdout.String() + stderr.String()
		if code != 1 || !strings.Contains(msg, "xxxxx@127.0.0.1:1") || strings.Contains(msg, rest) {
			t.Errorf("cdp %s: exit %d, want 1 with the server shown as http://xxxxx@127.0.0.1:1 and no piece of its password: %s", args[0], code, msg)
		}
	}
}
