package neo4jstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestDeleteDestinationWaitsForABatchInFlight: a transaction that holds a
// destination's lock (as TakeBatch does) and adds a batch commits before
// DeleteDestination reads the batches, so the delete takes that batch too:
// none outlives its destination, where erasure would not find it.
func TestDeleteDestinationWaitsForABatchInFlight(t *testing.T) {
	s := storetest.Neo4j(t).(destination.Store)
	ctx := context.Background()
	const id = "dst_000000000000000000000000000000d1"
	at := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	if _, err := s.CreateDestination(ctx, destination.Destination{ID: id, Name: "crm", URL: "https://hooks.example.com/cdp",
		Secret: "s3cret-s3cret-s3cret", Kinds: []graph.FeedKind{graph.FeedMerged}, BatchSize: 50, MaxAttempts: 5,
		CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}

	// The other process: locks the destination, as TakeBatch does, and
	// adds a batch, holding its transaction open.
	sess := rawSession(t)
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close(ctx)
	for _, q := range []string{
		`MATCH (d:Destination {id: $id}) SET d.lock = true`,
		`CREATE (:Delivery {destinationId: $id, number: 0, id: 'in-flight', status: 'PENDING'})`,
	} {
		res, err := tx.Run(ctx, q, map[string]any{"id": id})
		if err == nil {
			_, err = res.Consume(ctx)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.DeleteDestination(ctx, id)
		done <- err
	}()
	// Commit only once the delete waits on the destination's lock, seen
	// by Neo4j as a blocked transaction; a delete that did not wait ends
	// first.
	waitBlocked(t, done)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("DeleteDestination: %v", err)
	}
	if n := single(t, sess, `MATCH (x:Delivery {destinationId: $id}) RETURN count(x)`, map[string]any{"id": id}); n != int64(0) {
		t.Fatalf("%v batches outlived their destination", n)
	}
}

// waitBlocked returns once some transaction of the database waits on a
// lock, or fails when done (the call under test) ends before that.
func waitBlocked(t *testing.T, done chan error) {
	t.Helper()
	waitForBlocked(t, 1, func() {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("the call ended (%v) without waiting for the transaction holding the lock", err)
		default:
		}
	})
}

// waitForBlocked returns once n transactions of the database wait on a
// lock, calling check before each look (it may fail the test).
func waitForBlocked(t *testing.T, n int, check func()) {
	t.Helper()
	sess := rawSession(t)
	deadline := time.Now().Add(time.Minute) // a safety net, not a timing assertion
	for time.Now().Before(deadline) {
		check()
		res, err := sess.Run(context.Background(), `SHOW TRANSACTIONS YIELD status RETURN status`, nil)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := res.Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, r := range recs {
			if st, _ := r.Values[0].(string); strings.HasPrefix(st, "Blocked") {
				k++
			}
		}
		if k >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("fewer than %d transactions waited on a lock within a minute", n)
}
