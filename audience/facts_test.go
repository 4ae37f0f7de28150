package audience

import (
	"encoding/json"
	"reflect"
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
			ft := FactsAt("p_1", s, built, genNow)
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
}

// DecodeFacts never panics on damaged input.
func TestDecodeFactsArbitraryBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(t, "bytes")
		if rapid.Bool().Draw(t, "versioned") && len(b) > 0 {
			b[0] = 1
		}
		_, _ = DecodeFacts("p_1", b)
	})
}
