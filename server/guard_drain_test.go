package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestGuardRefusalsReachSlowClients: a client on a slow uplink posting a
// large body (900 KB, under the GraphQL body limit) that is refused from
// its headers alone reads the refusal, never a reset connection: the
// guard's (401 without a key, 403 for a key without the scope, 429 past
// the key's rate limit) and the server's own 404 and 405. What is left of
// the body is read first, as the collector and the GraphQL handler do
// for their own refusals.
func TestGuardRefusalsReachSlowClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := accessStore(t, st)
		g, err := auth.New(auth.Config{Store: ks, Required: true, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		// A server whose keys may send one request, on a clock that
		// stands still: the limited key's second request is refused, and
		// so is every later one.
		clock := &testClock{t: guardT0}
		lg, err := auth.New(auth.Config{Store: ks, Required: true, RateLimit: 1, Burst: 1, Logger: zerolog.Nop(), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		_, reader := storeKey(t, ks, "profiles:read")
		_, limited := storeKey(t, ks, "profiles:read")
		dial, _ := guardedServer(t, st, "127.0.0.1:0", g, nil)
		ldial, _ := guardedServer(t, st, "127.0.0.1:0", lg, nil)
		if r := call(t, "POST", ldial, "/graphql", "", limited); r.status != http.StatusOK {
			t.Fatalf("the limited key's first request: %d %s", r.status, r.body)
		}
		body := []byte(`{"query":"{ viewer { open } }\n#` + strings.Repeat("x", 900_000) + `"}`)
		for _, c := range []struct {
			name, dial, path, secret string
			status                   int
			code                     string
		}{
			{"no key", dial, "/graphql", "", http.StatusUnauthorized, "UNAUTHENTICATED"},
			{"a key without keys:admin", dial, BackupPath, reader, http.StatusForbidden, "FORBIDDEN"},
			{"a key past its rate limit", ldial, "/graphql", limited, http.StatusTooManyRequests, "RATE_LIMITED"},
			{"no key, another path", dial, "/nope", "", http.StatusUnauthorized, "UNAUTHENTICATED"},
			{"a key, another path", dial, "/nope", reader, http.StatusNotFound, ""},
			{"a key, POST /healthz", dial, "/healthz", reader, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		} {
			hdr := map[string]string{"Content-Type": "application/json"}
			if c.secret != "" {
				hdr["Authorization"] = "Bearer " + c.secret
			}
			errs := httpdrain.Together(4, func(int) error {
				status, answer, err := httpdrain.SlowPost(c.dial, c.path, hdr, body, false)
				if err != nil {
					return err
				}
				if status != c.status || !json.Valid(answer) || !strings.Contains(string(answer), c.code) {
					return fmt.Errorf("got %d %.200q, want %d %s", status, answer, c.status, c.code)
				}
				return nil
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("%s, post %d: %v", c.name, i, err)
				}
			}
		}
	})
}
