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
