package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// An event named with 10,000 bytes, which the collector took until
// 2026-12-06 and an embedded store still holds, is copied whole: embedded
// to Neo4j (whose index on events' name and time cannot hold a key of more
// than about 8 KB) and back, and reads back with its name on each, by id
// and in the journey of its profile.
func TestCopyKeepsEventNamesLongerThanTheIndexTakes(t *testing.T) {
	ctx := context.Background()
	dir, st := copySource(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	long := strings.Repeat("Viewed a very long page title ", 345)[:10000]
	ev := graph.Event{ID: "test/long", MessageID: "long", Type: "track", Name: long, Source: "test", Timestamp: at, ReceivedAt: at,
		Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u1"}}}
	short := ev
	short.ID, short.MessageID, short.Name, short.Timestamp = "test/short", "short", "Viewed", at.Add(time.Minute)
	eng := graph.NewEngine(st, nil)
	if res, err := eng.ApplyBatch(ctx, []graph.Event{ev, short}); err != nil || res.Stored != 2 {
		t.Fatalf("ApplyBatch: %+v, %v", res, err)
	}
	storetest.Must(t, st.Close(ctx))

	throughNeo4j(t, dir, func(what string, st graph.Store) {
		t.Helper()
		storetest.Must(t, st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			evs, err := tx.Events(ctx, []string{"test/long", "test/short"})
			if err != nil {
				return err
			}
			if got := evs["test/long"].Name; got != long {
				t.Errorf("%s: the long event's name reads back as %d bytes, want the %d written", what, len(got), len(long))
			}
			if got := evs["test/short"].Name; got != "Viewed" {
				t.Errorf("%s: the short event's name reads back as %q", what, got)
			}
			return nil
		}))
		p, err := graph.NewEngine(st, nil).ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u1"})
		storetest.Must(t, err)
		js, err := graph.NewEngine(st, nil).Journeys(ctx, []string{p.ID}, graph.JourneyQuery{Limit: 10})
		storetest.Must(t, err)
		var names []string
		for _, e := range js[p.ID] {
			names = append(names, e.Name)
		}
		if len(names) != 2 || names[0] != "Viewed" || names[1] != long {
			t.Errorf("%s: the journey holds %d events, want the short one then the long one whole", what, len(names))
		}
	})
}
