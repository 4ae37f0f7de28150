package neo4jstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Two writers on Neo4j, where transactions run side by side: a call that
// names a profile by an id merged away reads the redirects, then locks. An
// unlink committing between the two may give the id back its own part; the
// call must act on the profile the id answers for once locked, as one of
// the serial orders would. (The embedded store writes one transaction at a
// time.)

// pauseStore wraps a store so that a test learns when a write transaction
// of the engine reaches LockProfiles (its unlocked reads are done).
type pauseStore struct {
	graph.Store
	atLock func()
}

type pauseTx struct {
	graph.Tx
	atLock func()
}

func (t pauseTx) LockProfiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	if t.atLock != nil {
		t.atLock()
	}
	return t.Tx.LockProfiles(ctx, ids)
}

func (s pauseStore) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return fn(ctx, pauseTx{Tx: tx, atLock: s.atLock})
	})
}

// mergeAway stores ev, which joins x's profile to a larger one, and
// returns the id x's profile had before: merged away now.
func mergeAway(t *testing.T, e *graph.Engine, x graph.IdentifierRef, ev graph.Event) string {
	t.Helper()
	ctx := context.Background()
	p, err := e.ProfileByIdentifier(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
		t.Fatal(err)
	}
	if now, _ := e.ProfileByIdentifier(ctx, x); now.ID == p.ID {
		t.Fatalf("setup: %s's profile %s was not merged away", x.Value, p.ID)
	}
	return p.ID
}

// unlinkDuring unlinks a and b on s, and while the unlink holds its locks
// and has not committed, runs call with a second engine on s until that
// call's transaction has done its reads and reaches LockProfiles; it
// returns once both have ended.
func unlinkDuring(t *testing.T, s graph.Store, a, b graph.IdentifierRef, call func(e2 *graph.Engine)) ([]graph.Profile, error) {
	t.Helper()
	reached := make(chan struct{})
	var once, startOnce sync.Once
	e2 := graph.NewEngine(pauseStore{Store: s, atLock: func() { once.Do(func() { close(reached) }) }}, nil)
	done := make(chan struct{})
	hook := func(ctx context.Context, tx graph.Tx, w *graph.Write) error {
		startOnce.Do(func() {
			go func() {
				defer close(done)
				call(e2)
			}()
			select {
			case <-reached:
			case <-time.After(time.Minute):
				t.Error("the second call never reached LockProfiles")
			}
		})
		return nil
	}
	parts, err := graph.NewEngine(s, nil).UnlinkIdentifiers(graph.WithBeforeCommit(context.Background(), hook), a, b, "wrong link")
	<-done
	return parts, err
}

func revAt(min int) time.Time { return time.Date(2024, 1, 1, 0, min, 0, 0, time.UTC) }

func revEv(id string, min int, refs ...graph.IdentifierRef) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: "Viewed", Source: "test", Timestamp: revAt(min), Identifiers: refs}
}

