package audience

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"pgregory.net/rapid"
)

// usesEvents reports whether f has an event condition.
func usesEvents(f *Filter) bool {
	return f.any(func(g *Filter) bool { return g.Event != nil }, 0)
}

// computedNames returns the names f's computed conditions read.
func computedNames(f *Filter) map[string]bool {
	names := map[string]bool{}
	f.any(func(g *Filter) bool {
		if g.Computed != nil {
			names[g.Computed.Name] = true
		}
		return false
	}, 0)
	return names
}

// computedDef draws a valid definition of the computed trait name over
// the events palette subjects hold: any aggregate, a where filter or
// none, and a window of genWithins (whose starts the subjects' events
// straddle at genNow) or none.
func (p palette) computedDef(t *rapid.T, name string) ComputedTrait {
	d := ComputedTrait{
		Name:      name,
		Aggregate: rapid.SampledFrom(Aggregates).Draw(t, "agg"),
		Event:     rapid.SampledFrom([]string{"", "Order", "View"}).Draw(t, "ctEvent"),
		EventType: rapid.SampledFrom([]string{"", "track", "page"}).Draw(t, "ctType"),
	}
	if d.Event == "" && d.EventType == "" {
		d.EventType = "track"
	}
	if d.Aggregate != AggCount {
		d.Property = rapid.SampledFrom([]string{"p", "q", "q.r"}).Draw(t, "ctProperty")
	}
	for range rapid.IntRange(0, 1).Draw(t, "ctWheres") {
		op, v := p.comparison(t)
		d.Where = append(d.Where, PropertyFilter{Path: rapid.SampledFrom(genPaths).Draw(t, "ctPath"), Op: op, Value: v})
	}
	if rapid.IntRange(0, 3).Draw(t, "ctWindowed") > 0 {
		d.Window = rapid.SampledFrom(genWithins).Draw(t, "ctWindow")
	}
	if err := d.Validate(); err != nil {
		b, _ := json.Marshal(d)
		t.Fatalf("a drawn definition fails Validate: %v\n%s", err, b)
	}
	return d
}

// computedValues returns what the keeper's Subjects hold: each
// definition's value over events at now, a nil value left out.
func computedValues(defs []ComputedTrait, events []graph.Event, now time.Time) map[string]any {
	out := map[string]any{}
	for _, d := range defs {
		if v := d.Compute(events, now); v != nil {
			out[d.Name] = v
		}
	}
	return out
}

