package audience

import (
	"fmt"
	"time"

	"github.com/idgraph/cdp/graph"
	"pgregory.net/rapid"
)

// What the tests of package audience_test borrow from this package's own:
// the random palette, filters and subjects, and the reference evaluator.

// Palette is the palette of one example (drawPalette).
type Palette = palette

// GenNow is the instant random subjects and filters are drawn around.
var GenNow = genNow

// GenEnv is the Env random filters pass Check with.
func GenEnv() Env { return genEnv() }

// DrawPalette draws the values one example shares.
func DrawPalette(t *rapid.T) Palette { return drawPalette(t) }

// DrawFilter draws a valid filter at most depth levels deep.
func (p palette) DrawFilter(t *rapid.T, depth int) Filter { return p.filter(t, depth) }

// DrawSubject draws a profile.
func (p palette) DrawSubject(t *rapid.T) *Subject { return p.subject(t) }

// RefEval is the reference evaluator.
func RefEval(f *Filter, s *Subject, now time.Time) bool { return refEval(f, s, now) }

// RefState is the reference consent state.
var RefState = refState

// ComputedNows are instants at month and year ends, where windows clamp.
var ComputedNows = []time.Time{
	time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 6, 0, 0, 0, time.UTC),
	time.Date(2026, 3, 29, 18, 0, 0, 0, time.UTC), time.Date(2027, 2, 28, 18, 0, 0, 0, time.UTC),
}

// DrawComputedEvents draws events for a computed trait at now, as
// TestComputeMatchesReference does, none shared: ids eNNNN, some repeated.
func DrawComputedEvents(t *rapid.T, now time.Time) []graph.Event {
	var events []graph.Event
	for i := range rapid.IntRange(0, 10).Draw(t, "events") {
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
		events = append(events, e)
		if rapid.IntRange(0, 3).Draw(t, "repeat?") == 0 {
			events = append(events, e)
		}
	}
	return events
}

// DrawComputedTrait draws a definition named name, as
// TestComputeMatchesReference does, and returns it with the reference's
// computation of its value.
func DrawComputedTrait(t *rapid.T, name string) (ComputedTrait, func(events []graph.Event, now time.Time) any) {
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
	return def, func(events []graph.Event, now time.Time) any { return ctRefCompute(def, wheres, events, now) }
}
