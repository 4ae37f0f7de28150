package intel_test

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
)

// largeEvents is one person's 420 events, three to a minute (event ids
// not in the order of arrival, so ties fall back on them), plus a second
// person's: the first 150 under an anonymous id alone, a profile of its
// own until the login at minute 50 carries the anonymous id and a user id,
// which merges it away into the user id's profile; every tenth event
// is a purchase and views repeat, so that each purchase has many
// touchpoints and the same channel several times among them. Every
// seventh also carries the second person's user id, which the rules keep
// apart: a shared event, whose properties show to one of them only.
func largeEvents() []graph.Event {
	names := []string{"view", "view", "click", "view", "add", "view", "click", "view", "view", "buy"}
	chans := []string{"web", "app", "email", "web"}
	const n = 420
	out := make([]graph.Event, 0, n+20)
	for i := range n {
		e := graph.Event{
			// 37 and 420 are coprime: every id once, in no time order.
			ID:         fmt.Sprintf("big/%03d", (i*37)%n),
			Type:       "track",
			Name:       names[i%len(names)],
			Channel:    chans[i%len(chans)],
			Source:     []string{"s1", "s2", ""}[i%3],
			Timestamp:  intel.T0.Add(time.Duration(i/3) * time.Minute),
			ReceivedAt: intel.T0,
			Properties: map[string]any{"v": float64(i % 4)},
		}
		switch {
		case i < 150:
			e.Identifiers = []graph.IdentifierRef{graph.SplitKey("anonymous_id:a1")}
		case i == 150:
			e.Name = "login"
			e.Identifiers = []graph.IdentifierRef{graph.SplitKey("anonymous_id:a1"), graph.SplitKey("user_id:u1")}
		default:
			e.Identifiers = []graph.IdentifierRef{graph.SplitKey("user_id:u1")}
		}
		if i%7 == 0 && i > 150 {
			e.Identifiers = append(e.Identifiers, graph.SplitKey("user_id:u2"))
		}
		out = append(out, e)
	}
	for i := range 20 {
		out = append(out, graph.Event{ID: fmt.Sprintf("other/%02d", i), Type: "track", Name: names[(i*3)%len(names)],
			Channel: "store", Timestamp: intel.T0.Add(time.Duration(i*5) * time.Minute), ReceivedAt: intel.T0,
			Identifiers: []graph.IdentifierRef{graph.SplitKey("user_id:u2")}})
	}
	return out
}

