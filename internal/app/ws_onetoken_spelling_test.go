package app_test

import (
	"net/http"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// The same key sent both in the upgrade request's Authorization header and
// in connection_init opens the connection with one token, however each
// value is spelled: the scheme in another case or more spaces around the
// secret are still that one key, which the guard authenticated (and took
// its token for) at the upgrade. With bursts of two and a rate that
// refills nothing while the test runs, the connection has exactly one
// token left: the first query is answered and the second RATE_LIMITED.
func TestWebsocketOpeningTakesOneTokenHoweverSpelled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.Auth.RateLimit, c.Auth.Burst = 0.0001, 2 })
		for _, c := range []struct {
			name         string
			header, init string // %s is the secret
		}{
			{"lower-case scheme in connection_init", "Bearer ", "bearer "},
			{"upper-case scheme in the header", "BEARER ", "Bearer "},
			{"two spaces in connection_init", "Bearer ", "Bearer  "},
		} {
			_, secret := addKey(t, st, "profiles:read")
			w, status := dialWS(t, dial, http.Header{"Authorization": {c.header + secret}})
			if status != http.StatusSwitchingProtocols {
				t.Fatalf("%s: upgrade answered %d", c.name, status)
			}
			w.mustInit(map[string]any{"Authorization": c.init + secret})
			if d, errs := w.operation("q1", `{ __typename }`); len(errs) > 0 || len(d["__typename"]) == 0 {
				t.Errorf("%s: the first query got %s %+v, want an answer (one token left after opening)", c.name, d, errs)
			}
			if d, errs := w.operation("q2", `{ __typename }`); errCode(errs) != "RATE_LIMITED" {
				t.Errorf("%s: the second query got %s %+v, want RATE_LIMITED", c.name, d, errs)
			}
		}
	})
}