// sameDefinition reports whether a and b compute alike: the same fields
// but Name, Description and the dates.
func sameDefinition(a, b ComputedTrait) bool {
	a.Name, a.Description, a.CreatedAt, a.UpdatedAt = "", "", time.Time{}, time.Time{}
	b.Name, b.Description, b.CreatedAt, b.UpdatedAt = "", "", time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

// TestEvalFactsAgreesWithEval: on random valid filters over random
// subjects, EvalFacts on the subject's facts (FactsAt at genNow, with
// random computed trait definitions, through their stored form) is
// either unknown or Eval's answer on the subject with the values of the
// definitions stored at the instant evaluated. The definitions stored
// then may be those the facts were built with, or some redefined,
// deleted or added; the instants are genNow, an hour before, and later
// ones up to 400 days, at and around the instants windowed values change
// (NextChange). EvalFacts is known for every filter with no event
// condition whose computed conditions read traits the facts hold under
// the same definition at genNow, or without a window at any instant, or
// that are not defined; and a windowed value is unknown from its
// NextChange on.
func TestEvalFactsAgreesWithEval(t *testing.T) {
	env := genEnv()
	// One decoder for every example, as a store's Facts uses one for a
	// page: what it returned for the last example must not share an
	// element with what it returns next.
	var shared FactsDecoder
	var last *Facts
	rapid.Check(t, func(t *rapid.T) {
		p := drawPalette(t)
		f := p.filter(t, rapid.IntRange(0, 3).Draw(t, "depth"))
		if err := Check(&f, env, "filter"); err != nil {
			b, _ := json.Marshal(f)
			t.Fatalf("a generated filter fails Check: %v\n%s", err, b)
		}
		fb, _ := json.Marshal(f)
		noEvents := !usesEvents(&f)
		reads := computedNames(&f)
		var withins []string
		f.any(func(g *Filter) bool {
			if g.Event != nil && g.Event.Within != "" {
				withins = append(withins, g.Event.Within)
			}
			return false
		}, 0)
		// The definitions when the facts are built, and those stored
		// when they are read: each trait kept, redefined or deleted, or
		// defined since.
		var built, current []ComputedTrait
		builtOf := map[string]ComputedTrait{}
		for _, n := range genComputed {
			defined := rapid.IntRange(0, 4).Draw(t, "defined") > 0
			if defined {
				d := p.computedDef(t, n)
				built = append(built, d)
				builtOf[n] = d
			}
			switch rapid.IntRange(0, 5).Draw(t, "later") {
			case 0: // redefined, or defined since
				d := p.computedDef(t, n)
				d.Description = "again"
				current = append(current, d)
			case 1: // deleted, or still not defined
			default:
				if defined {
					d := builtOf[n]
					d.UpdatedAt = genNow.Add(time.Hour) // a new date alone changes nothing
					current = append(current, d)
				}
			}
		}
		currentOf := map[string]ComputedTrait{}
		for _, d := range current {
			currentOf[d.Name] = d
		}
		defs := NewComputedDefs(current)
		for range 6 {
			s := p.subject(t)
			// Some events again on the same day, so that day buckets
			// hold several and straddle window starts.
			for i := range rapid.IntRange(0, 3).Draw(t, "again") {
				if len(s.Events) == 0 {
					break
				}
				e := s.Events[rapid.IntRange(0, len(s.Events)-1).Draw(t, "which")]
				e.Timestamp = e.Timestamp.Add(time.Duration(rapid.IntRange(-3, 3).Draw(t, "shift")) * 7 * time.Hour)
				e.ID = e.ID + "x" + string(rune('a'+i))
				s.Events = append(s.Events, e)
			}
			// Events at the start of the filter's windows, and a
			// nanosecond either side.
			for _, w := range withins {
				for range rapid.IntRange(0, 2).Draw(t, "atStart") {
					at := refWindowStart(w, genNow).Add(time.Duration(rapid.IntRange(-1, 1).Draw(t, "ns")))
					s.Events = append(s.Events, graph.Event{ID: "w", Name: rapid.SampledFrom(genEventNames).Draw(t, "wname"),
						Type: rapid.SampledFrom(genEventTypes).Draw(t, "wtype"), Timestamp: at})
				}
			}
			s.Computed = computedValues(built, s.Events, genNow)
			ft := FactsAt("p_1", s, NewComputedDefs(built), genNow)
			b, err := EncodeFacts(&ft)
			if err != nil {
				t.Fatalf("EncodeFacts: %v", err)
			}
			back, err := DecodeFacts("p_1", b)
			if err != nil {
				t.Fatalf("DecodeFacts: %v", err)
			}
			if !reflect.DeepEqual(back, ft) {
				t.Fatalf("facts do not read back:\n got %#v\nwant %#v", back, ft)
			}
			cur, err := shared.Decode("p_1", string(b))
			if err != nil {
				t.Fatalf("FactsDecoder.Decode: %v", err)
			}
			if last != nil {
				// Appends to the last facts' slices must not reach these.
				_ = append(last.Keys, "~")
				_ = append(last.Types, "~")
				_ = append(last.EventNames, "~")
				_ = append(last.Traits, TraitFact{Name: "~"})
				_ = append(last.Events, EventFact{N: -1})
			}
			if !reflect.DeepEqual(cur, ft) {
				t.Fatalf("facts do not read back through a shared decoder:\n got %#v\nwant %#v", cur, ft)
			}
			last = &cur

			// The instants: genNow, an hour before, later ones, and
			// around each windowed value's next change.
			nows := []time.Time{genNow, genNow.Add(-time.Hour), genNow.Add(-1), genNow.Add(1), genNow.Add(time.Hour), genNow.Add(13 * time.Hour),
				genNow.AddDate(0, 0, 1).Add(1), genNow.AddDate(0, 0, 2), genNow.AddDate(0, 0, 8), genNow.AddDate(0, 0, 32), genNow.AddDate(0, 0, 400)}
			changes := map[string]time.Time{}
			for _, d := range built {
				if next := d.NextChange(s.Events, genNow); !next.IsZero() {
					changes[d.Name] = next
					nows = append(nows, next.Add(-1), next, next.Add(1))
				}
			}
			for _, now := range nows {
				at := *s
				at.Computed = computedValues(current, s.Events, now)
				want := f.Eval(&at, now)
				got, known := f.EvalFacts(&back, s.Consent, s.Audiences, defs, now)
				if known && got != want {
					t.Fatalf("at %v: EvalFacts = %v (known), Eval = %v\nfilter: %s\nfacts: %#v", now, got, want, fb, back)
				}
				mustKnow := noEvents
				for n := range reads {
					c, isCurrent := currentOf[n]
					if !isCurrent {
						continue // no value, surely
					}
					b, wasBuilt := builtOf[n]
					if !wasBuilt || !sameDefinition(b, c) || (b.Window != "" && !now.Equal(genNow)) {
						mustKnow = false
					}
				}
				if mustKnow && !known {
					t.Fatalf("at %v: EvalFacts is unknown for a filter with no event condition whose computed values are current\nfilter: %s", now, fb)
				}
				// Without consent: unknown, or the same answer; known when
				// there is no consent condition either.
				got2, known2 := f.EvalFactsWithoutConsent(&back, s.Audiences, defs, now)
				if known2 && got2 != want {
					t.Fatalf("at %v: EvalFactsWithoutConsent = %v (known), Eval = %v\nfilter: %s", now, got2, want, fb)
				}
				if known2 && !known {
					t.Fatalf("EvalFactsWithoutConsent is known where EvalFacts is not\nfilter: %s", fb)
				}
				if mustKnow && !f.UsesConsent() && !known2 {
					t.Fatalf("EvalFactsWithoutConsent is unknown for a filter with no event or consent condition, its computed values current\nfilter: %s", fb)
				}
				// A windowed value is unknown before it was computed and
				// from its next change on, and known between (the
				// definition unchanged).
				for n, d := range builtOf {
					c, ok := currentOf[n]
					if !ok || !sameDefinition(d, c) || d.Window == "" {
						continue
					}
					next, changes := changes[n]
					exists := Filter{Computed: &ComputedCondition{Name: n, Op: OpExists}}
					_, k := exists.EvalFacts(&back, nil, nil, defs, now)
					if k != (!now.Before(genNow) && (!changes || now.Before(next))) {
						t.Fatalf("at %v: a value of %s computed at %v that changes at %v is known: %v", now, n, genNow, next, k)
					}
				}
			}
			// Without the definitions, every computed condition is
			// unknown.
			if len(reads) > 0 && noEvents {
				if _, k := (&Filter{Computed: &ComputedCondition{Name: genComputed[0], Op: OpNotExists}}).EvalFacts(&back, nil, nil, nil, genNow); k {
					t.Fatalf("a computed condition is known with no definitions")
				}
			}
		}
	})
}

// The subject of the hand-worked cases below: three "Order" events on
// 2026-03-01 UTC at 01:00, 10:00 and 20:00, one on 2026-03-03 at 00:00,
// one "View" page on 2026-02-01; traits plan "pro" and tags [x, y].
func factsSubject() *Subject {
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	return &Subject{
		Traits:      map[string]any{"plan": "pro", "tags": []string{"x", "y"}, "gone": nil},
		Identifiers: []graph.Identifier{{Key: "email:a@x", Type: "email"}, {Key: "user_id:1", Type: "user_id"}},
		Events: []graph.Event{
			{ID: "e1", Name: "Order", Type: "track", Timestamp: at(1, 1)},
			{ID: "e2", Name: "Order", Type: "track", Timestamp: at(1, 20)},
			{ID: "e3", Name: "Order", Type: "track", Timestamp: at(1, 10)},
			{ID: "e4", Name: "Order", Type: "track", Timestamp: at(3, 0)},
			{ID: "e5", Name: "View", Type: "page", Timestamp: time.Date(2026, 2, 1, 0, 0, 0, 5, time.UTC)},
		},
	}
}

func TestFactsOfHandWorked(t *testing.T) {
	ft := FactsOf("p_1", factsSubject())
	day := func(d int) int64 { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC).Unix() / 86400 }
	want := Facts{
		ProfileID:  "p_1",
		Keys:       []string{"email:a@x", "user_id:1"},
		Types:      []string{"email", "user_id"},
		Traits:     []TraitFact{{Name: "plan", Value: "pro"}, {Name: "tags", Value: []any{"x", "y"}}},
		EventNames: []string{"Order", "View", "page", "track"},
		Events: []EventFact{
			{Name: 0, Type: 3, Day: day(1), N: 3, First: int64(time.Hour), Last: int64(20 * time.Hour)},
			{Name: 0, Type: 3, Day: day(3), N: 1},
			{Name: 1, Type: 2, Day: day(1) - 28, N: 1, First: 5, Last: 5},
		},
	}
	if !reflect.DeepEqual(ft, want) {
		t.Fatalf("FactsOf =\n%#v\nwant\n%#v", ft, want)
	}
}

