package main

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// The final check of cdp copy tells apart a target whose webhook
// destination differs from the source's in where it delivers, how it
// signs, or where in the feed it goes on: the same number of destinations
// and the same delivery number on both sides, so only a content checksum
// of the destinations finds it. Leases, which a copy does not carry, are
// not compared. On both stores.
func TestCopyComparesDestinations(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	st, err := embedded.Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	d, err := st.CreateDestination(ctx, destination.Destination{ID: destination.NewID(), Name: "crm", URL: "https://hooks.example/crm",
		Secret: "s3cret-crm-0123456789abcdef", Headers: map[string]string{"X-Team": "crm", "X-Env": "prod"}, CreatedAt: now, UpdatedAt: now})
	storetest.Must(t, err)
	// A lease on the source, which the copy leaves behind.
	_, _, err = st.AcquireLease(ctx, d.ID, "proc", now, time.Hour)
	storetest.Must(t, err)
	e := graph.FeedEntry{Seq: 1, At: now, Kind: graph.FeedTraitsChanged, ProfileID: "p_elsewhere"}
	if _, made, err := st.TakeBatch(ctx, d.ID, "proc", 0, 1, []graph.FeedEntry{e}, now); err != nil || !made {
		t.Fatalf("take a batch: %v %v", made, err)
	}
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"unaltered", func(*dump.Batch) {}, ""},
		{"url", func(b *dump.Batch) {
			for i := range b.Destinations {
				b.Destinations[i].URL = "https://hooks.example/elsewhere"
			}
		}, "destinations content"},
		{"secret", func(b *dump.Batch) {
			for i := range b.Destinations {
				b.Destinations[i].Secret = "another-secret-0123456789"
			}
		}, "destinations content"},
		{"cursor", func(b *dump.Batch) {
			for i := range b.Destinations {
				b.Destinations[i].Cursor = 0
			}
		}, "destinations content"},
	}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table[string(dump.Destinations)] == [2]string{"1", "1"} && table["delivery numbers"] == [2]string{"1", "1"}
	})
}
