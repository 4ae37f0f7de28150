package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A long-lived connection's key is checked again while it lasts. A store
// that cannot be read keeps the key, since only the store knows of a
// revocation; but the key's own expiry is known without it: once past
// it, the key is not usable, store or no store.
func TestStillUsableWithoutTheStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Now: clk.Now})
		ctx := context.Background()
		k, _ := createKey(t, ks, "live", []string{"profiles:read"}, "", t0.Add(time.Hour))
		if !g.StillUsable(ctx, k) {
			t.Fatal("a stored key before its expiry is not usable")
		}
		if err := st.Close(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute) // past the guard's cache
		if !g.StillUsable(ctx, k) {
			t.Fatal("with the store unreadable, a key before its expiry was dropped; the next check decides")
		}
		clk.Set(t0.Add(time.Hour))
		if g.StillUsable(ctx, k) {
			t.Fatal("with the store unreadable, a key at its expiry is still usable")
		}
	})
}
