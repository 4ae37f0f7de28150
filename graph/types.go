package graph

import (
	"slices"
	"strings"
	"time"
)

// IdentifierRef names an identifier by type and value, as a caller gives it.
type IdentifierRef struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Key returns the graph key of an already normalized identifier.
func (r IdentifierRef) Key() string { return r.Type + ":" + r.Value }

// SplitKey parses a graph key back into its reference.
func SplitKey(key string) IdentifierRef {
	t, v, _ := strings.Cut(key, ":")
	return IdentifierRef{Type: t, Value: v}
}

// Identifier is a stored, normalized identifier.
type Identifier struct {
	Key       string                `json:"key"`
	Type      string                `json:"type"`
	Value     string                `json:"value"`
	FirstSeen time.Time             `json:"firstSeen"`
	LastSeen  time.Time             `json:"lastSeen"`
	Sources   []string              `json:"sources,omitempty"`
	ProfileID string                `json:"profile,omitempty"`
	Traits    map[string]TraitValue `json:"traits,omitempty"`
}

// Ref returns the identifier's type and value.
func (i Identifier) Ref() IdentifierRef { return IdentifierRef{Type: i.Type, Value: i.Value} }

// TraitValue is one trait as last reported by one source.
type TraitValue struct {
	Value  any       `json:"value"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
	// Received is when the message that set the value was received (its
	// event's ReceivedAt): of two values from the same time At, the one
	// received later is the newer (NewerTrait). Zero for a value stored
	// before it was kept, which is older than any that has it.
	Received time.Time `json:"received,omitzero"`
}

// NewerTrait compares the times of two values of a trait: +1 when a is
// newer than b, -1 when older, 0 when neither. The later At is newer; of
// one At, the later Received (a zero Received is the earliest).
func NewerTrait(a, b TraitValue) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return a.Received.Compare(b.Received)
}

// Profile is one connected component of the identity graph. A profile that
// was merged away keeps its id with MergedInto set; it has no members.
type Profile struct {
	ID         string         `json:"id"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	Size       int            `json:"size"`
	Counts     map[string]int `json:"counts,omitempty"`
	MergedInto string         `json:"mergedInto,omitempty"`
}

// Live reports whether the profile still owns identifiers.
func (p Profile) Live() bool { return p.MergedInto == "" }

// Event is one interaction. Identifiers holds what the caller sent; after the
// engine has normalized them, Keys holds the graph keys the event is BY.
//
// ID is the stored, unique event id. The collector makes it from the
// source name and the message id, "<source>/<messageId>" (source names
// hold no "/"), so two sources never share an id; MessageID is the message
// id as sent (or derived from the content when none was sent). Digest is
// the hex SHA-256 of the message's content, which tells a retry of a
// stored event (same digest) from a reuse of its id for something else;
// it is empty for events stored before digests were kept. Campaign is the
// marketing campaign the event came from (Segment's context.campaign.name),
// empty when it had none or was stored before campaigns were kept.
type Event struct {
	ID          string          `json:"id"`
	MessageID   string          `json:"messageId,omitempty"`
	Digest      string          `json:"digest,omitempty"`
	Type        string          `json:"type"`
	Name        string          `json:"name,omitempty"`
	Channel     string          `json:"channel,omitempty"`
	Source      string          `json:"source,omitempty"`
	Campaign    string          `json:"campaign,omitempty"`
	Timestamp   time.Time       `json:"timestamp"`
	ReceivedAt  time.Time       `json:"receivedAt"`
	Properties  map[string]any  `json:"properties,omitempty"`
	Traits      map[string]any  `json:"traits,omitempty"`
	Identifiers []IdentifierRef `json:"-"`
	Keys        []string        `json:"keys,omitempty"`
	// Shared is set when the event is read as part of a profile that does
	// not hold its highest-priority identifier: the event also belongs to
	// another person, so Properties and Traits are withheld and Keys holds
	// only this profile's identifiers. It is never stored.
	Shared bool `json:"-"`
}

// Link sources other than an event's own source.
const (
	SourceManual = "manual"
	SourceRules  = "rules"
)

// ReservedSource reports whether name, in any case, is one of the sources
// the service itself labels links and refusals with (SourceManual,
// SourceRules). No write key, API key or import may take it, so an
// explanation that names one of them always means a person's correction
// or an identity rule, never a client's events.
func ReservedSource(name string) bool {
	return strings.EqualFold(name, SourceManual) || strings.EqualFold(name, SourceRules)
}

