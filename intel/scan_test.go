package intel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
)

var base = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func event(id, name, channel string, minute int, keys ...string) graph.Event {
	e := graph.Event{ID: "intel/" + id, Type: "track", Name: name, Channel: channel, Source: channel,
		Timestamp: base.Add(time.Duration(minute) * time.Minute), ReceivedAt: base}
	for _, k := range keys {
		e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
	}
	return e
}

// A funnel over a store's profiles: Ann browses the website anonymously,
// logs in to the app, and buys in a store under her loyalty id, which her
// app login links. Counted per identifier, nobody completes the funnel;
// counted per profile, Ann does. Bob browses only; Cat buys in a store
// without browsing first.
func TestScanFunnelAcrossChannels(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, nil)
		evs := []graph.Event{
			event("a1", "Product Viewed", "web", 0, "anonymous_id:ann-web"),
			event("a2", "App Opened", "app", 60, "anonymous_id:ann-web", "user_id:ann", "loyalty_id:L1"),
			event("a3", "Order Completed", "store", 180, "loyalty_id:L1"),
			event("b1", "Product Viewed", "web", 10, "anonymous_id:bob-web"),
			event("c1", "Order Completed", "store", 30, "loyalty_id:L2"),
		}
		for _, ev := range evs {
			if _, err := e.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
		q := intel.FunnelQuery{Steps: []intel.EventMatch{{Name: "Product Viewed"}, {Channel: "app"}, {Name: "Order Completed"}},
			Within: 24 * time.Hour, ByChannel: true}
		storetest.Must(t, q.Check())
		f := intel.NewFunnel(q)
		from, to := q.Events()
		storetest.Must(t, intel.Scan(ctx, s, e, from, to, nil, func(_ string, evs []graph.Event) error {
			f.Add(evs)
			return nil
		}))
		got := f.Result()
		// Three profiles: Ann (all three steps), Bob (step 1), Cat (none).
		if got.Profiles != 3 || fmt.Sprint(counts(got)) != "[2 1 1]" || got.Steps[2].ByChannel["store"] != 1 ||
			*got.Steps[1].MedianSecondsFromPrevious != 3600 || *got.Steps[2].MedianSecondsFromPrevious != 7200 {
			t.Fatalf("funnel over the store: %+v", got)
		}

		// Per identifier, each identifier's own events: no identifier
		// has both a web view and a store purchase.
		perID := intel.NewFunnel(q)
		byKey := map[string][]graph.Event{}
		for _, ev := range evs {
			for _, id := range ev.Identifiers {
				byKey[id.Type+":"+id.Value] = append(byKey[id.Type+":"+id.Value], ev)
			}
		}
		for _, tl := range byKey {
			perID.Add(tl)
		}
		if n := perID.Result().Steps[2].Count; n != 0 {
			t.Fatalf("per identifier, %d complete the funnel; want 0", n)
		}

		// keep narrows the profiles; the window narrows the events read.
		var seen []string
		storetest.Must(t, intel.Scan(ctx, s, e, base.Add(20*time.Minute), base.Add(200*time.Minute),
			func(_ context.Context, ids []string) ([]string, error) { return ids[:1], nil },
			func(pid string, evs []graph.Event) error {
				seen = append(seen, fmt.Sprint(len(evs)))
				return nil
			}))
		if len(seen) != 1 {
			t.Fatalf("with keep taking the first profile, Scan gave %d", len(seen))
		}
	})
}

func counts(r intel.FunnelResult) []int {
	var out []int
	for _, s := range r.Steps {
		out = append(out, s.Count)
	}
	return out
}
