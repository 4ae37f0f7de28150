package audience

import (
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
	return ctDrawEvents(t, now, 10, false)
}

// DrawComputedTrait draws a definition named name, as
// TestComputeMatchesReference does, and returns it with the reference's
// computation of its value.
func DrawComputedTrait(t *rapid.T, name string) (ComputedTrait, func(events []graph.Event, now time.Time) any) {
	def, wheres := ctDrawTrait(t, name)
	return def, func(events []graph.Event, now time.Time) any { return ctRefCompute(def, wheres, events, now) }
}
