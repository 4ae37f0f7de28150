package intel_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
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

		// The store's own evaluation, where it has one, gives the same;
		// and so do both at the deadline's edge: Ann's purchase comes
		// 180 minutes after her view, so a funnel within 180 minutes
		// counts it and one within 179 does not.
		prio, dprio := e.Normalizer().Priorities()
		scope := audience.FilterQuery{Now: base, Priorities: prio, DefaultPriority: dprio}
		for _, c := range []struct {
			within time.Duration
			want   string
		}{{24 * time.Hour, "[2 1 1]"}, {180 * time.Minute, "[2 1 1]"}, {179 * time.Minute, "[2 1 0]"}} {
			q.Within = c.within
			f := intel.NewFunnel(q)
			from, to := q.Events()
			storetest.Must(t, intel.Scan(ctx, s, e, from, to, nil, func(_ string, evs []graph.Event) error {
				f.Add(evs)
				return nil
			}))
			results := map[string]intel.FunnelResult{"scan": f.Result()}
			if ev, ok := s.(intel.Evaluator); ok {
				r, err := ev.EvalFunnel(ctx, q, scope)
				storetest.Must(t, err)
				results["cypher"] = r
			}
			for how, r := range results {
				if r.Profiles != 3 || fmt.Sprint(counts(r)) != c.want || *r.Steps[1].MedianSecondsFromPrevious != 3600 {
					t.Fatalf("funnel within %s by %s: %+v, want counts %s", c.within, how, r, c.want)
				}
			}
		}
		q.Within = 24 * time.Hour

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

// Scan over several pages of profiles, and a profile with more events
// than one read returns: 450 people with one event each and one with
// 1,100, read in pages of 200 profiles and 500 events.
func TestScanPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, nil)
		var evs []graph.Event
		for i := range 450 {
			evs = append(evs, event(fmt.Sprintf("p%03d", i), "Product Viewed", "web", i, fmt.Sprintf("user_id:u%03d", i)))
		}
		for i := range 1100 {
			evs = append(evs, event(fmt.Sprintf("big%04d", i), "App Opened", "mobile", i%600, "user_id:big"))
		}
		for i := 0; i < len(evs); i += 500 {
			if _, err := e.ApplyBatch(ctx, evs[i:min(i+500, len(evs))]); err != nil {
				t.Fatal(err)
			}
		}

		var ids []string
		sizes := map[int]int{}
		storetest.Must(t, intel.Scan(ctx, s, e, time.Time{}, time.Time{}, nil, func(pid string, evs []graph.Event) error {
			ids = append(ids, pid)
			sizes[len(evs)]++
			if len(evs) == 1100 {
				seen := map[string]bool{}
				for i, ev := range evs {
					seen[ev.ID] = true
					if i > 0 && !(ev.Timestamp.Before(evs[i-1].Timestamp) || ev.Timestamp.Equal(evs[i-1].Timestamp) && ev.ID < evs[i-1].ID) {
						t.Fatalf("event %d of the big journey (%s) is not older than the one before (%s)", i, ev.ID, evs[i-1].ID)
					}
				}
				if len(seen) != 1100 {
					t.Fatalf("the big journey holds %d distinct events; want 1100", len(seen))
				}
			}
			return nil
		}))
		if len(ids) != 451 || sizes[1] != 450 || sizes[1100] != 1 {
			t.Fatalf("Scan gave %d profiles, by number of events %v; want 451: 450 of 1 and 1 of 1100", len(ids), sizes)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("profile %d (%s) comes after %s", i, ids[i], ids[i-1])
			}
		}

		// keep is asked once per page, in order: 200, 200 and 51
		// profiles; keeping none of the second page leaves 251.
		var asked []int
		n := 0
		storetest.Must(t, intel.Scan(ctx, s, e, time.Time{}, time.Time{},
			func(_ context.Context, ids []string) ([]string, error) {
				asked = append(asked, len(ids))
				if len(asked) == 2 {
					return nil, nil
				}
				return ids, nil
			},
			func(string, []graph.Event) error { n++; return nil }))
		if fmt.Sprint(asked) != "[200 200 51]" || n != 251 {
			t.Fatalf("keep was asked for pages of %v and Scan gave %d profiles; want [200 200 51] and 251", asked, n)
		}

		// fn's error stops the scan and is returned.
		stop := errors.New("enough")
		n = 0
		err := intel.Scan(ctx, s, e, time.Time{}, time.Time{}, nil, func(string, []graph.Event) error {
			if n++; n == 250 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 250 {
			t.Fatalf("with fn failing at the 250th profile, Scan called it %d times and returned %v", n, err)
		}

		// A cancelled context stops the scan by the end of the page.
		cctx, cancel := context.WithCancel(ctx)
		n = 0
		err = intel.Scan(cctx, s, e, time.Time{}, time.Time{}, nil, func(string, []graph.Event) error {
			if n++; n == 10 {
				cancel()
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) || n > 200 {
			t.Fatalf("cancelled at the 10th profile, Scan gave %d profiles and returned %v", n, err)
		}
	})
}

// A step with a where reads the events' properties: the scan is asked
// for them (ReadsProperties), and the funnel counts by them.
func TestScanProperties(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, nil)
		ann := event("a1", "Product Viewed", "web", 0, "user_id:ann")
		ann.Properties = map[string]any{"plan": "pro"}
		bob := event("b1", "Product Viewed", "web", 0, "user_id:bob")
		bob.Properties = map[string]any{"plan": "free"}
		evs := []graph.Event{ann, bob,
			event("a2", "Order Completed", "store", 60, "user_id:ann"),
			event("b2", "Order Completed", "store", 60, "user_id:bob")}
		if _, err := e.ApplyBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		pro := intel.FunnelQuery{Steps: []intel.EventMatch{
			{Name: "Product Viewed", Where: []audience.PropertyFilter{{Path: "plan", Op: audience.OpEQ, Value: "pro"}}},
			{Name: "Order Completed"}}, Within: time.Hour}
		all := intel.FunnelQuery{Steps: []intel.EventMatch{{Name: "Product Viewed"}, {Name: "Order Completed"}}, Within: time.Hour}
		if !pro.ReadsProperties() || all.ReadsProperties() {
			t.Fatalf("ReadsProperties: %v with a where, %v without; want true, false", pro.ReadsProperties(), all.ReadsProperties())
		}
		for _, c := range []struct {
			q    intel.FunnelQuery
			want string
		}{{pro, "[1 1]"}, {all, "[2 2]"}} {
			f := intel.NewFunnel(c.q)
			storetest.Must(t, intel.ScanWith(ctx, s, e, intel.ScanOptions{Properties: c.q.ReadsProperties()},
				func(_ string, evs []graph.Event) error { f.Add(evs); return nil }))
			if got := fmt.Sprint(counts(f.Result())); got != c.want {
				t.Fatalf("funnel %+v counts %s; want %s", c.q.Steps, got, c.want)
			}
		}
		plans := map[string]bool{}
		storetest.Must(t, intel.ScanWith(ctx, s, e, intel.ScanOptions{Properties: true}, func(_ string, evs []graph.Event) error {
			for _, ev := range evs {
				if p, ok := ev.Properties["plan"].(string); ok {
					plans[p] = true
				}
			}
			return nil
		}))
		if !plans["pro"] || !plans["free"] {
			t.Fatalf("asked for properties, the scan gave plans %v; want pro and free", plans)
		}
	})
}