// Counts over a window starting on 2026-03-01: now is 2026-03-31 and the
// window P30D starts on 2026-03-01 at now's time of day.
func TestEvalFactsEventBounds(t *testing.T) {
	ft := FactsOf("p_1", factsSubject())
	cases := []struct {
		now         time.Time
		op          Op
		value       int
		match, know bool
	}{
		// Window from 03-01 05:00: e1 out, e2 in, e3 unknown; e4 in:
		// the count is 2 or 3.
		{time.Date(2026, 3, 31, 5, 0, 0, 0, time.UTC), OpGTE, 2, true, true},
		{time.Date(2026, 3, 31, 5, 0, 0, 0, time.UTC), OpGTE, 3, false, false},
		{time.Date(2026, 3, 31, 5, 0, 0, 0, time.UTC), OpEQ, 4, false, true},
		{time.Date(2026, 3, 31, 5, 0, 0, 0, time.UTC), OpLT, 2, false, true},
		// From 03-01 00:30: the whole day is in, 4 in all.
		{time.Date(2026, 3, 31, 0, 30, 0, 0, time.UTC), OpEQ, 4, true, true},
		// From 03-01 21:00: only e4.
		{time.Date(2026, 3, 31, 21, 0, 0, 0, time.UTC), OpEQ, 1, true, true},
	}
	for i, c := range cases {
		f := Filter{Event: &EventCondition{Name: "Order", Within: "P30D", Count: &CountCondition{Op: c.op, Value: c.value}}}
		m, k := f.EvalFacts(&ft, nil, nil, nil, c.now)
		if m != c.match || k != c.know {
			t.Errorf("case %d: EvalFacts = %v, %v; want %v, %v", i, m, k, c.match, c.know)
		}
	}
	// With a where filter, every bucket counts from 0: at least one is
	// unknown, more than 4 surely false.
	w := []PropertyFilter{{Path: "total", Op: OpExists}}
	f := Filter{Event: &EventCondition{Name: "Order", Where: w}}
	if m, k := f.EvalFacts(&ft, nil, nil, nil, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)); k {
		t.Errorf("where, at least one: EvalFacts = %v, known; want unknown", m)
	}
	f = Filter{Event: &EventCondition{Name: "Order", Where: w, Count: &CountCondition{Op: OpGT, Value: 4}}}
	if m, k := f.EvalFacts(&ft, nil, nil, nil, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)); m || !k {
		t.Errorf("where, more than 4: EvalFacts = %v, %v; want false, known", m, k)
	}
	// Kleene: unknown and false is false; unknown or true is true; a
	// computed condition is unknown.
	unknown := Filter{Computed: &ComputedCondition{Name: "orders", Op: OpExists}}
	no := Filter{Trait: &TraitCondition{Name: "plan", Op: OpEQ, Value: "free"}}
	yes := Filter{Identifier: &IdentifierCondition{Type: "email"}}
	for i, c := range []struct {
		f           Filter
		match, know bool
	}{
		{Filter{And: []Filter{unknown, no}}, false, true},
		{Filter{And: []Filter{unknown, yes}}, false, false},
		{Filter{Or: []Filter{unknown, yes}}, true, true},
		{Filter{Or: []Filter{unknown, no}}, false, false},
		{Filter{Not: &unknown}, false, false},
		{Filter{Not: &no}, true, true},
		{Filter{Trait: &TraitCondition{Name: "tags", Op: OpContains, Value: "y"}}, true, true},
		{Filter{Trait: &TraitCondition{Name: "gone", Op: OpNotExists}}, true, true},
	} {
		m, k := c.f.EvalFacts(&ft, nil, nil, nil, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC))
		if m != c.match || k != c.know {
			t.Errorf("logic case %d: EvalFacts = %v, %v; want %v, %v", i, m, k, c.match, c.know)
		}
	}
}

