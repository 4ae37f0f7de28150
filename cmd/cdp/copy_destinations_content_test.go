package main

import (
	"context"
	"strings"
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

	variants := []struct {
		name  string
		alter func(b *dump.Batch)
		want  string
	}{
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
	for _, target := range copyTargets() {
		for _, v := range variants {
			t.Run(target.name+"/"+v.name, func(t *testing.T) {
				st, during, flags, _ := target.open(t)
				copyAltered(t, dirA, st, v.alter)
				var out, errOut string
				var code int
				during(func() {
					out, errOut, code = copyRun(t, append([]string{"--verify-only", "--from-data-dir", dirA}, flags...)...)
				})
				if table := copyTable(out); table[string(dump.Destinations)] != [2]string{"1", "1"} || table["delivery numbers"] != [2]string{"1", "1"} {
					t.Fatalf("destination counts or numbers differ, or the source is not as built:\n%s", out)
				}
				if v.want == "" {
					if code != 0 || errOut != "" {
						t.Fatalf("verify an unaltered copy: exit %d\n%s\n%s", code, out, errOut)
					}
					return
				}
				if want := "cdp copy: the stores differ: " + v.want + "\n"; code != 1 || errOut != want || strings.Contains(out, "match") {
					t.Errorf("verify a copy with another %s: exit %d, stderr %q, want %q\n%s", v.name, code, errOut, want, out)
				}
			})
		}
	}
}
