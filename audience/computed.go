package audience

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Aggregate is how a computed trait folds a profile's events into one
// value.
type Aggregate string

// The aggregates. See ComputedTrait.Compute for what each gives.
const (
	AggCount        Aggregate = "COUNT"
	AggSum          Aggregate = "SUM"
	AggMin          Aggregate = "MIN"
	AggMax          Aggregate = "MAX"
	AggAvg          Aggregate = "AVG"
	AggFirst        Aggregate = "FIRST"
	AggLast         Aggregate = "LAST"
	AggMostFrequent Aggregate = "MOST_FREQUENT"
	AggUniqueCount  Aggregate = "UNIQUE_COUNT"
)

// Aggregates lists every aggregate, in the schema's order.
var Aggregates = []Aggregate{AggCount, AggSum, AggMin, AggMax, AggAvg, AggFirst, AggLast, AggMostFrequent, AggUniqueCount}

// ComputedEventTypes are the Segment message types a computed trait's EventType
// may name.
var ComputedEventTypes = []string{"identify", "track", "page", "screen", "group", "alias"}

// Limits of a computed trait definition, beyond the filter language's
// (graph.MaxEventNameBytes for Event, MaxNameBytes for Property, and
// CheckWhere's for Where).
// Its Description is at most MaxDescriptionLen bytes, as an audience's.
const MaxComputedNameLen = 64 // characters of Name

