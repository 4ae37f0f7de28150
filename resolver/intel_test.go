package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// intelData stores three people. Ann browses the website anonymously,
// opens the app (which links her anonymous id, user id and loyalty card)
// and buys in a store with her loyalty card; Bob browses and opens the
// app; Cat buys in a store without browsing first. Ann and Bob have
// plan pro.
func intelData(e *env) {
	track := func(id string, minute int, name, channel string, ids ...string) graph.Event {
		x := withChannel(ev(id, t0.Add(time.Duration(minute)*time.Minute), "track", ids...), channel)
		x.Name = name
		return x
	}
	e.apply(
		track("a1", 0, "Product Viewed", "web", "anonymous_id:ann-web"),
		track("b1", 10, "Product Viewed", "web", "anonymous_id:bob-web"),
		track("c1", 20, "Order Completed", "store", "loyalty_id:L2"),
	)
	e.apply(
		withTraits(track("a2", 60, "App Opened", "mobile", "anonymous_id:ann-web", "user_id:ann", "loyalty_id:L1"), map[string]any{"plan": "pro"}),
		withTraits(track("b2", 70, "App Opened", "mobile", "anonymous_id:bob-web", "user_id:bob"), map[string]any{"plan": "pro"}),
	)
	e.apply(track("a3", 180, "Order Completed", "store", "loyalty_id:L1"))
}

// attributionAnswer is the answer of an attribution query selecting
// conversions and credits { key credit share }.
type attributionAnswer struct {
	Attribution struct {
		Conversions int
		Credits     []struct {
			Key           string
			Credit, Share float64
		}
	}
}

// TestTimeDecayFarBack: touchpoints more than 1,075 half-lives before the
// conversion, whose weights 2^(-age/halfLife) are 0 in float64, still
// share the credit by their distance from each other. Email at t0, web an
// hour later, the purchase 50 days on, half-life an hour: web weighs twice
// what email does, so 2/3 and 1/3.
func TestTimeDecayFarBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		track := func(id string, at time.Time, name, channel string) graph.Event {
			x := withChannel(ev(id, at, "track", "user_id:u1"), channel)
			x.Name = name
			return x
		}
		e.apply(
			track("d1", t0, "Email Opened", "email"),
			track("d2", t0.Add(time.Hour), "Product Viewed", "web"),
			track("d3", t0.Add(50*24*time.Hour), "Order Completed", "store"),
		)
		var a attributionAnswer
		e.query(`{ attribution(conversion: {name: "Order Completed"}, dimension: CHANNEL, model: TIME_DECAY, lookback: "P60D", halfLife: "PT1H") { conversions credits { key credit share } } }`, nil, &a)
		want := map[string]float64{"web": 2.0 / 3, "email": 1.0 / 3}
		if a.Attribution.Conversions != 1 || len(a.Attribution.Credits) != 2 {
			t.Fatalf("attribution: %+v, want one conversion credited to web and email", a.Attribution)
		}
		for _, c := range a.Attribution.Credits {
			if math.Abs(c.Credit-want[c.Key]) > 1e-9 || math.Abs(c.Share-want[c.Key]) > 1e-9 {
				t.Errorf("%s credited %v (share %v), want %v", c.Key, c.Credit, c.Share, want[c.Key])
			}
		}
	})
}

