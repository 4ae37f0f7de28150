package accesstest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
)

// A key created by a key while a key above it is being revoked does not
// survive: in either serial order the creation is refused (its creator
// reads revoked) or the revocation takes the new key with it. Each round
// creates grandparent → parent, then at once revokes the grandparent and
// creates a child of the parent: after both, the child is revoked or was
// never stored.
func testCascadeRaceLeavesNoChild(t *testing.T, s Store) {
	ctx := context.Background()
	pr := []access.Scope{access.ScopeProfilesRead}
	n := 100
	next := func() string { n++; return access.HashSecret(secret(n)) }
	for round := range 10 {
		gp, parent, child := fmt.Sprintf("key_g%d", round), fmt.Sprintf("key_p%d", round), fmt.Sprintf("key_c%d", round)
		must(t, s.CreateKey(ctx, access.Key{ID: gp, Name: "grandparent", Scopes: pr, Hash: next(), CreatedAt: at(0)}))
		must(t, s.CreateKey(ctx, access.Key{ID: parent, Name: "parent", Scopes: pr, Hash: next(), CreatedAt: at(0), CreatedBy: gp}))
		c := access.Key{ID: child, Name: "child", Scopes: pr, Hash: next(), CreatedAt: at(1), CreatedBy: parent}
		var createErr, revokeErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			createErr = s.CreateKey(ctx, c)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, _, revokeErr = s.RevokeKey(ctx, gp, at(1))
		}()
		close(start)
		wg.Wait()
		must(t, revokeErr)
		if createErr != nil && graph.ErrorCode(createErr) != graph.ECONFLICT {
			t.Fatalf("round %d: CreateKey of the child: %v, want nil or ECONFLICT", round, createErr)
		}
		got, stored, err := s.KeyByHash(ctx, c.Hash)
		must(t, err)
		switch {
		case createErr == nil && (!stored || got.RevokedAt.IsZero()):
			t.Fatalf("round %d: the child created while its grandparent was revoked is usable: stored %v, %+v", round, stored, got)
		case createErr != nil && stored:
			t.Fatalf("round %d: a refused child is stored: %+v", round, got)
		}
	}
}
