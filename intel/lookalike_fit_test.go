package intel

import (
	"context"
	"fmt"
	"math"
	"testing"
)

// refFit is the README's model written out naively, apart from Train:
// features in at least 3 rows, standardized (mean 0, variance 1 over the
// training rows), a logistic regression with an L2 penalty of 0.01 on the
// weights, each class weighing half, fitted by 300 steps of gradient
// descent (rate 0.5) from zero. It returns the probability of each row
// of score.
func refFit(members, others []map[string]float64, score []map[string]float64) []float64 {
	rows := append(append([]map[string]float64{}, members...), others...)
	seen := map[string]int{}
	for _, r := range rows {
		for k := range r {
			seen[k]++
		}
	}
	var names []string
	for k, c := range seen {
		if c >= 3 {
			names = append(names, k)
		}
	}
	n := float64(len(rows))
	mean, scale := map[string]float64{}, map[string]float64{}
	for _, k := range names {
		s := 0.0
		for _, r := range rows {
			s += r[k]
		}
		mean[k] = s / n
		v := 0.0
		for _, r := range rows {
			v += (r[k] - mean[k]) * (r[k] - mean[k])
		}
		if sd := math.Sqrt(v / n); sd > 1e-12 {
			scale[k] = 1 / sd
		}
	}
	std := func(r map[string]float64) map[string]float64 {
		out := map[string]float64{}
		for _, k := range names {
			out[k] = (r[k] - mean[k]) * scale[k]
		}
		return out
	}
	w, b := map[string]float64{}, 0.0
	prob := func(x map[string]float64) float64 {
		z := b
		for _, k := range names {
			z += w[k] * x[k]
		}
		return 1 / (1 + math.Exp(-z))
	}
	for range 300 {
		gw, gb := map[string]float64{}, 0.0
		for i, r := range rows {
			x, y, wt := std(r), 0.0, 0.5/float64(len(others))
			if i < len(members) {
				y, wt = 1, 0.5/float64(len(members))
			}
			g := wt * (prob(x) - y)
			for _, k := range names {
				gw[k] += g * x[k]
			}
			gb += g
		}
		for _, k := range names {
			w[k] -= 0.5 * (gw[k] + 0.01*w[k])
		}
		b -= 0.5 * gb
	}
	out := make([]float64, len(score))
	for i, r := range score {
		out[i] = prob(std(r))
	}
	return out
}

// The fitted model's scores are those of the documented fit: class
// weights of one half each and the L2 penalty of 0.01, on an unbalanced,
// separable training set (where both change the scores).
func TestTrainMatchesTheDocumentedFit(t *testing.T) {
	var members, others []map[string]float64
	for i := range 12 {
		members = append(members, map[string]float64{"trait plan=pro": 1, "events": float64(2 + i%3)})
	}
	for i := range 48 {
		r := map[string]float64{"events": float64(i % 4)}
		if i%2 == 0 {
			r["trait plan=free"] = 1
		}
		if i < 2 {
			r["rare"] = 1 // in fewer than 3 rows: dropped
		}
		others = append(others, r)
	}
	score := []map[string]float64{
		{"trait plan=pro": 1, "events": 3},
		{"trait plan=free": 1, "events": 1},
		{"events": 2},
		{"trait plan=pro": 1, "rare": 1},
	}
	m, err := Train(context.Background(), members, others)
	if err != nil {
		t.Fatal(err)
	}
	want := refFit(members, others, score)
	for i, r := range score {
		got, _ := m.Score(r)
		if math.Abs(got-want[i]) > 1e-9 {
			t.Errorf("row %s: score %v, want %v (the documented fit)", fmt.Sprint(r), got, want[i])
		}
	}
}

// The rows of resolver's TestLookalikeReasonsAreTheMatchsOwn (20 members
// with plan=pro; 20 others with plan=free and an email, 10 with plan=pro):
// the score of a plan=pro row that test expects is the documented fit's.
func TestTrainScoreTheResolverExpects(t *testing.T) {
	const want = 0.74386865353358955 // in resolver/lookalike_reasons_test.go too
	var members, others []map[string]float64
	for range 20 {
		members = append(members, map[string]float64{"trait plan=pro": 1})
		others = append(others, map[string]float64{"trait plan=free": 1, "trait email=leak@secret.example": 1})
	}
	for range 10 {
		others = append(others, map[string]float64{"trait plan=pro": 1})
	}
	row := map[string]float64{"trait plan=pro": 1}
	if ref := refFit(members, others, []map[string]float64{row})[0]; math.Abs(ref-want) > 1e-12 {
		t.Fatalf("the documented fit scores %v, the resolver's test expects %v", ref, want)
	}
	m, err := Train(context.Background(), members, others)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Score(row); math.Abs(got-want) > 1e-9 {
		t.Errorf("Train scores %v, want %v", got, want)
	}
}
