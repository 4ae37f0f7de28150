package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A bad value of any serve flag is bad usage (exit 2), told before the
// port is bound and before the store is opened: a port in use does not
// hide it, and the data dir is not created (nor an older store upgraded).
func TestServeRefusesEveryBadValueBeforeTheStore(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		flag, value string
	}{
		{"--audience-refresh", "-1m"},
		{"--feed-retention", "soon"},
		{"--feed-poll", "0s"},
		{"--subscription-buffer", "0"},
		{"--subscriptions-per-key", "-1"},
		{"--cors-origins", "[bad"},
	}
	run := func(t *testing.T, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, append([]string{"serve"}, args...)...)
		cmd.Env = cleanEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatal("cdp serve did not exit on a bad value")
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("exit %v, want 2; stderr: %s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		return ee.ExitCode(), lines[len(lines)-1]
	}
	for _, c := range cases {
		t.Run(c.flag, func(t *testing.T) {
			code, last := run(t, "--addr", busy.Addr().String(), "--data-dir", t.TempDir(), c.flag, c.value)
			if code != 2 || !strings.Contains(last, c.flag) {
				t.Fatalf("with the port in use: exit %d, last line %q; want exit 2 naming %s", code, last, c.flag)
			}
			dir := filepath.Join(t.TempDir(), "data")
			code, last = run(t, "--addr", "127.0.0.1:0", "--data-dir", dir, c.flag, c.value)
			if code != 2 || !strings.Contains(last, c.flag) {
				t.Fatalf("exit %d, last line %q; want exit 2 naming %s", code, last, c.flag)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the data dir was touched for a bad %s (stat: %v)", c.flag, err)
			}
		})
	}
}