func TestDecodeFactsRefusesDamage(t *testing.T) {
	ft := FactsOf("p_1", factsSubject())
	b, err := EncodeFacts(&ft)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, {9}, b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		if _, err := DecodeFacts("p_1", bad); err == nil {
			t.Errorf("DecodeFacts(%x) succeeded", bad)
		}
	}
	// Every shorter prefix is refused, and none reads past its end.
	for i := range len(b) {
		if _, err := DecodeFacts("p_1", b[:i]); err == nil {
			t.Errorf("DecodeFacts of the first %d of %d bytes succeeded", i, len(b))
		}
	}
	// Version 2: the facts of version 1, then the computed values.
	v2 := func(computed ...byte) []byte {
		return append(append([]byte{2}, b[1:]...), computed...)
	}
	stamp := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	value := func(name string, rest ...byte) []byte {
		out := append([]byte{byte(len(name))}, name...)
		return append(append(out, stamp...), rest...)
	}
	good := v2(append([]byte{2}, append(value("a", tagNull, 0), value("b", tagTrue, 3, 2, 5, 4, 9)...)...)...)
	ft2, err := DecodeFacts("p_1", good)
	if err != nil {
		t.Fatalf("DecodeFacts(version 2): %v", err)
	}
	version := uint64(0x0807060504030201)
	want := []ComputedFact{{Name: "a", Version: version}, {Name: "b", Version: version, Value: true, From: time.Unix(1, 5).UTC(), Until: time.Unix(2, 9).UTC()}}
	if !reflect.DeepEqual(ft2.Computed, want) {
		t.Fatalf("DecodeFacts(version 2) computed =\n%#v\nwant\n%#v", ft2.Computed, want)
	}
	for i := 1; i < len(good)-len(b)+1; i++ {
		if _, err := DecodeFacts("p_1", good[:len(good)-i]); err == nil {
			t.Errorf("DecodeFacts of version 2 less %d bytes succeeded", i)
		}
	}
	for i, bad := range [][]byte{
		v2(0), // no value: version 1 is written then
		v2(append([]byte{2}, append(value("b", tagNull, 0), value("a", tagNull, 0)...)...)...), // not sorted
		v2(append([]byte{2}, append(value("a", tagNull, 0), value("a", tagNull, 0)...)...)...), // twice
		v2(append([]byte{1}, value("a", tagNull, 4)...)...),                                    // no such flag
		v2(append([]byte{1}, value("a", tagNull, 1, 2, 0x80, 0x94, 0xeb, 0xdc, 0x03)...)...),   // a second of nanoseconds
		v2(append([]byte{1}, value("a", 99, 0)...)...),                                         // no such tag
	} {
		if _, err := DecodeFacts("p_1", bad); err == nil {
			t.Errorf("bad version 2 facts %d: DecodeFacts succeeded", i)
		}
	}
	// EncodeFacts refuses computed values out of order, or not canonical.
	for i, cs := range [][]ComputedFact{
		{{Name: "b"}, {Name: "a"}},
		{{Name: "a"}, {Name: "a"}},
		{{Name: "a", Value: int64(1)}},
	} {
		bad := ft
		bad.Computed = cs
		if _, err := EncodeFacts(&bad); err == nil {
			t.Errorf("EncodeFacts of bad computed values %d succeeded", i)
		}
	}
}