// A profile of hundreds of events, merged from another during them, with
// ties and shared events: both stores answer attributions, paths and
// funnels as the naive reference does, and a few figures worked by hand
// hold.
func TestLargeProfileMatchesReference(t *testing.T) {
	events := largeEvents()
	// Batches of 100: the merge happens in the second.
	ans := onBothStores(t, events, 100)
	parts := partition(t, ans.engE)
	if got := partition(t, ans.engN); !reflect.DeepEqual(got, parts) {
		t.Fatalf("the stores' partitions differ:\nembedded %v\nneo4j    %v", parts, got)
	}
	if want := [][]string{{"anonymous_id:a1", "user_id:u1"}, {"user_id:u2"}}; !reflect.DeepEqual(parts, want) {
		t.Fatalf("partition %v, want %v", parts, want)
	}
	tls := refTimelines(events, parts, ans.prio, ans.dprio, false)
	// Bounds on minutes that hold events: from is in, to is out.
	window := intel.Window{From: intel.T0.Add(20 * time.Minute), To: intel.T0.Add(120 * time.Minute)}

	// By hand: u1's purchases are the events 9, 19, ..., 419 (minutes 3,
	// 6, ..., 139), 42; 4 of them (189, 259, 329, 399) are shared with u2,
	// whose own are at minutes 15 and 65: 48 in all. In the window,
	// minutes 20 to 119, u1's are the events 69 to 359, 30, of which 3
	// shared, and u2's at minute 65: 34.
	for _, tc := range []struct {
		q    intel.AttributionQuery
		hand int
	}{
		{intel.AttributionQuery{Conversion: intel.EventMatch{Name: "buy"}, Dimension: intel.DimChannel, Model: intel.Linear, Lookback: 10 * time.Minute, Window: window}, 34},
		{intel.AttributionQuery{Conversion: intel.EventMatch{Name: "buy"}, Dimension: intel.DimEvent, Model: intel.PositionBased, Lookback: 2 * time.Hour}, 48},
		{intel.AttributionQuery{Conversion: intel.EventMatch{Name: "buy"}, Dimension: intel.DimChannel, Model: intel.Linear, Lookback: 3 * time.Hour}, 48},
		{intel.AttributionQuery{Conversion: intel.EventMatch{Name: "buy"}, Dimension: intel.DimSource, Model: intel.TimeDecay, Lookback: 30 * time.Minute, HalfLife: 5 * time.Minute, Window: window}, 34},
		{intel.AttributionQuery{Conversion: intel.EventMatch{Name: "buy"}, Touchpoints: &intel.EventMatch{Name: "view", Where: []audience.PropertyFilter{{Path: "v", Op: audience.OpGTE, Value: 2.0}}},
			Dimension: intel.DimChannel, Model: intel.FirstTouch, Lookback: time.Hour}, 48},
		{intel.AttributionQuery{Conversion: intel.EventMatch{Channel: "app"}, Dimension: intel.DimCampaign, Model: intel.LastTouch, Lookback: 3 * time.Minute, Window: window}, -1},
	} {
		q := tc.q
		n, want := intel.RefAttribution(q, tls)
		if tc.hand >= 0 && n != tc.hand {
			t.Fatalf("attribution %+v: the reference counts %d conversions, by hand %d", q, n, tc.hand)
		}
		for name, r := range ans.attribution(q) {
			if r.Conversions != n || len(r.Credits) != len(want) {
				t.Fatalf("attribution %+v on %s: %d conversions %+v, want %d and %v", q, name, r.Conversions, r.Credits, n, want)
			}
			for _, c := range r.Credits {
				if math.Abs(c.Credit-want[c.Key]) > 1e-9 {
					t.Fatalf("attribution %+v on %s: %s credited %v, want %v", q, name, c.Key, c.Credit, want[c.Key])
				}
			}
		}
	}

	// By hand: views are 6 of every 10 of u1's events; in minutes 20 to
	// 119, events 60 to 359, 180 less event 150 (the login), of which 18
	// shared with u2; u2's own at minutes 25, 30, 35, 45, 50, 55, 75, 80,
	// 85, 95: 207.
	for _, tc := range []struct {
		q    intel.PathsQuery
		hand int
	}{
		{intel.PathsQuery{Start: intel.EventMatch{Name: "view"}, Depth: 4, First: 20, Window: window}, 207},
		{intel.PathsQuery{Start: intel.EventMatch{Name: "add"}, Depth: 10, First: 5, Within: 2 * time.Minute}, -1},
		{intel.PathsQuery{Start: intel.EventMatch{Name: "login"}, Depth: 6, First: 3}, 1},
	} {
		q := tc.q
		want := refPathsResult(q, tls)
		if tc.hand >= 0 && want.Starts != tc.hand {
			t.Fatalf("paths %+v: the reference counts %d starts, by hand %d", q, want.Starts, tc.hand)
		}
		for name, r := range ans.paths(q) {
			if fmt.Sprint(r) != fmt.Sprint(want) {
				t.Fatalf("paths %+v on %s:\n got %v\nwant %v", q, name, r, want)
			}
		}
	}

	q := intel.FunnelQuery{Steps: []intel.EventMatch{{Name: "login"}, {Name: "add"}, {Name: "buy"}}, Within: time.Hour, Window: window, ByChannel: true}
	want := intel.RefFunnel(q, tls)
	// By hand: u1's login (minute 50), its next add (event 154, minute
	// 51), its next purchase (event 159, minute 53).
	if want.Steps[2].Count != 1 || *want.Steps[2].MedianSecondsFromPrevious != 120 {
		t.Fatalf("the reference's funnel %s, want one purchase 120 s after its add", intel.Show(want))
	}
	for name, r := range ans.funnel(q) {
		if intel.Show(r) != intel.Show(want) || !reflect.DeepEqual(r, want) {
			t.Fatalf("funnel on %s:\n got %s\nwant %s", name, intel.Show(r), intel.Show(want))
		}
	}
}
