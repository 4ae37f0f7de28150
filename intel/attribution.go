package intel

import (
	"math"
	"time"

	"github.com/idgraph/cdp/graph"
)

// Dimension is what attribution credits.
type Dimension string

// The dimensions: an event's channel, source, campaign (Segment's
// context.campaign.name, kept on the event), or name (EventName). Events
// without a channel, source or campaign are credited to "(unknown)".
const (
	DimChannel  Dimension = "CHANNEL"
	DimSource   Dimension = "SOURCE"
	DimCampaign Dimension = "CAMPAIGN"
	DimEvent    Dimension = "EVENT"
)

// Model is how one conversion's credit is spread over its touchpoints.
type Model string

// The models. With n touchpoints ordered by time (ties by event id):
// FIRST_TOUCH gives 1 to the first, LAST_TOUCH 1 to the last, LINEAR 1/n
// to each, TIME_DECAY to each 2^(-age/halfLife) over the sum of those
// weights (age: the time from the touchpoint to the conversion), and
// POSITION_BASED 0.4 to the first, 0.4 to the last and 0.2 shared equally
// by those between (with one touchpoint it takes 1, with two 0.5 each).
const (
	FirstTouch    Model = "FIRST_TOUCH"
	LastTouch     Model = "LAST_TOUCH"
	Linear        Model = "LINEAR"
	TimeDecay     Model = "TIME_DECAY"
	PositionBased Model = "POSITION_BASED"
)

// MaxLookback bounds an attribution's lookback.
const MaxLookback = 2 * year

// DefaultHalfLife is TIME_DECAY's half-life when none is given.
const DefaultHalfLife = 7 * day

// NoTouch is the key credited for a conversion without touchpoints.
const NoTouch = "(none)"

// Unknown is the key of a touchpoint without a channel, source or
// campaign.
const Unknown = "(unknown)"

// AttributionQuery is an attribution.
//
// Every event matching Conversion in Window is a conversion, and spreads
// one unit of credit over the same profile's touchpoints: its events that
// match Touchpoints (nil: every event that does not match Conversion),
// other than the conversion itself, whose time is before the
// conversion's and no earlier than Lookback before it. A conversion with
// no touchpoint credits NoTouch.
type AttributionQuery struct {
	Conversion  EventMatch
	Touchpoints *EventMatch
	Dimension   Dimension
	Model       Model
	Lookback    time.Duration
	HalfLife    time.Duration
	Window      Window
}

