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
	touch := make([]bool, len(evs))
	for i := range evs {
		conv[i] = a.q.Conversion.Matches(evs[i])
		if a.q.Touchpoints != nil {
			touch[i] = a.q.Touchpoints.Matches(evs[i])
		} else {
			touch[i] = !conv[i]
		}
	}
	// evs is in time order, so a conversion's touchpoints, the events in
	// [at - Lookback, at), are the run evs[lo:hi]; both ends only move
	// forward from one conversion to the next, so finding them costs the
	// events once, not once per conversion. The conversion itself, at
	// at, is never in its own run.
	var tps []int
	lo, hi := 0, 0
	for c := range evs {
		if !conv[c] || !a.q.Window.Holds(evs[c].Timestamp) {
			continue
		}
		a.conversions++
		at := evs[c].Timestamp
		from := at.Add(-a.q.Lookback)
		for lo < len(evs) && evs[lo].Timestamp.Before(from) {
			lo++
		}
		hi = max(hi, lo)
		for hi < len(evs) && evs[hi].Timestamp.Before(at) {
			hi++
		}
		tps = tps[:0]
		for i := lo; i < hi; i++ {
			if touch[i] {
				tps = append(tps, i)
			}
		}
		a.spread(evs, tps, at)
	}
}

func (a *Attribution) spread(evs []*graph.Event, tps []int, at time.Time) {
	n := len(tps)
	if n == 0 {
		a.credit(NoTouch, 1)
		return
	}
	switch a.q.Model {
	case FirstTouch:
		a.credit(a.key(evs[tps[0]]), 1)
	case LastTouch:
		a.credit(a.key(evs[tps[n-1]]), 1)
	case Linear:
		for _, i := range tps {
			a.credit(a.key(evs[i]), 1/float64(n))
		}
	case TimeDecay:
		// Ages count from the newest touchpoint rather than from the
		// conversion: every weight shrinks by the same factor, so the
		// shares are the same, and the newest weighs 1, so the total
		// cannot underflow to 0 however many half-lives back the
		// touchpoints are (2^(-1075) is 0 in float64).
		newest := evs[tps[0]].Timestamp
		for _, i := range tps {
			if evs[i].Timestamp.After(newest) {
				newest = evs[i].Timestamp
			}
		}
		w := make([]float64, n)
		var total sum
		for j, i := range tps {
			w[j] = math.Exp2(-newest.Sub(evs[i].Timestamp).Seconds() / a.q.HalfLife.Seconds())
			total.add(w[j])
		}
		t := total.value()
		for j, i := range tps {
			a.credit(a.key(evs[i]), w[j]/t)
		}
	case PositionBased:
		switch n {
		case 1:
			a.credit(a.key(evs[tps[0]]), 1)
		case 2:
			a.credit(a.key(evs[tps[0]]), 0.5)
			a.credit(a.key(evs[tps[1]]), 0.5)
		default:
			a.credit(a.key(evs[tps[0]]), 0.4)
			a.credit(a.key(evs[tps[n-1]]), 0.4)
			for _, i := range tps[1 : n-1] {
				a.credit(a.key(evs[i]), 0.2/float64(n-2))
			}
		}
	}
}

// Result returns the answer for the profiles added so far.
func (a *Attribution) Result() AttributionResult {
	credits := make(map[string]float64, len(a.credits))
	for k, s := range a.credits {
		credits[k] = s.value()
	}
	return AttributionFrom(a.conversions, credits)
}
