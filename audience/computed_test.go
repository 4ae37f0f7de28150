package audience

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"pgregory.net/rapid"
)

func ctUTC(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

const ctDay = 24 * time.Hour

// ctOrders is a profile's events for the hand-worked tests, at now =
// 2026-03-15T12:00Z. Kept by {Event: "Order Completed", EventType:
// "track"}, in order: a (-40d), b (-10d), c (-5d), d (-5d, after c by
// ID), g (-1d).
func ctOrders(now time.Time) []graph.Event {
	ev := func(id, typ, name string, ago time.Duration, props map[string]any) graph.Event {
		return graph.Event{ID: id, Type: typ, Name: name, Timestamp: now.Add(-ago), Properties: props}
	}
	b := ev("b", "track", "Order Completed", 10*ctDay, map[string]any{"total": 25.5, "cat": "hats"})
	return []graph.Event{
		ev("g", "track", "Order Completed", 1*ctDay, map[string]any{"total": int64(-4), "cat": nil}),
		ev("d", "track", "Order Completed", 5*ctDay, map[string]any{"total": "n/a", "cat": "shoes"}),
		b,
		ev("a", "track", "Order Completed", 40*ctDay, map[string]any{"total": json.Number("100"), "cat": "shoes", "meta": map[string]any{"channel": "web"}}),
		ev("e", "page", "Home", 2*ctDay, map[string]any{"total": 999}),
		ev("c", "track", "Order Completed", 5*ctDay, map[string]any{"total": 10, "cat": "shoes", "meta": map[string]any{"channel": "app"}}),
		ev("f", "track", "Product Viewed", 3*ctDay, map[string]any{"total": float32(7)}),
		b, // carried by a second identifier of the profile
	}
}

func TestComputeAggregates(t *testing.T) {
	now := ctUTC("2026-03-15T12:00:00Z")
	order := func(agg Aggregate, prop string) ComputedTrait {
		return ComputedTrait{Name: "x", Aggregate: agg, Event: "Order Completed", EventType: "track", Property: prop}
	}
	with := func(c ComputedTrait, f func(*ComputedTrait)) ComputedTrait { f(&c); return c }
	tests := []struct {
		name string
		def  ComputedTrait
		want any
	}{
		{"count", order(AggCount, ""), int64(5)},
		{"sum skips a string", order(AggSum, "total"), 131.5},
		{"min", order(AggMin, "total"), -4.0},
		{"max", order(AggMax, "total"), 100.0},
		{"avg over the 4 numbers", order(AggAvg, "total"), 32.875},
		{"first", order(AggFirst, "total"), 100.0},
		{"last", order(AggLast, "total"), -4.0},
		{"first cat", order(AggFirst, "cat"), "shoes"},
		{"last cat skips null", order(AggLast, "cat"), "shoes"},
		{"most frequent", order(AggMostFrequent, "cat"), "shoes"},
		{"unique cats", order(AggUniqueCount, "cat"), int64(2)},
		{"unique totals, the string among them", order(AggUniqueCount, "total"), int64(5)},
		{"window drops a", with(order(AggCount, ""), func(c *ComputedTrait) { c.Window = "P30D" }), int64(4)},
		{"window sum", with(order(AggSum, "total"), func(c *ComputedTrait) { c.Window = "P30D" }), 31.5},
		{"window first", with(order(AggFirst, "total"), func(c *ComputedTrait) { c.Window = "P30D" }), 25.5},
		{"window of 2 days keeps g", with(order(AggLast, "cat"), func(c *ComputedTrait) { c.Window = "P2D" }), nil},
		{"where on a nested path", with(order(AggSum, "total"), func(c *ComputedTrait) {
			c.Where = []PropertyFilter{{Path: "meta.channel", Op: OpEQ, Value: "app"}}
		}), 10.0},
		{"where NOT_EXISTS", with(order(AggCount, ""), func(c *ComputedTrait) {
			c.Where = []PropertyFilter{{Path: "meta", Op: OpNotExists}}
		}), int64(3)},
		{"two where filters", with(order(AggCount, ""), func(c *ComputedTrait) {
			c.Where = []PropertyFilter{{Path: "cat", Op: OpEQ, Value: "shoes"}, {Path: "total", Op: OpGT, Value: json.Number("50")}}
		}), int64(1)},
		{"type only", ComputedTrait{Aggregate: AggCount, EventType: "page"}, int64(1)},
		{"name only", ComputedTrait{Aggregate: AggMax, Event: "Product Viewed", Property: "total"}, 7.0},
		{"all tracks", ComputedTrait{Aggregate: AggCount, EventType: "track"}, int64(6)},
		{"no such event: count", ComputedTrait{Aggregate: AggCount, Event: "Refund"}, int64(0)},
		{"no such event: unique", ComputedTrait{Aggregate: AggUniqueCount, Event: "Refund", Property: "x"}, int64(0)},
		{"no such event: sum", ComputedTrait{Aggregate: AggSum, Event: "Refund", Property: "x"}, nil},
		{"no such event: avg", ComputedTrait{Aggregate: AggAvg, Event: "Refund", Property: "x"}, nil},
		{"no such event: first", ComputedTrait{Aggregate: AggFirst, Event: "Refund", Property: "x"}, nil},
		{"no such event: most frequent", ComputedTrait{Aggregate: AggMostFrequent, Event: "Refund", Property: "x"}, nil},
		{"no numbers: max", order(AggMax, "cat"), nil},
		{"missing property: last", order(AggLast, "nope"), nil},
		{"path through a string", order(AggFirst, "cat.x"), nil},
		{"first object as stored", order(AggFirst, "meta"), map[string]any{"channel": "web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.def.Compute(ctOrders(now), now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Compute = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestComputeMostFrequentAndUnique(t *testing.T) {
	now := ctUTC("2026-03-15T12:00:00Z")
	at := func(id string, min int, v any) graph.Event {
		return graph.Event{ID: id, Type: "track", Name: "E", Timestamp: now.Add(time.Duration(min) * time.Minute), Properties: map[string]any{"v": v}}
	}
	tests := []struct {
		name    string
		events  []graph.Event
		most    any
		uniques int64
	}{
		// x and y are tied at 2; x occurs first in time although y comes
		// first in the list.
		{"tie goes to the earliest first occurrence", []graph.Event{at("4", 4, "y"), at("3", 3, "y"), at("9", 9, "x"), at("1", 1, "x")}, "x", 2},
		// Same timestamp: the ID orders them, "a" before "b".
		{"tie on time, then ID", []graph.Event{at("b", 0, "y"), at("a", 0, "x")}, "x", 2},
		{"a clear winner", []graph.Event{at("1", 1, "x"), at("2", 2, "y"), at("3", 3, "y")}, "y", 2},
		// 1.0 and int32 1 are one number, tied with the string "1" twice;
		// the number occurs first.
		{"numbers in every form are one value", []graph.Event{at("1", 1, json.Number("1.0")), at("2", 2, "1"), at("3", 3, int32(1)), at("4", 4, "1")}, 1.0, 2},
		{"true and \"true\" differ", []graph.Event{at("1", 1, "true"), at("2", 2, true), at("3", 3, true)}, true, 2},
		{"lists and objects are no value", []graph.Event{at("1", 1, []any{"x"}), at("2", 2, map[string]any{"a": 1}), at("3", 3, nil)}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			most := ComputedTrait{Aggregate: AggMostFrequent, Event: "E", Property: "v"}.Compute(tt.events, now)
			if !reflect.DeepEqual(most, tt.most) {
				t.Errorf("MOST_FREQUENT = %#v, want %#v", most, tt.most)
			}
			uniq := ComputedTrait{Aggregate: AggUniqueCount, Event: "E", Property: "v"}.Compute(tt.events, now)
			if uniq != tt.uniques {
				t.Errorf("UNIQUE_COUNT = %#v, want %d", uniq, tt.uniques)
			}
		})
	}
}

func TestComputeSharedEvent(t *testing.T) {
	now := ctUTC("2026-03-15T12:00:00Z")
	events := []graph.Event{
		{ID: "own", Type: "track", Name: "E", Timestamp: now, Properties: map[string]any{"v": 3}},
		{ID: "shared", Type: "track", Name: "E", Timestamp: now, Shared: true},
	}
	tests := []struct {
		def  ComputedTrait
		want any
	}{
		{ComputedTrait{Aggregate: AggCount, Event: "E"}, int64(2)},
		{ComputedTrait{Aggregate: AggCount, Event: "E", Where: []PropertyFilter{{Path: "v", Op: OpNotExists}}}, int64(1)},
		{ComputedTrait{Aggregate: AggCount, Event: "E", Where: []PropertyFilter{{Path: "v", Op: OpGTE, Value: 0}}}, int64(1)},
		{ComputedTrait{Aggregate: AggAvg, Event: "E", Property: "v"}, 3.0},
	}
	for i, tt := range tests {
		if got := tt.def.Compute(events, now); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("case %d: Compute = %#v, want %#v", i, got, tt.want)
		}
	}
}

func TestComputeWindowEdges(t *testing.T) {
	tests := []struct {
		name, window, now string
		inside, outside   string // the window's first instant, and the one before
	}{
		{"days", "P30D", "2026-03-15T12:00:00Z", "2026-02-13T12:00:00Z", "2026-02-13T11:59:59.999999999Z"},
		{"weeks", "P2W", "2026-03-15T12:00:00Z", "2026-03-01T12:00:00Z", "2026-03-01T11:59:59.999999999Z"},
		{"hours", "PT12H", "2026-03-15T06:00:00Z", "2026-03-14T18:00:00Z", "2026-03-14T17:59:59.999999999Z"},
		{"minutes and seconds", "PT1M30S", "2026-03-15T06:00:00Z", "2026-03-15T05:58:30Z", "2026-03-15T05:58:29.999999999Z"},
		{"a month", "P1M", "2026-03-15T12:00:00Z", "2026-02-15T12:00:00Z", "2026-02-15T11:59:59.999999999Z"},
		// 31 February 2026 does not exist: the day is clamped to February's
		// last, the 28th, at the same time of day.
		{"a month back from the 31st", "P1M", "2026-03-31T12:00:00Z", "2026-02-28T12:00:00Z", "2026-02-28T11:59:59.999999999Z"},
		// 30 February neither: the 28th again, at 01:00, earlier than the
		// start at 29 March 23:00 (28 February 23:00).
		{"a month back from the 30th, early", "P1M", "2026-03-30T01:00:00Z", "2026-02-28T01:00:00Z", "2026-02-28T00:59:59.999999999Z"},
		{"a month back from the 1st", "P1M", "2026-04-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-02-28T23:59:59.999999999Z"},
		// April has 30 days: 31 May minus a month is 30 April.
		{"a month back into a 30-day month", "P1M", "2026-05-31T23:00:00Z", "2026-04-30T23:00:00Z", "2026-04-30T22:59:59.999999999Z"},
		{"a month back into a leap February", "P1M", "2028-03-29T08:00:00Z", "2028-02-29T08:00:00Z", "2028-02-29T07:59:59.999999999Z"},
		// February 2028 has 29 days: 31 March clamps to the leap day.
		{"a month back from the 31st to a leap day", "P1M", "2028-03-31T08:00:00Z", "2028-02-29T08:00:00Z", "2028-02-29T07:59:59.999999999Z"},
		// 29 February 2027 does not exist: 28 February 2027, same time.
		{"a year from a leap day", "P1Y", "2028-02-29T08:00:00Z", "2027-02-28T08:00:00Z", "2027-02-28T07:59:59.999999999Z"},
		{"years and months across a year", "P1Y2M", "2026-01-10T00:00:00Z", "2024-11-10T00:00:00Z", "2024-11-09T23:59:59.999999999Z"},
		// Months first: 31 March 12:00 minus P1M is 28 February 12:00
		// (clamped), then a day back: 27 February 12:00.
		{"a month and a day", "P1M1D", "2026-03-31T12:00:00Z", "2026-02-27T12:00:00Z", "2026-02-27T11:59:59.999999999Z"},
		// 13 months back: 20 May 2025 12:00; 8 days: 12 May; 1h1m1s: 10:58:59.
		{"every part", "P1Y1M1W1DT1H1M1S", "2026-06-20T12:00:00Z", "2025-05-12T10:58:59Z", "2025-05-12T10:58:58.999999999Z"},
		{"now in another zone", "P1D", "2026-03-15T12:00:00+05:00", "2026-03-14T07:00:00Z", "2026-03-14T06:59:59.999999999Z"},
		// The calendar is UTC's: 31 March 10:00 at +14:00 is 30 March 20:00
		// UTC, which clamps to 28 February 20:00 UTC. On the local calendar
		// it would be 28 February 10:00 +14:00, that is 27 February 20:00 UTC.
		{"months on the UTC calendar", "P1M", "2026-03-31T10:00:00+14:00", "2026-02-28T20:00:00Z", "2026-02-28T19:59:59.999999999Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := ctUTC(tt.now)
			def := ComputedTrait{Name: "n", Aggregate: AggUniqueCount, Event: "E", Property: "v", Window: tt.window}
			if err := def.Validate(); err != nil {
				t.Fatal(err)
			}
			events := []graph.Event{
				{ID: "in", Name: "E", Timestamp: ctUTC(tt.inside), Properties: map[string]any{"v": "in"}},
				{ID: "out", Name: "E", Timestamp: ctUTC(tt.outside), Properties: map[string]any{"v": "out"}},
				{ID: "future", Name: "E", Timestamp: now.Add(time.Hour), Properties: map[string]any{"v": "future"}},
			}
			if got := def.Compute(events, now); got != int64(2) {
				t.Fatalf("UNIQUE_COUNT = %v, want 2 (in, future)", got)
			}
			def.Aggregate = AggFirst
			if got := def.Compute(events, now); got != "in" {
				t.Fatalf("FIRST = %v, want in", got)
			}
		})
	}
}

// The clamp rule keeps the time of day, so the window's start never moves
// to an earlier date, but moves back in time at the midnights that begin
// a day February lacks: P1M at 28 March 2026 23:30 starts on 28 February
// 23:30, and at 29 March 00:00 on 28 February 00:00; likewise into 30
// and 31 March. Into 1 April it moves forward, to 1 March 00:00.
func TestWindowStartMovesBackOnlyAtClampedMidnights(t *testing.T) {
	d, err := ParseDuration("P1M")
	if err != nil {
		t.Fatal(err)
	}
	var backs []string
	t0 := ctUTC("2026-03-27T00:00:00Z")
	prev := d.Before(t0)
	for at := t0.Add(30 * time.Minute); at.Before(ctUTC("2026-04-03T00:00:00Z")); at = at.Add(30 * time.Minute) {
		s := d.Before(at)
		if y, m, day := s.Date(); time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Before(prev.Truncate(ctDay)) {
			t.Fatalf("start(%v) = %v, on a date before that of an earlier instant's %v", at, s, prev)
		}
		if s.Before(prev) {
			backs = append(backs, at.Format(time.RFC3339)+" "+s.Format(time.RFC3339))
		}
		prev = s
	}
	want := []string{
		"2026-03-29T00:00:00Z 2026-02-28T00:00:00Z",
		"2026-03-30T00:00:00Z 2026-02-28T00:00:00Z",
		"2026-03-31T00:00:00Z 2026-02-28T00:00:00Z",
	}
	if !reflect.DeepEqual(backs, want) {
		t.Fatalf("the start moved back at %q, want %q", backs, want)
	}
	if got := d.Before(ctUTC("2026-03-31T23:59:59Z")); !got.Equal(ctUTC("2026-02-28T23:59:59Z")) {
		t.Fatalf("start = %v, want 28 February 23:59:59", got)
	}
	if got := d.Before(ctUTC("2026-04-01T00:00:00Z")); !got.Equal(ctUTC("2026-03-01T00:00:00Z")) {
		t.Fatalf("start = %v, want 1 March", got)
	}
}

func TestNextChange(t *testing.T) {
	ev := func(id, at string) graph.Event {
		return graph.Event{ID: id, Type: "track", Name: "E", Timestamp: ctUTC(at)}
	}
	tests := []struct {
		name, window, now string
		events            []graph.Event
		want              string // "" for none
		delta             int64  // the count at want minus the count at now
	}{
		{"the oldest of two leaves first", "P30D", "2026-03-15T12:00:00Z",
			[]graph.Event{ev("1", "2026-03-05T12:00:00Z"), ev("2", "2026-02-23T12:00:00Z")}, "2026-03-25T12:00:00.000000001Z", -1},
		{"one exactly at the start leaves a nanosecond later", "P1D", "2026-03-15T12:00:00Z",
			[]graph.Event{ev("1", "2026-03-14T12:00:00Z")}, "2026-03-15T12:00:00.000000001Z", -1},
		{"events already out do not count", "P1D", "2026-03-15T12:00:00Z",
			[]graph.Event{ev("old", "2026-03-01T00:00:00Z"), ev("1", "2026-03-15T00:00:00Z")}, "2026-03-16T00:00:00.000000001Z", -1},
		// At 28 March 12:00 the start is 28 February 12:00, the event's
		// instant; a nanosecond later it has left.
		{"a month", "P1M", "2026-03-01T00:00:00Z",
			[]graph.Event{ev("1", "2026-02-28T12:00:00Z")}, "2026-03-28T12:00:00.000000001Z", -1},
		// Out at 28 March 18:00 (start 28 February 18:00); at 29 March
		// 00:00 the start is clamped to 28 February 00:00: back in.
		{"an event of the clamped day comes back at midnight", "P1M", "2026-03-28T18:00:00Z",
			[]graph.Event{ev("1", "2026-02-28T12:00:00Z")}, "2026-03-29T00:00:00Z", +1},
		// An event exactly at 28 February 00:00 is back at 29 March 00:00:
		// the start is its instant, and the start itself is inside.
		{"an event at the clamped day's midnight comes back", "P1M", "2026-03-28T18:00:00Z",
			[]graph.Event{ev("1", "2026-02-28T00:00:00Z")}, "2026-03-29T00:00:00Z", +1},
		// Back in at 29 March 00:00, out again at 12:00 and a nanosecond
		// (start 28 February 12:00:00.000000001).
		{"and leaves again at noon", "P1M", "2026-03-29T00:00:00Z",
			[]graph.Event{ev("1", "2026-02-28T12:00:00Z")}, "2026-03-29T12:00:00.000000001Z", -1},
		// The last time: out at 31 March 12:00 and a nanosecond, then 1
		// April 00:00 starts on 1 March, and every later start is later.
		{"for good after the month's end", "P1M", "2026-03-31T13:00:00Z",
			[]graph.Event{ev("1", "2026-02-28T12:00:00Z")}, "", 0},
		// Leaving comes first when it is before the midnight: "in" (28
		// February 20:00) leaves at 29 March 20:00 and a nanosecond, before
		// "out" (28 February 03:00, left out since 03:00) comes back at
		// 30 March 00:00.
		{"leaving before coming back", "P1M", "2026-03-29T06:00:00Z",
			[]graph.Event{ev("out", "2026-02-28T03:00:00Z"), ev("in", "2026-02-28T20:00:00Z")}, "2026-03-29T20:00:00.000000001Z", -1},
		// At 29 March 21:00 both are out; at 30 March 00:00 both are back.
		{"both come back at once", "P1M", "2026-03-29T21:00:00Z",
			[]graph.Event{ev("out", "2026-02-28T03:00:00Z"), ev("in", "2026-02-28T20:00:00Z")}, "2026-03-30T00:00:00Z", +2},
		// The start at 30 March 06:00 is 28 February 06:00 minus a day:
		// 27 February 06:00, after the event; at 31 March 00:00 it is 27
		// February 00:00, before it.
		{"a month and a day comes back too", "P1M1D", "2026-03-30T06:00:00Z",
			[]graph.Event{ev("1", "2026-02-27T03:00:00Z")}, "2026-03-31T00:00:00Z", +1},
		// start(t) stays on 1 March from 29 March to 1 April 00:00 in no
		// case: 29 to 31 March start on 28 February; 1 April 00:00 starts
		// on 1 March 00:00, the event's instant, a nanosecond later after it.
		{"an event on the 1st leaves after the month's end", "P1M", "2026-03-10T00:00:00Z",
			[]graph.Event{ev("1", "2026-03-01T00:00:00Z")}, "2026-04-01T00:00:00.000000001Z", -1},
		// No day of February maps back to 31 January: the start goes from
		// 28 January 23:59:59.999999999 (at the end of 28 February) to 1
		// February 00:00 (at 1 March 00:00), past the event.
		{"an event on the 31st leaves when March begins", "P1M", "2026-02-10T00:00:00Z",
			[]graph.Event{ev("1", "2026-01-31T10:00:00Z")}, "2026-03-01T00:00:00Z", -1},
		// In 2028 February has 29 days, mapping to 29 January at most.
		{"in a leap year too", "P1M", "2028-02-10T00:00:00Z",
			[]graph.Event{ev("1", "2028-01-31T10:00:00Z")}, "2028-03-01T00:00:00Z", -1},
		// No day of 2029 maps back to 29 February 2028: 28 February 2029
		// starts on 28 February 2028, 1 March 2029 on 1 March 2028.
		{"a leap day's event leaves a year when March begins", "P1Y", "2028-06-01T00:00:00Z",
			[]graph.Event{ev("1", "2028-02-29T12:00:00Z")}, "2029-03-01T00:00:00Z", -1},
		// Out at 28 February 2028 18:00 (start 28 February 2027 18:00); at
		// the leap day's midnight the start is clamped to 28 February 2027
		// 00:00.
		{"a year back from a leap day", "P1Y", "2028-02-28T18:00:00Z",
			[]graph.Event{ev("1", "2027-02-28T12:00:00Z")}, "2028-02-29T00:00:00Z", +1},
		{"and out again at noon of the leap day", "P1Y", "2028-02-29T00:00:00Z",
			[]graph.Event{ev("1", "2027-02-28T12:00:00Z")}, "2028-02-29T12:00:00.000000001Z", -1},
		{"a future event", "PT1H", "2026-03-15T12:00:00Z",
			[]graph.Event{ev("1", "2026-03-15T14:00:00Z")}, "2026-03-15T15:00:00.000000001Z", -1},
		// now at +05:00 is 31 March 21:00 UTC: the event (28 February
		// 12:00 UTC) is out, and stays out: the next UTC midnight is 1
		// April, which starts on 1 March.
		{"midnights are UTC's", "P1M", "2026-04-01T02:00:00+05:00",
			[]graph.Event{ev("1", "2026-02-28T12:00:00Z")}, "", 0},
		{"no window", "", "2026-03-15T12:00:00Z", []graph.Event{ev("1", "2026-03-15T11:00:00Z")}, "", 0},
		{"nothing kept, nothing comes back", "P1D", "2026-03-15T12:00:00Z", []graph.Event{ev("1", "2026-03-01T00:00:00Z")}, "", 0},
		{"no events", "P1D", "2026-03-15T12:00:00Z", nil, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := ComputedTrait{Name: "n", Aggregate: AggCount, Event: "E", Window: tt.window}
			if def.DependsOnTime() != (tt.window != "") {
				t.Fatalf("DependsOnTime = %v with window %q", def.DependsOnTime(), tt.window)
			}
			now := ctUTC(tt.now)
			got := def.NextChange(tt.events, now)
			if tt.want == "" {
				if !got.IsZero() {
					t.Fatalf("NextChange = %v, want zero", got.Format(time.RFC3339Nano))
				}
				return
			}
			if !got.Equal(ctUTC(tt.want)) {
				t.Fatalf("NextChange = %v, want %s", got.Format(time.RFC3339Nano), tt.want)
			}
			// A nanosecond before, the count is still now's; at it, it has
			// moved by delta.
			atNow, before, after := def.Compute(tt.events, now).(int64), def.Compute(tt.events, got.Add(-time.Nanosecond)).(int64), def.Compute(tt.events, got).(int64)
			if before != atNow || after-atNow != tt.delta {
				t.Fatalf("count %d at now, %d a nanosecond before NextChange, %d at it; want a change of %+d", atNow, before, after, tt.delta)
			}
		})
	}
}

