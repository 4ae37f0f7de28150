package audience

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
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

// Limits of a computed trait definition.
const (
	MaxComputedNameLen  = 64  // characters of Name
	MaxComputedDescLen  = 500 // bytes of Description
	MaxComputedTextLen  = 256 // bytes of Event, Property and each Where path
	MaxComputedWhere    = 20  // filters in Where
	MaxComputedInValues = 100 // elements of an IN list
)

// ComputedTrait is the definition of a value computed from a profile's
// events, such as an order count or a lifetime value.
//
// The events that count are those carried by any of the profile's
// identifiers, each once, that match Event (the event name, when set),
// EventType (the Segment type, when set), every Where filter (on the
// event's properties) and Window (when set). Aggregate folds the value at
// Property (a dotted path into the properties) of those events; COUNT
// needs no Property.
type ComputedTrait struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Aggregate   Aggregate        `json:"aggregate"`
	Event       string           `json:"event,omitempty"`
	EventType   string           `json:"eventType,omitempty"`
	Property    string           `json:"property,omitempty"`
	Where       []PropertyFilter `json:"where,omitempty"`
	// Window is an ISO-8601 duration such as "P30D": only events dated at
	// or after now minus Window count (see parseWindow for the calendar
	// rules). Empty means all time.
	Window    string    `json:"window,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Validate checks a definition as a caller gives it. Errors are
// graph.EINVALID and name the field of the GraphQL input
// (input.name, input.aggregate, input.event, input.eventType,
// input.property, input.where[i].path|op|value, input.window,
// input.description); they never repeat the caller's text beyond a
// short, clipped aggregate or op.
//
// The rules:
//   - Name: 1 to 64 characters of a-z, 0-9 and _, starting with a letter.
//   - Aggregate: one of Aggregates.
//   - Event, EventType: at least one is set (a trait over every event of
//     every kind is almost always a mistake, and costs the most to keep);
//     EventType is one of ComputedEventTypes; Event is at most 256 bytes.
//   - Property: required, a dotted path of non-empty segments of at most
//     256 bytes, except for COUNT, where it must be empty (to count events
//     that have a property, use a Where filter with EXISTS).
//   - Where: at most 20 filters, each with a dotted path and an op whose
//     value fits it: none for EXISTS and NOT_EXISTS; a string, number or
//     boolean for EQ, NEQ and CONTAINS; a string or number for GT, GTE,
//     LT and LTE; a string for STARTS_WITH; a non-empty list (at most 100)
//     of strings, numbers and booleans for IN.
//   - Window: empty, or an ISO-8601 duration longer than zero and no
//     longer than P100Y (see parseWindow).
//   - Description: at most 500 bytes.
func (c ComputedTrait) Validate() error {
	if err := validateCTName(c.Name); err != nil {
		return err
	}
	if !slices.Contains(Aggregates, c.Aggregate) {
		return ctInvalid("input.aggregate %s is not an aggregate: use one of %s", ctClip(string(c.Aggregate)), ctAggregateList())
	}
	if c.Event == "" && c.EventType == "" {
		return ctInvalid("input.event or input.eventType must be set (a computed trait reads one kind of event)")
	}
	if len(c.Event) > MaxComputedTextLen {
		return ctInvalid("input.event is longer than %d bytes", MaxComputedTextLen)
	}
	if c.EventType != "" && !slices.Contains(ComputedEventTypes, c.EventType) {
		return ctInvalid("input.eventType must be one of %s", strings.Join(ComputedEventTypes, ", "))
	}
	if c.Aggregate == AggCount {
		if c.Property != "" {
			return ctInvalid("input.property must be empty for COUNT (to count events that have it, add a where filter with op EXISTS)")
		}
	} else {
		if c.Property == "" {
			return ctInvalid("input.property is required for %s", c.Aggregate)
		}
		if msg := ctCheckPath(c.Property); msg != "" {
			return ctInvalid("input.property %s", msg)
		}
	}
	if len(c.Where) > MaxComputedWhere {
		return ctInvalid("input.where has %d filters, more than %d", len(c.Where), MaxComputedWhere)
	}
	for i, pf := range c.Where {
		if err := validateCTWhere(fmt.Sprintf("input.where[%d]", i), pf); err != nil {
			return err
		}
	}
	if c.Window != "" {
		if _, err := parseWindow(c.Window); err != nil {
			return ctInvalid("input.window %s", err.Error())
		}
	}
	if len(c.Description) > MaxComputedDescLen {
		return ctInvalid("input.description is longer than %d bytes", MaxComputedDescLen)
	}
	return nil
}

func validateCTName(name string) error {
	if name == "" {
		return ctInvalid("input.name must not be empty")
	}
	if utf8.RuneCountInString(name) > MaxComputedNameLen {
		return ctInvalid("input.name is longer than %d characters", MaxComputedNameLen)
	}
	if name[0] < 'a' || name[0] > 'z' {
		return ctInvalid("input.name must start with a lowercase letter a-z")
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_') {
			return ctInvalid("input.name may hold only a-z, 0-9 and _ (1 to %d characters, starting with a letter)", MaxComputedNameLen)
		}
	}
	return nil
}

func validateCTWhere(field string, pf PropertyFilter) error {
	if pf.Path == "" {
		return ctInvalid("%s.path must not be empty", field)
	}
	if msg := ctCheckPath(pf.Path); msg != "" {
		return ctInvalid("%s.path %s", field, msg)
	}
	if !slices.Contains(Ops, pf.Op) {
		return ctInvalid("%s.op %s is not an op", field, ctClip(string(pf.Op)))
	}
	v := pf.Value
	switch pf.Op {
	case OpExists, OpNotExists:
		if v != nil {
			return ctInvalid("%s.value must be absent for %s", field, pf.Op)
		}
	case OpEQ, OpNEQ, OpContains:
		if _, ok := ctScalarOf(v); !ok {
			return ctInvalid("%s.value must be a string, number or boolean for %s", field, pf.Op)
		}
	case OpGT, OpGTE, OpLT, OpLTE:
		if s, ok := ctScalarOf(v); !ok || s.kind == ctBool {
			return ctInvalid("%s.value must be a string or number for %s", field, pf.Op)
		}
	case OpStartsWith:
		if _, ok := v.(string); !ok {
			return ctInvalid("%s.value must be a string for %s", field, pf.Op)
		}
	case OpIN:
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return ctInvalid("%s.value must be a non-empty list for IN", field)
		}
		if len(list) > MaxComputedInValues {
			return ctInvalid("%s.value has %d elements, more than %d", field, len(list), MaxComputedInValues)
		}
		for j, x := range list {
			if _, ok := ctScalarOf(x); !ok {
				return ctInvalid("%s.value[%d] must be a string, number or boolean", field, j)
			}
		}
	}
	return nil
}

// ctCheckPath returns why p is not a dotted path, or "".
func ctCheckPath(p string) string {
	if len(p) > MaxComputedTextLen {
		return fmt.Sprintf("is longer than %d bytes", MaxComputedTextLen)
	}
	if slices.Contains(strings.Split(p, "."), "") {
		return "must be a dotted path of non-empty names (like order.total)"
	}
	return ""
}

func ctInvalid(format string, args ...any) error {
	return graph.Errorf(graph.EINVALID, format, args...)
}

// ctClip quotes s, cut to a few bytes, so an error never repeats much of
// what a caller sent.
func ctClip(s string) string {
	const n = 24
	if len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		return strconv.Quote(s[:i] + "…")
	}
	return strconv.Quote(s)
}

func ctAggregateList() string {
	s := make([]string, len(Aggregates))
	for i, a := range Aggregates {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// DependsOnTime reports whether the trait's value can change with no new
// event: it has a Window, so events age out of it.
func (c ComputedTrait) DependsOnTime() bool { return c.Window != "" }

// Compute returns the trait's value over a profile's events at now. The
// events may come in any order and may repeat (an event carried by two of
// the profile's identifiers): each ID counts once.
//
// An event is kept when it matches Event (its Name), EventType (its Type),
// every Where filter, and, when Window is set, is dated at or after the
// window's start (parseWindow: now minus Window). There is no upper bound:
// an event dated after now is kept. Kept events are taken in order of
// (Timestamp, ID). An event whose properties are withheld (Shared) has
// none: it fails every Where filter but NOT_EXISTS, and has no value.
//
// The value at Property is read through the dotted path; a missing value
// and a JSON null are no value. Numbers (json.Number, float64, float32 and
// Go integers) count as float64; strings, numbers and booleans are
// scalars. Then:
//   - COUNT: int64, the number of kept events (0 when none).
//   - SUM, MIN, MAX, AVG: float64 over the numeric values (other values
//     skipped); nil when there is none. SUM adds in event order.
//   - FIRST, LAST: the value of the earliest (latest) kept event that has
//     one, numbers as float64 and lists or objects as stored; nil when none.
//   - MOST_FREQUENT: the scalar value held by the most kept events (numbers
//     as float64, so 1 and 1.0 are one value, never equal to "1"); on a
//     tie, the one that occurs first in event order; nil when none.
//   - UNIQUE_COUNT: int64, the number of distinct scalar values (0 when
//     none).
//
// Compute does not validate c: a definition must pass Validate first; a
// Window that does not parse keeps every event.
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
			f, ok := ctNumber(ctLookup(e.Properties, c.Property))
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
		switch c.Aggregate {
		case AggSum:
			return sum
		case AggMin:
			return lo
		case AggMax:
			return hi
		default:
			return sum / float64(n)
		}
	case AggFirst:
		for _, e := range kept {
			if v := ctLookup(e.Properties, c.Property); v != nil {
				return ctNormalize(v)
			}
		}
		return nil
	case AggLast:
		for i := len(kept) - 1; i >= 0; i-- {
			if v := ctLookup(kept[i].Properties, c.Property); v != nil {
				return ctNormalize(v)
			}
		}
		return nil
	case AggMostFrequent, AggUniqueCount:
		counts := map[ctScalar]int{}
		var order []ctScalar // in order of first occurrence
		for _, e := range kept {
			s, ok := ctScalarOf(ctLookup(e.Properties, c.Property))
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
		return best.value()
	}
	return nil
}

// NextChange returns the earliest instant after now at which one of the
// kept events (see Compute) leaves the window, when the value may change
// with no new event; zero when there is no window or no kept event. Since
// a window's start only ever moves forward (parseWindow), an event that
// has left never comes back, and the earliest kept event is the first to
// leave. At the instant returned, Compute no longer keeps it.
func (c ComputedTrait) NextChange(events []graph.Event, now time.Time) time.Time {
	if c.Window == "" {
		return time.Time{}
	}
	w, err := parseWindow(c.Window)
	if err != nil {
		return time.Time{}
	}
	kept := c.keep(events, now)
	if len(kept) == 0 {
		return time.Time{}
	}
	first := kept[0].Timestamp
	// The least t with w.start(t) after first, by bisection: start is
	// non-decreasing, start(lo) <= first < start(hi) throughout.
	lo := now
	hi := first.Add(w.longest + time.Nanosecond)
	if !hi.After(lo) {
		hi = lo.Add(time.Nanosecond)
	}
	for hi.Sub(lo) > time.Nanosecond {
		mid := lo.Add(hi.Sub(lo) / 2)
		if w.start(mid).After(first) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// keep returns the events Compute folds, each ID once, in order of
// (Timestamp, ID).
func (c ComputedTrait) keep(events []graph.Event, now time.Time) []graph.Event {
	var since time.Time
	windowed := false
	if c.Window != "" {
		if w, err := parseWindow(c.Window); err == nil {
			since, windowed = w.start(now), true
		}
	}
	seen := make(map[string]bool, len(events))
	kept := make([]graph.Event, 0, len(events))
	for _, e := range events {
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		if c.Event != "" && e.Name != c.Event || c.EventType != "" && e.Type != c.EventType {
			continue
		}
		if windowed && e.Timestamp.Before(since) {
			continue
		}
		ok := true
		for _, pf := range c.Where {
			if !matchProperty(e.Properties, pf) {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, e)
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

// ctWindow is a parsed ISO-8601 duration: calendar months, then a fixed
// length.
type ctWindow struct {
	months int
	fixed  time.Duration
	// longest bounds the window's length with 31-day months.
	longest time.Duration
}

// ctMaxWindow is P100Y counted with 31-day months.
const ctMaxWindow = 1200 * 31 * 24 * time.Hour

// parseWindow reads an ISO-8601 duration PnYnMnWnDTnHnMnS: "P" then at
// least one of the date parts in that order, then optionally "T" and at
// least one of the time parts in that order, each a whole number of ASCII
// digits (no sign, no fraction, upper case). It must be longer than zero
// and no longer than P100Y, counting a month as 31 days.
//
// The window's start at now (start) is computed in UTC: months back on
// the calendar (a year is 12 months), then weeks, days (24 hours, as UTC
// has no daylight saving), hours, minutes and seconds back. When the day
// of the month does not exist in the month reached (P1M back from March
// 31st), the window starts at the first instant of the following month
// (March 1st). Go's AddDate would give March 3rd there, and April 1st
// gives March 1st, so an event of March 2nd would leave the window and
// come back; with this rule the start only ever moves forward, and an
// event leaves a window once.
func parseWindow(s string) (ctWindow, error) {
	fail := func() (ctWindow, error) {
		return ctWindow{}, fmt.Errorf("must be an ISO-8601 duration such as P30D, P1M, P1Y or PT12H")
	}
	if len(s) < 3 || len(s) > 64 || s[0] != 'P' {
		return fail()
	}
	rest := s[1:]
	datePart, timePart, hasT := strings.Cut(rest, "T")
	if hasT && timePart == "" || datePart == "" && !hasT {
		return fail()
	}
	var n [7]int64 // Y M W D H M S
	read := func(part, units string, into []int64) bool {
		next := 0 // index in units that the next designator may take
		for part != "" {
			i := 0
			for i < len(part) && part[i] >= '0' && part[i] <= '9' {
				i++
			}
			if i == 0 || i > 9 || i == len(part) {
				return false
			}
			k := strings.IndexByte(units[next:], part[i])
			if k < 0 {
				return false
			}
			next += k
			v, _ := strconv.ParseInt(part[:i], 10, 64)
			into[next] = v
			next++
			part = part[i+1:]
		}
		return true
	}
	if !read(datePart, "YMWD", n[:4]) || !read(timePart, "HMS", n[4:]) {
		return fail()
	}
	months := n[0]*12 + n[1]
	days := n[2]*7 + n[3]
	secs := n[4]*3600 + n[5]*60 + n[6]
	// In seconds, 9-digit parts cannot overflow int64 here.
	longest := (months*31+days)*86400 + secs
	if longest == 0 {
		return ctWindow{}, fmt.Errorf("must be longer than zero")
	}
	if longest > int64(ctMaxWindow/time.Second) {
		return ctWindow{}, fmt.Errorf("must be no longer than P100Y")
	}
	return ctWindow{
		months:  int(months),
		fixed:   time.Duration(days*86400+secs) * time.Second,
		longest: time.Duration(longest) * time.Second,
	}, nil
}

// start returns the window's first instant at now: events dated at or
// after it are inside.
func (w ctWindow) start(now time.Time) time.Time {
	t := now.UTC()
	if w.months != 0 {
		y, m, d := t.Date()
		// time.Date normalises month overflow: month 0 is December of
		// the year before.
		first := time.Date(y, m-time.Month(w.months), 1, 0, 0, 0, 0, time.UTC)
		if d > ctDaysIn(first) {
			t = first.AddDate(0, 1, 0)
		} else {
			t = time.Date(first.Year(), first.Month(), d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
		}
	}
	return t.Add(-w.fixed)
}

// ctDaysIn returns the number of days of first's month.
func ctDaysIn(first time.Time) int {
	return first.AddDate(0, 1, -1).Day()
}

// ctLookup returns the value at a dotted path into props, or nil.
func ctLookup(props map[string]any, path string) any {
	var cur any = props
	for seg := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

// A ctScalar is a string, a number (as float64) or a boolean, comparable as
// a map key.
type ctScalar struct {
	kind byte
	s    string
	f    float64
	b    bool
}

const (
	ctString     = 's'
	ctNumberKind = 'n'
	ctBool       = 'b'
)

func (s ctScalar) value() any {
	switch s.kind {
	case ctString:
		return s.s
	case ctNumberKind:
		return s.f
	default:
		return s.b
	}
}

// ctScalarOf reads v as a scalar; false for nil, lists, objects, other
// types and non-finite numbers.
func ctScalarOf(v any) (ctScalar, bool) {
	switch x := v.(type) {
	case string:
		return ctScalar{kind: ctString, s: x}, true
	case bool:
		return ctScalar{kind: ctBool, b: x}, true
	}
	if f, ok := ctNumber(v); ok {
		return ctScalar{kind: ctNumberKind, f: f}, true
	}
	return ctScalar{}, false
}

// ctNumber reads a number in any of the forms decoders give; false for
// anything else and for NaN and infinities.
func ctNumber(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// ctNormalize returns numbers as float64 and anything else as it is.
func ctNormalize(v any) any {
	if f, ok := ctNumber(v); ok {
		return f
	}
	return v
}

// matchProperty reports whether the value at pf.Path of props satisfies
// pf: numbers compare as numbers and strings as strings (EQ is
// case-sensitive, GT and the like compare bytes), a number never equals a
// string, IN holds when the value equals an element of the list, CONTAINS
// is a substring on strings and an element on lists, STARTS_WITH works on
// strings only, EXISTS holds when the value is present and not null and
// NOT_EXISTS when it is missing or null. Anything else (a missing or null
// value, types that do not compare) is false.
//
// It is this file's own until the shared evaluator of filters lands.
func matchProperty(props map[string]any, pf PropertyFilter) bool {
	v := ctLookup(props, pf.Path)
	switch pf.Op {
	case OpExists:
		return v != nil
	case OpNotExists:
		return v == nil
	}
	if v == nil {
		return false
	}
	switch pf.Op {
	case OpIN:
		list, _ := pf.Value.([]any)
		for _, x := range list {
			if ctEqual(v, x) {
				return true
			}
		}
		return false
	case OpContains:
		if list, ok := v.([]any); ok {
			for _, x := range list {
				if ctEqual(x, pf.Value) {
					return true
				}
			}
			return false
		}
		a, ok1 := v.(string)
		b, ok2 := pf.Value.(string)
		return ok1 && ok2 && strings.Contains(a, b)
	case OpStartsWith:
		a, ok1 := v.(string)
		b, ok2 := pf.Value.(string)
		return ok1 && ok2 && strings.HasPrefix(a, b)
	}
	a, ok1 := ctScalarOf(v)
	b, ok2 := ctScalarOf(pf.Value)
	if !ok1 || !ok2 || a.kind != b.kind {
		return false
	}
	switch pf.Op {
	case OpEQ:
		return a == b
	case OpNEQ:
		return a != b
	}
	if a.kind == ctBool {
		return false
	}
	var c int
	if a.kind == ctNumberKind {
		c = cmp.Compare(a.f, b.f)
	} else {
		c = strings.Compare(a.s, b.s)
	}
	switch pf.Op {
	case OpGT:
		return c > 0
	case OpGTE:
		return c >= 0
	case OpLT:
		return c < 0
	case OpLTE:
		return c <= 0
	}
	return false
}

// ctEqual reports whether a and b are equal scalars of one kind.
func ctEqual(a, b any) bool {
	x, ok1 := ctScalarOf(a)
	y, ok2 := ctScalarOf(b)
	return ok1 && ok2 && x == y
}