// Link is an accepted, undirected LINKED edge. A < B always.
type Link struct {
	A         string    `json:"a"`
	B         string    `json:"b"`
	Source    string    `json:"source"`
	Evidence  string    `json:"evidence"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
	Count     int       `json:"count"`
}

// LinkKey names an undirected link between two identifier keys.
type LinkKey struct{ A, B string }

// NewLinkKey orders the two keys.
func NewLinkKey(a, b string) LinkKey {
	if b < a {
		a, b = b, a
	}
	return LinkKey{A: a, B: b}
}

// RejectedLink is a link the rules or a person refused. A is the side that
// kept its profile, B the side that was refused.
type RejectedLink struct {
	A        string    `json:"a"`
	B        string    `json:"b"`
	Source   string    `json:"source"`
	Reason   string    `json:"reason"`
	Evidence string    `json:"evidence"`
	At       time.Time `json:"at"`
}

// Profile change kinds.
const (
	ChangeMerge = "merge"
	ChangeSplit = "split"
)

// ProfileChange is one entry of profile history. For a merge, From was merged
// into Into. For a split, Into was split off From.
type ProfileChange struct {
	Kind   string    `json:"kind"`
	From   string    `json:"from"`
	Into   string    `json:"into"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
	// Members, for a merge, are the identifiers From held when it was
	// merged, as MemberDigest values, sorted. A later split uses them to
	// give From its id back.
	Members []string `json:"members,omitempty"`
}

// IdentifierSeen is a batch's sightings of one identifier, passed to
// Tx.LockIdentifiers: seen first at First and last at Last, by Sources.
type IdentifierSeen struct {
	Key     string
	Type    string
	Value   string
	First   time.Time
	Last    time.Time
	Sources []string
}

// TraitUpdate replaces the traits of one identifier. The engine computes
// the whole map (per name, the newer At wins); the store writes it as is.
type TraitUpdate struct {
	Key    string
	Traits map[string]TraitValue
}

// Assignment moves an identifier into a profile (its IN edge).
type Assignment struct {
	Key       string
	ProfileID string
}

// JourneyCursor is a position in a journey, newest first.
type JourneyCursor struct {
	Timestamp time.Time
	ID        string
}

// JourneyQuery selects a page of a profile's events, newest first: events
// strictly after the cursor, optionally filtered. Zero times are open bounds;
// From is inclusive and To exclusive.
//
// NoPayload tells the store that the events' Properties and Traits are not
// needed: it may leave them out (the embedded store then skips decoding
// them).
type JourneyQuery struct {
	Types     []string
	Channels  []string
	From      time.Time
	To        time.Time
	After     *JourneyCursor
	Limit     int
	NoPayload bool
}

// Admits reports whether e comes after the cursor in journey order
// (timestamp descending, then id descending). A nil cursor admits all.
func (c *JourneyCursor) Admits(e Event) bool {
	if c == nil {
		return true
	}
	if e.Timestamp.Equal(c.Timestamp) {
		return e.ID < c.ID
	}
	return e.Timestamp.Before(c.Timestamp)
}

// Match reports whether e passes the filters of q (not the cursor or limit).
func (q JourneyQuery) Match(e Event) bool {
	if len(q.Types) > 0 && !slices.Contains(q.Types, e.Type) {
		return false
	}
	if len(q.Channels) > 0 && !slices.Contains(q.Channels, e.Channel) {
		return false
	}
	if !q.From.IsZero() && e.Timestamp.Before(q.From) {
		return false
	}
	if !q.To.IsZero() && !e.Timestamp.Before(q.To) {
		return false
	}
	return true
}

// SortJourney orders events newest first, ties by id descending.
func SortJourney(evs []Event) {
	slices.SortFunc(evs, func(a, b Event) int {
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// PageQuery selects live profiles by id. After and Before are exclusive
// bounds ("" is open). With Reverse the store returns the Limit profiles with
// the greatest ids, in descending order; otherwise the smallest, ascending.
type PageQuery struct {
	After   string
	Before  string
	Limit   int
	Reverse bool
}

// Now returns the current time as the stores keep it: UTC, microseconds.
func Now() time.Time { return Clean(time.Now()) }

// Clean puts a time in the form every store keeps: UTC, microseconds.
func Clean(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// CleanUp is Clean rounding up: the first instant a store keeps that is
// not before t. A bound compared with stored times keeps its meaning
// rounded so ("from" t inclusive is CleanUp(t) inclusive, "to" t
// exclusive is CleanUp(t) exclusive), where truncating would move it
// across a stored time.
func CleanUp(t time.Time) time.Time {
	c := Clean(t)
	if c.Before(t) {
		c = c.Add(time.Microsecond)
	}
	return c
}