// Where filters of computed traits are the filter language's
// PropertyFilter.Matches: these are the comparisons computed traits were
// written against, hand-worked, and the shared code must give them.
func TestWhereMatches(t *testing.T) {
	props := map[string]any{
		"s":     "Shoes",
		"n":     json.Number("12.5"),
		"i":     int64(3),
		"f":     3.0,
		"b":     true,
		"null":  nil,
		"list":  []any{"a", json.Number("2"), true},
		"obj":   map[string]any{"deep": map[string]any{"x": "y"}},
		"strn":  "12.5",
		"empty": "",
	}
	tests := []struct {
		path string
		op   Op
		val  any
		want bool
	}{
		{"s", OpEQ, "Shoes", true},
		{"s", OpEQ, "shoes", false}, // case-sensitive
		{"s", OpNEQ, "shoes", true},
		{"n", OpEQ, 12.5, true},
		{"n", OpEQ, "12.5", false}, // a number never equals a string
		{"strn", OpEQ, 12.5, false},
		{"n", OpNEQ, "12.5", false}, // types that do not compare
		{"i", OpEQ, json.Number("3.0"), true},
		{"i", OpEQ, 3, true},
		{"f", OpEQ, int64(3), true},
		{"n", OpGT, 12, true},
		{"n", OpGT, 12.5, false},
		{"n", OpGTE, 12.5, true},
		{"n", OpLT, json.Number("100"), true}, // as numbers, not "100" < "12.5"
		{"n", OpLTE, 12.4, false},
		{"s", OpGT, "Apple", true},
		{"s", OpLT, "apple", true}, // bytes: 'S' < 'a'
		{"s", OpGT, 1, false},
		{"b", OpEQ, true, true},
		{"b", OpEQ, "true", false},
		{"b", OpGT, false, false},
		{"s", OpIN, []any{"Hats", "Shoes"}, true},
		{"s", OpIN, []any{"hats", "shoes"}, false},
		{"i", OpIN, []any{"3", json.Number("3")}, true},
		{"i", OpIN, []any{"3"}, false},
		{"s", OpIN, "Shoes", false}, // IN takes a list
		{"s", OpContains, "hoe", true},
		{"s", OpContains, "HOE", false},
		{"list", OpContains, "a", true},
		{"list", OpContains, 2, true},
		{"list", OpContains, "2", false},
		{"list", OpContains, true, true},
		{"list", OpContains, "b", false},
		{"n", OpContains, "2", false},
		{"s", OpStartsWith, "Sh", true},
		{"s", OpStartsWith, "ho", false},
		{"strn", OpStartsWith, "12", true},
		{"n", OpStartsWith, "12", false},
		{"obj.deep.x", OpEQ, "y", true},
		{"obj.deep", OpEQ, "y", false},
		{"obj.deep.x.z", OpExists, nil, false},
		{"s.x", OpNotExists, nil, true},
		{"obj.deep", OpExists, nil, true},
		{"empty", OpExists, nil, true},
		{"empty", OpEQ, "", true},
		{"null", OpExists, nil, false},
		{"null", OpNotExists, nil, true},
		{"missing", OpNotExists, nil, true},
		{"missing", OpExists, nil, false},
		{"null", OpEQ, nil, false},
		{"missing", OpNEQ, "x", false},
		{"missing", OpLT, 1, false},
		{"null", OpIN, []any{"x"}, false},
		{"s", Op("LIKE"), "S", false},
	}
	for _, tt := range tests {
		pf := PropertyFilter{Path: tt.path, Op: tt.op, Value: tt.val}
		if got := pf.Matches(props); got != tt.want {
			t.Errorf("Matches(%s %s %#v) = %v, want %v", tt.path, tt.op, tt.val, got, tt.want)
		}
	}
	// A shared event's properties are withheld (nil): only NOT_EXISTS holds.
	for _, op := range Ops {
		pf := PropertyFilter{Path: "s", Op: op, Value: "Shoes"}
		switch op {
		case OpIN:
			pf.Value = []any{"Shoes"}
		case OpExists, OpNotExists:
			pf.Value = nil
		}
		if got := pf.Matches(nil); got != (op == OpNotExists) {
			t.Errorf("%s on no properties = %v", op, got)
		}
	}
}

