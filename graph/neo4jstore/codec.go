package neo4jstore

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// Values go to Neo4j as parameters. Optional values that are empty are sent
// as null, so the property is absent rather than "" or a year-1 date, which
// is what an analyst writing "IS NULL" expects.

// utc makes the driver send a time as a DATETIME with offset Z (the driver
// keys on the zone name "Offset"), the form datetime('...Z') gives in Cypher.
// With the zone name "UTC" it would store Z[UTC], which an analyst's
// datetime literal never equals.
var utc = time.FixedZone("Offset", 0)

// timeParam sends a time at microsecond precision, the form every store
// keeps; zero is null.
func timeParam(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return graph.Clean(t).In(utc)
}

func strParam(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonParam encodes a map that Neo4j cannot hold as a property; an empty map
// is null.
func jsonParam[M ~map[string]V, V any](m M) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func strsParam(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// uniq returns the distinct strings of ss in order, as a parameter list, so
// a caller's repeated key never yields repeated rows.
func uniq(ss []string) []any {
	seen := make(map[string]bool, len(ss))
	out := make([]any, 0, len(ss))
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func newNonce() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// props reads a map projection (n {.*}) from a record value.
type props map[string]any

func asProps(v any) (props, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("neo4j returned %T where a property map was expected", v)
	}
	return m, nil
}

func (p props) str(k string) string {
	s, _ := p[k].(string)
	return s
}

func (p props) bool(k string) bool {
	b, _ := p[k].(bool)
	return b
}

func (p props) int(k string) int {
	n, _ := p[k].(int64)
	return int(n)
}

func (p props) time(k string) time.Time {
	t, ok := p[k].(time.Time)
	if !ok {
		return time.Time{}
	}
	return graph.Clean(t)
}

func (p props) strs(k string) []string {
	l, _ := p[k].([]any)
	if len(l) == 0 {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// json decodes a JSON property into dst; an absent property leaves dst nil.
// Numbers in properties and traits come back exact (graph.UnmarshalJSON):
// an integer that fits is an int64, any other number a float64.
func (p props) json(k string, dst any) error {
	s, ok := p[k].(string)
	if !ok || s == "" {
		return nil
	}
	if err := graph.UnmarshalJSON([]byte(s), dst); err != nil {
		return fmt.Errorf("property %s is not valid JSON: %w", k, err)
	}
	return nil
}

func decodeIdentifier(v any, profileID any) (graph.Identifier, error) {
	p, err := asProps(v)
	if err != nil {
		return graph.Identifier{}, err
	}
	id := graph.Identifier{
		Key:       p.str(propKey),
		Type:      p.str(propType),
		Value:     p.str(propValue),
		FirstSeen: p.time(propFirstSeen),
		LastSeen:  p.time(propLastSeen),
		Sources:   p.strs(propSources),
	}
	id.ProfileID, _ = profileID.(string)
	if err := p.json(propTraits, &id.Traits); err != nil {
		return graph.Identifier{}, fmt.Errorf("identifier %s: %w", graph.KeyRef(id.Key), err)
	}
	for name, tv := range id.Traits {
		tv.At, tv.Received = graph.Clean(tv.At), graph.Clean(tv.Received)
		id.Traits[name] = tv
	}
	return id, nil
}

func decodeProfile(v any) (graph.Profile, error) {
	p, err := asProps(v)
	if err != nil {
		return graph.Profile{}, err
	}
	pr := graph.Profile{
		ID:         p.str(propID),
		CreatedAt:  p.time(propCreatedAt),
		UpdatedAt:  p.time(propUpdatedAt),
		Size:       p.int(propSize),
		MergedInto: p.str(propMergedInto),
	}
	if err := p.json(propCounts, &pr.Counts); err != nil {
		return graph.Profile{}, fmt.Errorf("profile %s: %w", pr.ID, err)
	}
	return pr, nil
}

func decodeEvent(v any, keys any) (graph.Event, error) {
	p, err := asProps(v)
	if err != nil {
		return graph.Event{}, err
	}
	e := graph.Event{
		ID:         p.str(propID),
		MessageID:  p.str(propMessageID),
		Digest:     p.str(propDigest),
		Type:       p.str(propType),
		Name:       cmp.Or(p.str(propName), p.str(propLongName)),
		Channel:    p.str(propChannel),
		Source:     p.str(propSource),
		Campaign:   p.str(propCampaign),
		Timestamp:  p.time(propTimestamp),
		ReceivedAt: p.time(propReceivedAt),
	}
	if err := p.json(propProperties, &e.Properties); err != nil {
		return graph.Event{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	if err := p.json(propTraits, &e.Traits); err != nil {
		return graph.Event{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	if l, ok := keys.([]any); ok {
		for _, k := range l {
			if s, ok := k.(string); ok {
				e.Keys = append(e.Keys, s)
			}
		}
		// The BY edges hold no order; key order is stable across calls.
		sort.Strings(e.Keys)
	}
	return e, nil
}

func decodeLink(a, b, v any) (graph.Link, error) {
	p, err := asProps(v)
	if err != nil {
		return graph.Link{}, err
	}
	l := graph.Link{
		Source:    p.str(propSource),
		Evidence:  p.str(propEvidence),
		FirstSeen: p.time(propFirstSeen),
		LastSeen:  p.time(propLastSeen),
		Count:     p.int(propCount),
	}
	l.A, _ = a.(string)
	l.B, _ = b.(string)
	return l, nil
}

func decodeRejected(a, b, v any) (graph.RejectedLink, error) {
	p, err := asProps(v)
	if err != nil {
		return graph.RejectedLink{}, err
	}
	r := graph.RejectedLink{
		Source:   p.str(propSource),
		Reason:   p.str(propReason),
		Evidence: p.str(propEvidence),
		At:       p.time(propAt),
	}
	r.A, _ = a.(string)
	r.B, _ = b.(string)
	return r, nil
}

// slotParams sets the slot properties of s on a node: each is null, which
// removes it, when s is empty.
func slotParams(m map[string]any, s audience.Slots) {
	if s.Len() == 0 {
		m[propSlotNames], m[propSlotKinds], m[propSlotStrings], m[propSlotNumbers] = nil, nil, nil, nil
		return
	}
	m[propSlotNames], m[propSlotKinds], m[propSlotStrings], m[propSlotNumbers] = s.Names, s.Kinds, s.Strings, s.Numbers
}

// identifierSlots are the slot properties of an identifier holding traits:
// each trait, a null one included (AddOrNull), in name order, and
// slotTimes and slotReceived, the time and the receipt of the trait each
// entry belongs to, by which compiled filters fold a profile's traits as
// graph.FoldTraits does (graph.NewerTrait). A value with no receipt
// (stored before receipts were kept) has the zero time there,
// 0001-01-01T00:00:00Z, which is before any other, as the fold reads an
// identifier written before slotReceived existed.
func identifierSlots(traits map[string]graph.TraitValue) map[string]any {
	names := make([]string, 0, len(traits))
	for n := range traits {
		names = append(names, n)
	}
	sort.Strings(names)
	var s audience.Slots
	var times, received []any
	for _, n := range names {
		tv := traits[n]
		s.AddOrNull(n, tv.Value)
		at, recv := graph.Clean(tv.At).In(utc), graph.Clean(tv.Received).In(utc)
		for len(times) < s.Len() {
			times, received = append(times, at), append(received, recv)
		}
	}
	m := map[string]any{}
	slotParams(m, s)
	m[propSlotTimes], m[propSlotReceived] = nil, nil
	if len(times) > 0 {
		m[propSlotTimes], m[propSlotReceived] = times, received
	}
	return m
}
