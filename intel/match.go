package intel

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// EventTypes are the Segment types an event has, as ingest stores them;
// an EventMatch's Type, when given, is one of them.
var EventTypes = audience.ComputedEventTypes

// EventMatch selects events: every field given must hold. Name is the
// event's name (a track event's), Type its Segment type, Channel its
// channel; Where compares properties as audience filters do.
type EventMatch struct {
	Name, Type, Channel string
	Where               []audience.PropertyFilter
}

// Check checks m, naming it by path in an error ("steps[2]").
func (m *EventMatch) Check(path string) error {
	if m == nil {
		return graph.Errorf(graph.EINVALID, "%s is missing", path)
	}
	// A name as long as ingest takes one; a type or a channel is stored
	// far shorter.
	for _, s := range []struct {
		name, v string
		most    int
	}{{"name", m.Name, graph.MaxEventNameBytes}, {"type", m.Type, 256}, {"channel", m.Channel, 256}} {
		if len(s.v) > s.most {
			return graph.Errorf(graph.EINVALID, "%s.%s is %d bytes long; at most %d are allowed", path, s.name, len(s.v), s.most)
		}
	}
	// A type no event has would select nothing, silently. The value is not
	// echoed: it may be personal data given in the wrong field.
	if m.Type != "" && !slices.Contains(EventTypes, m.Type) {
		return graph.Errorf(graph.EINVALID, "%s.type is not one of %s", path, strings.Join(EventTypes, ", "))
	}
	return audience.CheckWhere(m.Where, path+".where")
}

// Matches reports whether e is selected by m.
func (m *EventMatch) Matches(e *graph.Event) bool {
	if m.Name != "" && e.Name != m.Name {
		return false
	}
	if m.Type != "" && e.Type != m.Type {
		return false
	}
	if m.Channel != "" && e.Channel != m.Channel {
		return false
	}
	for i := range m.Where {
		if !m.Where[i].Matches(e.Properties) {
			return false
		}
	}
	return true
}

// EventName is what paths and the EVENT dimension call an event: its name
// when it has one (a track event), otherwise its type ("page",
// "identify").
func EventName(e *graph.Event) string {
	if e.Name != "" {
		return e.Name
	}
	return e.Type
}

// Window is a [From, To) bound on time; a zero end is open.
type Window struct{ From, To time.Time }

// Holds reports whether t is in w.
func (w Window) Holds(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.To.IsZero() || t.Before(w.To))
}

// Check refuses a window that ends before it starts.
func (w Window) Check() error {
	if !w.From.IsZero() && !w.To.IsZero() && !w.From.Before(w.To) {
		return graph.Errorf(graph.EINVALID, "from %s is not before to %s", w.From.UTC().Format(time.RFC3339), w.To.UTC().Format(time.RFC3339))
	}
	return nil
}

// Fixed lengths of the calendar units of a duration: intel's durations
// are spans of time, the same wherever they fall in the calendar.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
	year  = 365 * day
)

// ParseSpan reads an ISO-8601 duration (P7D, PT30M, P1Y2M) as a span of
// time, with a day of 24 hours, a week of 7 days, a month of 30 days and a
// year of 365 days, and checks it is above zero and at most max (zero: no
// bound). arg names the argument in an error.
func ParseSpan(arg, s string, max time.Duration) (time.Duration, error) {
	d, err := audience.ParseDuration(s)
	if err != nil {
		return 0, graph.Errorf(graph.EINVALID, "%s: %s", arg, strings.TrimPrefix(err.Error(), "invalid: "))
	}
	span := time.Duration(d.Years)*year + time.Duration(d.Months)*month + time.Duration(d.Weeks)*week +
		time.Duration(d.Days)*day + time.Duration(d.Hours)*time.Hour + time.Duration(d.Minutes)*time.Minute +
		time.Duration(d.Seconds)*time.Second
	if span <= 0 {
		return 0, graph.Errorf(graph.EINVALID, "%s must be longer than zero, got %s", arg, s)
	}
	if max > 0 && span > max {
		return 0, graph.Errorf(graph.EINVALID, "%s %s is longer than the most allowed, %s", arg, s, spanString(max))
	}
	return span, nil
}

func spanString(d time.Duration) string {
	if d%day == 0 {
		return fmt.Sprintf("P%dD", d/day)
	}
	return d.String()
}

// ordered returns the events sorted by time, then id: the order every
// query walks a timeline in. It points into events, which it leaves as
// they are; a timeline read newest first (graph.ReadTx.Journeys, Scan) is
// only reversed.
func ordered(events []graph.Event) []*graph.Event {
	out := make([]*graph.Event, len(events))
	newestFirst := true
	for i := range events {
		out[len(events)-1-i] = &events[i]
		if i > 0 && byTime(&events[i-1], &events[i]) <= 0 {
			newestFirst = false
		}
	}
	if !newestFirst {
		slices.SortFunc(out, byTime)
	}
	return out
}

func byTime(a, b *graph.Event) int {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// sum adds floats with Neumaier's compensation, so that a total of
// millions of shares stays within a few ulps.
type sum struct{ s, c float64 }

func (k *sum) add(x float64) {
	t := k.s + x
	if math.Abs(k.s) >= math.Abs(x) {
		k.c += (k.s - t) + x
	} else {
		k.c += (x - t) + k.s
	}
	k.s = t
}

func (k *sum) value() float64 { return k.s + k.c }

func itoa(i int) string { return strconv.Itoa(i) }
