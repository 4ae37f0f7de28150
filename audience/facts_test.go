package audience

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"pgregory.net/rapid"
)

// usesEventsOrComputed reports whether f has an event or computed
// condition.
func usesEventsOrComputed(f *Filter) bool {
	return f.any(func(g *Filter) bool { return g.Event != nil || g.Computed != nil }, 0)
}

// TestEvalFactsAgreesWithEval: on random valid filters over random
// subjects, EvalFacts on the subject's facts (through their stored form)
// is either unknown or Eval's answer, and it is known for every filter
// with no event and no computed condition.
func TestEvalFactsAgreesWithEval(t *testing.T) {
	env := genEnv()
	rapid.Check(t, func(t *rapid.T) {
		p := drawPalette(t)
		f := p.filter(t, rapid.IntRange(0, 3).Draw(t, "depth"))
		if err := Check(&f, env, "filter"); err != nil {
			b, _ := json.Marshal(f)
			t.Fatalf("a generated filter fails Check: %v\n%s", err, b)
		}
		mustKnow := !usesEventsOrComputed(&f)
		var withins []string
		f.any(func(g *Filter) bool {
			if g.Event != nil && g.Event.Within != "" {
				withins = append(withins, g.Event.Within)
			}
			return false
		}, 0)
		for range 8 {
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
			ft := FactsOf("p_1", s)
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
			want := f.Eval(s, genNow)
			got, known := f.EvalFacts(&back, s.Consent, s.Audiences, genNow)
			fb, _ := json.Marshal(f)
			if known && got != want {
				t.Fatalf("EvalFacts = %v (known), Eval = %v\nfilter: %s\nfacts: %#v", got, want, fb, back)
			}
			if mustKnow && !known {
				t.Fatalf("EvalFacts is unknown for a filter with no event or computed condition\nfilter: %s", fb)
			}
			// Without consent: unknown, or the same answer; known when
			// there is no consent condition either.
			got2, known2 := f.EvalFactsWithoutConsent(&back, s.Audiences, genNow)
			if known2 && got2 != want {
				t.Fatalf("EvalFactsWithoutConsent = %v (known), Eval = %v\nfilter: %s", got2, want, fb)
			}
			if known2 && !known {
				t.Fatalf("EvalFactsWithoutConsent is known where EvalFacts is not\nfilter: %s", fb)
			}
			if mustKnow && !f.UsesConsent() && !known2 {
				t.Fatalf("EvalFactsWithoutConsent is unknown for a filter with no event, computed or consent condition\nfilter: %s", fb)
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
		m, k := f.EvalFacts(&ft, nil, nil, c.now)
		if m != c.match || k != c.know {
			t.Errorf("case %d: EvalFacts = %v, %v; want %v, %v", i, m, k, c.match, c.know)
		}
	}
	// With a where filter, every bucket counts from 0: at least one is
	// unknown, more than 4 surely false.
	w := []PropertyFilter{{Path: "total", Op: OpExists}}
	f := Filter{Event: &EventCondition{Name: "Order", Where: w}}
	if m, k := f.EvalFacts(&ft, nil, nil, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)); k {
		t.Errorf("where, at least one: EvalFacts = %v, known; want unknown", m)
	}
	f = Filter{Event: &EventCondition{Name: "Order", Where: w, Count: &CountCondition{Op: OpGT, Value: 4}}}
	if m, k := f.EvalFacts(&ft, nil, nil, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)); m || !k {
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
		m, k := c.f.EvalFacts(&ft, nil, nil, time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC))
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
