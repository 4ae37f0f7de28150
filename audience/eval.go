package audience

import (
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Subject is what a filter reads of one profile.
type Subject struct {
	// Traits are the profile's current trait values (the values of
	// graph.FoldTraits over its identifiers). A nil value is null.
	Traits map[string]any
	// Identifiers are the profile's identifiers; only their types are read.
	Identifiers []graph.Identifier
	// Events are the profile's events, each once.
	Events []graph.Event
	// Consent holds the consent records of all the profile's identifiers.
	Consent []privacy.Record
	// Computed maps computed trait names to the profile's values.
	Computed map[string]any
	// Audiences holds the ids of the audiences the profile is a member of.
	Audiences map[string]bool
}

// Eval reports whether the profile s matches f at the instant now (which
// event windows and consent expiry are measured from). f must have passed
// Check: Eval does not report errors. A node with no field set is false;
// one with several set (which Check refuses) reads only the first, in the
// order of Filter's fields; a within Eval cannot parse matches no event.
func (f *Filter) Eval(s *Subject, now time.Time) bool {
	switch {
	case f == nil:
		return false
	case f.And != nil:
		for i := range f.And {
			if !f.And[i].Eval(s, now) {
				return false
			}
		}
		return true
	case f.Or != nil:
		for i := range f.Or {
			if f.Or[i].Eval(s, now) {
				return true
			}
		}
		return false
	case f.Not != nil:
		return !f.Not.Eval(s, now)
	case f.Trait != nil:
		return compare(f.Trait.Op, s.Traits[f.Trait.Name], f.Trait.Value)
	case f.Identifier != nil:
		want := f.Identifier.Exists == nil || *f.Identifier.Exists
		for _, id := range s.Identifiers {
			if id.Type == f.Identifier.Type {
				return want
			}
		}
		return !want
	case f.Event != nil:
		return f.Event.eval(s.Events, now)
	case f.Consent != nil:
		return privacy.StateOf(s.Consent, f.Consent.Purpose, now).State == f.Consent.Status
	case f.Computed != nil:
		return compare(f.Computed.Op, s.Computed[f.Computed.Name], f.Computed.Value)
	case f.InAudience != nil:
		return s.Audiences[*f.InAudience]
	}
	return false
}

// eval counts the matching events and compares the count.
func (c *EventCondition) eval(events []graph.Event, now time.Time) bool {
	var from time.Time
	if c.Within != "" {
		d, err := ParseDuration(c.Within)
		if err != nil {
			return false
		}
		from = d.Before(now.UTC())
	}
	n := 0
	for i := range events {
		if c.Matches(&events[i], from) {
			n++
		}
	}
	if c.Count == nil {
		return n >= 1
	}
	return c.Count.Holds(n)
}

// Matches reports whether e counts for the condition: its name and type
// those of c where c sets them, every Where filter true of its
// properties, and its timestamp not before from (zero: any time). Callers
// that scan events themselves compute from once, as
// ParseDuration(c.Within) and Duration.Before(now.UTC()): windows are
// taken on the UTC calendar, whatever now's location.
func (c *EventCondition) Matches(e *graph.Event, from time.Time) bool {
	if c.Name != "" && e.Name != c.Name {
		return false
	}
	if c.Type != "" && e.Type != c.Type {
		return false
	}
	if !from.IsZero() && e.Timestamp.Before(from) {
		return false
	}
	for i := range c.Where {
		if !c.Where[i].Matches(e.Properties) {
			return false
		}
	}
	return true
}

// Matches reports whether the value at p.Path of props (Lookup) satisfies
// p's comparison. p must have passed Check or CheckWhere.
func (p *PropertyFilter) Matches(props map[string]any) bool {
	return compare(p.Op, Lookup(props, p.Path), p.Value)
}

// Holds compares a count of events with c.
func (c *CountCondition) Holds(n int) bool {
	switch c.Op {
	case OpEQ:
		return n == c.Value
	case OpNEQ:
		return n != c.Value
	case OpGT:
		return n > c.Value
	case OpGTE:
		return n >= c.Value
	case OpLT:
		return n < c.Value
	case OpLTE:
		return n <= c.Value
	}
	return false
}
