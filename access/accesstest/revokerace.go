package accesstest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
)

// Two revocations that each keep an admin key (revokeApiKey), made at
// once, of the only two usable admin keys: in either serial order the
// first is revoked and the second refused (ECONFLICT), so exactly one
// succeeds and one admin key stays usable.
func testRevokeRaceKeepsAnAdmin(t *testing.T, s Store) {
	ctx := context.Background()
	keep := access.WithKeepAdmin(ctx)
	admin := []access.Scope{access.ScopeKeysAdmin}
	for round := range 10 {
		ids := [2]string{fmt.Sprintf("key_r%da", round), fmt.Sprintf("key_r%db", round)}
		for i, id := range ids {
			must(t, s.CreateKey(ctx, access.Key{ID: id, Name: "admin", Scopes: admin, Hash: access.HashSecret(secret(10 + 2*round + i)), CreatedAt: at(0)}))
		}
		var errs [2]error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, errs[i] = s.RevokeKey(keep, id, at(1))
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case graph.ErrorCode(err) != graph.ECONFLICT:
				t.Fatalf("round %d: RevokeKey %s: %v, want nil or ECONFLICT", round, ids[i], err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of the two revocations succeeded (%v), want exactly 1", round, ok, errs)
		}
		// The one left is revoked unasked, so that the next round's two
		// are the only usable admin keys.
		for i, id := range ids {
			if errs[i] != nil {
				_, _, err := s.RevokeKey(ctx, id, at(2))
				must(t, err)
			}
		}
	}
}
