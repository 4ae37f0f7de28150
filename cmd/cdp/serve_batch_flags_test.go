package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// cdp serve refuses a bad --batch-size, --queue-size or --batch-wait as bad
// usage (exit 2) with a message that names the flag at fault, not another.
func TestServeNamesTheBadBatchFlag(t *testing.T) {
	for _, c := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"--batch-wait", "-1s"}, "--batch-wait must not be negative, got -1s", "--batch-size"},
		{[]string{"--batch-size", "0"}, "--batch-size must be at least 1", "--batch-wait"},
		{[]string{"--queue-size", "10", "--batch-size", "20"}, "--queue-size must be at least --batch-size (got 10 and 20)", "--batch-wait"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second) // a safety net should serve run
		var out, errOut bytes.Buffer
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, c.args...)
		code := run(ctx, args, &out, &errOut)
		cancel()
		if code != 2 || !strings.Contains(errOut.String(), c.want) || strings.Contains(errOut.String(), c.not) {
			t.Errorf("serve %v: exit %d %q, want 2 saying %q", c.args, code, errOut.String(), c.want)
		}
	}
}