// TestPathsTiesByPath: paths of equal count are ordered by path, a path
// before its extensions and names in UTF-16 order, and the cut at first
// keeps the first of them in that order on both stores. Four starts, one
// path each: [b], [b c], [😀] and [\uE000]. In UTF-16 😀 (a surrogate pair
// from 0xD83D) comes before U+E000; in UTF-8 bytes it comes after.
func TestPathsTiesByPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		track := func(id, user string, minute int, name string) graph.Event {
			x := ev(id, t0.Add(time.Duration(minute)*time.Minute), "track", "user_id:"+user)
			x.Name = name
			return x
		}
		e.apply(
			track("s1", "u1", 0, "Start"), track("s1b", "u1", 1, "b"),
			track("s2", "u2", 0, "Start"), track("s2b", "u2", 1, "b"), track("s2c", "u2", 2, "c"),
			track("s3", "u3", 0, "Start"), track("s3a", "u3", 1, "\U0001F600"),
			track("s4", "u4", 0, "Start"), track("s4a", "u4", 1, "\uE000"),
		)
		var p struct {
			Paths []struct {
				Events []string
				Count  int
			}
		}
		e.query(`{ paths(start: {name: "Start"}, depth: 2, first: 3) { events count } }`, nil, &p)
		var got [][]string
		for _, x := range p.Paths {
			if x.Count != 1 {
				t.Fatalf("paths %+v: want every count 1", p.Paths)
			}
			got = append(got, x.Events)
		}
		want := [][]string{{"b"}, {"b", "c"}, {"\U0001F600"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("paths %q, want %q", got, want)
		}
	})
}

func TestIntelQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		intelData(e)

		// Funnel: Ann and Bob view (web), both open the app an hour
		// later (3600 s), Ann buys two hours after (7200 s). Cat's
		// purchase starts nothing.
		var f struct {
			Funnel struct {
				Profiles int
				Steps    []struct {
					Index, Count                                int
					ConversionFromPrevious, ConversionFromStart float64
					MedianSecondsFromPrevious                   *float64
					ByChannel                                   []struct {
						Channel string
						Count   int
					}
				}
			}
		}
		e.query(`{ funnel(steps: [{name: "Product Viewed"}, {channel: "mobile"}, {name: "Order Completed"}], within: "P1D", byChannel: true) {
  profiles steps { index count conversionFromPrevious conversionFromStart medianSecondsFromPrevious byChannel { channel count } } } }`, nil, &f)
		st := f.Funnel.Steps
		if f.Funnel.Profiles != 3 || len(st) != 3 || st[0].Count != 2 || st[1].Count != 2 || st[2].Count != 1 ||
			st[2].ConversionFromPrevious != 0.5 || st[2].ConversionFromStart != 0.5 || st[0].MedianSecondsFromPrevious != nil ||
			*st[1].MedianSecondsFromPrevious != 3600 || *st[2].MedianSecondsFromPrevious != 7200 ||
			len(st[2].ByChannel) != 1 || st[2].ByChannel[0].Channel != "store" {
			t.Fatalf("funnel: %+v", f.Funnel)
		}

		// The filter keeps Ann and Bob (plan pro), and from/to the views
		// in the first five minutes: Ann alone starts.
		e.query(`{ funnel(steps: [{name: "Product Viewed"}, {name: "Order Completed"}], within: "PT4H", from: "2024-05-01T12:00:00Z", to: "2024-05-01T12:05:00Z",
  filter: {trait: {name: "plan", op: EQ, value: "pro"}}) { profiles steps { index count conversionFromPrevious conversionFromStart medianSecondsFromPrevious byChannel { channel count } } } }`, nil, &f)
		if f.Funnel.Profiles != 2 || f.Funnel.Steps[0].Count != 1 || f.Funnel.Steps[1].Count != 1 || f.Funnel.Steps[1].ByChannel != nil {
			t.Fatalf("filtered funnel: %+v", f.Funnel)
		}

		// Attribution of the purchases by channel, linear, over a day:
		// Ann's purchase credits web (a1) and mobile (a2) half each;
		// Cat's has no touchpoint.
		var a attributionAnswer
		e.query(`{ attribution(conversion: {name: "Order Completed"}, dimension: CHANNEL, model: LINEAR, lookback: "P1D") { conversions credits { key credit share } } }`, nil, &a)
		want := map[string]float64{"(none)": 1, "web": 0.5, "mobile": 0.5}
		if a.Attribution.Conversions != 2 || len(a.Attribution.Credits) != 3 || a.Attribution.Credits[0].Key != "(none)" {
			t.Fatalf("attribution: %+v", a.Attribution)
		}
		for _, c := range a.Attribution.Credits {
			if math.Abs(c.Credit-want[c.Key]) > 1e-12 || math.Abs(c.Share-want[c.Key]/2) > 1e-12 {
				t.Fatalf("attribution credits %s %v (share %v), want %v", c.Key, c.Credit, c.Share, want[c.Key])
			}
		}

		// Paths after a view: Ann's App Opened then Order Completed; Bob's
		// App Opened alone.
		var p struct {
			Paths []struct {
				Events []string
				Count  int
				Share  float64
			}
		}
		e.query(`{ paths(start: {name: "Product Viewed"}, depth: 2) { events count share } }`, nil, &p)
		got, _ := json.Marshal(p.Paths)
		if string(got) != `[{"Events":["App Opened"],"Count":1,"Share":0.5},{"Events":["App Opened","Order Completed"],"Count":1,"Share":0.5}]` {
			t.Fatalf("paths: %s", got)
		}

		// Bad input names the argument.
		for q, want := range map[string][]string{
			`{ funnel(steps: [], within: "P1D") { profiles } }`:                                                                  {"steps is empty"},
			`{ funnel(steps: [{}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}], within: "P1D") { profiles } }`:                        {"steps has 11 steps"},
			`{ funnel(steps: [{name: "x"}], within: "soon") { profiles } }`:                                                      {"within"},
			`{ attribution(conversion: {}, dimension: CHANNEL, model: LINEAR, lookback: "P3Y") { conversions } }`:                {"lookback P3Y is longer than the most allowed, P730D"},
			`{ attribution(conversion: {}, dimension: CHANNEL, model: LINEAR, lookback: "P1D", halfLife: "x") { conversions } }`: {"halfLife"},
			`{ paths(start: {}, depth: 11) { count } }`:                                                                          {"depth must be 1 to 10, got 11"},
			`{ paths(start: {where: [{path: "", op: EXISTS}]}) { count } }`:                                                      {"start.where[0].path"},
		} {
			e.refused(q, nil, CodeInvalidArgument, want...)
		}
	})
}

