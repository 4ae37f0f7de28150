package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestOversizedBodyAnswered413NotReset: 40 clients each post a 600 KB batch
// (over the 500 KiB request limit; 1.5 MB when chunked) at once, the way a client on a slow
// uplink does: the body goes out in 64 KiB pieces over about a second, and
// the answer is read once the whole request is sent. Every one of them must
// read the 413 and its JSON body. Without draining the body the server
// closes the connection with data unread, the kernel answers with a reset,
// and the client loses the 413.
func TestOversizedBodyAnswered413NotReset(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	item := `{"type":"track","event":"e","userId":"u","properties":{"s":"` + strings.Repeat("x", 10<<10) + `"}}`
	batch := func(size int) []byte {
		var items []string
		for len(items)*len(item) < size {
			items = append(items, item)
		}
		return []byte(`{"batch":[` + strings.Join(items, ",") + `]}`)
	}
	auth := map[string]string{"Authorization": basic("wk-node"), "Content-Type": "application/json"}
	u, err := url.Parse(h.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// A chunked body is read up to the limit before the 413, and net/http
	// itself discards up to 256 KiB more after the handler, so the chunked
	// case needs a larger body to need the drain.
	for _, c := range []struct {
		chunked bool
		size    int
	}{{false, 600_000}, {true, 1_500_000}} {
		body, chunked := batch(c.size), c.chunked
		if len(body) < c.size || len(body) <= ingest.DefaultMaxRequestBytes {
			t.Fatalf("body is %d bytes; the test needs one of %d", len(body), c.size)
		}
		t.Run(fmt.Sprintf("chunked=%v/%dKB", chunked, c.size/1000), func(t *testing.T) {
			const posts = 40
			errs := httpdrain.Together(posts, func(i int) error {
				status, answer, err := httpdrain.SlowPost(u.Host, "/v1/batch", auth, body, chunked)
				switch {
				case err != nil:
					return fmt.Errorf("post %d: %w", i, err)
				case status != http.StatusRequestEntityTooLarge:
					return fmt.Errorf("post %d: got %d %q, want 413", i, status, answer)
				}
				var r ingest.Response
				if err := json.Unmarshal(answer, &r); err != nil || r.Success || !strings.Contains(r.Error, "500 KiB per-request limit") {
					return fmt.Errorf("post %d: 413 with body %q, want the JSON error naming the limit", i, answer)
				}
				return nil
			})
			failed := 0
			for _, err := range errs {
				if err != nil {
					failed++
					if failed <= 5 {
						t.Log(err)
					}
				}
			}
			if failed > 0 {
				t.Fatalf("%d of %d oversized posts did not read a 413", failed, posts)
			}
		})
	}
}