// DecodeFacts never panics on damaged input.
func TestDecodeFactsArbitraryBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "bytes")
		if rapid.Bool().Draw(t, "versioned") && len(b) > 0 {
			b[0] = rapid.SampledFrom([]byte{1, 2}).Draw(t, "version")
		}
		_, _ = DecodeFacts("p_1", b)
	})
}

// A 30-day COUNT of orders and an all-time SUM of totals, on facts built
// on day 0 (2026-03-01 12:00 UTC) with one order that morning, no total.
func TestEvalFactsComputed(t *testing.T) {
	day0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ordered := day0.Add(-2 * time.Hour)
	orders := ComputedTrait{Name: "orders", Aggregate: AggCount, Event: "Order", Window: "P30D"}
	ltv := ComputedTrait{Name: "ltv", Aggregate: AggSum, Event: "Order", Property: "total"}
	built := []ComputedTrait{orders, ltv}
	s := &Subject{
		Identifiers: []graph.Identifier{{Key: "user_id:1", Type: "user_id"}},
		Events:      []graph.Event{{ID: "e1", Name: "Order", Type: "track", Timestamp: ordered}},
		// As the keeper holds them: ltv has no value, and is left out.
		Computed: map[string]any{"orders": int64(1)},
	}
	ft := FactsAt("p_1", s, NewComputedDefs(built), day0)
	// The order leaves the window when the start, now less 30 days, is
	// past it: a nanosecond after 2026-03-31 10:00.
	leaves := time.Date(2026, 3, 31, 10, 0, 0, 1, time.UTC)
	want := []ComputedFact{
		{Name: "ltv", Version: ComputedVersion(ltv), Value: nil},
		{Name: "orders", Version: ComputedVersion(orders), Value: 1.0, From: day0, Until: leaves},
	}
	if !reflect.DeepEqual(ft.Computed, want) {
		t.Fatalf("FactsAt computed =\n%#v\nwant\n%#v", ft.Computed, want)
	}
	b, err := EncodeFacts(&ft)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 2 {
		t.Fatalf("facts with computed values are written as version %d, want 2", b[0])
	}
	back, err := DecodeFacts("p_1", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ft) {
		t.Fatalf("facts do not read back:\n got %#v\nwant %#v", back, ft)
	}

	cond := func(name string, op Op, v any) Filter {
		return Filter{Computed: &ComputedCondition{Name: name, Op: op, Value: v}}
	}
	atLeastOne := cond("orders", OpGTE, 1)
	day := func(n int) time.Time { return day0.AddDate(0, 0, n) }
	current := NewComputedDefs(built)
	redefined := orders
	redefined.Window = "P7D"
	renamed := orders
	renamed.Description, renamed.UpdatedAt = "orders in 30 days", day(5)
	for i, c := range []struct {
		f           Filter
		defs        *ComputedDefs
		now         time.Time
		match, know bool
	}{
		{atLeastOne, current, day(10), true, true},
		{atLeastOne, current, day(0), true, true},
		{atLeastOne, current, leaves.Add(-1), true, true},
		// From the instant the order leaves, and before the facts were
		// built, the value is not known.
		{atLeastOne, current, leaves, false, false},
		{atLeastOne, current, day(31), false, false},
		{atLeastOne, current, day(0).Add(-time.Hour), false, false},
		{cond("orders", OpEQ, 1), current, day(10), true, true},
		{cond("orders", OpGT, 1), current, day(10), false, true},
		// ltv was computed and had no value: only NOT_EXISTS holds, at
		// any instant (no window).
		{cond("ltv", OpNotExists, nil), current, day(400), true, true},
		{cond("ltv", OpExists, nil), current, day(-400), false, true},
		{cond("ltv", OpGTE, 0), current, day(31), false, true},
		// Redefined with another window: not known; with only a new
		// description and date: known.
		{atLeastOne, NewComputedDefs([]ComputedTrait{redefined, ltv}), day(10), false, false},
		{atLeastOne, NewComputedDefs([]ComputedTrait{renamed, ltv}), day(10), true, true},
		// Deleted: no value, for sure.
		{atLeastOne, NewComputedDefs([]ComputedTrait{ltv}), day(10), false, true},
		{cond("orders", OpNotExists, nil), NewComputedDefs(nil), day(10), true, true},
		// Without the definitions: never known.
		{atLeastOne, nil, day(10), false, false},
		{cond("ltv", OpNotExists, nil), nil, day(10), false, false},
		// Kleene, with orders unknown at day 31.
		{Filter{Or: []Filter{atLeastOne, cond("ltv", OpNotExists, nil)}}, current, day(31), true, true},
		{Filter{And: []Filter{atLeastOne, cond("ltv", OpExists, nil)}}, current, day(31), false, true},
	} {
		m, k := c.f.EvalFacts(&back, nil, nil, c.defs, c.now)
		if m != c.match || k != c.know {
			t.Errorf("case %d: EvalFacts = %v, %v; want %v, %v", i, m, k, c.match, c.know)
		}
	}
	// A name defined twice is left out of the facts, and not known.
	dup := FactsAt("p_1", s, NewComputedDefs([]ComputedTrait{orders, ltv, redefined}), day0)
	if len(dup.Computed) != 1 || dup.Computed[0].Name != "ltv" {
		t.Errorf("facts with orders defined twice: %#v", dup.Computed)
	}
	// Facts with no computed value (FactsOf) know none that is defined.
	plain := FactsOf("p_1", s)
	if m, k := atLeastOne.EvalFacts(&plain, nil, nil, current, day(10)); k {
		t.Errorf("facts without computed values: EvalFacts = %v, known", m)
	}
}

