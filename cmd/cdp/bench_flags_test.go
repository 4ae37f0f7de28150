package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// cdp bench refuses a count flag out of its range as bad usage (exit 2)
// with a message naming that flag, its bound and the value given, not a
// list of every bound of its group.
func TestBenchNamesTheBadCountFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lookups", "0"}, "--lookups must be at least 1, got 0"},
		{[]string{"--merge-n", "-1"}, "--merge-n must not be negative, got -1"},
		{[]string{"--erase-events", "5"}, "--erase-events must be 0 or at least 20, got 5"},
		{[]string{"--suppression-rounds", "0"}, "--suppression-rounds must be at least 1, got 0"},
		{[]string{"--audience-rounds", "0"}, "--audience-rounds must be at least 1, got 0"},
		{[]string{"--computed-traits", "-2"}, "--computed-traits must not be negative, got -2"},
		{[]string{"--subscription-events", "-1"}, "--subscription-events must not be negative, got -1"},
		{[]string{"gen", "--out", "x", "--people", "0"}, "--people must be at least 1, got 0"},
		{[]string{"gen", "--out", "x", "--seed", "-1"}, "--seed must not be negative, got -1"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second) // a safety net should the bench run
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"bench"}, c.args...), &out, &errOut)
		cancel()
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("bench %v: exit %d %q, want 2 saying %q", c.args, code, errOut.String(), c.want)
		}
	}
}