// lookalikeData stores 120 people u0..u119. u0..u29 share a behaviour:
// trait interest=outdoor and 3 to 5 tent views in the app; the others
// browse pages on the web. The audience holds u0..u14 (its kept
// membership, written as the keeper would). The email consent of u15,
// u16 and u17 is GRANTED, of u18 DENIED.
// groupRest is the profiles of lookalikeData's group outside the seed
// audience (u15 to u29): the best matches.
func groupRest(e *env) map[string]bool {
	want := map[string]bool{}
	for i := 15; i < 30; i++ {
		want[e.profileID("user_id", fmt.Sprintf("u%d", i))] = true
	}
	return want
}

func lookalikeData(e *env) (string, []string) {
	e.t.Helper()
	now := time.Now().UTC()
	var evs []graph.Event
	for i := range 120 {
		u := fmt.Sprintf("u%d", i)
		traits := map[string]any{"plan": []string{"free", "pro"}[i%2]}
		if i < 30 {
			traits["interest"] = "outdoor"
		}
		evs = append(evs, withTraits(ev("id-"+u, now.Add(-10*24*time.Hour), "identify", "user_id:"+u), traits))
		n := 1 + i%3
		name, channel := "Page Viewed", "web"
		if i < 30 {
			n, name, channel = 3+i%3, "Tent Viewed", "mobile"
		}
		for k := range n {
			x := withChannel(ev(fmt.Sprintf("v-%s-%d", u, k), now.Add(-time.Duration(k+1)*time.Hour), "track", "user_id:"+u), channel)
			x.Name = name
			evs = append(evs, x)
		}
	}
	e.apply(evs...)
	a := createAudience(e, map[string]any{"name": "Campers", "filter": jsonOf(e.t, `{"trait":{"name":"interest","op":"EQ","value":"outdoor"}}`)})
	var seed []string
	for i := range 15 {
		seed = append(seed, e.profileID("user_id", fmt.Sprintf("u%d", i)))
	}
	st := e.engine.Store().(audience.Store)
	storetest.Must(e.t, st.ApplyMembership(context.Background(), a.ID, seed, nil, graph.Now()))
	for u, s := range map[string]string{"u15": "GRANTED", "u16": "GRANTED", "u17": "GRANTED", "u18": "DENIED"} {
		setConsent(e, map[string]any{"identifier": ident("user_id", u), "purpose": "email", "status": s})
	}
	return a.ID, seed
}

func TestLookalikeQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		aid, seed := lookalikeData(e)
		const op = `query($a: ID!, $n: Int!, $p: String) { lookalike(audienceId: $a, size: $n, purpose: $p) { profile { id } score reasons } }`
		type match struct {
			Profile struct{ ID string }
			Score   float64
			Reasons []string
		}
		var out struct{ Lookalike []match }
		e.query(op, map[string]any{"a": aid, "n": 15}, &out)
		// The 15 best are u15..u29, the rest of the group.
		want := groupRest(e)
		hits := 0
		for i, m := range out.Lookalike {
			if want[m.Profile.ID] {
				hits++
			}
			if slices.Contains(seed, m.Profile.ID) {
				t.Fatalf("match %s is a member", m.Profile.ID)
			}
			if i > 0 && m.Score > out.Lookalike[i-1].Score {
				t.Fatalf("matches not best first: %+v", out.Lookalike)
			}
			if len(m.Reasons) == 0 || m.Score <= 0 || m.Score > 1 {
				t.Fatalf("match %+v: want a score in (0, 1] and reasons", m)
			}
		}
		if len(out.Lookalike) != 15 || hits < 12 {
			t.Fatalf("%d matches, %d of them in the group; want 15 and at least 12: %+v", len(out.Lookalike), hits, out.Lookalike)
		}
		// With purpose email, only GRANTED profiles: u15, u16, u17.
		e.query(op, map[string]any{"a": aid, "n": 5, "p": "email"}, &out)
		var got []string
		for _, m := range out.Lookalike {
			got = append(got, m.Profile.ID)
		}
		slices.Sort(got)
		wantIDs := sortedIDs(e, "u15", "u16", "u17")
		if !slices.Equal(got, wantIDs) {
			t.Fatalf("with purpose email: %v, want %v", got, wantIDs)
		}

		// Bad input.
		e.refused(`{ lookalike(audienceId: "seg_00000000000000000000000000000000", size: 5) { score } }`, nil, CodeNotFound, "audienceId")
		e.refused(`{ lookalike(audienceId: "nope", size: 5) { score } }`, nil, CodeInvalidArgument, "audienceId")
		e.refused(fmt.Sprintf(`{ lookalike(audienceId: %q, size: 10001) { score } }`, aid), nil, CodeInvalidArgument, `argument "size" must be 1 to 10000, got 10001`)
		e.refused(fmt.Sprintf(`{ lookalike(audienceId: %q, size: 5, purpose: "nope") { score } }`, aid), nil, CodeInvalidArgument, "purpose")
		small := createAudience(e, map[string]any{"name": "Few", "filter": jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)})
		storetest.Must(t, e.engine.Store().(audience.Store).ApplyMembership(context.Background(), small.ID, seed[:9], nil, graph.Now()))
		e.refused(fmt.Sprintf(`{ lookalike(audienceId: %q, size: 5) { score } }`, small.ID), nil, CodeInvalidArgument, "audienceId: the audience has 9 members; at least 10")
	})
}

