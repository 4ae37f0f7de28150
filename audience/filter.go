package audience

import "github.com/idgraph/cdp/privacy"

// Op is a comparison of a filter condition.
type Op string

// The comparisons.
const (
	OpEQ         Op = "EQ"
	OpNEQ        Op = "NEQ"
	OpGT         Op = "GT"
	OpGTE        Op = "GTE"
	OpLT         Op = "LT"
	OpLTE        Op = "LTE"
	OpIN         Op = "IN"
	OpContains   Op = "CONTAINS"
	OpStartsWith Op = "STARTS_WITH"
	OpExists     Op = "EXISTS"
	OpNotExists  Op = "NOT_EXISTS"
)

// Ops lists every comparison, in the schema's order.
var Ops = []Op{OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE, OpIN, OpContains, OpStartsWith, OpExists, OpNotExists}

// Limits of a filter.
const (
	MaxDepth = 16  // levels of nesting, the root being level 1
	MaxNodes = 100 // Filter nodes in all
)

// Filter is one node of a filter tree: exactly one of its fields is set.
// And, Or and Not combine nodes; the others are conditions on a profile.
type Filter struct {
	And        []Filter             `json:"and,omitempty"`
	Or         []Filter             `json:"or,omitempty"`
	Not        *Filter              `json:"not,omitempty"`
	Trait      *TraitCondition      `json:"trait,omitempty"`
	Identifier *IdentifierCondition `json:"identifier,omitempty"`
	Event      *EventCondition      `json:"event,omitempty"`
	Consent    *ConsentCondition    `json:"consent,omitempty"`
	Computed   *ComputedCondition   `json:"computed,omitempty"`
	InAudience *string              `json:"inAudience,omitempty"`
}

// TraitCondition compares the profile's current value of a trait (the
// newest value across its identifiers, graph.FoldTraits).
type TraitCondition struct {
	Name  string `json:"name"`
	Op    Op     `json:"op"`
	Value any    `json:"value,omitempty"`
}

// IdentifierCondition holds when the profile has (Exists, the default) or
// has not an identifier of Type.
type IdentifierCondition struct {
	Type   string `json:"type"`
	Exists *bool  `json:"exists,omitempty"`
}

// EventCondition counts the profile's events (those carried by any of its
// identifiers, each once) that match Name, Type and every Where filter,
// inside Within (an ISO-8601 duration back from now; empty: all time),
// and compares the count with Count (nil: at least one).
type EventCondition struct {
	Name   string           `json:"name,omitempty"`
	Type   string           `json:"type,omitempty"`
	Where  []PropertyFilter `json:"where,omitempty"`
	Count  *CountCondition  `json:"count,omitempty"`
	Within string           `json:"within,omitempty"`
}

// ConsentCondition holds when the profile's consent state for Purpose
// (privacy.StateOf) is Status.
type ConsentCondition struct {
	Purpose string        `json:"purpose"`
	Status  privacy.State `json:"status"`
}

// ComputedCondition compares the value of a computed trait.
type ComputedCondition struct {
	Name  string `json:"name"`
	Op    Op     `json:"op"`
	Value any    `json:"value,omitempty"`
}

// PropertyFilter compares the value at a dotted path of an event's
// properties ("items.0.sku" is not a path: lists are compared whole).
type PropertyFilter struct {
	Path  string `json:"path"`
	Op    Op     `json:"op"`
	Value any    `json:"value,omitempty"`
}

// CountCondition compares a count of events with Value. Only EQ, NEQ, GT,
// GTE, LT and LTE apply.
type CountCondition struct {
	Op    Op  `json:"op"`
	Value int `json:"value"`
}

// IsZero reports whether f has no field set: the filter of a static
// audience, which no profile is evaluated against.
func (f *Filter) IsZero() bool {
	return len(f.And) == 0 && len(f.Or) == 0 && f.Not == nil && f.Trait == nil && f.Identifier == nil &&
		f.Event == nil && f.Consent == nil && f.Computed == nil && f.InAudience == nil
}
