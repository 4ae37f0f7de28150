package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A key created by a key, cached by a server, is refused by that server
// once its creator was revoked elsewhere (on another server, or with `cdp
// keys revoke`) and the cache's life has passed: the revocation revoked it
// in the store too. The server's clock is moved, not waited for.
func TestKeyRevokedWithItsCreatorRefusedElsewhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Required: true, Now: clk.Now})
		url := serve(t, g)

		parent, _ := createKey(t, ks, "parent", []string{"keys:admin", "profiles:read"}, "", time.Time{})
		child, secret, err := access.NewKey("child", []string{"profiles:read"}, "", time.Time{}, t0.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		child.CreatedBy = parent.ID
		if err := ks.CreateKey(context.Background(), child); err != nil {
			t.Fatal(err)
		}
		if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 {
			t.Fatalf("before revocation: %d %s", a.status, a.raw)
		}
		if _, with, err := ks.RevokeKey(context.Background(), parent.ID, t0); err != nil || len(with) != 1 || with[0] != child.ID {
			t.Fatalf("RevokeKey(parent) took %v with it (%v), want [%s]", with, err, child.ID)
		}
		clk.Advance(auth.CacheTTL)
		wantRefused(t, "the cache's life after its creator's revocation", request(t, "POST", url+"/graphql", bearer(secret)), 401,
			"UNAUTHENTICATED", secret, "was revoked")
	})
}