// from (inclusive) and to (exclusive) with a sub-microsecond part: stored
// times are whole microseconds, so an event at t0 is before
// from = t0+500ns and must not start the funnel; and it is before
// to = t0+500ns, so it must. Both bounds are rounded up, as the
// journey's are.
func TestIntelBoundsFinerThanAMicrosecond(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		x := ev("m1", t0, "track", "user_id:u1")
		x.Name = "A"
		e.apply(x)
		bound := t0.Add(500 * time.Nanosecond).Format(time.RFC3339Nano)
		var f struct {
			Funnel struct {
				Steps []struct{ Count int }
			}
		}
		e.query(`{ funnel(steps: [{name: "A"}], within: "P1D", from: "`+bound+`") { steps { count } } }`, nil, &f)
		if got := f.Funnel.Steps[0].Count; got != 0 {
			t.Errorf("from %s: the event at %s (before from) started %d funnels, want 0", bound, t0.Format(time.RFC3339Nano), got)
		}
		e.query(`{ funnel(steps: [{name: "A"}], within: "P1D", to: "`+bound+`") { steps { count } } }`, nil, &f)
		if got := f.Funnel.Steps[0].Count; got != 1 {
			t.Errorf("to %s: the event at %s (before to) started %d funnels, want 1", bound, t0.Format(time.RFC3339Nano), got)
		}
	})
}

// A to of the earliest instant (0001-01-01T00:00:00Z, a zero Go time) is
// a bound like any other, as journey's and auditLog's are: no event is
// before it, so nothing is counted, and a from after it is refused, though
// a zero window bound reads as no bound at all.
func TestIntelToAtTheEarliestInstant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		x := ev("m1", t0, "track", "user_id:u1")
		x.Name = "A"
		e.apply(x)
		for _, c := range []struct {
			to   string
			want int
		}{{"2999-01-01T00:00:00Z", 1}, {"0001-01-01T00:00:00Z", 0}, {"0001-01-01T01:00:00+01:00", 0}} {
			var out struct {
				Funnel      struct{ Steps []struct{ Count int } }
				Paths       []struct{ Count int }
				Attribution struct{ Conversions int }
			}
			e.query(`query($to: DateTime) {
				funnel(steps: [{name: "A"}], within: "P1D", to: $to) { steps { count } }
				paths(start: {name: "A"}, to: $to) { count }
				attribution(conversion: {name: "A"}, dimension: CHANNEL, model: LAST_TOUCH, lookback: "P1D", to: $to) { conversions }
			}`, map[string]any{"to": c.to}, &out)
			paths := 0
			for _, p := range out.Paths {
				paths += p.Count
			}
			if got := out.Funnel.Steps[0].Count; got != c.want {
				t.Errorf("funnel(to: %s): step 1 counts %d, want %d", c.to, got, c.want)
			}
			if paths != c.want {
				t.Errorf("paths(to: %s): %d starts, want %d", c.to, paths, c.want)
			}
			if got := out.Attribution.Conversions; got != c.want {
				t.Errorf("attribution(to: %s): %d conversions, want %d", c.to, got, c.want)
			}
		}
		e.refused(`{ funnel(steps: [{name: "A"}], within: "P1D", from: "2024-01-01T00:00:00Z", to: "0001-01-01T00:00:00Z") { steps { count } } }`, nil,
			CodeInvalidArgument, "from", "to")
	})
}

