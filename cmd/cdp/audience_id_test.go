package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cdp audience export refuses an argument that is not an audience id
// (seg_ and 32 lowercase hex digits) as bad usage (exit 2) before it asks
// any server, without repeating the argument (an email pasted for an id
// stays out of the message), as cdp keys revoke does with a key id.
func TestAudienceExportRefusesANonAudienceID(t *testing.T) {
	for _, id := range []string{"nope", "ann@example.com", "seg_0123", "SEG_0123456789ABCDEF0123456789ABCDEF"} {
		out := filepath.Join(t.TempDir(), "members.csv")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		var stdout, stderr bytes.Buffer
		// Port 1 answers nothing: a request sent would fail with exit 1.
		code := run(ctx, []string{"audience", "export", "--server", "http://127.0.0.1:1", "--out", out, id}, &stdout, &stderr)
		cancel()
		msg := stderr.String()
		if code != 2 || !strings.Contains(msg, "not an audience id (seg_ followed by 32 lowercase hex digits)") {
			t.Errorf("audience export %q: exit %d %q, want 2 saying it is not an audience id", id, code, msg)
		}
		if strings.Contains(msg, id) {
			t.Errorf("audience export %q: the message repeats the argument: %q", id, msg)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("audience export %q wrote %s (%v)", id, out, err)
		}
	}
}

// A key read from a file keeps its line break, which no HTTP header can
// carry: cdp audience export and cdp backup refuse such a --key or
// CDP_API_KEY as bad usage (exit 2) naming the flag, before they ask any
// server, and never repeat the key. They used to exit 1 saying the server
// could not be reached.
func TestKeyWithALineBreakIsBadUsage(t *testing.T) {
	const secret = "cdp_0123456789abcdefSECRETPART"
	for _, c := range []struct {
		name string
		args []string
		env  string
	}{
		{"export, --key", []string{"audience", "export", "--server", "http://127.0.0.1:1", "--key", secret + "\n", "--out", "OUT", "seg_0123456789abcdef0123456789abcdef"}, ""},
		{"export, CDP_API_KEY", []string{"audience", "export", "--server", "http://127.0.0.1:1", "--out", "OUT", "seg_0123456789abcdef0123456789abcdef"}, secret + "\r\n"},
		{"backup, --key", []string{"backup", "--server", "http://127.0.0.1:1", "--key", secret + " x", "--out", "OUT"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("CDP_API_KEY", c.env)
			}
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string(nil), c.args...)
			for i := range args {
				if args[i] == "OUT" {
					args[i] = out
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, &stdout, &stderr)
			msg := stderr.String()
			if code != 2 || !strings.Contains(msg, "--key (or CDP_API_KEY) holds a space or a control character") {
				t.Errorf("exit %d %q, want 2 naming --key", code, msg)
			}
			if strings.Contains(msg, "SECRETPART") {
				t.Errorf("the message repeats the key: %q", msg)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("wrote %s (%v)", out, err)
			}
		})
	}
}
