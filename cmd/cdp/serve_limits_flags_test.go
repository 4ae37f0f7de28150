package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// A zero or negative --commit-timeout, --shutdown-timeout,
// --max-complexity or --max-depth is bad usage (exit 2, naming the flag),
// as a zero --max-selections is: it was silently replaced by the default
// (a commit timeout of 0 meant 30 s, a depth limit of 0 meant 12), or, for
// the shutdown, gave requests in flight no time at all.
func TestServeRefusesNonPositiveLimits(t *testing.T) {
	for _, c := range []struct{ flag, value string }{
		{"--commit-timeout", "0s"},
		{"--commit-timeout", "-5s"},
		{"--shutdown-timeout", "0s"},
		{"--shutdown-timeout", "-1s"},
		{"--max-complexity", "0"},
		{"--max-complexity", "-1"},
		{"--max-depth", "0"},
		{"--max-depth", "-3"},
	} {
		t.Run(c.flag+"="+c.value, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), c.flag+"="+c.value)
			cmd.Env = cleanEnv()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("cdp serve %s=%s started instead of refusing the value; stderr:\n%s", c.flag, c.value, stderr.String())
			}
			var ee *exec.ExitError
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(last, c.flag) {
				t.Fatalf("exit %v, last line %q; want exit 2 naming %s", err, last, c.flag)
			}
		})
	}
}
