package neo4jstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A write an operator terminates (TERMINATE TRANSACTIONS, as one does to
// unblock a database) is not the caller's fault: it is rerun, or fails as
// unavailable (503 with Retry-After), never as an internal error.
func TestTerminatedWriteIsUnavailable(t *testing.T) {
	s := storetest.Neo4j(t)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	at := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	event := func(id string) []graph.Event {
		return []graph.Event{{ID: id, Type: "track", Name: "Viewed", Channel: "web", Source: "test",
			Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "t-ann"}}}}
	}
	if _, err := eng.ApplyBatch(ctx, event("t1")); err != nil {
		t.Fatal(err)
	}
	sess := rawSession(t)
	commit := holdLock(t, sess, `MATCH (i:Identifier {key: $k}) SET i.key = i.key`, map[string]any{"k": "user_id:t-ann"})
	done := make(chan error, 1)
	go func() {
		_, err := eng.ApplyBatch(ctx, event("t2"))
		done <- err
	}()
	waitBlocked(t, done)
	other := rawSession(t)
	res, err := other.Run(ctx, `SHOW TRANSACTIONS YIELD transactionId, status WHERE status STARTS WITH 'Blocked' RETURN collect(transactionId)`, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := res.Single(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := rec.Values[0].([]any)
	if len(ids) == 0 {
		t.Fatal("no blocked transaction to terminate")
	}
	if res, err = other.Run(ctx, `TERMINATE TRANSACTIONS $ids`, map[string]any{"ids": ids}); err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	commit()
	if err := <-done; err != nil && graph.ErrorCode(err) != graph.EUNAVAILABLE {
		t.Fatalf("a terminated write failed with %q (code %s), want it rerun or unavailable", err, graph.ErrorCode(err))
	}
}