// A from at the earliest instant (0001-01-01T00:00:00Z, which a window
// reads as no bound) with a to at or before it is refused as any from not
// before its to is: from the earliest instant to the earliest instant is
// no span, nor is it to a moment of year 0. A from in year 0 before a to at
// the earliest instant is a span, and counts nothing.
func TestIntelFromAtTheEarliestInstantNotBeforeTo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		x := ev("m1", t0, "track", "user_id:u1")
		x.Name = "A"
		e.apply(x)
		queries := map[string]string{
			"funnel":      `query($from: DateTime, $to: DateTime) { funnel(steps: [{name: "A"}], within: "P1D", from: $from, to: $to) { steps { count } } }`,
			"paths":       `query($from: DateTime, $to: DateTime) { paths(start: {name: "A"}, from: $from, to: $to) { count } }`,
			"attribution": `query($from: DateTime, $to: DateTime) { attribution(conversion: {name: "A"}, dimension: CHANNEL, model: LAST_TOUCH, lookback: "P1D", from: $from, to: $to) { conversions } }`,
		}
		for _, c := range [][2]string{
			{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"},
			{"0001-01-01T01:00:00+01:00", "0001-01-01T00:00:00Z"},
			{"0001-01-01T00:00:00Z", "0000-06-01T00:00:00Z"},
		} {
			for name, q := range queries {
				r := e.post(q, map[string]any{"from": c[0], "to": c[1]})
				if r.code() != CodeInvalidArgument || !strings.Contains(r.Errors[0].Message, "from") {
					t.Errorf("%s(from: %s, to: %s): %s %+v, want INVALID_ARGUMENT naming from", name, c[0], c[1], r.Data, r.Errors)
				}
			}
		}
		var out struct {
			Funnel struct{ Steps []struct{ Count int } }
		}
		e.query(queries["funnel"], map[string]any{"from": "0000-06-01T00:00:00Z", "to": "0001-01-01T00:00:00Z"}, &out)
		if got := out.Funnel.Steps[0].Count; got != 0 {
			t.Errorf("funnel from year 0 to the earliest instant: step 1 counts %d, want 0", got)
		}
	})
}

// One profile whose computed SUM is past the range of a double (two
// orders of 1e308) does not spoil the lookalike of everyone: the fit keeps
// finite numbers only, every score is a probability, and the group's
// non-members (u15 to u29) are still the best matches.
func TestLookalikeWithASumPastTheRangeOfADouble(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		aid, _ := lookalikeData(e)
		now := time.Now().UTC().Add(-time.Hour)
		e.apply(order("big-1", "u100", now, 1e308), order("big-2", "u100", now.Add(time.Second), 1e308),
			order("s-1", "u1", now, 20.0), order("s-2", "u2", now, 30.0), order("s-3", "u50", now, 10.0))
		defineCT(e, map[string]any{"name": "revenue", "aggregate": "SUM", "event": "Order Completed", "property": "total"})
		var out struct {
			Lookalike []struct {
				Profile struct{ ID string }
				Score   float64
			}
		}
		e.query(`query($a: ID!) { lookalike(audienceId: $a, size: 15) { profile { id } score } }`, map[string]any{"a": aid}, &out)
		want := groupRest(e)
		hits := 0
		for _, m := range out.Lookalike {
			if want[m.Profile.ID] {
				hits++
			}
			if !(m.Score >= 0 && m.Score <= 1) {
				t.Errorf("score %v of %s is no probability", m.Score, m.Profile.ID)
			}
		}
		if len(out.Lookalike) != 15 || hits < 12 {
			t.Fatalf("%d matches, %d of them in the group; want 15, at least 12", len(out.Lookalike), hits)
		}
	})
}