// ComputedVersion changes with every field a value depends on, and with
// no other; where values are read as comparisons read them.
func TestComputedVersion(t *testing.T) {
	base := ComputedTrait{Name: "spend", Aggregate: AggSum, Event: "Order", EventType: "track", Property: "total",
		Where: []PropertyFilter{{Path: "currency", Op: OpIN, Value: []any{"EUR", 1.0}}}, Window: "P1M"}
	v := ComputedVersion(base)
	same := base
	same.Name, same.Description, same.CreatedAt, same.UpdatedAt = "other", "described", time.Unix(5, 0), time.Unix(6, 0)
	same.Where = []PropertyFilter{{Path: "currency", Op: OpIN, Value: []any{"EUR", json.Number("1")}}}
	if ComputedVersion(same) != v {
		t.Errorf("name, description, dates or the form of a number change the version")
	}
	for i, change := range []func(*ComputedTrait){
		func(c *ComputedTrait) { c.Aggregate = AggMax },
		func(c *ComputedTrait) { c.Event = "Refund" },
		func(c *ComputedTrait) { c.EventType = "" },
		func(c *ComputedTrait) { c.Property = "amount" },
		func(c *ComputedTrait) { c.Window = "" },
		func(c *ComputedTrait) { c.Window = "P1D" },
		func(c *ComputedTrait) { c.Where = nil },
		func(c *ComputedTrait) { c.Where = []PropertyFilter{{Path: "currency", Op: OpIN, Value: []any{"EUR"}}} },
		func(c *ComputedTrait) {
			c.Where = []PropertyFilter{{Path: "currency", Op: OpIN, Value: []any{"EUR", "1"}}}
		},
		func(c *ComputedTrait) { c.Where[0].Op = OpNEQ; c.Where[0].Value = "EUR" },
		func(c *ComputedTrait) { c.Where[0].Path = "cur" },
		// The same strings, split otherwise.
		func(c *ComputedTrait) { c.Event, c.EventType = "Ordertrack", "" },
	} {
		c := base
		c.Where = slices.Clone(base.Where)
		change(&c)
		if ComputedVersion(c) == v {
			t.Errorf("change %d keeps the version", i)
		}
	}
}

