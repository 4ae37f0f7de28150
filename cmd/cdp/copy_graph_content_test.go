package main

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// The final check of cdp copy tells apart a target that differs from the
// source in what the resolution rules keep besides the partition: a
// link's evidence, a refused link's reason, the profile an old profile id
// redirects to, or a merge's recorded reason. Each of those differences
// leaves every count and the partition checksum equal, so only a content
// checksum of those kinds can find it. On both stores.
func TestCopyComparesTheGraphsContent(t *testing.T) {
	ctx := context.Background()
	dirA := t.TempDir()
	st, err := embedded.Open(dirA)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := func(id string, minute int, refs ...graph.IdentifierRef) graph.Event {
		ts := at.Add(time.Duration(minute) * time.Minute)
		return graph.Event{ID: "test/" + id, MessageID: id, Type: "track", Name: "Viewed", Source: "test", Timestamp: ts, ReceivedAt: ts, Identifiers: refs}
	}
	email := graph.IdentifierRef{Type: "email", Value: "a@x.example"}
	u1 := graph.IdentifierRef{Type: "user_id", Value: "u1"}
	u9 := graph.IdentifierRef{Type: "user_id", Value: "u9"}
	eng := graph.NewEngine(st, nil)
	// Two profiles, then an event that links them (a merge, a redirect
	// and a history entry), then one that two user ids refuse.
	for i, batch := range [][]graph.Event{
		{ev("g1", 0, email)}, {ev("g2", 1, u1)}, {ev("g3", 2, email, u1)}, {ev("g4", 3, u9)}, {ev("g5", 4, u1, u9)},
	} {
		if _, err := eng.ApplyBatch(ctx, batch); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	storetest.Must(t, st.Close(ctx))

	variants := []copyVariant{
		{"unaltered", func(*dump.Batch) {}, ""},
		{"link evidence", func(b *dump.Batch) {
			for i := range b.Links {
				b.Links[i].Evidence = "forged/evidence"
			}
		}, "links content"},
		{"refused link reason", func(b *dump.Batch) {
			for i := range b.Rejected {
				b.Rejected[i].Reason = b.Rejected[i].Reason + " (altered)"
			}
		}, "rejected content"},
		{"redirect", func(b *dump.Batch) {
			var merged, other int = -1, -1
			for i, p := range b.Profiles {
				if p.MergedInto != "" {
					merged = i
				}
			}
			if merged < 0 {
				return
			}
			for i, p := range b.Profiles {
				if p.MergedInto == "" && p.ID != b.Profiles[merged].MergedInto {
					other = i
				}
			}
			if other < 0 {
				t.Fatal("no third profile to redirect to")
			}
			b.Profiles[merged].MergedInto = b.Profiles[other].ID
		}, "profiles content"},
		{"merge reason", func(b *dump.Batch) {
			for i := range b.Changes {
				b.Changes[i].Reason = "altered"
			}
		}, "changes content"},
	}
	verifyAlteredCopies(t, dirA, variants, func(table map[string][2]string) bool {
		return table["partition sha256"][0] == table["partition sha256"][1] && table["links"] == [2]string{"1", "1"} &&
			table["rejected"] == [2]string{"1", "1"} && table["profiles"] == [2]string{"3", "3"} && table["changes"][0] == table["changes"][1]
	})
}