// An EventMatch's type and channel are compared as ingest stores them
// (trimmed, lower-case), as the journey's list filters are: a step on
// channel "Web" counts the web events the one on "web" does, where it
// counted none, since no stored channel has a capital. A type that is no
// Segment type is refused, naming the field and not echoing the value.
func TestIntelMatchTakesTypeAndChannelAsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		order := withChannel(ev("o1", t0.Add(time.Hour), "track", "user_id:ann"), "store")
		order.Name = "Order Completed"
		e.apply(
			withChannel(ev("p1", t0, "page", "user_id:ann"), "web"),
			withChannel(ev("m1", t0.Add(30*time.Minute), "screen", "user_id:ann"), "mobile"),
			order,
			withChannel(ev("p2", t0, "page", "user_id:bob"), "web"),
		)
		var f struct {
			Funnel struct {
				Steps []struct{ Count int }
			}
		}
		e.query(`{ funnel(steps: [{type: "Page", channel: "Web"}, {type: " SCREEN "}, {name: "Order Completed", channel: "Store"}], within: "P1D") { steps { count } } }`, nil, &f)
		if got := fmt.Sprint(f.Funnel.Steps); got != "[{2} {1} {1}]" {
			t.Errorf("funnel on type Page, channel Web, then SCREEN, then channel Store: counts %s, want [{2} {1} {1}]", got)
		}
		var a attributionAnswer
		e.query(`{ attribution(conversion: {name: "Order Completed"}, touchpoints: {type: "PAGE", channel: "WEB"}, dimension: CHANNEL, model: LAST_TOUCH, lookback: "P1D") { conversions credits { key credit share } } }`, nil, &a)
		if a.Attribution.Conversions != 1 || len(a.Attribution.Credits) != 1 || a.Attribution.Credits[0].Key != "web" || a.Attribution.Credits[0].Credit != 1 {
			t.Errorf("attribution with touchpoints of type PAGE on channel WEB: %+v, want one conversion credited to web", a.Attribution)
		}
		var p struct {
			Paths []struct {
				Events []string
				Count  int
			}
		}
		e.query(`{ paths(start: {channel: "Mobile"}, depth: 1) { events count } }`, nil, &p)
		if got := fmt.Sprint(p.Paths); got != "[{[Order Completed] 1}]" {
			t.Errorf("paths after channel Mobile: %s, want [{[Order Completed] 1}]", got)
		}
		r := e.refused(`{ funnel(steps: [{name: "x"}, {type: "purchase"}], within: "P1D") { profiles } }`, nil, CodeInvalidArgument,
			"steps[1].type", "identify, track, page, screen, group, alias")
		if strings.Contains(r.Errors[0].Message, "purchase") {
			t.Errorf("the refusal echoes the value: %q", r.Errors[0].Message)
		}
		e.refused(`{ attribution(conversion: {name: "x"}, touchpoints: {type: "click"}, dimension: CHANNEL, model: LINEAR, lookback: "P1D") { conversions } }`, nil, CodeInvalidArgument, "touchpoints.type")
		e.refused(`{ paths(start: {type: "click"}) { count } }`, nil, CodeInvalidArgument, "start.type")
	})
}

// An EventMatch field given as an empty string is refused, naming it:
// the match could not tell it from one left out, so `channel: ""` (the
// key byChannel shows for events without a channel) would select the
// events of every channel, where every field given must hold. Ann has
// a web view and an in-store order; had the empty fields been taken as
// left out, each query would have answered.
func TestIntelMatchRefusesEmptyFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		view := withChannel(ev("v1", t0, "track", "user_id:ann"), "web")
		view.Name = "Product Viewed"
		order := withChannel(ev("o1", t0.Add(time.Hour), "track", "user_id:ann"), "store")
		order.Name = "Order Completed"
		e.apply(view, order)
		for _, c := range []struct{ query, arg, absent string }{
			{`{ funnel(steps: [{name: "Product Viewed"}, {name: ""}], within: "P1D") { profiles } }`, "steps[1].name", "events of any name"},
			{`{ funnel(steps: [{channel: ""}], within: "P1D") { profiles } }`, "steps[0].channel", "events of any channel"},
			{`{ attribution(conversion: {type: ""}, dimension: CHANNEL, model: LINEAR, lookback: "P1D") { conversions } }`, "conversion.type", "events of any type"},
			{`{ attribution(conversion: {name: "Order Completed"}, touchpoints: {channel: ""}, dimension: CHANNEL, model: LINEAR, lookback: "P1D") { conversions } }`, "touchpoints.channel", "events of any channel"},
			{`{ paths(start: {name: ""}) { count } }`, "start.name", "events of any name"},
		} {
			e.refused(c.query, nil, CodeInvalidArgument, fmt.Sprintf("argument %q must not be empty", c.arg), c.absent)
		}
	})
}
