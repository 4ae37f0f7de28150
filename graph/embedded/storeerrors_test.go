package embedded

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/telemetry"
)

// TestStoreErrorsCountsUnavailable closes the bbolt file under an open
// Store: Update and View then fail with the unavailable error they return,
// and that error, not bbolt's raw one, must be the one counted in
// cdp_store_errors_total.
func TestStoreErrorsCountsUnavailable(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	upd := telemetry.StoreErrors.WithLabelValues("update", graph.EUNAVAILABLE)
	view := telemetry.StoreErrors.WithLabelValues("view", graph.EUNAVAILABLE)
	updBefore, viewBefore := testutil.ToFloat64(upd), testutil.ToFloat64(view)

	ran := false
	err = s.Update(ctx, func(context.Context, graph.Tx) error { ran = true; return nil })
	if graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Fatalf("Update on a closed file = %v, want code %s", err, graph.EUNAVAILABLE)
	}
	err = s.View(ctx, func(context.Context, graph.ReadTx) error { ran = true; return nil })
	if graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Fatalf("View on a closed file = %v, want code %s", err, graph.EUNAVAILABLE)
	}
	if ran {
		t.Fatal("fn ran on a closed file")
	}
	// PruneAudit is a write as any other (as on Neo4j).
	if _, err := s.PruneAudit(ctx, time.Now()); graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Fatalf("PruneAudit on a closed file = %v, want code %s", err, graph.EUNAVAILABLE)
	}
	if got := testutil.ToFloat64(upd) - updBefore; got != 2 {
		t.Errorf("cdp_store_errors_total{op=update,code=unavailable} rose by %v, want 2 (Update and PruneAudit)", got)
	}
	if got := testutil.ToFloat64(view) - viewBefore; got != 1 {
		t.Errorf("cdp_store_errors_total{op=view,code=unavailable} rose by %v, want 1", got)
	}
	// A failure of fn itself is the caller's, not the store's: not counted.
	updBefore = testutil.ToFloat64(upd)
	s2, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(ctx)
	mine := errors.New("caller's own failure")
	if err := s2.Update(ctx, func(context.Context, graph.Tx) error { return mine }); !errors.Is(err, mine) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if got := testutil.ToFloat64(upd) - updBefore; got != 0 {
		t.Errorf("a failure of fn was counted as a store error (rose by %v)", got)
	}
}
