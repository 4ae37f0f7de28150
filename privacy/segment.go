package privacy

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
)

// SegmentConsentEvent is the track event Segment sends when a person
// changes their consent preferences.
const SegmentConsentEvent = "Segment Consent Preference Updated"

// MaxSegmentCategories bounds the categories one message may carry.
const MaxSegmentCategories = 256

// SegmentConsent is what one Segment message says of consent, before the
// caller stamps it into records (Records).
type SegmentConsent struct {
	// Preferences holds one decision per purpose, in the purposes' order.
	Preferences []Preference
	// Unknown lists the categories that map to no purpose, sorted, so the
	// caller can report them. They are skipped.
	Unknown []string
	// Event is true when the message is the SegmentConsentEvent track.
	Event bool
}

// Preference is the decision read for one purpose.
type Preference struct {
	Purpose string
	// Status is GRANTED (true) or DENIED (false). When several categories
	// map to one purpose and disagree, the denial wins: the ledger never
	// records more consent than the person gave under every name.
	Status Status
	// Categories are the message's category names behind it, sorted.
	Categories []string
}

// Empty reports whether the message carried no consent at all.
func (s SegmentConsent) Empty() bool {
	return len(s.Preferences) == 0 && len(s.Unknown) == 0 && !s.Event
}

// ParseSegment decodes one Segment message and reads its consent, as
// FromSegment does.
//
// Errors: EINVALID when data is not a JSON object, and FromSegment's.
func ParseSegment(data []byte, p *Purposes) (SegmentConsent, error) {
	var msg map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&msg); err != nil || msg == nil {
		return SegmentConsent{}, graph.Errorf(graph.EINVALID, "the message is not a JSON object")
	}
	return FromSegment(msg, p)
}

// FromSegment reads Segment's consent conventions from a decoded message:
// context.consent.categoryPreferences ({"Advertising": true, ...}) on any
// message, true for GRANTED and false for DENIED, each category mapped to a
// purpose by p.Resolve. The SegmentConsentEvent track carries the same
// field, and must. A message without the field (or with it null) carries
// no consent and gives an empty result.
//
// Errors: EINVALID when context.consent or its categoryPreferences is not
// an object, when a value is not a boolean (naming the category), when
// there are more than MaxSegmentCategories categories, or when the
// SegmentConsentEvent track has no preferences.
func FromSegment(msg map[string]any, p *Purposes) (SegmentConsent, error) {
	bad := func(format string, args ...any) error { return graph.Errorf(graph.EINVALID, format, args...) }
	var out SegmentConsent
	typ, _ := msg["type"].(string)
	name, _ := msg["event"].(string)
	out.Event = strings.EqualFold(typ, "track") && name == SegmentConsentEvent
	var prefs map[string]any
	if ctx, ok := msg["context"].(map[string]any); ok && ctx["consent"] != nil {
		consent, ok := ctx["consent"].(map[string]any)
		if !ok {
			return SegmentConsent{}, bad("context.consent must be an object")
		}
		if consent["categoryPreferences"] != nil {
			if prefs, ok = consent["categoryPreferences"].(map[string]any); !ok {
				return SegmentConsent{}, bad("context.consent.categoryPreferences must be an object of category names and true or false")
			}
		}
	}
	if prefs == nil {
		if out.Event {
			return SegmentConsent{}, bad("the %q event has no context.consent.categoryPreferences", SegmentConsentEvent)
		}
		return out, nil
	}
	if len(prefs) > MaxSegmentCategories {
		return SegmentConsent{}, bad("context.consent.categoryPreferences has %d categories, more than %d", len(prefs), MaxSegmentCategories)
	}
	categories := make([]string, 0, len(prefs))
	for c := range prefs {
		categories = append(categories, c)
	}
	sort.Strings(categories)
	byPurpose := make(map[string]*Preference)
	for _, c := range categories {
		v, ok := prefs[c].(bool)
		if !ok {
			// Named as a property key is (graph.MessageKey): a category
			// that looks like an email or a phone number is withheld.
			return SegmentConsent{}, bad("context.consent.categoryPreferences.%s must be true or false", clip(graph.MessageKey(c), 70))
		}
		purpose, ok := p.Resolve(c)
		if !ok {
			out.Unknown = append(out.Unknown, c)
			continue
		}
		st := StatusDenied
		if v {
			st = StatusGranted
		}
		pref := byPurpose[purpose]
		if pref == nil {
			pref = &Preference{Purpose: purpose, Status: st}
			byPurpose[purpose] = pref
		} else if st == StatusDenied {
			pref.Status = StatusDenied
		}
		pref.Categories = append(pref.Categories, c)
	}
	for _, purpose := range p.list {
		if pref := byPurpose[purpose]; pref != nil {
			out.Preferences = append(out.Preferences, *pref)
		}
	}
	return out, nil
}

// SegmentStamp is what the caller knows of the message and the identifier
// its records hang on.
type SegmentStamp struct {
	// Identifier is the graph key the records are given with.
	Identifier string
	// Source is the message's source name.
	Source string
	// EventID is the stored event id (ingest.EventID), kept as the proof.
	EventID string
	// At is the message's time (when the person decided, by the sender's
	// clock). Records dates no record after ReceivedAt.
	At time.Time
	// ReceivedAt is when the service received it: the collector receives
	// the messages of one request a microsecond apart, in its order.
	ReceivedAt time.Time
	// Seq is the message's position in the request that brought it (0
	// for the first or only one): the records of one request that tie on
	// at and receivedAt keep the order of their messages.
	Seq int
}

// Records turns the preferences into records for one identifier: legal
// basis CONSENT, the event id as proof, ids from DatedRecordIDFor (the
// same message gives the same ids), times cleaned as stores keep them. A
// caller that gives a message's consent to several identifiers calls it
// once for each. The records still need Validate.
//
// A record is never dated after the message reached the service: a
// message dated ahead of the server's clock (a fast clock; the collector
// accepts up to a day ahead) would otherwise outrank every decision made
// meanwhile, so its records take ReceivedAt as At. Decisions dated alike
// tie on At; the messages of one request are received in its order, a
// microsecond apart, so ReceivedAt keeps the order the sender gave them,
// and their ids begin with the message's own time and its position in the
// request, the state rule's last tie-break, for records whose ReceivedAt
// ties too (given by another caller).
func (s SegmentConsent) Records(st SegmentStamp) []Record {
	dated := graph.Clean(st.At)
	at := dated
	if received := graph.Clean(st.ReceivedAt); !received.IsZero() && at.After(received) {
		at = received
	}
	out := make([]Record, 0, len(s.Preferences))
	for _, pref := range s.Preferences {
		out = append(out, Record{
			ID:         DatedRecordIDFor(st.EventID, st.Identifier, pref.Purpose, dated, st.Seq),
			Purpose:    pref.Purpose,
			Status:     pref.Status,
			At:         at,
			Source:     st.Source,
			LegalBasis: BasisConsent,
			Identifier: st.Identifier,
			Proof:      Proof{EventID: st.EventID},
			ReceivedAt: st.ReceivedAt,
		}.Clean())
	}
	return out
}
