package neo4jstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// waitBlockedN returns once n transactions of the database wait on a lock.
func waitBlockedN(t *testing.T, n int) {
	t.Helper()
	waitForBlocked(t, n, func() {})
}

// redactAtOnce runs redact for p1 and for p2 in two transactions that
// start while another holds the lock of every node matched by lockAll,
// then lets them go on.
func redactAtOnce(t *testing.T, s graph.Store, lockAll string, redact func(ctx context.Context, tx graph.Tx, p string) error) {
	t.Helper()
	ctx := context.Background()
	commit := holdLock(t, rawSession(t), lockAll, nil)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []string{"p1", "p2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return redact(ctx, tx, p) })
		}()
	}
	waitBlockedN(t, 2)
	commit()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// appendThree appends EVENT_ADDED entries of p1, p2 and p3, at, in one
// transaction (one feed batch).
func appendThree(t *testing.T, s graph.Store, at time.Time) {
	t.Helper()
	storetest.Must(t, s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		return graph.AppendFeed(ctx, tx, []graph.FeedEntry{
			{At: at, Kind: graph.FeedEventAdded, ProfileID: "p1", EventID: "web/m1"},
			{At: at, Kind: graph.FeedEventAdded, ProfileID: "p2", EventID: "web/m2"},
			{At: at, Kind: graph.FeedEventAdded, ProfileID: "p3", EventID: "web/m3"},
		})
	}))
}

// createDest stores destination number n, made at t0, and returns its id.
func createDest(t *testing.T, ds destination.Store, n int, t0 time.Time) string {
	t.Helper()
	id := fmt.Sprintf("dst_%032x", n)
	_, err := ds.CreateDestination(context.Background(), destination.Destination{ID: id, Name: "crm", URL: "https://hooks.example.com/cdp",
		Secret: "a-secret-0123456789", BatchSize: 100, MaxAttempts: 3, CreatedAt: t0, UpdatedAt: t0})
	storetest.Must(t, err)
	return id
}

// Two erasures of profiles whose entries share a feed batch, at once: each
// reads the batch once it holds its lock, so the second keeps the first's
// gaps. Read before the lock, the second wrote the first's profile back.
func TestRedactFeedAtOnce(t *testing.T) {
	s := storetest.Neo4j(t)
	ctx := context.Background()
	at := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	appendThree(t, s, at)
	redactAtOnce(t, s, `MATCH (b:FeedBatch) SET b.lock = true REMOVE b.lock`, func(ctx context.Context, tx graph.Tx, p string) error {
		return graph.RedactFeed(ctx, tx, []string{p}, nil)
	})
	es, err := s.(graph.FeedStore).Feed(ctx, 0, nil, 100)
	storetest.Must(t, err)
	if len(es) != 1 || es[0].ProfileID != "p3" || es[0].Seq != 3 {
		t.Errorf("feed after erasing p1 and p2 at once: %+v, want p3's entry 3 alone", es)
	}
}

// The same for a delivery not yet delivered that holds both profiles.
func TestRedactDeliveriesAtOnce(t *testing.T) {
	s := storetest.Neo4j(t)
	ds := s.(destination.Store)
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	did := createDest(t, ds, 1, t0)
	appendThree(t, s, t0)
	_, held, err := ds.AcquireLease(ctx, did, "a", t0, time.Hour)
	if err != nil || !held {
		t.Fatal(held, err)
	}
	read, err := s.(graph.FeedStore).Feed(ctx, 0, nil, 10)
	storetest.Must(t, err)
	if _, made, err := ds.TakeBatch(ctx, did, "a", 0, 3, read, t0); err != nil || !made {
		t.Fatal(made, err)
	}
	redactAtOnce(t, s, `MATCH (x:Delivery) SET x.lock = true REMOVE x.lock`, func(ctx context.Context, tx graph.Tx, p string) error {
		_, err := tx.(destination.TxRedact).RedactDeliveries(ctx, []string{p}, nil)
		return err
	})
	got, err := ds.Deliveries(ctx, destination.DeliveryQuery{DestinationID: did, Limit: 10})
	storetest.Must(t, err)
	if len(got) != 1 || len(got[0].Entries) != 1 || got[0].Entries[0].ProfileID != "p3" {
		t.Errorf("deliveries after erasing p1 and p2 at once: %+v, want one holding p3's entry alone", got)
	}
}

// A replica releasing a lease that expired, while another takes it: the
// holder is read under the destination's lock, so the new holder keeps it.
func TestReleaseLeaseWhileAnotherTakesIt(t *testing.T) {
	s := storetest.Neo4j(t)
	ds := s.(destination.Store)
	ctx := context.Background()
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	did := createDest(t, ds, 2, t0)
	if _, held, err := ds.AcquireLease(ctx, did, "a", t0, time.Minute); err != nil || !held {
		t.Fatal(held, err)
	}
	// Replica b takes the expired lease in a transaction held open.
	commit := holdLock(t, rawSession(t), `MATCH (d:Destination {id: $id}) SET d.leaseHolder = 'b', d.leaseExpires = $until`,
		map[string]any{"id": did, "until": t0.Add(time.Hour)})
	done := make(chan error, 1)
	go func() { done <- ds.ReleaseLease(ctx, did, "a") }()
	waitBlockedN(t, 1)
	commit()
	storetest.Must(t, <-done)
	d, err := ds.Destination(ctx, did)
	storetest.Must(t, err)
	if d.Lease.Holder != "b" {
		t.Fatalf("a's release removed b's lease: holder %q, want b", d.Lease.Holder)
	}
}