// TestForgetProfileDuringTheSplitThatRevivesIt: forgetProfile(X), where X was merged into
// P, runs while unlinkIdentifiers splits X's part back out of P (X gets its
// id back). Serially, either the unlink comes first (X, holding x1, is
// forgotten; P keeps p1, p2) or the forget comes first (everything of P is
// forgotten, the unlink finds nothing). The concurrent run must end in one
// of those.
func TestForgetProfileDuringTheSplitThatRevivesIt(t *testing.T) {
	s := storetest.Neo4j(t)
	ctx := context.Background()
	e1 := graph.NewEngine(s, nil)
	p1 := graph.IdentifierRef{Type: graph.TypeUserID, Value: "p1"}
	p2 := graph.IdentifierRef{Type: graph.TypeEmail, Value: "p2@example.com"}
	x1 := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "x1"}
	if _, err := e1.ApplyBatch(ctx, []graph.Event{revEv("e1", 1, p1, p2), revEv("e2", 2, x1)}); err != nil {
		t.Fatal(err)
	}
	X := mergeAway(t, e1, x1, revEv("e3", 3, p1, x1))

	var forgetErr error
	parts, unlinkErr := unlinkDuring(t, s, p1, x1, func(e2 *graph.Engine) {
		_, forgetErr = e2.ForgetProfile(context.Background(), X, "erasure request", nil)
	})
	t.Logf("unlink: %v parts=%v; forget(%s): %v", unlinkErr, parts, X, forgetErr)

	ids, err := e1.Identifiers(ctx, []string{p1.Key(), p2.Key(), x1.Key()})
	if err != nil {
		t.Fatal(err)
	}
	_, hasP1 := ids[p1.Key()]
	_, hasP2 := ids[p2.Key()]
	_, hasX1 := ids[x1.Key()]
	unlinkFirst := hasP1 && hasP2 && !hasX1
	forgetFirst := !hasP1 && !hasP2 && !hasX1
	// X exists in either order, so the erasure succeeds; the unlink does
	// too when it comes first (after the forget it finds nothing).
	if forgetErr != nil || (unlinkFirst && unlinkErr != nil) {
		t.Fatalf("forget: %v; unlink: %v (stored p1=%v p2=%v x1=%v)", forgetErr, unlinkErr, hasP1, hasP2, hasX1)
	}
	if !unlinkFirst && !forgetFirst {
		t.Fatalf("forgetProfile(%s) concurrent with the unlink that gave %s back its id: stored p1=%v p2=%v x1=%v; a serial order leaves either only p1,p2 (unlink first) or nothing (forget first)", X, X, hasP1, hasP2, hasX1)
	}
}

// TestMergeProfilesDuringTheSplitThatRevivesIt: mergeProfiles(X, Q), where X (holding the
// user id x1) was merged into P, runs while unlinkIdentifiers splits x1 back
// out of P (X gets its id back). Either serial order ends with x1 and q1 in
// one profile and p2, p3 in another: unlink first merges X={x1} with Q; merge
// first links P's top identifier x1 to q1 by hand, and the unlink then
// leaves {x1, q1} and {p2, p3}.
func TestMergeProfilesDuringTheSplitThatRevivesIt(t *testing.T) {
	s := storetest.Neo4j(t)
	ctx := context.Background()
	e1 := graph.NewEngine(s, nil)
	x1 := graph.IdentifierRef{Type: graph.TypeUserID, Value: "x1"}
	p2 := graph.IdentifierRef{Type: graph.TypeEmail, Value: "p2@example.com"}
	p3 := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "p3"}
	q1 := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "q1"}
	if _, err := e1.ApplyBatch(ctx, []graph.Event{revEv("e1", 1, p2, p3), revEv("e2", 2, x1), revEv("e3", 3, q1)}); err != nil {
		t.Fatal(err)
	}
	pq, _ := e1.ProfileByIdentifier(ctx, q1)
	Q := pq.ID
	X := mergeAway(t, e1, x1, revEv("e4", 4, x1, p2))
	var mergeErr error
	_, unlinkErr := unlinkDuring(t, s, x1, p2, func(e2 *graph.Engine) {
		_, mergeErr = e2.MergeProfiles(context.Background(), []string{X, Q}, "same person")
	})
	t.Logf("unlink: %v; merge(%s, %s): %v", unlinkErr, X, Q, mergeErr)
	// Both succeed in either serial order.
	if unlinkErr != nil || mergeErr != nil {
		t.Fatalf("unlink: %v; merge(%s, %s): %v", unlinkErr, X, Q, mergeErr)
	}
	ps, err := e1.ProfilesByIdentifiers(ctx, []graph.IdentifierRef{x1, p2, p3, q1})
	if err != nil {
		t.Fatal(err)
	}
	if ps[x1].ID != ps[q1].ID || ps[p2].ID != ps[p3].ID || ps[x1].ID == ps[p2].ID {
		t.Fatalf("mergeProfiles(%s, %s) concurrent with the unlink that gave %s back its id: x1 in %s, q1 in %s, p2 in %s, p3 in %s; every serial order puts x1 with q1 and p2 with p3, apart", X, Q, X, ps[x1].ID, ps[q1].ID, ps[p2].ID, ps[p3].ID)
	}
}