func TestValidateComputedTrait(t *testing.T) {
	base := ComputedTrait{Name: "order_total_30d", Description: "What was ordered in 30 days", Aggregate: AggSum,
		Event: "Order Completed", EventType: "track", Property: "order.total",
		Where: []PropertyFilter{{Path: "currency", Op: OpEQ, Value: "EUR"}}, Window: "P30D"}
	if err := base.Validate(); err != nil {
		t.Fatalf("a good definition: %v", err)
	}
	long := strings.Repeat("secret-value", 30)
	// Names, ops and paths are clipped to 64 bytes in messages: 72 bytes
	// of a long input never appear whole.
	leak := strings.Repeat("secret-value", 6)
	tests := []struct {
		name  string
		edit  func(*ComputedTrait)
		field string // the error's first word
		says  string // and something else it says
	}{
		{"empty name", func(c *ComputedTrait) { c.Name = "" }, "input.name", "must not be empty"},
		{"name with a capital", func(c *ComputedTrait) { c.Name = "Orders" }, "input.name", "start with a lowercase letter"},
		{"name starting with a digit", func(c *ComputedTrait) { c.Name = "30d_orders" }, "input.name", "start with a lowercase letter"},
		{"name with a dash", func(c *ComputedTrait) { c.Name = "orders-30d" }, "input.name", "a-z, 0-9 and _"},
		{"name with a non-ASCII letter", func(c *ComputedTrait) { c.Name = "commandé" }, "input.name", "a-z, 0-9 and _"},
		{"name too long", func(c *ComputedTrait) { c.Name = strings.Repeat("a", 65) }, "input.name", "longer than 64"},
		{"unknown aggregate", func(c *ComputedTrait) { c.Aggregate = "MEDIAN" }, "input.aggregate", `"MEDIAN" is not one of COUNT, SUM`},
		{"no event nor type", func(c *ComputedTrait) { c.Event, c.EventType = "", "" }, "input.event", "input.eventType"},
		{"unknown type", func(c *ComputedTrait) { c.EventType = "purchase" }, "input.eventType", "track"},
		{"event name too long", func(c *ComputedTrait) { c.Event = strings.Repeat("n", 4097) }, "input.event", "longer than 4096"},
		{"no property", func(c *ComputedTrait) { c.Property = "" }, "input.property", "required for SUM"},
		{"property with an empty segment", func(c *ComputedTrait) { c.Property = "order..total" }, "input.property", "empty segment"},
		{"property ending in a dot", func(c *ComputedTrait) { c.Property = "order." }, "input.property", "empty segment"},
		{"property not UTF-8", func(c *ComputedTrait) { c.Property = "a\xff" }, "input.property", "UTF-8"},
		{"property on COUNT", func(c *ComputedTrait) { c.Aggregate = AggCount }, "input.property", "must be empty for COUNT"},
		{"empty where path", func(c *ComputedTrait) { c.Where = append(c.Where, PropertyFilter{Op: OpExists}) }, "input.where[1].path", "must not be empty"},
		{"bad where path", func(c *ComputedTrait) { c.Where = append(c.Where, PropertyFilter{Path: ".x", Op: OpExists}) }, "input.where[1].path", "empty segment"},
		{"unknown op", func(c *ComputedTrait) { c.Where = append(c.Where, PropertyFilter{Path: "x", Op: "LIKE"}) }, "input.where[1].op", `"LIKE" is not one of EQ, NEQ`},
		{"value on EXISTS", func(c *ComputedTrait) { c.Where[0].Op = OpExists }, "input.where[0].value", "EXISTS takes no value"},
		{"no value on EQ", func(c *ComputedTrait) { c.Where[0].Value = nil }, "input.where[0].value", "EQ needs a string, a number or a boolean"},
		{"list on EQ", func(c *ComputedTrait) { c.Where[0].Value = []any{"EUR"} }, "input.where[0].value", "got a list"},
		{"bool on GT", func(c *ComputedTrait) { c.Where[0] = PropertyFilter{Path: "x", Op: OpGT, Value: true} }, "input.where[0].value", "GT needs a number or a string, got a boolean"},
		{"number on STARTS_WITH", func(c *ComputedTrait) { c.Where[0] = PropertyFilter{Path: "x", Op: OpStartsWith, Value: 1} }, "input.where[0].value", "STARTS_WITH needs a string, got a number"},
		{"IN without a list", func(c *ComputedTrait) { c.Where[0].Op = OpIN }, "input.where[0].value", "IN needs a list"},
		{"IN with an empty list", func(c *ComputedTrait) { c.Where[0] = PropertyFilter{Path: "x", Op: OpIN, Value: []any{}} }, "input.where[0].value", "at least one value"},
		{"IN with an object", func(c *ComputedTrait) {
			c.Where[0] = PropertyFilter{Path: "x", Op: OpIN, Value: []any{"a", map[string]any{}}}
		}, "input.where[0].value[1]", "must be strings, numbers or booleans, got an object"},
		{"IN with too many values", func(c *ComputedTrait) {
			c.Where[0] = PropertyFilter{Path: "x", Op: OpIN, Value: make([]any, 1001)}
		}, "input.where[0].value", "at most 1000 values"},
		{"an infinite number", func(c *ComputedTrait) { c.Where[0].Value = json.Number("1e999") }, "input.where[0].value", "not a finite number"},
		{"a string value too long", func(c *ComputedTrait) { c.Where[0].Value = strings.Repeat("x", 1025) }, "input.where[0].value", "longer than the 1024 allowed"},
		{"too many where", func(c *ComputedTrait) { c.Where = make([]PropertyFilter, 21) }, "input.where", "at most 20"},
		{"bad window", func(c *ComputedTrait) { c.Window = "30 days" }, "input.window", "must start with P"},
		{"lowercase window", func(c *ComputedTrait) { c.Window = "p30d" }, "input.window", "must start with P"},
		{"window with a fraction", func(c *ComputedTrait) { c.Window = "P1.5D" }, "input.window", "whole numbers"},
		{"negative window", func(c *ComputedTrait) { c.Window = "-P1D" }, "input.window", "never negative"},
		{"window out of order", func(c *ComputedTrait) { c.Window = "P1D1M" }, "input.window", "in the order"},
		{"window with no time part after T", func(c *ComputedTrait) { c.Window = "P1DT" }, "input.window", "T must be followed"},
		{"zero window", func(c *ComputedTrait) { c.Window = "PT0S" }, "input.window", "zero long"},
		{"window over 100 years", func(c *ComputedTrait) { c.Window = "P101Y" }, "input.window", "longer than 100 years"},
		// 100 mean Gregorian years are 36,524.25 days.
		{"window of 36525 days", func(c *ComputedTrait) { c.Window = "P36525D" }, "input.window", "longer than 100 years"},
		{"window of 100 years and a day", func(c *ComputedTrait) { c.Window = "P1200M1D" }, "input.window", "longer than 100 years"},
		{"description too long", func(c *ComputedTrait) { c.Description = strings.Repeat("x", 1001) }, "input.description", "1000 bytes"},
		{"a long aggregate is clipped", func(c *ComputedTrait) { c.Aggregate = Aggregate(long) }, "input.aggregate", "is not one of"},
		{"a long op is clipped", func(c *ComputedTrait) { c.Where[0].Op = Op(long) }, "input.where[0].op", "is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Where = append([]PropertyFilter(nil), base.Where...)
			tt.edit(&c)
			err := c.Validate()
			var e *graph.Error
			if !errors.As(err, &e) || e.Code != graph.EINVALID {
				t.Fatalf("Validate = %v, want an EINVALID error", err)
			}
			if field, _, _ := strings.Cut(e.Message, ": "); field != tt.field {
				t.Fatalf("error %q does not begin with %s", e.Message, tt.field)
			}
			if !strings.Contains(e.Message, tt.says) {
				t.Fatalf("error %q does not say %q", e.Message, tt.says)
			}
			if strings.Contains(e.Message, leak) {
				t.Fatalf("error %q repeats a long input", e.Message)
			}
		})
	}
	// What passes.
	thousand := make([]any, 1000)
	for i := range thousand {
		thousand[i] = i
	}
	oks := []ComputedTrait{
		{Name: "n", Aggregate: AggCount, EventType: "page"},
		{Name: "orders", Aggregate: AggCount, Event: "Order Completed", Window: "P1Y"},
		{Name: "a_1", Aggregate: AggMostFrequent, Event: "x", Property: "a.b.c", Where: []PropertyFilter{
			{Path: "a", Op: OpNotExists}, {Path: "b", Op: OpIN, Value: []any{"x", json.Number("1"), true}},
			{Path: "c", Op: OpContains, Value: 2}, {Path: "d", Op: OpLTE, Value: "m"}, {Path: "e", Op: OpNEQ, Value: false},
		}},
		{Name: strings.Repeat("z", 64), Aggregate: AggFirst, Event: "x", Property: "p", Description: strings.Repeat("d", 1000)},
		{Name: "w", Aggregate: AggCount, Event: "x", Window: "P100Y"},
		{Name: "w", Aggregate: AggCount, Event: "x", Window: "P1200M"},
		{Name: "w", Aggregate: AggCount, Event: "x", Window: "P36524D"},
		{Name: "w", Aggregate: AggCount, Event: "x", Window: "P1Y1M1W1DT1H1M1S"},
		{Name: "w", Aggregate: AggCount, Event: "x", Where: []PropertyFilter{{Path: "x", Op: OpIN, Value: thousand}}},
	}
	for i, c := range oks {
		if err := c.Validate(); err != nil {
			t.Errorf("good definition %d: %v", i, err)
		}
	}
}

