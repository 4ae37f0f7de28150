package intel

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// planted builds n subjects; the first g share a behaviour: most have
// trait interest=outdoor (a fifth of the others do too), and they view
// tents in the app 2 to 5 times, which 15% of the others do once or
// twice.
func planted(n, g int, seed uint64) []*audience.Subject {
	r := rand.New(rand.NewPCG(seed, 7))
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"Page Viewed", "Product Viewed", "Cart Viewed", "Order Completed"}
	channels := []string{"web", "app", "email"}
	out := make([]*audience.Subject, n)
	for i := range out {
		s := &audience.Subject{Traits: map[string]any{"plan": []string{"free", "pro"}[r.IntN(2)]}, Audiences: map[string]bool{}}
		hidden := i < g
		if (hidden && r.Float64() < 0.8) || (!hidden && r.Float64() < 0.2) {
			s.Traits["interest"] = "outdoor"
		}
		for k := range 3 + r.IntN(8) {
			s.Events = append(s.Events, graph.Event{ID: fmt.Sprint(i, "-", k), Type: "track", Name: names[r.IntN(len(names))],
				Channel: channels[r.IntN(len(channels))], Timestamp: now.Add(-time.Duration(r.IntN(90*24)) * time.Hour)})
		}
		tents := 0
		if r.Float64() < 0.15 {
			tents = 1 + r.IntN(2)
		}
		if hidden {
			tents = 2 + r.IntN(4)
		}
		for k := range tents {
			s.Events = append(s.Events, graph.Event{ID: fmt.Sprint(i, "-t", k), Type: "track", Name: "Tent Viewed", Channel: "app",
				Timestamp: now.Add(-time.Duration(r.IntN(30*24)) * time.Hour)})
		}
		out[i] = s
	}
	return out
}

// With half of the hidden group as the seed, the best scored outsiders
// are the other half: precision at K (K = the other half) at least 0.8,
// where a random pick scores the group's share of the outsiders.
func TestLookalikeFindsPlantedGroup(t *testing.T) {
	const n, g = 3000, 300
	subs := planted(n, g, 1)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var members, others []map[string]float64
	for i, s := range subs {
		if i < g/2 {
			members = append(members, Features(s, now))
		} else if i%5 == 0 {
			others = append(others, Features(s, now)) // a sample of the rest
		}
	}
	m, err := Train(context.Background(), members, others)
	if err != nil {
		t.Fatal(err)
	}
	type scored struct {
		i     int
		score float64
	}
	var out []scored
	for i := g / 2; i < n; i++ {
		sc, reasons := m.Score(Features(subs[i], now))
		if i == g/2 && len(reasons) == 0 {
			t.Errorf("a hidden profile scored %v with no reasons", sc)
		}
		out = append(out, scored{i, sc})
	}
	slices.SortFunc(out, func(a, b scored) int {
		if a.score > b.score {
			return -1
		}
		if a.score < b.score {
			return 1
		}
		return a.i - b.i
	})
	k := g - g/2
	hits := 0
	for _, s := range out[:k] {
		if s.i < g {
			hits++
		}
	}
	precision := float64(hits) / float64(k)
	base := float64(k) / float64(n-g/2)
	t.Logf("precision at %d: %.3f; a random pick: %.3f", k, precision, base)
	if precision < 0.8 {
		t.Fatalf("precision at %d is %.3f, want at least 0.8 (random: %.3f)", k, precision, base)
	}
	// The reasons of the best match name the planted behaviour.
	_, reasons := m.Score(Features(subs[out[0].i], now))
	if !slices.ContainsFunc(reasons, func(r string) bool {
		return r == "event Tent Viewed" || r == "trait interest=outdoor" || r == "channel app"
	}) {
		t.Errorf("the best match's reasons %v name none of the planted features", reasons)
	}
}

// Features, worked by hand.
func TestFeatures(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := &audience.Subject{
		Traits:   map[string]any{"plan": "pro", "vip": true, "age": 41.0, "bio": string(make([]byte, 65)), "empty": "", "none": nil},
		Computed: map[string]any{"orders": int64(-3)},
		Events: []graph.Event{
			{ID: "1", Type: "track", Name: "Viewed", Channel: "web", Timestamp: now.Add(-60 * 24 * time.Hour)},
			{ID: "2", Type: "page", Channel: "web", Timestamp: now.Add(-30 * 24 * time.Hour)},
			{ID: "3", Type: "track", Name: "Viewed", Timestamp: now.Add(-90 * 24 * time.Hour)},
		},
	}
	got := Features(s, now)
	want := map[string]float64{
		"trait plan=pro": 1, "trait vip=true": 1, "trait age": 3.7376696182833684, // ln 42
		"computed orders": -1.3862943611198906,                                  // -ln 4
		"event Viewed":    1.0986122886681098, "event page": 0.6931471805599453, // ln 3, ln 2
		"channel web": 1.0986122886681098, "events": 1.3862943611198906,
		"recency": 0.36787944117144233, // e^-1
	}
	if len(got) != len(want) {
		t.Fatalf("features %v, want %v", got, want)
	}
	for k, v := range want {
		if d := got[k] - v; d > 1e-12 || d < -1e-12 {
			t.Errorf("feature %q = %v, want %v", k, got[k], v)
		}
	}
}

// Past MaxFeatures qualifying features, Train keeps those in the most rows:
// 800 page features, the first 500 in 10 of 20 rows and the other 300 in
// 5, keep exactly the first 500; one in 2 rows is dropped for support.
func TestTrainKeepsTheMostSupportedFeatures(t *testing.T) {
	rows := make([]map[string]float64, 20)
	for i := range rows {
		rows[i] = map[string]float64{}
	}
	for f := range 800 {
		support := 10
		if f >= 500 {
			support = 5
		}
		for k := range support {
			rows[(f+k)%20][fmt.Sprintf("event P%03d", f)] = 1
		}
	}
	rows[0]["event Rare"], rows[1]["event Rare"] = 1, 1
	m, err := Train(context.Background(), rows[:10], rows[10:])
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for f := range 500 {
		want = append(want, fmt.Sprintf("event P%03d", f))
	}
	if len(m.names) != MaxFeatures || !slices.Equal(m.names, want) {
		t.Fatalf("kept %d features (%v ... %v), want event P000 to event P499", len(m.names), m.names[:3], m.names[len(m.names)-3:])
	}
}

// TestTrainStopsWhenCancelled: a fit whose caller went away stops between
// two steps of the descent with the context's error, and returns no model.
func TestTrainStopsWhenCancelled(t *testing.T) {
	rows := make([]map[string]float64, 40)
	for i := range rows {
		rows[i] = map[string]float64{"event Viewed": float64(i % 3), "trait plan=pro": float64(i % 2)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m, err := Train(ctx, rows[:10], rows[10:])
	if !errors.Is(err, context.Canceled) || m != nil {
		t.Fatalf("Train with a cancelled context: %v, %v; want no model and context.Canceled", m, err)
	}
	if m, err := Train(context.Background(), rows[:10], rows[10:]); err != nil || m == nil {
		t.Fatalf("Train: %v, %v", m, err)
	}
}
