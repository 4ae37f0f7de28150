package intel

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

var t0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

func ev(id, name, typ, channel string, minute int) graph.Event {
	return graph.Event{ID: id, Name: name, Type: typ, Channel: channel, Source: channel + "-src", Timestamp: t0.Add(time.Duration(minute) * time.Minute)}
}

// One person browses the site, opens the app, then buys in a store; a
// second browses only; a third buys in a store without browsing first.
// Counted per person the store purchase completes the funnel once.
func journeys() [][]graph.Event {
	return [][]graph.Event{
		{ev("a3", "Order Completed", "track", "store", 60*24), ev("a1", "Product Viewed", "track", "web", 0), ev("a2", "App Opened", "track", "app", 30)},
		{ev("b1", "Product Viewed", "track", "web", 5), ev("b2", "Product Viewed", "track", "web", 6)},
		{ev("c1", "Order Completed", "track", "store", 10), ev("c2", "Product Viewed", "track", "web", 20)},
	}
}

func TestFunnelHandWorked(t *testing.T) {
	q := FunnelQuery{Steps: []EventMatch{{Name: "Product Viewed"}, {Channel: "app"}, {Name: "Order Completed"}},
		Within: 2 * day, ByChannel: true}
	if err := q.Check(); err != nil {
		t.Fatal(err)
	}
	f := NewFunnel(q)
	for _, tl := range journeys() {
		f.Add(tl)
	}
	got := f.Result()
	// Step 1: a (a1), b (b1), c (c2, after its purchase). Step 2: a (a2,
	// 30 minutes after a1). Step 3: a (a3, 1410 minutes after a2).
	m2, m3 := 1800.0, 84600.0
	want := FunnelResult{Profiles: 3, Steps: []FunnelStep{
		{Index: 1, Count: 3, ConversionFromPrevious: 1, ConversionFromStart: 1, ByChannel: map[string]int{"web": 3}},
		{Index: 2, Count: 1, ConversionFromPrevious: 1.0 / 3, ConversionFromStart: 1.0 / 3, MedianSecondsFromPrevious: &m2, ByChannel: map[string]int{"app": 1}},
		{Index: 3, Count: 1, ConversionFromPrevious: 1, ConversionFromStart: 1.0 / 3, MedianSecondsFromPrevious: &m3, ByChannel: map[string]int{"store": 1}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("funnel:\n got %s\nwant %s", show(got), show(want))
	}
	// Within one day, the store purchase (a day after a1) is too late.
	q.Within = day - time.Minute
	f = NewFunnel(q)
	for _, tl := range journeys() {
		f.Add(tl)
	}
	if got := f.Result(); got.Steps[2].Count != 0 || got.Steps[2].MedianSecondsFromPrevious != nil || got.Steps[1].Count != 1 {
		t.Fatalf("funnel within a day: %s", show(got))
	}
}

func TestAttributionHandWorked(t *testing.T) {
	// Four touchpoints before a purchase at minute 100: web at 0, email at
	// 40, app at 70, web at 90; a second purchase with none before it.
	tl := []graph.Event{
		ev("t1", "Product Viewed", "track", "web", 0), ev("t2", "Email Opened", "track", "email", 40),
		ev("t3", "App Opened", "track", "app", 70), ev("t4", "Product Viewed", "track", "web", 90),
		ev("p1", "Order Completed", "track", "store", 100),
	}
	other := []graph.Event{ev("q1", "Order Completed", "track", "store", 5)}
	cases := []struct {
		model Model
		want  map[string]float64
	}{
		{FirstTouch, map[string]float64{"web": 1, "(none)": 1}},
		{LastTouch, map[string]float64{"web": 1, "(none)": 1}},
		{Linear, map[string]float64{"web": 0.5, "email": 0.25, "app": 0.25, "(none)": 1}},
		{PositionBased, map[string]float64{"web": 0.8, "email": 0.1, "app": 0.1, "(none)": 1}},
		// Half-life 30 minutes, ages 100, 60, 30 and 10 minutes: weights
		// 2^(-10/3), 1/4, 1/2, 2^(-1/3).
		{TimeDecay, func() map[string]float64 {
			w := []float64{math.Pow(2, -10.0/3), 0.25, 0.5, math.Pow(2, -1.0/3)}
			s := w[0] + w[1] + w[2] + w[3]
			return map[string]float64{"web": (w[0] + w[3]) / s, "email": w[1] / s, "app": w[2] / s, "(none)": 1}
		}()},
	}
	for _, c := range cases {
		q := AttributionQuery{Conversion: EventMatch{Name: "Order Completed"}, Dimension: DimChannel, Model: c.model,
			Lookback: 7 * day, HalfLife: 30 * time.Minute}
		if err := q.Check(); err != nil {
			t.Fatal(err)
		}
		a := NewAttribution(q)
		a.Add(tl)
		a.Add(other)
		got := a.Result()
		if got.Conversions != 2 || len(got.Credits) != len(c.want) {
			t.Fatalf("%s: %+v, want 2 conversions and credits %v", c.model, got, c.want)
		}
		total := 0.0
		for i, cr := range got.Credits {
			total += cr.Credit
			if math.Abs(cr.Credit-c.want[cr.Key]) > 1e-12 || math.Abs(cr.Share-cr.Credit/2) > 1e-12 {
				t.Errorf("%s: %s credited %v (share %v), want %v", c.model, cr.Key, cr.Credit, cr.Share, c.want[cr.Key])
			}
			if i > 0 && cr.Credit > got.Credits[i-1].Credit {
				t.Errorf("%s: credits not largest first: %+v", c.model, got.Credits)
			}
		}
		if math.Abs(total-2) > 1e-9 {
			t.Errorf("%s: credits sum to %v, want 2", c.model, total)
		}
	}
	// A lookback of 20 minutes keeps only the web touch at 90.
	q := AttributionQuery{Conversion: EventMatch{Name: "Order Completed"}, Dimension: DimEvent, Model: Linear, Lookback: 20 * time.Minute}
	a := NewAttribution(q)
	a.Add(tl)
	if got := a.Result(); !reflect.DeepEqual(got, AttributionResult{Conversions: 1, Credits: []Credit{{"Product Viewed", 1, 1}}}) {
		t.Fatalf("lookback 20 minutes: %+v", got)
	}
}

func TestPathsHandWorked(t *testing.T) {
	tl := []graph.Event{
		ev("1", "Home", "", "web", 0), ev("2", "", "page", "web", 1), ev("3", "Cart", "", "web", 2),
		ev("4", "Home", "", "web", 3), ev("5", "", "page", "web", 4), ev("6", "Cart", "", "web", 50),
		ev("7", "Home", "", "web", 60),
	}
	q := PathsQuery{Start: EventMatch{Name: "Home"}, Depth: 2, First: 10, Within: 10 * time.Minute}
	if err := q.Check(); err != nil {
		t.Fatal(err)
	}
	p := NewPaths(q)
	p.Add(tl)
	// Starts at 1 (page, Cart), 4 (page; Cart is 47 minutes on) and 7
	// (nothing after).
	want := []Path{{Events: []string{"page"}, Count: 1, Share: 1.0 / 3}, {Events: []string{"page", "Cart"}, Count: 1, Share: 1.0 / 3}, {Count: 1, Share: 1.0 / 3}}
	got := p.Result()
	if fmt.Sprint(got) != fmt.Sprint([]Path{want[2], want[0], want[1]}) {
		t.Fatalf("paths: %v, want %v", got, []Path{want[2], want[0], want[1]})
	}
}

// A path of one event whose name is empty once its NUL is stripped is not
// the empty path: two starts, one followed by it and one by nothing, give
// two paths of one start each.
func TestPathOfAnEmptyNameIsNotTheEmptyPath(t *testing.T) {
	q := PathsQuery{Start: EventMatch{Name: "Start"}, Depth: 1, First: 10}
	if err := q.Check(); err != nil {
		t.Fatal(err)
	}
	p := NewPaths(q)
	p.Add([]graph.Event{ev("1", "Start", "", "web", 0), ev("2", "\x00", "track", "web", 1)})
	p.Add([]graph.Event{ev("3", "Start", "", "web", 0)})
	got := p.Result()
	want := []Path{{Count: 1, Share: 0.5}, {Events: []string{""}, Count: 1, Share: 0.5}}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 2 || got[1].Events == nil {
		t.Fatalf("paths %#v, want the empty path and the path [\"\"], one start each", got)
	}
}

func TestBadQueries(t *testing.T) {
	steps := make([]EventMatch, 11)
	for _, c := range []struct {
		err  error
		want string
	}{
		{(&FunnelQuery{Within: day}).Check(), "steps is empty"},
		{(&FunnelQuery{Steps: steps, Within: day}).Check(), "steps has 11 steps; at most 10"},
		{(&FunnelQuery{Steps: steps[:2]}).Check(), "within must be longer than zero"},
		{(&FunnelQuery{Steps: []EventMatch{{}, {Where: []audience.PropertyFilter{{Path: "a..b", Op: audience.OpExists}}}}, Within: day}).Check(), "steps[1].where[0].path"},
		{(&FunnelQuery{Steps: steps[:1], Within: day, Window: Window{From: t0, To: t0}}).Check(), "from 2026-05-01T09:00:00Z is not before to"},
		{(&AttributionQuery{Dimension: "COLOUR", Model: Linear, Lookback: day}).Check(), `dimension "COLOUR" is not one of`},
		{(&AttributionQuery{Dimension: DimChannel, Model: "ALL", Lookback: day}).Check(), `model "ALL" is not one of`},
		{(&AttributionQuery{Dimension: DimChannel, Model: Linear, Lookback: 731 * day}).Check(), "lookback must be"},
		{(&AttributionQuery{Conversion: EventMatch{Type: "Track"}, Dimension: DimChannel, Model: Linear, Lookback: day}).Check(), "conversion.type is not one of identify, track"},
		{(&PathsQuery{Start: EventMatch{Type: "purchase"}, Depth: 3, First: 1}).Check(), "start.type is not one of"},
		{(&PathsQuery{Depth: 0, First: 1}).Check(), "depth must be 1 to 10, got 0"},
		{(&PathsQuery{Depth: 3, First: 101}).Check(), "first must be 1 to 100, got 101"},
	} {
		if c.err == nil || graph.ErrorCode(c.err) != graph.EINVALID || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want EINVALID naming %q", c.err, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"P", "within: "}, {"P7X", "within: "}, {"PT0S", "within: duration \"PT0S\" is not valid"}, {"P3Y", "within P3Y is longer than the most allowed, P730D"},
	} {
		_, err := ParseSpan("within", c.in, MaxLookback)
		if err == nil || graph.ErrorCode(err) != graph.EINVALID || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseSpan(%q): %v, want EINVALID naming %q", c.in, err, c.want)
		}
	}
	for in, want := range map[string]time.Duration{"P7D": 7 * day, "PT90M": 90 * time.Minute, "P1W": week, "P1M": 30 * day, "P1Y": 365 * day} {
		if got, err := ParseSpan("x", in, 0); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func show(r FunnelResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "profiles %d", r.Profiles)
	for _, s := range r.Steps {
		m := "nil"
		if s.MedianSecondsFromPrevious != nil {
			m = fmt.Sprint(*s.MedianSecondsFromPrevious)
		}
		fmt.Fprintf(&b, " | step %d: %d %.4f %.4f median %s %v", s.Index, s.Count, s.ConversionFromPrevious, s.ConversionFromStart, m, s.ByChannel)
	}
	return b.String()
}

// Random timelines: few names, types and channels, minutes that often
// tie, and a number property.
func genTimelines(t *rapid.T) [][]graph.Event {
	n := rapid.IntRange(0, 8).Draw(t, "profiles")
	out := make([][]graph.Event, n)
	id := 0
	for p := range out {
		m := rapid.IntRange(0, 12).Draw(t, "events")
		for range m {
			id++
			e := graph.Event{
				ID:         fmt.Sprintf("e%03d", id),
				Type:       rapid.SampledFrom([]string{"track", "track", "page"}).Draw(t, "type"),
				Channel:    rapid.SampledFrom([]string{"web", "app", "store", ""}).Draw(t, "channel"),
				Source:     rapid.SampledFrom([]string{"s1", "s2", ""}).Draw(t, "source"),
				Campaign:   rapid.SampledFrom([]string{"spring", "fall", "", ""}).Draw(t, "campaign"),
				Timestamp:  t0.Add(time.Duration(rapid.IntRange(0, 30).Draw(t, "minute")) * time.Minute),
				Properties: map[string]any{"v": float64(rapid.IntRange(0, 3).Draw(t, "v"))},
			}
			if e.Type == "track" {
				e.Name = rapid.SampledFrom([]string{"A", "B", "C", "ann@x.example", "5550100"}).Draw(t, "name")
			}
			out[p] = append(out[p], e)
		}
	}
	return out
}

func genMatch(t *rapid.T, label string) EventMatch {
	m := EventMatch{
		Name:    rapid.SampledFrom([]string{"", "A", "B", "C"}).Draw(t, label+".name"),
		Channel: rapid.SampledFrom([]string{"", "", "web", "app", "store"}).Draw(t, label+".channel"),
	}
	if rapid.Bool().Draw(t, label+".where") {
		m.Where = []audience.PropertyFilter{{Path: "v", Op: audience.OpGTE, Value: float64(rapid.IntRange(0, 3).Draw(t, label+".v"))}}
	}
	return m
}

func genWindow(t *rapid.T) Window {
	var w Window
	if rapid.Bool().Draw(t, "from") {
		w.From = t0.Add(time.Duration(rapid.IntRange(0, 15).Draw(t, "fromMinute")) * time.Minute)
	}
	if rapid.Bool().Draw(t, "to") {
		w.To = t0.Add(time.Duration(rapid.IntRange(16, 31).Draw(t, "toMinute")) * time.Minute)
	}
	return w
}

func TestFunnelMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tls := genTimelines(t)
		q := FunnelQuery{Within: time.Duration(rapid.IntRange(1, 30).Draw(t, "within")) * time.Minute,
			Window: genWindow(t), ByChannel: rapid.Bool().Draw(t, "byChannel")}
		for i := range rapid.IntRange(1, 4).Draw(t, "steps") {
			q.Steps = append(q.Steps, genMatch(t, fmt.Sprint("step", i)))
		}
		f := NewFunnel(q)
		for _, tl := range tls {
			f.Add(tl)
		}
		got, want := f.Result(), refFunnel(q, tls)
		if !q.ByChannel {
			for i := range want.Steps {
				want.Steps[i].ByChannel = nil
			}
		}
		if show(got) != show(want) || !reflect.DeepEqual(got, want) {
			t.Fatalf("funnel:\n got %s\nwant %s", show(got), show(want))
		}
	})
}

func TestAttributionMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tls := genTimelines(t)
		q := AttributionQuery{
			Conversion: genMatch(t, "conversion"),
			Dimension:  rapid.SampledFrom([]Dimension{DimChannel, DimSource, DimCampaign, DimEvent}).Draw(t, "dimension"),
			Model:      rapid.SampledFrom([]Model{FirstTouch, LastTouch, Linear, TimeDecay, PositionBased}).Draw(t, "model"),
			Lookback:   time.Duration(rapid.IntRange(1, 40).Draw(t, "lookback")) * time.Minute,
			HalfLife:   time.Duration(rapid.IntRange(0, 20).Draw(t, "halfLife")) * time.Minute,
			Window:     genWindow(t),
		}
		if rapid.Bool().Draw(t, "touchpoints") {
			m := genMatch(t, "touchpoints")
			q.Touchpoints = &m
		}
		checkAttribution(t, q, tls)
	})
}

// checkAttribution runs q over the timelines and fails t unless the
// conversions, every credit and share, and their sum agree with
// refAttribution.
func checkAttribution(t *rapid.T, q AttributionQuery, tls [][]graph.Event) {
	a := NewAttribution(q)
	for _, tl := range tls {
		a.Add(tl)
	}
	got := a.Result()
	n, want := refAttribution(q, tls)
	if got.Conversions != n || len(got.Credits) != len(want) {
		t.Fatalf("attribution: %d conversions %+v, want %d and %v", got.Conversions, got.Credits, n, want)
	}
	total := 0.0
	for _, c := range got.Credits {
		total += c.Credit
		if math.Abs(c.Credit-want[c.Key]) > 1e-9 || math.Abs(c.Share*float64(n)-c.Credit) > 1e-9 {
			t.Fatalf("attribution: %s credited %v share %v, want %v of %d", c.Key, c.Credit, c.Share, want[c.Key], n)
		}
	}
	if math.Abs(total-float64(n)) > 1e-9 {
		t.Fatalf("credits sum to %v, want %d", total, n)
	}
}

func TestPathsMatchReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tls := genTimelines(t)
		q := PathsQuery{Start: genMatch(t, "start"), Depth: rapid.IntRange(1, 4).Draw(t, "depth"),
			First: rapid.IntRange(1, 100).Draw(t, "first"), Window: genWindow(t)}
		if rapid.Bool().Draw(t, "within") {
			q.Within = time.Duration(rapid.IntRange(1, 20).Draw(t, "withinMinutes")) * time.Minute
		}
		if rapid.Bool().Draw(t, "withhold") {
			q.Withhold = "***"
		}
		p := NewPaths(q)
		for _, tl := range tls {
			p.Add(tl)
		}
		starts, want := refPaths(q, tls)
		got := p.Result()
		if p.Starts() != starts || len(got) != min(len(want), q.First) {
			t.Fatalf("paths: %d starts, %d paths; want %d and %d", p.Starts(), len(got), starts, min(len(want), q.First))
		}
		for i, g := range got {
			if want[fmt.Sprint(g.Events)] != g.Count || g.Share != float64(g.Count)/float64(starts) {
				t.Fatalf("path %v counted %d (share %v), want %d", g.Events, g.Count, g.Share, want[fmt.Sprint(g.Events)])
			}
			if i > 0 && g.Count > got[i-1].Count {
				t.Fatalf("paths not most frequent first: %v", got)
			}
		}
		// The paths left out are no more frequent than the last kept.
		if len(got) > 0 {
			kept := map[string]bool{}
			for _, g := range got {
				kept[fmt.Sprint(g.Events)] = true
			}
			for k, c := range want {
				if !kept[k] && c > got[len(got)-1].Count {
					t.Fatalf("path %s (%d) left out, more frequent than %v", k, c, got[len(got)-1])
				}
			}
		}
	})
}
