package graphtest

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// CheckSnapshot checks a graph.Snapshotter: reads under its Snapshot, from
// any goroutine, see what was committed when it began, while a merge
// outside it commits (two profiles under it, one outside); a write under
// it is refused (EINTERNAL), and so is a read under it once it has ended.
// s must be empty, and a commit during the snapshot must not wait for it
// (the embedded store's file within its initial memory map).
func CheckSnapshot(t *testing.T, s graph.Store) {
	t.Helper()
	ctx := context.Background()
	sn, ok := s.(graph.Snapshotter)
	if !ok {
		t.Fatalf("%T is no graph.Snapshotter", s)
	}
	e := graph.NewEngine(s, nil)
	count := func(ctx context.Context) int {
		t.Helper()
		var n int
		if err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			var err error
			n, err = tx.CountProfiles(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	apply(t, e, ev("s1", 1, anon("a")))
	apply(t, e, ev("s2", 2, anon("b")))
	var ended context.Context
	err := sn.Snapshot(ctx, func(sctx context.Context) error {
		ended = sctx
		apply(t, e, ev("s3", 3, anon("a"), anon("b"))) // merges a and b
		if n := count(ctx); n != 1 {
			t.Errorf("outside the snapshot, %d profiles after the merge; want 1", n)
		}
		got := make(chan int)
		go func() { got <- count(sctx) }()
		if n := <-got; n != 2 {
			t.Errorf("under the snapshot, %d profiles; want the 2 of its start", n)
		}
		werr := s.Update(sctx, func(ctx context.Context, tx graph.Tx) error { return nil })
		if graph.ErrorCode(werr) != graph.EINTERNAL {
			t.Errorf("a write under the snapshot: %v; want EINTERNAL", werr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.View(ended, func(context.Context, graph.ReadTx) error { return nil }); graph.ErrorCode(err) != graph.EINTERNAL {
		t.Errorf("a read under an ended snapshot: %v; want EINTERNAL", err)
	}
}
