package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// cdp bench soak refuses a flag out of range as bad usage (exit 2) with a
// message naming that flag and the value given, not every bound at once.
func TestSoakNamesTheBadFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--duration", "0s"}, "--duration must be positive, got 0s"},
		{[]string{"--every", "-1s"}, "--every must be positive, got -1s"},
		{[]string{"--rate", "0"}, "--rate must be a positive finite number, got 0"},
		{[]string{"--rate", "NaN"}, "--rate must be a positive finite number, got NaN"},
		{[]string{"--lookup-rate", "-1"}, "--lookup-rate must be a finite number of at least 0, got -1"},
		{[]string{"--clients", "0"}, "--clients must be at least 1, got 0"},
		{[]string{"--batch", "0"}, "--batch must be at least 1, got 0"},
		{[]string{"--seed", "-1"}, "--seed must not be negative, got -1"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second) // a safety net should the soak run
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"bench", "soak"}, c.args...), &out, &errOut)
		cancel()
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("bench soak %v: exit %d %q, want 2 saying %q", c.args, code, errOut.String(), c.want)
		}
	}
}
