package resolver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestOversizedBodyAnswered413NotReset: 40 clients on a slow uplink each
// post a 2 MB body (over the 1 MiB limit) at once and read the answer once
// the request is sent. Every one must read the 413 with its JSON error,
// never a reset connection.
func TestOversizedBodyAnswered413NotReset(t *testing.T) {
	e := newEnv(t, storetest.Embedded(t), testConfig(), nil)
	body, err := json.Marshal(map[string]any{"query": "{ profiles { totalCount } }\n#" + strings.Repeat("x", 2_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const posts = 40
	var wg sync.WaitGroup
	errs := make([]error, posts)
	for i := range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, answer, err := httpdrain.SlowPost(u.Host, "/", map[string]string{"Content-Type": "application/json"}, body, false)
			if err != nil {
				errs[i] = fmt.Errorf("post %d: %w", i, err)
				return
			}
			var r gqlResponse
			if jerr := json.Unmarshal(answer, &r); jerr != nil || status != http.StatusRequestEntityTooLarge || r.code() != CodeTooLarge {
				errs[i] = fmt.Errorf("post %d: got %d %q, want 413 %s", i, status, answer, CodeTooLarge)
			}
		}()
	}
	wg.Wait()
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
}
