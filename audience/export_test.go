package audience

import (
	"time"

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
