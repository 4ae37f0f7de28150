package intel

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/graph"
)

// TIME_DECAY over long runs of touchpoints, where the accumulator sums
// each key's weights by blocks (spreadDecayByKey) rather than one by one:
// profiles of up to 300 events on few keys, with ties, lookbacks that
// span the whole profile and half-lives from a minute to days (weights
// down to 2^-600), against the naive reference, which weighs every
// touchpoint of every conversion.
func TestTimeDecayLongRunsMatchReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var tls [][]graph.Event
		id := 0
		for range rapid.IntRange(1, 3).Draw(t, "profiles") {
			var tl []graph.Event
			span := rapid.IntRange(1, 600).Draw(t, "span")
			for range rapid.IntRange(0, 300).Draw(t, "events") {
				id++
				tl = append(tl, graph.Event{ID: fmt.Sprintf("e%04d", id), Type: "track",
					Name:      rapid.SampledFrom([]string{"view", "view", "view", "buy"}).Draw(t, "name"),
					Channel:   rapid.SampledFrom([]string{"web", "app", "store", ""}[:rapid.IntRange(1, 4).Draw(t, "keys")]).Draw(t, "channel"),
					Timestamp: t0.Add(time.Duration(rapid.IntRange(0, span).Draw(t, "minute")) * time.Minute)})
			}
			tls = append(tls, tl)
		}
		q := AttributionQuery{Conversion: EventMatch{Name: "buy"}, Dimension: DimChannel, Model: TimeDecay,
			Lookback: time.Duration(rapid.IntRange(1, 700).Draw(t, "lookback")) * time.Minute,
			HalfLife: time.Duration(rapid.SampledFrom([]int{1, 7, 60, 600, 10080}).Draw(t, "halfLife")) * time.Minute}
		if rapid.Bool().Draw(t, "views") {
			q.Touchpoints = &EventMatch{Name: "view"}
		}
		checkAttribution(t, q, tls)
	})
}

// decayProfile is one profile of n events a minute apart on three
// channels, every fourth a purchase.
func decayProfile(n int) []graph.Event {
	evs := make([]graph.Event, n)
	for i := range evs {
		name := "view"
		if i%4 == 3 {
			name = "buy"
		}
		evs[i] = graph.Event{ID: fmt.Sprintf("e%06d", i), Type: "track", Name: name,
			Channel: []string{"web", "app", "store"}[i%3], Timestamp: t0.Add(time.Duration(i) * time.Minute)}
	}
	return evs
}

// BenchmarkTimeDecayLongProfile times a TIME_DECAY attribution of one
// profile whose lookback spans all its events, so that each conversion
// has every earlier event as a touchpoint:
//
//	go test ./intel -run '^$' -bench TimeDecayLongProfile
func BenchmarkTimeDecayLongProfile(b *testing.B) {
	for _, n := range []int{1000, 4000, 16000} {
		evs := decayProfile(n)
		q := AttributionQuery{Conversion: EventMatch{Name: "buy"}, Dimension: DimChannel, Model: TimeDecay,
			Lookback: MaxLookback, HalfLife: time.Hour}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				a := NewAttribution(q)
				a.Add(evs)
				if a.Result().Conversions != n/4 {
					b.Fatal("wrong number of conversions")
				}
			}
		})
	}
}
