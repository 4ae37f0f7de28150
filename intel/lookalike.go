package intel

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
)

// Lookalike model. A profile is described by sparse features:
//   - each trait and computed trait: a string of 1 to maxFeatureText
//     bytes or a boolean value as one indicator ("trait plan=pro"), a
//     number as its signed log (sign(x)·ln(1+|x|)); an empty or longer
//     string, a list, an object or null gives none;
//   - the count of its events of each name and of each channel, as
//     ln(1+n), and of all its events;
//   - its recency, exp(-days since its last event / 30).
//
// Features seen in fewer than MinSupport training rows are dropped, and of
// the rest only the MaxFeatures seen in the most rows are kept (the
// training rows are dense over them, so their number bounds the fit's
// memory and time whatever the data: a shop's thousands of page names
// would otherwise each be one); the kept ones are standardized (mean 0, variance 1 over the training rows). A
// logistic regression with L2 penalty Lambda is fitted by gradient
// descent to tell the audience's members from a sample of non-members,
// each class weighing half. A profile's score is the model's probability;
// its reasons are, of the features it has, those that raise its score the
// most.

// Lookalike bounds and settings.
const (
	MinSeed        = 10     // fewest members to learn from
	MaxLookalike   = 10_000 // most matches asked for
	MaxSeedRows    = 5_000  // members used to train, at most
	MaxSampleRows  = 20_000 // non-members sampled to train, at most
	MinSupport     = 3
	MaxFeatures    = 500 // features kept, those in the most training rows
	Lambda         = 0.01
	trainSteps     = 300
	trainRate      = 0.5
	maxFeatureText = 64
)

// featureOf is the feature a trait ("trait") or computed trait
// ("computed") value gives: its name, its raw value, and, for an
// indicator, the value its name embeds (a string or a bool; nil for a
// number). ok is false when v gives no feature.
func featureOf(prefix, name string, v any) (key string, x float64, shown any, ok bool) {
	switch t := v.(type) {
	case string:
		if t != "" && len(t) <= maxFeatureText {
			return prefix + " " + name + "=" + t, 1, t, true
		}
	case bool:
		return prefix + " " + name + "=" + fmt.Sprint(t), 1, t, true
	case float64:
		// A number no store keeps (infinite, NaN) would spread through
		// the model's means into every score.
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return "", 0, nil, false
		}
		return prefix + " " + name, slog(t), nil, true
	case int64:
		return prefix + " " + name, slog(float64(t)), nil, true
	case int:
		return prefix + " " + name, slog(float64(t)), nil, true
	}
	return "", 0, nil, false
}

// Reason is one of a match's reasons taken apart, for callers that must
// show it otherwise (masked): Kind is the feature's kind, the first word
// of its name ("trait", "computed", "event", "channel", ...). For a trait
// or a computed trait, Name is its name and Value the value the feature's
// name embeds (a string or a bool), or nil for a number, whose feature
// names no value. For other kinds Name is the rest of the feature's name.
// Held is whether the profile holds the trait or computed trait the
// feature comes from (Explain found it among its values); one it does not
// hold is taken apart no further, Name being the rest of the feature's
// name and Value nil: whatever value it names was not checked, and may be
// another profile's.
type Reason struct {
	Kind  string
	Name  string
	Value any
	Held  bool
}

// Explain takes apart the feature names of reasons, given the ingredients
// of the profile they were scored from. A name that two traits could give
// (a trait "a" valued "b=c", a trait "a=b" valued "c") is taken as the
// trait of the shorter name.
func Explain(in *Ingredients, reasons []string) []Reason {
	if len(reasons) == 0 {
		return nil
	}
	out := make([]Reason, len(reasons))
	for i, name := range reasons {
		kind, rest, _ := strings.Cut(name, " ")
		out[i] = Reason{Kind: kind, Name: rest}
		var vals map[string]any
		switch kind {
		case "trait":
			vals = in.Traits
		case "computed":
			vals = in.Computed
		default:
			continue
		}
		// Sorted: of two names that give the same feature, one is a
		// prefix of the other, and comes first.
		for _, k := range slices.Sorted(maps.Keys(vals)) {
			if key, _, shown, ok := featureOf(kind, k, vals[k]); ok && key == name {
				out[i] = Reason{Kind: kind, Name: k, Value: shown, Held: true}
				break
			}
		}
	}
	return out
}

// Features returns the raw features of a profile, as the package comment
// describes, at now.
func Features(s *audience.Subject, now time.Time) map[string]float64 {
	in := IngredientsOf(s)
	return FeaturesOf(&in, now)
}