// ComputedTrait is the definition of a value computed from a profile's
// events, such as an order count or a lifetime value.
//
// The events that count are those carried by any of the profile's
// identifiers, each once, that match Event (the event name, when set),
// EventType (the Segment type, when set), every Where filter (on the
// event's properties) and Window (when set): the rule of an event
// condition (EventCondition.Matches). Aggregate folds the value at
// Property (a dotted path into the properties, read by Lookup) of those
// events; COUNT needs no Property.
type ComputedTrait struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Aggregate   Aggregate        `json:"aggregate"`
	Event       string           `json:"event,omitempty"`
	EventType   string           `json:"eventType,omitempty"`
	Property    string           `json:"property,omitempty"`
	Where       []PropertyFilter `json:"where,omitempty"`
	// Window is an ISO-8601 duration such as "P30D" (ParseDuration):
	// only events dated at or after Duration.Before(now), on the UTC
	// calendar, count. Empty means all time.
	Window    string    `json:"window,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks a definition as a caller gives it. Errors are
// graph.EINVALID, in the filter language's form: the field of the
// GraphQL input, a colon, then what is wrong ("input.where[1].op: ...").
// The fields are input.name, input.aggregate, input.event,
// input.eventType, input.property, input.where, input.where[i].path,
// input.where[i].op, input.where[i].value, input.where[i].value[j],
// input.window and input.description. Messages never repeat a where
// value; names, paths, ops and durations are quoted and clipped to 64
// bytes.
//
// The rules:
//   - Name: 1 to 64 characters of a-z, 0-9 and _, starting with a letter.
//   - Aggregate: one of Aggregates.
//   - Event, EventType: at least one is set (a trait over every event of
//     every kind is almost always a mistake, and costs the most to keep);
//     EventType is one of ComputedEventTypes; Event is valid UTF-8 of at
//     most graph.MaxEventNameBytes, as long as ingest takes a name.
//   - Property: required, a property path (CheckPropertyPath), except
//     for COUNT, where it must be empty (to count events that have a
//     property, use a Where filter with EXISTS).
//   - Where: as an event condition's where (CheckWhere): at most MaxWhere
//     filters, each with a property path and an op whose value fits it.
//   - Window: empty, or a duration ParseDuration accepts (longer than
//     zero, at most MaxDurationYears).
//   - Description: at most MaxDescriptionLen bytes.
func (c ComputedTrait) Validate() error {
	if err := validateCTName(c.Name); err != nil {
		return err
	}
	if !slices.Contains(Aggregates, c.Aggregate) {
		if c.Aggregate == "" {
			return bad("input.aggregate", "is required; use one of %s", ctAggregateList())
		}
		return bad("input.aggregate", "%s is not one of %s", quoteClip(string(c.Aggregate)), ctAggregateList())
	}
	if c.Event == "" && c.EventType == "" {
		return bad("input.event", "set input.event, input.eventType or both (a computed trait reads one kind of event)")
	}
	if err := checkEventName("input.event", c.Event); err != nil {
		return err
	}
	if c.EventType != "" && !slices.Contains(ComputedEventTypes, c.EventType) {
		// The value is not echoed, as a filter's event type is not: it
		// may be personal data given in the wrong field.
		return bad("input.eventType", "is not one of %s", strings.Join(ComputedEventTypes, ", "))
	}
	if c.Aggregate == AggCount {
		if c.Property != "" {
			return bad("input.property", "must be empty for COUNT (to count events that have it, add a where filter with op EXISTS)")
		}
	} else {
		if c.Property == "" {
			return bad("input.property", "is required for %s", c.Aggregate)
		}
		if err := CheckPropertyPath("input.property", c.Property); err != nil {
			return err
		}
	}
	if err := CheckWhere(c.Where, "input.where"); err != nil {
		return err
	}
	if c.Window != "" {
		if _, err := ParseDuration(c.Window); err != nil {
			return bad("input.window", "%s", graph.ErrorMessage(err))
		}
	}
	if len(c.Description) > MaxDescriptionLen {
		return bad("input.description", "is longer than %d bytes", MaxDescriptionLen)
	}
	return nil
}

func validateCTName(name string) error {
	const p = "input.name"
	if name == "" {
		return bad(p, "must not be empty")
	}
	if utf8.RuneCountInString(name) > MaxComputedNameLen {
		return bad(p, "is longer than %d characters", MaxComputedNameLen)
	}
	if name[0] < 'a' || name[0] > 'z' {
		return bad(p, "must start with a lowercase letter a-z")
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
			return bad(p, "may hold only a-z, 0-9 and _ (1 to %d characters, starting with a letter)", MaxComputedNameLen)
		}
	}
	return nil
}

func ctAggregateList() string {
	s := make([]string, len(Aggregates))
	for i, a := range Aggregates {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// DependsOnTime reports whether the trait's value can change with no new
// event: it has a Window, so events leave it (and, at month ends, come
// back: see NextChange).
func (c ComputedTrait) DependsOnTime() bool { return c.Window != "" }

// Compute returns the trait's value over a profile's events at now. The
// events may come in any order and may repeat (an event carried by two of
// the profile's identifiers): each ID counts once.
//
// An event is kept when EventCondition.Matches holds for it, with the
// trait's Event, EventType and Where, and with the window's start
// Duration.Before(now) computed on the UTC calendar (years and months
// back with the day clamped to the month's end, then the rest exactly).
// There is no upper bound: an event dated after now is kept. Kept events
// are taken in order of (Timestamp, ID). An event whose properties are
// withheld (Shared) has none: Lookup finds nothing in it, so it fails
// every Where filter but NOT_EXISTS, and has no value.
//
// The value at Property is read with Lookup; a missing value and a JSON
// null are no value. Values are typed as the filter language types them:
// numbers of every Go type and json.Number are float64, and strings,
// numbers and booleans are scalars. Numbers that are not finite (an
// out-of-range json.Number) are not numbers here. Then:
//   - COUNT: int64, the number of kept events (0 when none).
//   - SUM, MIN, MAX, AVG: float64 over the numeric values (other values
//     skipped); nil when there is none. SUM adds in event order. -0 is
//     taken as 0: a zero MIN or MAX is +0.
//   - FIRST, LAST: the value of the earliest (latest) kept event that has
//     one, numbers as float64 and anything else as stored; nil when none.
//   - MOST_FREQUENT: the scalar value held by the most kept events (two
//     values are one when the filter language's EQ holds between them:
//     1 and 1.0 are one value, never equal to "1"); on a tie, the one
//     that occurs first in event order; nil when none.
//   - UNIQUE_COUNT: int64, the number of distinct scalar values (0 when
//     none).
//
// Compute does not validate c: a definition must pass Validate first; a
// Window that does not parse keeps no event, as an event condition's
// within that does not parse matches none.
func (c ComputedTrait) Compute(events []graph.Event, now time.Time) any {
	kept := c.keep(events, now)
	if c.Aggregate == AggCount {
		return int64(len(kept))
	}
	switch c.Aggregate {
	case AggSum, AggMin, AggMax, AggAvg:
		var sum, lo, hi float64
		n := 0
		for _, e := range kept {
			f, ok := ctNumber(Lookup(e.Properties, c.Property))
			if !ok {
				continue
			}
			if n == 0 {
				lo, hi = f, f
			}
			sum += f
			lo, hi = min(lo, f), max(hi, f)
			n++
		}
		if n == 0 {
			return nil
		}
		finite := !math.IsInf(sum, 0) && !math.IsNaN(sum)
		switch c.Aggregate {
		case AggSum:
			if !finite {
				return nil // past the range of a double: no value
			}
			return sum
		case AggMin:
			return noNegZero(lo)
		case AggMax:
			return noNegZero(hi)
		default:
			if finite {
				return sum / float64(n)
			}
			// The sum is past the range of a double, the mean is not: a
			// running mean, in the same order.
			mean, i := 0.0, 0
			for _, e := range kept {
				if f, ok := ctNumber(Lookup(e.Properties, c.Property)); ok {
					mean += (f - mean) / float64(i+1)
					i++
				}
			}
			return mean
		}
	case AggFirst:
		for _, e := range kept {
			if v, ok := ctValue(Lookup(e.Properties, c.Property)); ok {
				return v
			}
		}
		return nil
	case AggLast:
		for i := len(kept) - 1; i >= 0; i-- {
			if v, ok := ctValue(Lookup(kept[i].Properties, c.Property)); ok {
				return v
			}
		}
		return nil
	case AggMostFrequent, AggUniqueCount:
		counts := map[scalar]int{}
		var order []scalar // in order of first occurrence
		for _, e := range kept {
			s, ok := ctScalar(Lookup(e.Properties, c.Property))
			if !ok {
				continue
			}
			if counts[s] == 0 {
				order = append(order, s)
			}
			counts[s]++
		}
		if c.Aggregate == AggUniqueCount {
			return int64(len(order))
		}
		if len(order) == 0 {
			return nil
		}
		best := order[0]
		for _, s := range order[1:] {
			if counts[s] > counts[best] {
				best = s
			}
		}
		switch best.k {
		case kString:
			return best.s
		case kNumber:
			return best.n
		default:
			return best.b
		}
	}
	return nil
}

// noNegZero returns f, but +0 for -0: a zero MIN or MAX is +0 whatever
// the signs of the zeros folded, as on every store (min and max would
// prefer -0 and +0).
func noNegZero(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}

// NextChange returns the first instant after now at which the set of
// kept events (see Compute) changes with no new event, when the value may
// change; zero when there is no window, or when the set never changes.
// At the instant returned Compute keeps a different set, and at every
// instant from now until then the same one. The value may still be the
// same after it (a MAX whose maximum stays), but it cannot change earlier.
//
// The window's start Duration.Before(t), as t advances, never moves to
// an earlier calendar date, and moves forward with t within a day. But
// the clamp rule keeps the time of day, so at the midnights that begin
// a day whose date does not exist in the month reached, the start moves
// back to that day's midnight: P1M at 29 March 2026 23:00 starts on 28
// February at 23:00, and at 30 March 00:00 on 28 February at 00:00. An
// event of 28 February 12:00 leaves the window at 29 March 12:00 (and a
// nanosecond) and is back at 30 March 00:00. So the set changes first
// either when the earliest kept event leaves (the first t with
// Before(t) after it), or at the next midnight, when the start moves
// back to or before the latest event the window now leaves out.
func (c ComputedTrait) NextChange(events []graph.Event, now time.Time) time.Time {
	if c.Window == "" {
		return time.Time{}
	}
	d, err := ParseDuration(c.Window)
	if err != nil {
		return time.Time{}
	}
	now = now.UTC()
	from := d.Before(now)
	cond := c.condition()
	// out is the latest candidate the window leaves out, in the earliest
	// it keeps.
	var out, in time.Time
	hasOut, hasIn := false, false
	seen := make(map[string]bool, len(events))
	for i := range events {
		e := &events[i]
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		if !cond.Matches(e, time.Time{}) {
			continue
		}
		if e.Timestamp.Before(from) {
			if !hasOut || e.Timestamp.After(out) {
				out, hasOut = e.Timestamp, true
			}
		} else if !hasIn || e.Timestamp.Before(in) {
			in, hasIn = e.Timestamp, true
		}
	}
	var next time.Time
	if hasIn {
		next = leavesAt(d, now, in)
	}
	if hasOut {
		y, m, day := now.Date()
		midnight := time.Date(y, m, day+1, 0, 0, 0, 0, time.UTC)
		if !d.Before(midnight).After(out) && (next.IsZero() || midnight.Before(next)) {
			next = midnight
		}
	}
	return next
}

// leavesAt returns the first instant t after now (in UTC) at which
// d.Before(t) is after ts, an instant not before d.Before(now); zero if
// there is none that time.Time can hold.
//
// Within a UTC day, Before(t) moves with t (slope one), and the latest
// start of each day, Before(the day's last nanosecond), never decreases
// from one day to the next (the clamped date never does). So the day t
// falls in is the first whose latest start is after ts, found by doubling
// then bisection over days, and t is that day's first instant after now,
// or later by exactly the distance its start still has to go.
func leavesAt(d Duration, now, ts time.Time) time.Time {
	y, m, day := now.Date()
	midnight := time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
	past := func(k int) bool {
		return d.Before(midnight.AddDate(0, 0, k+1).Add(-time.Nanosecond)).After(ts)
	}
	hi := 1
	for !past(hi) {
		if hi > 1<<26 { // beyond any 100-year window from a stored event
			return time.Time{}
		}
		hi *= 2
	}
	k := sort.Search(hi+1, past)
	t := midnight.AddDate(0, 0, k)
	if !t.After(now) {
		t = now.Add(time.Nanosecond)
	}
	if s := d.Before(t); !s.After(ts) {
		t = t.Add(ts.Sub(s) + time.Nanosecond)
	}
	return t
}

// condition is the event condition that selects the trait's events,
// the window aside.
func (c ComputedTrait) condition() *EventCondition {
	return &EventCondition{Name: c.Event, Type: c.EventType, Where: c.Where}
}

// keep returns the events Compute folds, each ID once, in order of
// (Timestamp, ID).
func (c ComputedTrait) keep(events []graph.Event, now time.Time) []graph.Event {
	var from time.Time
	if c.Window != "" {
		d, err := ParseDuration(c.Window)
		if err != nil {
			return nil
		}
		from = d.Before(now.UTC())
	}
	cond := c.condition()
	seen := make(map[string]bool, len(events))
	kept := make([]graph.Event, 0, len(events))
	for i := range events {
		e := &events[i]
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		if cond.Matches(e, from) {
			kept = append(kept, *e)
		}
	}
	slices.SortFunc(kept, func(a, b graph.Event) int {
		if n := a.Timestamp.Compare(b.Timestamp); n != 0 {
			return n
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return kept
}

// ctNumber reads v as the filter language types it (scalarOf) and returns
// it when it is a finite number: aggregates skip the infinities an
// out-of-range json.Number reads as.
func ctNumber(v any) (float64, bool) {
	s := scalarOf(v)
	if s.k != kNumber || math.IsNaN(s.n) || math.IsInf(s.n, 0) {
		return 0, false
	}
	return s.n, true
}

// ctScalar returns v as a string, finite number or boolean scalar, a map
// key under which values the filter language's EQ holds between are one.
func ctScalar(v any) (scalar, bool) {
	s := scalarOf(v)
	switch s.k {
	case kString, kBool:
		return s, true
	case kNumber:
		return s, !math.IsNaN(s.n) && !math.IsInf(s.n, 0)
	}
	return scalar{}, false
}

// ctValue returns v as FIRST and LAST give it, numbers as float64 and
// anything else as stored, and false when v is missing or null.
func ctValue(v any) (any, bool) {
	if scalarOf(v).k == kMissing {
		return nil, false
	}
	if f, ok := ctNumber(v); ok {
		return f, true
	}
	return v, true
}