// ctRefWhere is a where filter the random test may draw, with the same
// condition written out by hand for the reference.
type ctRefWhere struct {
	pf   PropertyFilter
	pred func(props map[string]any) bool
}

var ctRefWheres = []ctRefWhere{
	{PropertyFilter{Path: "cat", Op: OpEQ, Value: "a"}, func(p map[string]any) bool { s, ok := p["cat"].(string); return ok && s == "a" }},
	{PropertyFilter{Path: "cat", Op: OpNotExists}, func(p map[string]any) bool { return p["cat"] == nil }},
	{PropertyFilter{Path: "cat", Op: OpIN, Value: []any{"b", "c"}}, func(p map[string]any) bool { return p["cat"] == "b" || p["cat"] == "c" }},
	{PropertyFilter{Path: "amount", Op: OpGTE, Value: json.Number("1")}, func(p map[string]any) bool { f, ok := ctRefNumber(p["amount"]); return ok && f >= 1 }},
	{PropertyFilter{Path: "amount", Op: OpExists}, func(p map[string]any) bool { _, in := p["amount"]; return in && p["amount"] != nil }},
}

var ctRefWindows = []string{"", "PT6H", "P1D", "P2W", "P1M", "P1Y", "P1M1D"}

// ctRefStart computes a window's start with AddDate on the UTC calendar.
// AddDate carries a day the month reached lacks into the next month (31
// March minus a month is 3 March in 2026); going back by that many days
// lands on the month's last day (28 February) at the same time of day:
// the clamp rule.
func ctRefStart(window string, now time.Time) time.Time {
	now = now.UTC()
	var y, m, d int
	var fixed time.Duration
	switch window {
	case "PT6H":
		fixed = 6 * time.Hour
	case "P1D":
		d = 1
	case "P2W":
		d = 14
	case "P1M":
		m = 1
	case "P1Y":
		y = 1
	case "P1M1D":
		m, d = 1, 1
	}
	back := now.AddDate(-y, -m, 0)
	if back.Day() != now.Day() {
		back = back.AddDate(0, 0, -back.Day())
	}
	return back.Add(-time.Duration(d)*24*time.Hour - fixed)
}

