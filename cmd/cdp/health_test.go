package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// cdp health exits 0 when the server is ready, 1 when it answers anything
// else or nothing, 2 on a bad flag; one line each.
func TestHealthCommand(t *testing.T) {
	_, addr, _ := startServe(t, t.TempDir())
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status":"store unavailable"}`, http.StatusServiceUnavailable)
	}))
	defer down.Close()
	moved := httptest.NewServer(http.RedirectHandler("http://"+addr+"/readyz", http.StatusFound))
	defer moved.Close()
	for _, c := range []struct {
		name, url string
		code      int
		says      string
	}{
		{"ready", "http://" + addr + "/readyz", 0, "200 OK"},
		{"store down", down.URL + "/readyz", 1, "answered 503"},
		{"redirect not followed", moved.URL, 1, "answered 302"},
		{"nothing listening", "http://127.0.0.1:1/readyz", 1, "no answer"},
		{"not a URL", "ftp://x/readyz", 2, "--url must be an http or https URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(binary, "health", "--url", c.url, "--timeout", "5s")
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.code || !strings.Contains(string(out), c.says) || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
				t.Fatalf("cdp health --url %s: exit %d, output %q; want exit %d and one line with %q", c.url, code, out, c.code, c.says)
			}
		})
	}
}

// Every command lists its flags on -h (exit 0), and refuses a flag it does
// not have with exit 2, naming it.
func TestEveryCommandHelpsAndRefusesBadFlags(t *testing.T) {
	for _, c := range [][]string{
		{"serve"}, {"migrate"}, {"import"}, {"keys", "create"}, {"keys", "list"}, {"keys", "revoke"},
		{"audience", "export"}, {"backup"}, {"restore"}, {"copy"}, {"bench"}, {"bench", "soak"}, {"health"},
	} {
		name := strings.Join(c, " ")
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(binary, append(append([]string{}, c...), "-h")...)
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "  -") {
				t.Errorf("cdp %s -h: %v, output %q; want exit 0 and its flags", name, err, out)
			}
			cmd = exec.Command(binary, append(append([]string{}, c...), "--no-such-flag")...)
			cmd.Env = cleanEnv()
			out, err = cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "no-such-flag") {
				t.Errorf("cdp %s --no-such-flag: %v, output %q; want exit 2 naming the flag", name, err, out)
			}
		})
	}
}

// A password written into --url is shown as xxxxx, as the other commands
// show one, in every line cdp health prints: never as written, nor as the
// *** of Go's HTTP client.
func TestHealthMasksPassword(t *testing.T) {
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ready.Close()
	host := strings.TrimPrefix(ready.URL, "http://")
	for _, c := range []struct {
		name, url string
		code      int
		says      string
	}{
		{"answered", "http://ann:s3cret@" + host + "/readyz", 0, "http://ann:xxxxx@" + host + "/readyz: 200 OK"},
		{"no answer", "http://ann:s3cret@127.0.0.1:1/readyz", 1, "http://ann:xxxxx@127.0.0.1:1/readyz: no answer"},
		{"not http", "ftp://ann:s3cret@127.0.0.1:1/readyz", 2, `"ftp://ann:xxxxx@127.0.0.1:1/readyz"`},
		{"not a URL", "http://ann:s3cret%zz@127.0.0.1:1/readyz", 2, `"http://xxxxx@127.0.0.1:1/readyz"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := runCDP(t, nil, "health", "--url", c.url, "--timeout", "5s")
			all := out + errOut
			if code != c.code || !strings.Contains(all, c.says) || strings.Contains(all, "s3cret") || strings.Contains(all, "***") {
				t.Fatalf("cdp health --url %s: exit %d, output %q; want exit %d, %q, and the password shown as xxxxx only", c.url, code, all, c.code, c.says)
			}
		})
	}
}
