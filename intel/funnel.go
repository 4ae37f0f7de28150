package intel

import (
	"slices"
	"time"

	"github.com/idgraph/cdp/graph"
)

// MaxFunnelSteps bounds a funnel.
const MaxFunnelSteps = 10

// FunnelQuery is a funnel.
//
// A profile's attempt starts at its first event, in time order (ties by
// event id), that matches step 1 and falls in Window. It reaches step k
// (k > 1) when, after the event that reached step k-1, a later event in
// that order matches step k and falls no later than Within after the
// attempt's step-1 event. Each step takes the earliest such event, which
// reaches as many steps as any choice could. Later step-1 events do not
// start new attempts: each profile counts once, at the furthest step its
// first attempt reaches.
type FunnelQuery struct {
	Steps     []EventMatch
	Within    time.Duration
	Window    Window
	ByChannel bool
}

// Check checks q.
func (q *FunnelQuery) Check() error {
	if len(q.Steps) == 0 {
		return graph.Errorf(graph.EINVALID, "steps is empty; give 1 to %d steps", MaxFunnelSteps)
	}
	if len(q.Steps) > MaxFunnelSteps {
		return graph.Errorf(graph.EINVALID, "steps has %d steps; at most %d are allowed", len(q.Steps), MaxFunnelSteps)
	}
	for i := range q.Steps {
		if err := q.Steps[i].Check(stepPath(i)); err != nil {
			return err
		}
	}
	if q.Within <= 0 {
		return graph.Errorf(graph.EINVALID, "within must be longer than zero")
	}
	return q.Window.Check()
}

func stepPath(i int) string { return "steps[" + itoa(i) + "]" }

// FunnelStep is one step of a funnel's answer. Index counts from 1.
// ConversionFromPrevious is Count over the previous step's count,
// ConversionFromStart Count over step 1's; both are 1 for step 1, and a
// ratio over a count of 0 is 0. MedianSecondsFromPrevious is the median, over the profiles
// that reached the step, of the seconds between the events that reached
// it and the step before (nil for step 1 and for a step nobody reached);
// with an even number of profiles it is the mean of the middle two.
// ByChannel splits Count by the channel of the event that reached the
// step ("" for events without one), when asked.
type FunnelStep struct {
	Index                     int
	Count                     int
	ConversionFromPrevious    float64
	ConversionFromStart       float64
	MedianSecondsFromPrevious *float64
	ByChannel                 map[string]int
}

// FunnelResult is a funnel's answer: its steps, and how many profiles
// were evaluated.
type FunnelResult struct {
	Steps    []FunnelStep
	Profiles int
}

// Funnel accumulates a funnel over timelines.
type Funnel struct {
	q        FunnelQuery
	profiles int
	counts   []int
	seconds  [][]float64
	channels []map[string]int
}

// NewFunnel returns an empty accumulator for q, which must have passed
// Check.
func NewFunnel(q FunnelQuery) *Funnel {
	f := &Funnel{q: q, counts: make([]int, len(q.Steps)), seconds: make([][]float64, len(q.Steps))}
	if q.ByChannel {
		f.channels = make([]map[string]int, len(q.Steps))
		for i := range f.channels {
			f.channels[i] = map[string]int{}
		}
	}
	return f
}

// Add counts one profile's events.
func (f *Funnel) Add(events []graph.Event) {
	f.profiles++
	evs := ordered(events)
	start := -1
	for i := range evs {
		if f.q.Window.Holds(evs[i].Timestamp) && f.q.Steps[0].Matches(evs[i]) {
			start = i
			break
		}
	}
	if start < 0 {
		return
	}
	deadline := evs[start].Timestamp.Add(f.q.Within)
	f.reach(0, evs[start], nil)
	prev := start
	for k := 1; k < len(f.q.Steps); k++ {
		next := -1
		for i := prev + 1; i < len(evs) && !evs[i].Timestamp.After(deadline); i++ {
			if f.q.Steps[k].Matches(evs[i]) {
				next = i
				break
			}
		}
		if next < 0 {
			return
		}
		f.reach(k, evs[next], evs[prev])
		prev = next
	}
}

func (f *Funnel) reach(k int, e, prev *graph.Event) {
	f.counts[k]++
	if prev != nil {
		f.seconds[k] = append(f.seconds[k], e.Timestamp.Sub(prev.Timestamp).Seconds())
	}
	if f.channels != nil {
		f.channels[k][e.Channel]++
	}
}

// Result returns the answer for the profiles added so far.
func (f *Funnel) Result() FunnelResult {
	t := FunnelTally{Profiles: f.profiles, Counts: f.counts, Medians: make([]*float64, len(f.counts)), ByChannel: f.channels}
	for k := 1; k < len(f.counts); k++ {
		if m, ok := median(f.seconds[k]); ok {
			t.Medians[k] = &m
		}
	}
	return t.Result()
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func median(xs []float64) (float64, bool) {
	if len(xs) == 0 {
		return 0, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}
