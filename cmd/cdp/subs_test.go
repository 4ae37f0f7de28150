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

// Bad subscription flags stop cdp serve at once with status 2, naming the
// flag.
func TestServeSubscriptionFlagsRefused(t *testing.T) {
	for _, c := range []struct{ flag, want string }{
		{"--feed-poll=0s", "--feed-poll must be positive"},
		{"--subscription-buffer=0", "--subscription-buffer must be at least 1"},
		{"--subscriptions-per-key=-1", "--subscriptions-per-key must not be negative"},
		{"--cors-origins=app.example.com,[", `--cors-origins: "[" is not a valid origin pattern`},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), c.flag)
		cmd.Env = cleanEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%s: err %v, stderr %q; want status 2 and %q", c.flag, err, stderr.String(), c.want)
		}
	}
}
