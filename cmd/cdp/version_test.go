package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A binary built with -ldflags "-X main.version=..." (as make release does)
// reports that version; one built without says dev.
func TestVersionStamped(t *testing.T) {
	const stamp = "v1.2.3-rc.1-4-gabc1234-dirty"
	bin := filepath.Join(t.TempDir(), "cdp")
	cmd := exec.Command("go", "build", "-ldflags", "-X main.version="+stamp, "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("cdp %s: %v", arg, err)
		}
		if got, want := string(out), "cdp "+stamp+"\n"; got != want {
			t.Errorf("stamped cdp %s printed %q, want %q", arg, got, want)
		}
	}
	stdout, _, code := runCDP(t, nil, "version")
	if code != 0 || stdout != "cdp dev\n" {
		t.Errorf("unstamped cdp version: exit %d, %q; want cdp dev", code, stdout)
	}
}

// make release builds, for linux/amd64 and linux/arm64, static binaries
// without local paths, stamped with VERSION (checked with make -n, which
// prints the commands without running them).
func TestReleaseTarget(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	out, err := exec.Command("make", "-C", filepath.Join("..", ".."), "-n", "release", "VERSION=v9.9.9").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n release: %v\n%s", err, out)
	}
	var builds []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, cmd := range strings.Split(line, "&&") {
			if strings.Contains(cmd, "go build") {
				builds = append(builds, strings.TrimSpace(cmd))
			}
		}
	}
	if len(builds) != 2 {
		t.Fatalf("make release runs %d go builds, want 2:\n%s", len(builds), out)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		for _, want := range []string{
			"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + arch, "-trimpath",
			"-X main.version=v9.9.9", "-o dist/cdp-linux-" + arch, "./cmd/cdp",
		} {
			if !strings.Contains(builds[i], want) {
				t.Errorf("make release's build %d %q lacks %q", i, builds[i], want)
			}
		}
	}
}