// ctRefNumber reads a number by reflection and parsing, not by type switch.
func ctRefNumber(v any) (float64, bool) {
	if n, ok := v.(json.Number); ok {
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// ctRefKey is a scalar's canonical text, "" for no scalar.
func ctRefKey(v any) string {
	if f, ok := ctRefNumber(v); ok {
		return "n:" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch x := v.(type) {
	case string:
		return "s:" + x
	case bool:
		return "b:" + strconv.FormatBool(x)
	}
	return ""
}

func ctRefValue(key string) any {
	kind, text, _ := strings.Cut(key, ":")
	switch kind {
	case "n":
		f, _ := strconv.ParseFloat(text, 64)
		return f
	case "b":
		return text == "true"
	}
	return text
}

func ctRefCompute(def ComputedTrait, wheres []ctRefWhere, events []graph.Event, now time.Time) any {
	// Sort everything, then drop repeats, which sit side by side.
	all := append([]graph.Event(nil), events...)
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Timestamp.Equal(all[j].Timestamp) {
			return all[i].Timestamp.Before(all[j].Timestamp)
		}
		return all[i].ID < all[j].ID
	})
	var kept []graph.Event
	for i, e := range all {
		if i > 0 && all[i-1].ID == e.ID {
			continue
		}
		if def.Event != "" && e.Name != def.Event {
			continue
		}
		if def.EventType != "" && e.Type != def.EventType {
			continue
		}
		if def.Window != "" && ctRefStart(def.Window, now).After(e.Timestamp) {
			continue
		}
		all := true
		for _, w := range wheres {
			all = all && w.pred(e.Properties)
		}
		if all {
			kept = append(kept, e)
		}
	}
	var values []any // the values at Property, in event order
	for _, e := range kept {
		var v any = e.Properties
		for _, seg := range strings.Split(def.Property, ".") {
			m, _ := v.(map[string]any)
			v = m[seg]
		}
		if v != nil {
			values = append(values, v)
		}
	}
	var nums []float64
	var keys []string
	for _, v := range values {
		if f, ok := ctRefNumber(v); ok {
			nums = append(nums, f)
		}
		if k := ctRefKey(v); k != "" {
			keys = append(keys, k)
		}
	}
	switch def.Aggregate {
	case AggCount:
		return int64(len(kept))
	case AggSum, AggAvg, AggMin, AggMax:
		if len(nums) == 0 {
			return nil
		}
		sorted := append([]float64(nil), nums...)
		sort.Float64s(sorted)
		total := 0.0
		for _, f := range sorted {
			total += f
		}
		return map[Aggregate]float64{AggSum: total, AggAvg: total / float64(len(nums)), AggMin: sorted[0], AggMax: sorted[len(sorted)-1]}[def.Aggregate]
	case AggFirst, AggLast:
		if len(values) == 0 {
			return nil
		}
		v := values[0]
		if def.Aggregate == AggLast {
			v = values[len(values)-1]
		}
		if f, ok := ctRefNumber(v); ok {
			return f
		}
		return v
	case AggUniqueCount:
		distinct := map[string]bool{}
		for _, k := range keys {
			distinct[k] = true
		}
		return int64(len(distinct))
	case AggMostFrequent:
		best, bestN := "", 0
		for i, k := range keys {
			n := 0
			for _, k2 := range keys {
				if k2 == k {
					n++
				}
			}
			if n > bestN && !ctContains(keys[:i], k) {
				best, bestN = k, n
			}
		}
		if bestN == 0 {
			return nil
		}
		return ctRefValue(best)
	}
	panic("unknown aggregate")
}

// ctRefKeptSet returns a function giving, at an instant, the set of events
// the reference keeps, as their distinct IDs in order.
func ctRefKeptSet(def ComputedTrait, wheres []ctRefWhere, events []graph.Event) func(time.Time) string {
	return func(at time.Time) string {
		ids := map[string]bool{}
		for _, e := range events {
			if def.Event != "" && e.Name != def.Event || def.EventType != "" && e.Type != def.EventType {
				continue
			}
			if ctRefStart(def.Window, at).After(e.Timestamp) {
				continue
			}
			all := true
			for _, w := range wheres {
				all = all && w.pred(e.Properties)
			}
			if all {
				ids[e.ID] = true
			}
		}
		list := make([]string, 0, len(ids))
		for id := range ids {
			list = append(list, id)
		}
		sort.Strings(list)
		return strings.Join(list, ",")
	}
}

func ctContains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// ctDrawValue draws a property value: numbers in every form a decoder gives
// (quarters, so any sum is exact), strings, booleans, lists, nulls.
func ctDrawValue(t *rapid.T, label string) any {
	q := rapid.IntRange(-8, 40).Draw(t, label+"q")
	switch rapid.IntRange(0, 8).Draw(t, label+"kind") {
	case 0:
		return json.Number(strconv.FormatFloat(float64(q)/4, 'f', -1, 64))
	case 1:
		return float64(q) / 4
	case 2:
		return q / 4
	case 3:
		return int64(q / 4)
	case 4:
		return rapid.SampledFrom([]string{"a", "b", "c", "1"}).Draw(t, label+"s")
	case 5:
		return q%2 == 0
	case 6:
		return []any{"a"}
	case 7:
		return nil
	default:
		return json.Number(strconv.Itoa(q % 3)) // repeats, for MOST_FREQUENT
	}
}

// ctDrawAt draws an event's time, in steps of 6 hours from now: anywhere
// from 150 days back to 2 days ahead, or near the edge of a P1M window
// (28 to 31 days back) or of a P1Y one (365 and 366 days back), where the
// clamp rule's month ends are.
func ctDrawAt(t *rapid.T) int {
	switch rapid.IntRange(0, 3).Draw(t, "near") {
	case 0:
		return rapid.IntRange(-128, -108).Draw(t, "at")
	case 1:
		return rapid.IntRange(-1472, -1452).Draw(t, "at")
	}
	return rapid.IntRange(-600, 8).Draw(t, "at")
}

func TestComputeMatchesReference(t *testing.T) {
	nows := []time.Time{ctUTC("2026-03-31T12:00:00Z"), ctUTC("2026-03-15T00:00:00Z"), ctUTC("2028-02-29T06:00:00Z"), ctUTC("2026-01-31T00:00:00Z"),
		ctUTC("2026-03-29T18:00:00Z"), ctUTC("2028-03-30T18:00:00Z"), ctUTC("2027-02-28T18:00:00Z"), ctUTC("2028-02-28T18:00:00Z")}
	rapid.Check(t, func(t *rapid.T) {
		now := rapid.SampledFrom(nows).Draw(t, "now")
		events := rapid.Permutation(ctDrawEvents(t, now, 14, true)).Draw(t, "order")
		def, wheres := ctDrawTrait(t, "t")
		if err := def.Validate(); err != nil {
			t.Fatalf("drawn definition: %v", err)
		}

		got, want := def.Compute(events, now), ctRefCompute(def, wheres, events, now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Compute = %#v, reference %#v", got, want)
		}

		// The kept set changes at NextChange and not before. Every event
		// and every now lies on the whole hours of UTC, and within a UTC
		// day the window's start is t less a whole number of hours (a
		// clamped date at t's time of day, less whole hours). So between
		// h+1ns and the next whole hour the start holds no whole hour and
		// keeps the same events: the set can change only at a whole hour h
		// or at h+1ns. The reference scans those instants.
		next := def.NextChange(events, now)
		if def.Window == "" {
			if !next.IsZero() {
				t.Fatalf("NextChange = %v with no window", next)
			}
			return
		}
		keptAt := ctRefKeptSet(def, wheres, events)
		atNow := keptAt(now)
		var change time.Time
		for h := now; h.Before(now.Add(400 * ctDay)); h = h.Add(time.Hour) {
			if h.After(now) && keptAt(h) != atNow {
				change = h
				break
			}
			if keptAt(h.Add(time.Nanosecond)) != atNow {
				change = h.Add(time.Nanosecond)
				break
			}
		}
		if !next.Equal(change) {
			t.Fatalf("NextChange = %v, reference %v (window %s, now %v)", next.Format(time.RFC3339Nano), change.Format(time.RFC3339Nano), def.Window, now)
		}
	})
}

// NextChange against the reference's scan, with now drawn at any whole
// hour near the month ends where the clamp rule moves the start back
// (March 2026, February and March 2028, May 2026) and events near the
// edge of the window.
func TestNextChangeMatchesReference(t *testing.T) {
	bases := []time.Time{ctUTC("2026-03-26T00:00:00Z"), ctUTC("2028-02-26T00:00:00Z"), ctUTC("2028-03-27T00:00:00Z"), ctUTC("2026-05-28T00:00:00Z")}
	rapid.Check(t, func(t *rapid.T) {
		now := rapid.SampledFrom(bases).Draw(t, "base").Add(time.Duration(rapid.IntRange(0, 24*7).Draw(t, "hour")) * time.Hour)
		window := rapid.SampledFrom([]string{"P1M", "P1M", "P1Y", "P1M1D", "P1D"}).Draw(t, "window")
		// Events within 30 hours of the window's start at now, or at the
		// midnight of its date (where a clamped start moves back to).
		start := ctRefStart(window, now)
		var events []graph.Event
		for i := range rapid.IntRange(1, 4).Draw(t, "events") {
			at := start.Add(time.Duration(rapid.IntRange(-30, 30).Draw(t, "at")) * time.Hour)
			if rapid.IntRange(0, 3).Draw(t, "midnight?") == 0 {
				at = start.Truncate(ctDay)
			}
			events = append(events, graph.Event{ID: fmt.Sprintf("e%d", i), Type: "track", Name: "E", Timestamp: at})
		}
		def := ComputedTrait{Name: "n", Aggregate: AggCount, Event: "E", Window: window}
		next := def.NextChange(events, now)
		// As in TestComputeMatchesReference: on whole hours, the set can
		// change only at a whole hour or a nanosecond after one.
		keptAt := ctRefKeptSet(def, nil, events)
		atNow := keptAt(now)
		var change time.Time
		for h := now; h.Before(now.Add(400 * ctDay)); h = h.Add(time.Hour) {
			if h.After(now) && keptAt(h) != atNow {
				change = h
				break
			}
			if keptAt(h.Add(time.Nanosecond)) != atNow {
				change = h.Add(time.Nanosecond)
				break
			}
		}
		if !next.Equal(change) {
			t.Fatalf("NextChange = %v, reference %v (window %s, now %v)", next.Format(time.RFC3339Nano), change.Format(time.RFC3339Nano), window, now)
		}
	})
}

// A filter's within and a computed trait's window are one rule: on the
// UTC calendar, whatever now's location. 31 March 10:00 at +14:00 is 30
// March 20:00 UTC; P1M back clamps to 28 February 20:00 UTC (on the
// local calendar it would be 28 February 10:00 +14:00, 27 February 20:00
// UTC, and both events would count).
func TestWithinAndWindowAgree(t *testing.T) {
	now := ctUTC("2026-03-31T10:00:00+14:00")
	events := []graph.Event{
		{ID: "in", Type: "track", Name: "E", Timestamp: ctUTC("2026-02-28T20:00:00Z")},
		{ID: "out", Type: "track", Name: "E", Timestamp: ctUTC("2026-02-28T19:59:59.999999999Z")},
	}
	def := ComputedTrait{Name: "n", Aggregate: AggCount, Event: "E", Window: "P1M"}
	if got := def.Compute(events, now); got != int64(1) {
		t.Fatalf("computed COUNT = %v, want 1", got)
	}
	for n, want := range map[int]bool{1: true, 2: false} {
		f := Filter{Event: &EventCondition{Name: "E", Within: "P1M", Count: &CountCondition{Op: OpEQ, Value: n}}}
		if got := f.Eval(&Subject{Events: events}, now); got != want {
			t.Errorf("within P1M, count EQ %d: Eval = %v, want %v", n, got, want)
		}
	}
}

// ctDrawEvents draws up to n events at now for a computed trait, some
// repeated and, with shared, some shared.
func ctDrawEvents(t *rapid.T, now time.Time, n int, shared bool) []graph.Event {
	var events []graph.Event
	for i := range rapid.IntRange(0, n).Draw(t, "events") {
		props := map[string]any{}
		for _, key := range []string{"amount", "cat"} {
			if rapid.IntRange(0, 3).Draw(t, key+"?") > 0 {
				props[key] = ctDrawValue(t, key)
			}
		}
		if rapid.Bool().Draw(t, "nested?") {
			props["nested"] = map[string]any{"amount": ctDrawValue(t, "nested")}
		}
		e := graph.Event{
			ID:         fmt.Sprintf("e%02d", rapid.IntRange(0, 40).Draw(t, "id")*100+i),
			Type:       rapid.SampledFrom([]string{"track", "page"}).Draw(t, "type"),
			Name:       rapid.SampledFrom([]string{"Order", "View"}).Draw(t, "name"),
			Timestamp:  now.Add(time.Duration(ctDrawAt(t)) * 6 * time.Hour),
			Properties: props,
		}
		if shared && rapid.IntRange(0, 9).Draw(t, "shared?") == 0 {
			e.Properties, e.Shared = nil, true
		}
		events = append(events, e)
		if rapid.IntRange(0, 3).Draw(t, "repeat?") == 0 {
			events = append(events, e)
		}
	}
	return events
}

// ctDrawTrait draws a definition named name over the events ctDrawEvents
// draws, and the reference's forms of its where filters.
func ctDrawTrait(t *rapid.T, name string) (ComputedTrait, []ctRefWhere) {
	def := ComputedTrait{
		Name:      name,
		Aggregate: rapid.SampledFrom(Aggregates).Draw(t, "aggregate"),
		Event:     rapid.SampledFrom([]string{"", "Order"}).Draw(t, "event"),
		EventType: rapid.SampledFrom([]string{"", "track"}).Draw(t, "eventType"),
		Window:    rapid.SampledFrom(ctRefWindows).Draw(t, "window"),
	}
	if def.Event == "" && def.EventType == "" {
		def.Event = "View"
	}
	if def.Aggregate != AggCount {
		def.Property = rapid.SampledFrom([]string{"amount", "cat", "nested.amount"}).Draw(t, "property")
	}
	var wheres []ctRefWhere
	for range rapid.IntRange(0, 2).Draw(t, "wheres") {
		w := rapid.SampledFrom(ctRefWheres).Draw(t, "where")
		wheres = append(wheres, w)
		def.Where = append(def.Where, w.pf)
	}
	return def, wheres
}
