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
// any handler runs, as README says; headers just under it are served. The
// 65 KiB case is within the 4 KiB that net/http allows beyond
// MaxHeaderBytes, so it fails if the server hands its limit over unchanged.
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
	for _, kib := range []int{65, 80} {
		if code, body := get(kib << 10); code != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%d KiB of headers answered %d %q, want 431", kib, code, body)
		}
	}
	// 63 KiB of filler and the client's other header lines stay under 64 KiB.
	if code, body := get(63 << 10); code != http.StatusOK {
		t.Fatalf("63 KiB of headers answered %d %q, want 200", code, body)
	}
}