// FeaturesOf returns the raw features of a profile with the ingredients
// in, at now.
func FeaturesOf(in *Ingredients, now time.Time) map[string]float64 {
	f := map[string]float64{}
	value := func(prefix, name string, v any) {
		if key, x, _, ok := featureOf(prefix, name, v); ok {
			f[key] = x
		}
	}
	for k, v := range in.Traits {
		value("trait", k, v)
	}
	for k, v := range in.Computed {
		value("computed", k, v)
	}
	for k, n := range in.Names {
		f["event "+k] = math.Log1p(float64(n))
	}
	for k, n := range in.Channels {
		f["channel "+k] = math.Log1p(float64(n))
	}
	f["events"] = math.Log1p(float64(in.Events))
	if !in.Last.IsZero() {
		f["recency"] = math.Exp(-max(0, now.Sub(in.Last).Hours()/24) / 30)
	}
	return f
}

func slog(x float64) float64 { return math.Copysign(math.Log1p(math.Abs(x)), x) }

// Learner is a fitted lookalike model.
type Learner struct {
	names []string
	index map[string]int
	mean  []float64
	scale []float64 // 1/std
	w     []float64
	b     float64
}

// Train fits a model telling members (label true) from non-members. It
// stops with ctx's error between two steps of the descent: a full-size
// fit takes seconds of CPU, which a caller that went away must not spend.
func Train(ctx context.Context, members, others []map[string]float64) (*Learner, error) {
	// The vocabulary: features present in at least MinSupport rows.
	support := map[string]int{}
	for _, rows := range [][]map[string]float64{members, others} {
		for _, r := range rows {
			for k := range r {
				support[k]++
			}
		}
	}
	m := &Learner{index: map[string]int{}}
	for k, n := range support {
		if n >= MinSupport {
			m.names = append(m.names, k)
		}
	}
	if len(m.names) > MaxFeatures {
		// The most supported first, ties by name: the same data keeps
		// the same features.
		sort.Slice(m.names, func(i, j int) bool {
			a, b := m.names[i], m.names[j]
			if support[a] != support[b] {
				return support[a] > support[b]
			}
			return a < b
		})
		m.names = m.names[:MaxFeatures]
	}
	sort.Strings(m.names)
	for i, k := range m.names {
		m.index[k] = i
	}
	d := len(m.names)
	rows := append(slices.Clone(members), others...)
	n := float64(len(rows))
	m.mean, m.scale = make([]float64, d), make([]float64, d)
	for _, r := range rows {
		for k, v := range r {
			if j, ok := m.index[k]; ok {
				m.mean[j] += v
			}
		}
	}
	for j := range m.mean {
		m.mean[j] /= n
	}
	sq := make([]float64, d)
	for _, r := range rows {
		for j := range d {
			v := r[m.names[j]] - m.mean[j]
			sq[j] += v * v
		}
	}
	for j := range sq {
		if sd := math.Sqrt(sq[j] / n); sd > 1e-12 {
			m.scale[j] = 1 / sd
		}
	}
	// Dense standardized rows, and class weights that give each class half.
	x := make([][]float64, len(rows))
	y := make([]float64, len(rows))
	wt := make([]float64, len(rows))
	for i, r := range rows {
		x[i] = m.vector(r)
		if i < len(members) {
			y[i], wt[i] = 1, 0.5/float64(len(members))
		} else {
			wt[i] = 0.5 / float64(max(1, len(others)))
		}
	}
	m.w = make([]float64, d)
	grad := make([]float64, d)
	for range trainSteps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		clear(grad)
		gb := 0.0
		for i := range x {
			g := wt[i] * (sigmoid(dot(m.w, x[i])+m.b) - y[i])
			for j, v := range x[i] {
				grad[j] += g * v
			}
			gb += g
		}
		for j := range m.w {
			m.w[j] -= trainRate * (grad[j] + Lambda*m.w[j])
		}
		m.b -= trainRate * gb
	}
	return m, nil
}

// vector is r standardized on the model's features.
func (m *Learner) vector(r map[string]float64) []float64 {
	v := make([]float64, len(m.names))
	for j, k := range m.names {
		v[j] = (r[k] - m.mean[j]) * m.scale[j]
	}
	return v
}

// Score returns the probability the model gives r of being a member, and
// the names of at most three features that raise it the most. Only the
// features r has can be reasons: one it lacks also moves its score (its
// standardized value is below the mean), but a reason is something about
// the profile, and the feature of a trait value it lacks names a value
// other profiles hold. The score is the same whichever features are
// reasons.
func (m *Learner) Score(r map[string]float64) (float64, []string) {
	v := m.vector(r)
	type part struct {
		j int
		c float64
	}
	var parts []part
	for j := range v {
		if _, has := r[m.names[j]]; !has {
			continue
		}
		if c := m.w[j] * v[j]; c > 0 {
			parts = append(parts, part{j, c})
		}
	}
	slices.SortFunc(parts, func(a, b part) int {
		if a.c != b.c {
			if a.c > b.c {
				return -1
			}
			return 1
		}
		return strings.Compare(m.names[a.j], m.names[b.j])
	})
	var reasons []string
	for _, p := range parts[:min(3, len(parts))] {
		reasons = append(reasons, m.names[p.j])
	}
	return sigmoid(dot(m.w, v) + m.b), reasons
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
