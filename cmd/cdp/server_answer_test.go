package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cdp backup and cdp audience export talk to a cdp server. An answer from
// somewhere else (a redirect to a sign-in page of a proxy, or that page
// itself) is refused, naming what came back; nothing is written, and the
// key is not sent on to another location.
func TestServerCommandsRefuseAnotherAnswer(t *testing.T) {
	var keyElsewhere bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only a followed redirect asks for /login.
		keyElsewhere = keyElsewhere || (r.URL.Path == "/login" && r.Header.Get("Authorization") != "")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html>\n<body>\nSign in\n</body>\n</html>\n"))
	}))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/login", http.StatusFound)
	}))
	defer redirect.Close()

	for _, c := range []struct {
		server, says string
	}{
		{redirect.URL, "redirect (302 Found)"},
		{other.URL, "not an audience export (Content-Type text/html"},
	} {
		dir := t.TempDir()
		out := filepath.Join(dir, "members.csv")
		args := []string{"audience", "export", "--server", c.server, "--key", "cdp_secret", "--out", out, "seg_00000000000000000000000000000001"}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		msg := stdout.String() + stderr.String()
		if code != 1 || !strings.Contains(msg, c.says) {
			t.Errorf("audience export from %s: exit %d, want 1 saying %q: %s", c.server, code, c.says, msg)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("audience export from %s left %d files", c.server, len(entries))
		}
	}

	dir := t.TempDir()
	args := []string{"backup", "--server", redirect.URL, "--key", "cdp_secret", "--out", filepath.Join(dir, "b.db")}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	if msg := stdout.String() + stderr.String(); code != 1 || !strings.Contains(msg, "redirect (302 Found)") {
		t.Errorf("backup from a redirect: exit %d, want 1 saying it was a redirect: %s", code, msg)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("backup from a redirect left %d files", len(entries))
	}
	if keyElsewhere {
		t.Error("the key was sent to the location of a redirect")
	}
}
