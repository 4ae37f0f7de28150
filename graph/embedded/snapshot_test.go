package embedded

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// Reads under a Snapshot see what was committed when it began, whichever
// goroutine makes them, while a write outside it commits; a write under
// it is refused, and so is a read under it once it has ended.
func TestSnapshotReadsOneState(t *testing.T) {
	ctx := context.Background()
	s, err := OpenWith(t.TempDir(), Options{InitialMmapSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	e := graph.NewEngine(s, nil)
	apply := func(id string, keys ...string) {
		t.Helper()
		ev := graph.Event{ID: id, Type: "track", Name: "x", Timestamp: t0, ReceivedAt: t0}
		for _, k := range keys {
			ev.Identifiers = append(ev.Identifiers, graph.SplitKey(k))
		}
		if _, err := e.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
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
	apply("e1", "anonymous_id:a")
	apply("e2", "anonymous_id:b")
	var ended context.Context
	err = s.Snapshot(ctx, func(sctx context.Context) error {
		ended = sctx
		apply("e3", "anonymous_id:a", "anonymous_id:b") // merges a and b
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
