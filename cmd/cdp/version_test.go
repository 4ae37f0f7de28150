package main

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	// Like every command, it refuses what it does not take.
	for _, extra := range []string{"--bogus", "extra"} {
		stdout, stderr, code := runCDP(t, nil, "version", extra)
		if code != 2 || stdout != "" || !strings.Contains(stderr, extra) {
			t.Errorf("cdp version %s: exit %d, stdout %q, stderr %q; want exit 2 naming it", extra, code, stdout, stderr)
		}
	}
	// Like every command, it helps: cdp COMMAND -h says what it does and
	// exits 0 (it has no flags to list).
	for _, h := range []string{"-h", "--help", "-help"} {
		stdout, stderr, code := runCDP(t, nil, "version", h)
		if code != 0 || !strings.Contains(stdout+stderr, "Usage: cdp version") {
			t.Errorf("cdp version %s: exit %d, stdout %q, stderr %q; want exit 0 and its usage", h, code, stdout, stderr)
		}
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
			"-X main.version=v9.9.9", "-o 'dist/cdp-linux-" + arch + "'", "./cmd/cdp",
		} {
			if !strings.Contains(builds[i], want) {
				t.Errorf("make release's build %d %q lacks %q", i, builds[i], want)
			}
		}
	}
}

// make release, run for real: each binary is an ELF for its architecture
// with no interpreter and no dynamic section (static), SHA256SUMS lists
// both and nothing else, the one this machine can run reports the stamped
// version, and what DIST held besides (make release DIST=~/bin) is left
// alone.
func TestReleaseBuildsStaticBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries; skipped in -short mode")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	// A folder of the user's, its path holding a space, with a file of
	// theirs and one named like a binary of another platform.
	dist := filepath.Join(t.TempDir(), "my dist")
	if err := os.MkdirAll(filepath.Join(dist, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	theirs := map[string]string{"notes/todo.txt": "mine", "cdp-darwin-arm64": "an older build"}
	for name, content := range theirs {
		if err := os.WriteFile(filepath.Join(dist, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("make", "-C", filepath.Join("..", ".."), "release", "VERSION=v9.9.9-test", "DIST="+dist).CombinedOutput()
	if err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	for name, content := range theirs {
		if got, err := os.ReadFile(filepath.Join(dist, name)); err != nil || string(got) != content {
			t.Errorf("make release DIST=%s left %s as %q, %v; want %q untouched", dist, name, got, err, content)
		}
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(string(sums)), "\n") + 1; n != 2 {
		t.Errorf("SHA256SUMS lists %d files, want the 2 binaries:\n%s", n, sums)
	}
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		name := "cdp-linux-" + arch
		path := filepath.Join(dist, name)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Machine != machine {
			t.Errorf("%s is built for %v, want %v", name, f.Machine, machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s has a %v program header: not static", name, p.Type)
			}
		}
		_ = f.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if !strings.Contains(string(sums), hex.EncodeToString(sum[:])+"  "+name) {
			t.Errorf("SHA256SUMS lacks %s's sum:\n%s", name, sums)
		}
		if arch == runtime.GOARCH && runtime.GOOS == "linux" {
			got, err := exec.Command(path, "version").Output()
			if err != nil || string(got) != "cdp v9.9.9-test\n" {
				t.Errorf("%s version: %q, %v; want cdp v9.9.9-test", name, got, err)
			}
		}
	}
}

// A VERSION that would not survive the build's flags as one word (a
// space splits -X main.version) is refused before anything is built or
// written.
func TestReleaseRefusesAVersionWithSpaces(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dist := filepath.Join(t.TempDir(), "dist")
	out, err := exec.Command("make", "-C", filepath.Join("..", ".."), "release", "VERSION=v1 beta", "DIST="+dist).CombinedOutput()
	if err == nil {
		t.Fatalf("make release VERSION='v1 beta' succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "VERSION 'v1 beta' must be") {
		t.Errorf("make release VERSION='v1 beta' said:\n%s\nwant the VERSION named", out)
	}
	if _, err := os.Stat(dist); !os.IsNotExist(err) {
		t.Errorf("make release VERSION='v1 beta' made %s (%v)", dist, err)
	}
}