// Check checks q.
func (q *AttributionQuery) Check() error {
	if err := q.Conversion.Check("conversion"); err != nil {
		return err
	}
	if q.Touchpoints != nil {
		if err := q.Touchpoints.Check("touchpoints"); err != nil {
			return err
		}
	}
	switch q.Dimension {
	case DimChannel, DimSource, DimCampaign, DimEvent:
	default:
		return graph.Errorf(graph.EINVALID, "dimension %q is not one of CHANNEL, SOURCE, CAMPAIGN, EVENT", clip(string(q.Dimension)))
	}
	switch q.Model {
	case FirstTouch, LastTouch, Linear, TimeDecay, PositionBased:
	default:
		return graph.Errorf(graph.EINVALID, "model %q is not one of FIRST_TOUCH, LAST_TOUCH, LINEAR, TIME_DECAY, POSITION_BASED", clip(string(q.Model)))
	}
	if q.Lookback <= 0 || q.Lookback > MaxLookback {
		return graph.Errorf(graph.EINVALID, "lookback must be longer than zero and at most P730D")
	}
	if q.HalfLife < 0 {
		return graph.Errorf(graph.EINVALID, "halfLife must be longer than zero")
	}
	return q.Window.Check()
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Credit is one key's share of the conversions.
type Credit struct {
	Key    string
	Credit float64
	Share  float64
}

// AttributionResult is an attribution's answer: the number of
// conversions and the credits, largest first (ties by key), which sum to
// Conversions.
type AttributionResult struct {
	Conversions int
	Credits     []Credit
}

// Attribution accumulates an attribution over timelines.
type Attribution struct {
	q           AttributionQuery
	conversions int
	credits     map[string]*sum
}

// NewAttribution returns an empty accumulator for q, which must have
// passed Check.
func NewAttribution(q AttributionQuery) *Attribution {
	if q.HalfLife == 0 {
		q.HalfLife = DefaultHalfLife
	}
	return &Attribution{q: q, credits: map[string]*sum{}}
}

func (a *Attribution) key(e *graph.Event) string {
	var k string
	switch a.q.Dimension {
	case DimChannel:
		k = e.Channel
	case DimSource:
		k = e.Source
	case DimCampaign:
		k = e.Campaign
	default:
		k = EventName(e)
	}
	if k == "" {
		return Unknown
	}
	return k
}

func (a *Attribution) credit(key string, x float64) {
	s := a.credits[key]
	if s == nil {
		s = &sum{}
		a.credits[key] = s
	}
	s.add(x)
}

// Add counts one profile's events.
func (a *Attribution) Add(events []graph.Event) {
	evs := ordered(events)
	conv := make([]bool, len(evs))
	var tp []int // the touchpoints, indexes in evs, in time order
	for i := range evs {
		conv[i] = a.q.Conversion.Matches(evs[i])
		touch := !conv[i]
		if a.q.Touchpoints != nil {
			touch = a.q.Touchpoints.Matches(evs[i])
		}
		if touch {
			tp = append(tp, i)
		}
	}
	// tp is in time order, so a conversion's touchpoints, those in
	// [at - Lookback, at), are the run tp[lo:hi]; both ends only move
	// forward from one conversion to the next, so finding them costs the
	// events once, not once per conversion. The conversion itself, at
	// at, is never in its own run. counts keeps the run's touchpoints by
	// key, so that LINEAR and POSITION_BASED cost a conversion the lesser
	// of its touchpoints and their keys, not its touchpoints: a lookback
	// that spans the profile made them quadratic in its events. TIME_DECAY
	// costs the lesser of its touchpoints and the keys times log n
	// (decayGroups).
	w := run{a: a, evs: evs, tp: tp, keys: make([]string, len(tp)), counts: map[string]int{}}
	for j, i := range tp {
		w.keys[j] = a.key(evs[i])
	}
	for c := range evs {
		if !conv[c] || !a.q.Window.Holds(evs[c].Timestamp) {
			continue
		}
		a.conversions++
		at := evs[c].Timestamp
		w.move(at.Add(-a.q.Lookback), at)
		w.spread()
	}
}

// run is the run tp[lo:hi] of a profile's touchpoints that a conversion
// credits, with the number of them of each key (keys with none left out).
type run struct {
	a      *Attribution
	evs    []*graph.Event
	tp     []int
	keys   []string // of each touchpoint of tp
	lo, hi int
	counts map[string]int
	// groups and levels: TIME_DECAY's touchpoints by key (decayGroups),
	// built at its first conversion that needs them.
	groups []decayGroup
	levels int
}

// move moves the run to the touchpoints in [from, to), both no earlier
// than the run's.
func (w *run) move(from, to time.Time) {
	for w.hi < len(w.tp) && w.evs[w.tp[w.hi]].Timestamp.Before(to) {
		w.counts[w.keys[w.hi]]++
		w.hi++
	}
	for w.lo < w.hi && w.evs[w.tp[w.lo]].Timestamp.Before(from) {
		if w.counts[w.keys[w.lo]]--; w.counts[w.keys[w.lo]] == 0 {
			delete(w.counts, w.keys[w.lo])
		}
		w.lo++
	}
}

// spreadByKey credits weight to each touchpoint of tp[from:to], the run
// less the keys of its ends left out (POSITION_BASED's first and last):
// per touchpoint, or, when the run has fewer keys than those touchpoints,
// once per key, weight times its count. The sums are the same up to
// rounding.
func (w *run) spreadByKey(from, to int, weight float64, ends ...string) {
	if to-from <= len(w.counts) {
		for j := from; j < to; j++ {
			w.a.credit(w.keys[j], weight)
		}
		return
	}
	for k, n := range w.counts {
		for _, e := range ends {
			if e == k {
				n--
			}
		}
		if n > 0 {
			w.a.credit(k, float64(n)*weight)
		}
	}
}

func (w *run) spread() {
	a, n := w.a, w.hi-w.lo
	if n == 0 {
		a.credit(NoTouch, 1)
		return
	}
	first, last := w.keys[w.lo], w.keys[w.hi-1]
	switch a.q.Model {
	case FirstTouch:
		a.credit(first, 1)
	case LastTouch:
		a.credit(last, 1)
	case Linear:
		w.spreadByKey(w.lo, w.hi, 1/float64(n))
	case TimeDecay:
		// Ages count from the newest touchpoint rather than from the
		// conversion: every weight shrinks by the same factor, so the
		// shares are the same, and the newest weighs 1, so the total
		// cannot underflow to 0 however many half-lives back the
		// touchpoints are (2^(-1075) is 0 in float64).
		if gs := w.decayGroups(); n > len(gs)*w.levels {
			w.spreadDecayByKey(gs)
			return
		}
		tps := w.tp[w.lo:w.hi]
		newest := w.evs[tps[0]].Timestamp
		for _, i := range tps {
			if w.evs[i].Timestamp.After(newest) {
				newest = w.evs[i].Timestamp
			}
		}
		ws := make([]float64, n)
		var total sum
		for j, i := range tps {
			ws[j] = math.Exp2(-newest.Sub(w.evs[i].Timestamp).Seconds() / a.q.HalfLife.Seconds())
			total.add(ws[j])
		}
		t := total.value()
		for j := range tps {
			a.credit(w.keys[w.lo+j], ws[j]/t)
		}
	case PositionBased:
		switch n {
		case 1:
			a.credit(first, 1)
		case 2:
			a.credit(first, 0.5)
			a.credit(last, 0.5)
		default:
			a.credit(first, 0.4)
			a.credit(last, 0.4)
			w.spreadByKey(w.lo+1, w.hi-1, 0.2/float64(n-2), first, last)
		}
	}
}

// decayBlock is a block of a key's touchpoints: the time of its newest,
// and the sum of their weights, each 2^(-age/halfLife), ages counted from
// that time.
type decayBlock struct {
	t time.Time
	s float64
}

// decayGroup is a key's touchpoints as TIME_DECAY sums runs of them: js,
// their indexes in tp, in order; lv[0] holds each of them (weight 1), and
// lv[L+1][x] the blocks lv[L][2x] and lv[L][2x+1] (the last alone when
// lv[L] has an odd length). A run of the key's touchpoints is then at
// most two blocks per level.
type decayGroup struct {
	key string
	js  []int
	lv  [][]decayBlock
}

// decayGroups lists the profile's touchpoints by key, once per profile,
// in order of each key's first touchpoint; w.levels is then the number of
// levels of the longest.
func (w *run) decayGroups() []decayGroup {
	if w.groups != nil || len(w.tp) == 0 {
		return w.groups
	}
	at := map[string]int{}
	for j, k := range w.keys {
		g, ok := at[k]
		if !ok {
			g = len(w.groups)
			at[k] = g
			w.groups = append(w.groups, decayGroup{key: k})
		}
		w.groups[g].js = append(w.groups[g].js, j)
	}
	h := w.a.q.HalfLife.Seconds()
	for g := range w.groups {
		gr := &w.groups[g]
		lv := make([]decayBlock, len(gr.js))
		for m, j := range gr.js {
			lv[m] = decayBlock{t: w.evs[w.tp[j]].Timestamp, s: 1}
		}
		gr.lv = append(gr.lv, lv)
		for len(lv) > 1 {
			up := make([]decayBlock, (len(lv)+1)/2)
			for x := range up {
				if 2*x+1 < len(lv) {
					older, newer := lv[2*x], lv[2*x+1]
					up[x] = decayBlock{t: newer.t, s: newer.s + older.s*math.Exp2(-newer.t.Sub(older.t).Seconds()/h)}
				} else {
					up[x] = lv[2*x]
				}
			}
			gr.lv = append(gr.lv, up)
			lv = up
		}
		w.levels = max(w.levels, len(gr.lv))
	}
	return w.groups
}

// spreadDecayByKey credits TIME_DECAY's shares of the run once per key:
// each key's weight is the sum of its blocks in the run, each block's
// sum decayed to the run's newest touchpoint. The run's n touchpoints
// cost the keys times the levels, not n. The shares are those of the
// weights summed one by one, up to rounding.
func (w *run) spreadDecayByKey(gs []decayGroup) {
	h := w.a.q.HalfLife.Seconds()
	newest := w.evs[w.tp[w.hi-1]].Timestamp
	weights := make([]float64, len(gs))
	var total sum
	for g := range gs {
		gr := &gs[g]
		l, r := sortSearch(gr.js, w.lo), sortSearch(gr.js, w.hi)
		x := 0.0
		for L := 0; l < r; L++ {
			if l%2 == 1 {
				b := gr.lv[L][l]
				x += b.s * math.Exp2(-newest.Sub(b.t).Seconds()/h)
				l++
			}
			if r%2 == 1 {
				r--
				b := gr.lv[L][r]
				x += b.s * math.Exp2(-newest.Sub(b.t).Seconds()/h)
			}
			l, r = l/2, r/2
		}
		weights[g] = x
		total.add(x)
	}
	t := total.value()
	for g := range gs {
		if weights[g] > 0 {
			w.a.credit(gs[g].key, weights[g]/t)
		}
	}
}

// sortSearch returns the number of js less than j (js ascending).
func sortSearch(js []int, j int) int {
	lo, hi := 0, len(js)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if js[m] < j {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Result returns the answer for the profiles added so far.
func (a *Attribution) Result() AttributionResult {
	credits := make(map[string]float64, len(a.credits))
	for k, s := range a.credits {
		credits[k] = s.value()
	}
	return AttributionFrom(a.conversions, credits)
}
