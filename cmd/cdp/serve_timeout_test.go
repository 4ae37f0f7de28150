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

// cdp serve refuses a --store-timeout that is not positive as bad usage
// (exit 2) on the embedded store too, as cdp keys does, before it binds
// its port or touches the store: the data dir is not created.
func TestServeRefusesANonPositiveStoreTimeout(t *testing.T) {
	for _, timeout := range []string{"0s", "-5s"} {
		dir := filepath.Join(t.TempDir(), "data")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second) // a safety net should serve run
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--store-timeout", timeout}, &out, &errOut)
		cancel()
		if code != 2 || !strings.Contains(errOut.String(), "--store-timeout must be positive, got "+timeout) {
			t.Errorf("serve --store-timeout %s: exit %d, want 2 saying it must be positive\n%s", timeout, code, errOut.String())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("serve --store-timeout %s touched the data dir (%v)", timeout, err)
		}
	}
}
