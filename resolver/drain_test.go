package resolver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
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
	errs := httpdrain.Together(posts, func(i int) error {
		status, answer, err := httpdrain.SlowPost(u.Host, "/", map[string]string{"Content-Type": "application/json"}, body, false)
		if err != nil {
			return fmt.Errorf("post %d: %w", i, err)
		}
		var r gqlResponse
		if jerr := json.Unmarshal(answer, &r); jerr != nil || status != http.StatusRequestEntityTooLarge || r.code() != CodeTooLarge {
			return fmt.Errorf("post %d: got %d %q, want 413 %s", i, status, answer, CodeTooLarge)
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
}

// TestOtherMethodAnswered405NotReset: a request of another method than
// GET, POST and OPTIONS with a large body (900 KB) from a client on a
// slow uplink reads the 405 with its Allow header and JSON error, never a
// reset connection.
func TestOtherMethodAnswered405NotReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		u, err := url.Parse(e.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"query":"{ __typename }\n#` + strings.Repeat("x", 900_000) + `"}`)
		for _, method := range []string{"PUT", "DELETE", "PATCH"} {
			status, answer, err := httpdrain.SlowRequest(method, u.Host, "/", map[string]string{"Content-Type": "application/json"}, body, false)
			if err != nil {
				t.Errorf("%s: %v", method, err)
				continue
			}
			var r gqlResponse
			if jerr := json.Unmarshal(answer, &r); jerr != nil || status != http.StatusMethodNotAllowed || r.code() != CodeBadRequest {
				t.Errorf("%s: got %d %q, want 405 %s", method, status, answer, CodeBadRequest)
			}
		}
	})
}
