package intel

import (
	"math"
	"reflect"
	"slices"
	"testing"
)

// A profile's reasons are only features it has: a feature it lacks whose
// weight is negative raises its score too (its standardized value is
// below the mean), but it names a value other profiles hold ("trait
// email=leak@secret.example"). The score still counts every feature.
// Worked by hand on a model set by hand.
func TestScoreReasonsAreFeaturesTheProfileHas(t *testing.T) {
	m := &Learner{
		names: []string{"trait age", "trait email=leak@secret.example", "trait plan=free", "trait plan=pro"},
		mean:  []float64{3, 0.4, 0.4, 0.6},
		scale: []float64{1, 2, 2, 2},
		w:     []float64{-0.5, -1.5, -1, 0.5},
		b:     -0.25,
	}
	m.index = map[string]int{}
	for j, k := range m.names {
		m.index[k] = j
	}
	for _, c := range []struct {
		name    string
		row     map[string]float64
		z       float64 // w·v + b, by hand
		reasons []string
	}{
		// v = (-2, -0.8, -0.8, 0.8); w·v = (1, 1.2, 0.8, 0.4): the lacked
		// email (1.2) and plan=free (0.8) raise the score but are no
		// reasons; age, held below the mean, is.
		{"held age", map[string]float64{"trait plan=pro": 1, "trait age": 1}, 1 + 1.2 + 0.8 + 0.4 - 0.25,
			[]string{"trait age", "trait plan=pro"}},
		// v = (-3, -0.8, -0.8, 0.8); w·v = (1.5, 1.2, 0.8, 0.4): age is
		// lacked too.
		{"no age", map[string]float64{"trait plan=pro": 1}, 1.5 + 1.2 + 0.8 + 0.4 - 0.25,
			[]string{"trait plan=pro"}},
		// v = (-2, 1.2, 1.2, -1.2); w·v = (1, -1.8, -1.2, -0.6).
		{"free with email", map[string]float64{"trait age": 1, "trait email=leak@secret.example": 1, "trait plan=free": 1}, 1 - 1.8 - 1.2 - 0.6 - 0.25,
			[]string{"trait age"}},
	} {
		score, reasons := m.Score(c.row)
		if want := 1 / (1 + math.Exp(-c.z)); math.Abs(score-want) > 1e-12 {
			t.Errorf("%s: score %v, want %v", c.name, score, want)
		}
		if !slices.Equal(reasons, c.reasons) {
			t.Errorf("%s: reasons %q, want %q", c.name, reasons, c.reasons)
		}
	}
}

// Explain says which reasons the profile holds: a trait value or number it
// has, not a feature naming a value it lacks.
func TestExplainHeld(t *testing.T) {
	in := &Ingredients{Traits: map[string]any{"plan": "pro", "age": 41.0}, Computed: map[string]any{"vip": true}}
	got := Explain(in, []string{"trait plan=pro", "trait age", "computed vip=true", "trait email=leak@secret.example", "computed vip=false", "event Viewed"})
	want := []Reason{
		{Kind: "trait", Name: "plan", Value: "pro", Held: true},
		{Kind: "trait", Name: "age", Held: true},
		{Kind: "computed", Name: "vip", Value: true, Held: true},
		{Kind: "trait", Name: "email=leak@secret.example"},
		{Kind: "computed", Name: "vip=false"},
		{Kind: "event", Name: "Viewed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Explain %+v, want %+v", got, want)
	}
}
