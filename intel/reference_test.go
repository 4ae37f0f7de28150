package intel

// A naive reference for the queries, written independently of the
// accumulators: it enumerates every chain of a funnel, works out every
// model's weights by its definition, and counts paths by their printed
// form. The differential tests compare the two on random data.

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/idgraph/cdp/graph"
)

func refSorted(events []graph.Event) []graph.Event {
	out := append([]graph.Event(nil), events...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Timestamp.Equal(out[j].Timestamp) {
			return out[i].Timestamp.Before(out[j].Timestamp)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// refChains lists every chain of indexes after 'after' matching steps in
// order, each no later than deadline, in lexicographic order.
func refChains(evs []graph.Event, steps []EventMatch, after int, deadline func(graph.Event) bool) [][]int {
	if len(steps) == 0 {
		return [][]int{nil}
	}
	var out [][]int
	for i := after + 1; i < len(evs); i++ {
		if !deadline(evs[i]) || !steps[0].Matches(&evs[i]) {
			continue
		}
		for _, rest := range refChains(evs, steps[1:], i, deadline) {
			out = append(out, append([]int{i}, rest...))
		}
	}
	return out
}

func refFunnel(q FunnelQuery, timelines [][]graph.Event) FunnelResult {
	n := len(q.Steps)
	counts := make([]int, n)
	secs := make([][]float64, n)
	chans := make([]map[string]int, n)
	for k := range chans {
		chans[k] = map[string]int{}
	}
	for _, tl := range timelines {
		evs := refSorted(tl)
		start := -1
		for i, e := range evs {
			if q.Window.Holds(e.Timestamp) && q.Steps[0].Matches(&e) {
				start = i
				break
			}
		}
		if start < 0 {
			continue
		}
		in := func(e graph.Event) bool { return !e.Timestamp.After(evs[start].Timestamp.Add(q.Within)) }
		counts[0]++
		chans[0][evs[start].Channel]++
		// The deepest step reached: the longest prefix of the steps with
		// a chain; its events are the first chain in lexicographic order.
		for k := n - 1; k >= 1; k-- {
			cs := refChains(evs, q.Steps[1:k+1], start, in)
			if len(cs) == 0 {
				continue
			}
			chain := append([]int{start}, cs[0]...)
			for j := 1; j <= k; j++ {
				counts[j]++
				secs[j] = append(secs[j], evs[chain[j]].Timestamp.Sub(evs[chain[j-1]].Timestamp).Seconds())
				chans[j][evs[chain[j]].Channel]++
			}
			break
		}
	}
	out := FunnelResult{Profiles: len(timelines)}
	for k := 0; k < n; k++ {
		s := FunnelStep{Index: k + 1, Count: counts[k]}
		if counts[0] > 0 {
			s.ConversionFromStart = float64(counts[k]) / float64(counts[0])
		}
		if k == 0 {
			s.ConversionFromPrevious = s.ConversionFromStart
		} else if counts[k-1] > 0 {
			s.ConversionFromPrevious = float64(counts[k]) / float64(counts[k-1])
		}
		if k > 0 && len(secs[k]) > 0 {
			x := append([]float64(nil), secs[k]...)
			sort.Float64s(x)
			m := x[len(x)/2]
			if len(x)%2 == 0 {
				m = (x[len(x)/2-1] + x[len(x)/2]) / 2
			}
			s.MedianSecondsFromPrevious = &m
		}
		if q.ByChannel {
			s.ByChannel = chans[k]
		}
		out.Steps = append(out.Steps, s)
	}
	return out
}

func refKey(d Dimension, e graph.Event) string {
	k := map[Dimension]string{DimChannel: e.Channel, DimSource: e.Source, DimCampaign: e.Campaign, DimEvent: e.Name}[d]
	if d == DimEvent && k == "" {
		k = e.Type
	}
	if k == "" {
		k = "(unknown)"
	}
	return k
}

// refWeights are a model's weights for n touchpoints with the given ages
// in seconds, from the model's definition.
func refWeights(m Model, ages []float64, halfLife float64) []float64 {
	n := len(ages)
	w := make([]float64, n)
	switch m {
	case FirstTouch:
		w[0] = 1
	case LastTouch:
		w[n-1] = 1
	case Linear:
		for i := range w {
			w[i] = 1 / float64(n)
		}
	case TimeDecay:
		total := 0.0
		for i, a := range ages {
			w[i] = math.Pow(2, -a/halfLife)
			total += w[i]
		}
		for i := range w {
			w[i] /= total
		}
	case PositionBased:
		if n == 1 {
			w[0] = 1
		} else if n == 2 {
			w[0], w[1] = 0.5, 0.5
		} else {
			w[0], w[n-1] = 0.4, 0.4
			for i := 1; i < n-1; i++ {
				w[i] = 0.2 / float64(n-2)
			}
		}
	}
	return w
}

func refAttribution(q AttributionQuery, timelines [][]graph.Event) (int, map[string]float64) {
	half := q.HalfLife
	if half == 0 {
		half = DefaultHalfLife
	}
	conversions := 0
	credits := map[string]float64{}
	for _, tl := range timelines {
		evs := refSorted(tl)
		for c, ce := range evs {
			if !q.Conversion.Matches(&ce) || !q.Window.Holds(ce.Timestamp) {
				continue
			}
			conversions++
			var tps []graph.Event
			var ages []float64
			for i, e := range evs {
				isTouch := !q.Conversion.Matches(&e)
				if q.Touchpoints != nil {
					isTouch = q.Touchpoints.Matches(&e)
				}
				age := ce.Timestamp.Sub(e.Timestamp)
				if i != c && isTouch && age > 0 && age <= q.Lookback {
					tps = append(tps, e)
					ages = append(ages, age.Seconds())
				}
			}
			if len(tps) == 0 {
				credits["(none)"]++
				continue
			}
			for i, w := range refWeights(q.Model, ages, half.Seconds()) {
				credits[refKey(q.Dimension, tps[i])] += w
			}
		}
	}
	for k, v := range credits {
		if v == 0 {
			delete(credits, k) // a key credited only with weight 0
		}
	}
	return conversions, credits
}

func refPaths(q PathsQuery, timelines [][]graph.Event) (int, map[string]int) {
	starts := 0
	counts := map[string]int{}
	for _, tl := range timelines {
		evs := refSorted(tl)
		for s, se := range evs {
			if !q.Start.Matches(&se) || !q.Window.Holds(se.Timestamp) {
				continue
			}
			starts++
			var names []string
			for _, e := range evs[s+1:] {
				if len(names) == q.Depth || (q.Within > 0 && e.Timestamp.Sub(se.Timestamp) > q.Within) {
					break
				}
				name := e.Name
				if name == "" {
					name = e.Type
				}
				if q.Withhold != "" && refPersonal(name) {
					name = q.Withhold
				}
				names = append(names, name)
			}
			counts[fmt.Sprint(names)]++
		}
	}
	return starts, counts
}

// refPersonal is the reference's judgement of the names the generators
// draw: an @, or 7 ASCII digits in a row (they hold no separators).
func refPersonal(name string) bool {
	return strings.Contains(name, "@") || regexp.MustCompile(`[0-9]{7}`).MatchString(name)
}