// Facts written before computed values were kept (version 1) still
// read: their computed values are unknown.
func TestDecodeFactsVersion1(t *testing.T) {
	// Version 1; keys ["user_id:1"]; types ["user_id"]; one trait plan
	// "pro"; no event.
	b := []byte{1, 1, 9, 'u', 's', 'e', 'r', '_', 'i', 'd', ':', '1', 1, 7, 'u', 's', 'e', 'r', '_', 'i', 'd',
		1, 4, 'p', 'l', 'a', 'n', 4, 3, 'p', 'r', 'o', 0, 0}
	ft, err := DecodeFacts("p_1", b)
	if err != nil {
		t.Fatal(err)
	}
	want := Facts{ProfileID: "p_1", Keys: []string{"user_id:1"}, Types: []string{"user_id"}, Traits: []TraitFact{{Name: "plan", Value: "pro"}}}
	if !reflect.DeepEqual(ft, want) {
		t.Fatalf("DecodeFacts(version 1) =\n%#v\nwant\n%#v", ft, want)
	}
	defs := NewComputedDefs([]ComputedTrait{{Name: "orders", Aggregate: AggCount, Event: "Order"}})
	f := Filter{Computed: &ComputedCondition{Name: "orders", Op: OpNotExists}}
	if m, k := f.EvalFacts(&ft, nil, nil, defs, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); k {
		t.Fatalf("a computed condition on version 1 facts: EvalFacts = %v, known", m)
	}
	// The same facts are written as version 1 again.
	again, err := EncodeFacts(&ft)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("EncodeFacts = %v, want %v", again, b)
	}
}
