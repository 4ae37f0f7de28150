package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph/embedded"
)

// TestHeaderLimit: request headers over 64 KiB are refused with 431 before
// any handler runs, as README says; headers just under it are served.
func TestHeaderLimit(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Logger: zerolog.Nop()}, ln, st, Routes{})
	go func() { _ = s.Serve() }()
	defer s.Shutdown(context.Background())
	get := func(header int) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+s.Addr()+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Filler", strings.Repeat("a", header))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(80 << 10); code != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("80 KiB of headers answered %d %q, want 431", code, body)
	}
	if code, body := get(60 << 10); code != http.StatusOK {
		t.Fatalf("60 KiB of headers answered %d %q, want 200", code, body)
	}
}
