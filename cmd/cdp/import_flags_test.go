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

// cdp import refuses a --batch or --concurrency below 1 as bad usage (exit
// 2), naming the flag, before it reads a row or sends a request, rather
// than running with the default in its place.
func TestImportRefusesNonPositiveBatchAndConcurrency(t *testing.T) {
	file := filepath.Join(t.TempDir(), "crm.csv")
	if err := os.WriteFile(file, []byte("id\nu-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ flag, value string }{
		{"--batch", "0"}, {"--batch", "-3"}, {"--concurrency", "0"}, {"--concurrency", "-1"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a safety net should the import run
		var out, errOut bytes.Buffer
		// Port 1 answers nothing: a request sent would fail at run time (exit 2
		// after retries), so the message is what tells a refusal apart.
		code := run(ctx, []string{"import", "--server", "http://127.0.0.1:1", "--source", "crm", "--map", "user_id=id", c.flag, c.value, file}, &out, &errOut)
		cancel()
		want := c.flag + " must be at least 1, got " + c.value
		if code != 2 || !strings.Contains(errOut.String(), want) {
			t.Errorf("import %s %s: exit %d %q, want 2 saying %q", c.flag, c.value, code, errOut.String(), want)
		}
		if _, err := os.Stat(file + ".rejects"); !os.IsNotExist(err) {
			t.Errorf("import %s %s left a rejects file (%v)", c.flag, c.value, err)
		}
	}
}

// cdp import refuses a --concurrency above 64 as bad usage (exit 2),
// naming the flag, before it reads a row: each request in flight holds a
// slot made up front, so --concurrency 2000000000 took every byte of the
// machine's memory before sending anything.
func TestImportRefusesHugeConcurrency(t *testing.T) {
	file := filepath.Join(t.TempDir(), "crm.csv")
	if err := os.WriteFile(file, []byte("id\nu-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{"65", "1000", "2000000000"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"import", "--server", "http://127.0.0.1:1", "--source", "crm", "--map", "user_id=id", "--concurrency", value, file}, &out, &errOut)
		cancel()
		want := "--concurrency must be at most 64, got " + value
		if code != 2 || !strings.Contains(errOut.String(), want) {
			t.Errorf("import --concurrency %s: exit %d %q, want 2 saying %q", value, code, errOut.String(), want)
		}
	}
}
