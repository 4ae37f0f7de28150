package neo4jstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/telemetry"
)

// PruneAudit is a store write as any other: when it fails (here it waits
// on a lock another transaction holds until its deadline passes) the
// failure is counted in cdp_store_errors_total{op="update"}, as the
// other writes' are; and a prune that runs counts nothing.
func TestPruneAuditErrorsCount(t *testing.T) {
	s := storetest.Neo4j(t).(access.Store)
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	storetest.Must(t, s.AppendAudit(ctx, []access.AuditEntry{{ID: "aud_old", At: at, Action: "createApiKey", Outcome: access.OutcomeOK}}))
	timeouts := telemetry.StoreErrors.WithLabelValues("update", "timeout")
	before := testutil.ToFloat64(timeouts)

	commit := holdLock(t, rawSession(t), `MATCH (a:AuditEntry {id: $id}) SET a.id = a.id`, map[string]any{"id": "aud_old"})
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := s.PruneAudit(short, at.Add(time.Hour))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PruneAudit past its deadline = %v, want the deadline exceeded", err)
	}
	if got := testutil.ToFloat64(timeouts) - before; got != 1 {
		t.Errorf(`cdp_store_errors_total{op="update",code="timeout"} rose by %v, want 1`, got)
	}
	commit()

	before = testutil.ToFloat64(timeouts)
	if _, err := s.PruneAudit(ctx, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(timeouts) - before; got != 0 {
		t.Errorf("a prune that ran rose the error count by %v", got)
	}
	if es, err := s.Audit(ctx, access.AuditQuery{Limit: 10}); err != nil || len(es) != 0 {
		t.Errorf("after the prune the log holds %d entries (%v), want none", len(es), err)
	}
}
