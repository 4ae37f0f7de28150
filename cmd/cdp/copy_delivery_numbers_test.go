package main

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// takeDelivered has the destination id of st take one batch of the feed
// entry e (its cursor at from), deliver it and prune it, as a delivering
// process does once the batch is older than --keep-delivered, and returns
// the batch's number.
func takeDelivered(t *testing.T, st graph.Store, id string, from uint64, e graph.FeedEntry, now time.Time) uint64 {
	t.Helper()
	ctx := context.Background()
	ds := st.(destination.Store)
	if _, ok, err := ds.AcquireLease(ctx, id, "proc", now, time.Hour); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	d, made, err := ds.TakeBatch(ctx, id, "proc", from, e.Seq, []graph.FeedEntry{e}, now)
	if err != nil || !made {
		t.Fatalf("take a batch of entry %d: %v %v", e.Seq, made, err)
	}
	storetest.Must(t, ds.RecordAttempt(ctx, id, "proc", d.Number, destination.Outcome{Status: destination.Delivered, Attempts: 1, LastStatusCode: 200, At: now}))
	if n, err := ds.PruneDelivered(ctx, id, now.Add(time.Second), destination.MaxPage); err != nil || n != 1 {
		t.Fatalf("prune the delivered batch: %d, %v", n, err)
	}
	storetest.Must(t, ds.ReleaseLease(ctx, id, "proc"))
	return d.Number
}

// A destination whose delivered batches were all pruned still numbers its
// next batch after them, and so does its copy, embedded -> Neo4j -> embedded:
// a copy never numbers a batch as one the source took before (the numbers
// were drawn from the deliveries copied, and a destination with none
// started again at 1). The verification compares the numbers.
func TestCopyKeepsDeliveryNumbersOfPrunedBatches(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	ingestEvents(t, dirA, map[string][]string{
		"m1": {"user_id:u1"}, "m2": {"user_id:u2"}, "m3": {"user_id:u3"}, "m4": {"user_id:u4"}, "m5": {"user_id:u5"},
	})
	src, err := embedded.Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	es, err := src.Feed(ctx, 0, nil, 10)
	if err != nil || len(es) < 5 {
		t.Fatalf("the source's feed: %d entries, %v; the test needs 5", len(es), err)
	}
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	d, err := src.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://hooks.example/crm",
		Secret: "s3cret-crm-0123456789abcdef", CreatedAt: now, UpdatedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	// Created now, it starts at the head: rewind it, as a copy writes it.
	d.Cursor = 0
	storetest.Must(t, src.LoadDestinations(ctx, []destination.Destination{d}))
	cursor := uint64(0)
	for i := range 3 {
		if n := takeDelivered(t, src, d.ID, cursor, es[i], now); n != uint64(i+1) {
			t.Fatalf("the source's batch %d is numbered %d", i+1, n)
		}
		cursor = es[i].Seq
	}
	storetest.Must(t, src.Close(ctx))

	neo := storetest.OpenNeo4j(t)
	out, errOut, code := copyRun(t, append([]string{"--from-data-dir", dirA}, neo4jFlags("to")...)...)
	if code != 0 {
		t.Fatalf("copy to Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := copyTable(out)["delivery numbers"]; got != [2]string{"3", "3"} {
		t.Errorf("copy to Neo4j prints delivery numbers %v, want 3 on both sides:\n%s", got, out)
	}
	if n := takeDelivered(t, neo, d.ID, cursor, es[3], now); n != 4 {
		t.Errorf("the Neo4j copy numbers the batch after 3 pruned ones %d, want 4", n)
	}
	cursor = es[3].Seq

	dirB := t.TempDir()
	out, errOut, code = copyRun(t, append(neo4jFlags("from"), "--to-data-dir", dirB)...)
	if code != 0 {
		t.Fatalf("copy from Neo4j: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := copyTable(out)["delivery numbers"]; got != [2]string{"4", "4"} {
		t.Errorf("copy from Neo4j prints delivery numbers %v, want 4 on both sides:\n%s", got, out)
	}
	back, err := embedded.Open(dirB)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close(ctx)
	if n := takeDelivered(t, back, d.ID, cursor, es[4], now); n != 5 {
		t.Errorf("the embedded copy numbers the batch after 4 pruned ones %d, want 5", n)
	}
}
