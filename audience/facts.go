package audience

// Kept per-profile facts: a compact summary of one live profile from which
// most filters evaluate without reading the profile's identifiers and
// events (Filter.EvalFacts).
//
// Facts hold what a Subject holds, reduced:
//
//   - the identifier keys of the profile's members (so that its consent
//     records are read fresh, with one ConsentOf for many profiles) and the
//     identifier types present;
//   - the folded traits, each reduced to what comparisons read of it
//     (canonical below), so that every trait condition evaluates on Facts
//     exactly as on the Subject;
//   - event counts per event name, event type and UTC day, with the
//     instants of the day's first and last such event, so that an event
//     condition's count is known to lie between two bounds.
//
//   - the values of the computed traits at the time (FactsAt), each with
//     the version of its definition (ComputedVersion) and the instants
//     between which it holds with no new event.
//
// Consent and kept memberships are not part of Facts: the caller reads
// them fresh.

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/idgraph/cdp/privacy"
)

// Facts is the kept summary of one live profile (FactsOf).
type Facts struct {
	ProfileID string
	// Keys are the identifier keys of the profile's members, sorted.
	Keys []string
	// Types are the identifier types present, sorted, each once.
	Types []string
	// Traits are the folded traits with a value (null and missing values
	// are left out, as comparisons read both as missing), sorted by name.
	Traits []TraitFact
	// EventNames are the event names and types Events refer to, sorted,
	// each once.
	EventNames []string
	// Events are the event counts, sorted by name, type and Day.
	Events []EventFact
	// Computed are the values of the computed traits defined when the
	// facts were built (FactsAt), sorted by name, each name once; nil
	// when none was (FactsOf).
	Computed []ComputedFact
}

// ComputedFact is the value of one computed trait in Facts. Version is
// its definition's (ComputedVersion) when it was computed. Value is
// canonical (see TraitFact), nil when the trait had no value. With no new
// event, Compute gives this value at every instant from From (zero: any)
// until before Until (zero: no end): a trait without a window has the
// same value at any instant, one with a window from when it was computed
// until its NextChange.
type ComputedFact struct {
	Name        string
	Version     uint64
	Value       any
	From, Until time.Time
}

// TraitFact is one trait value of Facts. Value is canonical: nil, bool,
// float64 or string for a scalar; []any of canonical scalars for a list
// (an element that is itself a list is []any{}, an object
// map[string]any{}, anything else OtherValue{}); map[string]any{} for an
// object; OtherValue{} for a value comparisons never match (a json.Number
// that is not a number). Comparisons read a canonical value exactly as
// they read the original.
type TraitFact struct {
	Name  string
	Value any
}

// OtherValue stands for a value of no JSON kind: it exists, and compares
// with nothing.
type OtherValue struct{}

// EventFact counts the events of one name, type and UTC day. Name and
// Type are indexes in the Facts' EventNames (so that Events hold no
// pointers, and decode cheaply). First and Last are the offsets, in
// nanoseconds from the start of the day, of the earliest and latest of
// them.
type EventFact struct {
	Name, Type  int32
	Day         int64 // days since 1970-01-01 UTC
	N           int
	First, Last int64
}

// dayOf returns t's UTC day (days since the epoch) and its offset in
// nanoseconds from that day's start.
func dayOf(t time.Time) (int64, int64) {
	sec := t.Unix()
	day := sec / secondsPerDay
	if sec%secondsPerDay < 0 {
		day--
	}
	return day, (sec-day*secondsPerDay)*int64(time.Second) + int64(t.Nanosecond())
}

// FactsOf summarises the Subject s of the live profile profileID. Only s's
// Traits, Identifiers and Events are read.
func FactsOf(profileID string, s *Subject) Facts {
	f := Facts{ProfileID: profileID}
	for _, id := range s.Identifiers {
		f.Keys = append(f.Keys, id.Key)
		f.Types = append(f.Types, id.Type)
	}
	slices.Sort(f.Keys)
	f.Keys = slices.Compact(f.Keys)
	slices.Sort(f.Types)
	f.Types = slices.Compact(f.Types)
	for name, v := range s.Traits {
		if c := canonical(v, 0); c != nil {
			f.Traits = append(f.Traits, TraitFact{Name: name, Value: c})
		}
	}
	sort.Slice(f.Traits, func(i, j int) bool { return f.Traits[i].Name < f.Traits[j].Name })
	for i := range s.Events {
		f.EventNames = append(f.EventNames, s.Events[i].Name, s.Events[i].Type)
	}
	slices.Sort(f.EventNames)
	f.EventNames = slices.Compact(f.EventNames)
	index := func(name string) int32 {
		i, _ := slices.BinarySearch(f.EventNames, name)
		return int32(i)
	}
	type bucket struct {
		name, typ int32
		day       int64
	}
	at := map[bucket]int{}
	for i := range s.Events {
		e := &s.Events[i]
		day, off := dayOf(e.Timestamp)
		b := bucket{index(e.Name), index(e.Type), day}
		j, ok := at[b]
		if !ok {
			at[b] = len(f.Events)
			f.Events = append(f.Events, EventFact{Name: b.name, Type: b.typ, Day: day, N: 1, First: off, Last: off})
			continue
		}
		ef := &f.Events[j]
		ef.N++
		ef.First, ef.Last = min(ef.First, off), max(ef.Last, off)
	}
	slices.SortFunc(f.Events, func(a, b EventFact) int {
		switch {
		case a.Name != b.Name:
			return int(a.Name - b.Name)
		case a.Type != b.Type:
			return int(a.Type - b.Type)
		case a.Day < b.Day:
			return -1
		case a.Day > b.Day:
			return 1
		}
		return 0
	})
	return f
}

// FactsAt is FactsOf with the values of the computed traits of defs (the
// definitions stored, NewComputedDefs) at now: s.Computed must hold each
// definition's Compute(s.Events, now), a nil value present as nil or
// left out (as the keeper's Subjects hold them). It computes no value
// again; it calls NextChange for each definition with a window. A name
// defs hold twice is left out (EvalFacts then does not know it). With
// defs nil or empty it is FactsOf.
func FactsAt(profileID string, s *Subject, defs *ComputedDefs, now time.Time) Facts {
	f := FactsOf(profileID, s)
	if defs == nil || len(defs.defs) == 0 {
		return f
	}
	f.Computed = make([]ComputedFact, 0, len(defs.defs))
	for i := range defs.defs {
		d := &defs.defs[i]
		if defs.twice[d.Name] {
			continue
		}
		c := ComputedFact{Name: d.Name, Version: defs.versions[d.Name], Value: canonical(s.Computed[d.Name], 0)}
		if d.DependsOnTime() {
			c.From = instant(now)
			c.Until = instant(d.NextChange(s.Events, now))
		}
		f.Computed = append(f.Computed, c)
	}
	if len(f.Computed) == 0 {
		f.Computed = nil
	}
	return f
}

// instant returns t in UTC with no monotonic reading, as DecodeFacts
// reads it back; the zero time stays zero.
func instant(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Round(0)
}

// ComputedVersion identifies what a computed trait's values depend on:
// its Aggregate, Event, EventType, Property, Where and Window (not its
// Name, Description or dates). Two definitions with the same version
// compute the same values (up to a collision of a 64-bit hash); a
// redefinition that changes any of these changes it. Where values are
// read as comparisons read them, so 1 and 1.0 are one.
func ComputedVersion(c ComputedTrait) uint64 {
	b := make([]byte, 0, 64)
	b = appendString(b, string(c.Aggregate))
	b = appendString(b, c.Event)
	b = appendString(b, c.EventType)
	b = appendString(b, c.Property)
	b = appendString(b, c.Window)
	b = binary.AppendUvarint(b, uint64(len(c.Where)))
	for _, w := range c.Where {
		b = appendString(b, w.Path)
		b = appendString(b, string(w.Op))
		if enc, err := appendFactValue(b, canonical(w.Value, 0), 0); err == nil {
			b = enc
		} else {
			b = append(b, 0xff) // not reached: canonical values encode
		}
	}
	h := sha256.Sum256(b)
	return binary.LittleEndian.Uint64(h[:8])
}

// ComputedDefs are the stored computed trait definitions as FactsAt and
// EvalFacts read them: each with its version (ComputedVersion), computed
// once.
type ComputedDefs struct {
	defs     []ComputedTrait // sorted by name
	versions map[string]uint64
	twice    map[string]bool // names defined more than once
}

// NewComputedDefs returns the definitions defs, the ones stored now.
func NewComputedDefs(defs []ComputedTrait) *ComputedDefs {
	d := &ComputedDefs{defs: slices.Clone(defs), versions: make(map[string]uint64, len(defs))}
	slices.SortStableFunc(d.defs, func(a, b ComputedTrait) int { return strings.Compare(a.Name, b.Name) })
	for i, c := range d.defs {
		if i > 0 && d.defs[i-1].Name == c.Name {
			if d.twice == nil {
				d.twice = map[string]bool{}
			}
			d.twice[c.Name] = true
		}
		d.versions[c.Name] = ComputedVersion(c)
	}
	return d
}

// computedAt returns the value of the computed trait name at now, as a
// Subject whose Computed holds the values of defs at now has it, and
// whether ft knows it: with defs nil, never; for a name defs lack, always
// (there is no value); otherwise when ft holds a value computed under the
// same version of the definition and now lies between its From and Until.
func (f *Facts) computedAt(name string, defs *ComputedDefs, now time.Time) (any, bool) {
	if defs == nil {
		return nil, false
	}
	v, ok := defs.versions[name]
	if !ok {
		return nil, true
	}
	i, ok := slices.BinarySearchFunc(f.Computed, name, func(c ComputedFact, n string) int { return strings.Compare(c.Name, n) })
	if !ok {
		return nil, false
	}
	c := &f.Computed[i]
	if c.Version != v || (!c.From.IsZero() && now.Before(c.From)) || (!c.Until.IsZero() && !now.Before(c.Until)) {
		return nil, false
	}
	return c.Value, true
}

// canonical reduces v to what comparisons read of it (see TraitFact); nil
// for a missing value. Below the top level, a list is only a list.
func canonical(v any, depth int) any {
	a := scalarOf(v)
	switch a.k {
	case kMissing:
		return nil
	case kBool:
		return a.b
	case kNumber:
		return a.n
	case kString:
		return a.s
	case kList:
		if depth > 0 {
			return []any{}
		}
		list, _ := listOf(v)
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = canonical(e, depth+1)
		}
		return out
	case kMap:
		return map[string]any{}
	}
	return OtherValue{}
}

// Trait returns the value of the trait name, nil when it has none.
func (f *Facts) Trait(name string) any {
	i, ok := slices.BinarySearchFunc(f.Traits, name, func(t TraitFact, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return nil
	}
	return f.Traits[i].Value
}

// EvalFacts evaluates f on the facts ft of a profile, its consent records
// (those of ft.Keys, read fresh), its kept memberships and the computed
// trait definitions stored now (defs), at now, in three values: known
// reports whether the answer is sure, and match is then what Eval gives
// on the profile's full Subject, its Computed holding the values of those
// definitions at now. Trait, identifier, consent and inAudience
// conditions are always known, and read as Eval reads them; an event
// condition is known when every count its day buckets allow gives the
// same answer. A computed condition is known when ft holds the trait's
// value under the same definition (ComputedVersion) and now lies in the
// span the value holds for (ComputedFact); or when defs have no trait of
// that name (it has no value); never with defs nil. And, or and not
// combine in Kleene's logic: false and unknown is false, true or unknown
// true.
func (f *Filter) EvalFacts(ft *Facts, consent []privacy.Record, audiences map[string]bool, defs *ComputedDefs, now time.Time) (match, known bool) {
	return f.evalFactsIn(ft, consent, true, audiences, defs, now)
}

// EvalFactsWithoutConsent is EvalFacts with the consent records not read
// yet: every consent condition is unknown. A caller reads consent only for
// the profiles it leaves unknown.
func (f *Filter) EvalFactsWithoutConsent(ft *Facts, audiences map[string]bool, defs *ComputedDefs, now time.Time) (match, known bool) {
	return f.evalFactsIn(ft, nil, false, audiences, defs, now)
}

// UsesConsent reports whether f has a consent condition.
func (f *Filter) UsesConsent() bool {
	return f.any(func(g *Filter) bool { return g.Consent != nil }, 0)
}

func (f *Filter) evalFactsIn(ft *Facts, consent []privacy.Record, withConsent bool, audiences map[string]bool, defs *ComputedDefs, now time.Time) (match, known bool) {
	switch {
	case f == nil:
		return false, true
	case f.And != nil:
		known = true
		for i := range f.And {
			m, k := f.And[i].evalFactsIn(ft, consent, withConsent, audiences, defs, now)
			if k && !m {
				return false, true
			}
			known = known && k
		}
		return known, known
	case f.Or != nil:
		known = true
		for i := range f.Or {
			m, k := f.Or[i].evalFactsIn(ft, consent, withConsent, audiences, defs, now)
			if k && m {
				return true, true
			}
			known = known && k
		}
		return false, known
	case f.Not != nil:
		m, k := f.Not.evalFactsIn(ft, consent, withConsent, audiences, defs, now)
		return !m && k, k
	case f.Trait != nil:
		return compare(f.Trait.Op, ft.Trait(f.Trait.Name), f.Trait.Value), true
	case f.Identifier != nil:
		want := f.Identifier.Exists == nil || *f.Identifier.Exists
		_, has := slices.BinarySearch(ft.Types, f.Identifier.Type)
		return has == want, true
	case f.Event != nil:
		return f.Event.evalFacts(ft, now)
	case f.Consent != nil:
		if !withConsent {
			return false, false
		}
		return privacy.StateOf(consent, f.Consent.Purpose, now).State == f.Consent.Status, true
	case f.Computed != nil:
		v, ok := ft.computedAt(f.Computed.Name, defs, now)
		if !ok {
			return false, false
		}
		return compare(f.Computed.Op, v, f.Computed.Value), true
	case f.InAudience != nil:
		return audiences[*f.InAudience], true
	}
	return false, true
}

// evalFacts bounds the count of matching events with the day buckets and
// compares the bounds. A bucket of the day the window starts in counts
// whole when its first event is inside the window, not at all when its
// last is before, and otherwise between 1 and N-1 (its first event is
// out, its last in). With Where filters, which Facts cannot apply, every
// bucket counts from 0.
func (c *EventCondition) evalFacts(ft *Facts, now time.Time) (match, known bool) {
	windowed := c.Within != ""
	var fromDay, fromOff int64
	if windowed {
		d, err := ParseDuration(c.Within)
		if err != nil {
			return false, true // as eval: no event matches, and the condition is false
		}
		fromDay, fromOff = dayOf(d.Before(now.UTC()))
	}
	// The indexes of c's name and type; -1 for any, -2 for one no event
	// has.
	name, typ := int32(-1), int32(-1)
	if c.Name != "" {
		name = -2
		if i, ok := slices.BinarySearch(ft.EventNames, c.Name); ok {
			name = int32(i)
		}
	}
	if c.Type != "" {
		typ = -2
		if i, ok := slices.BinarySearch(ft.EventNames, c.Type); ok {
			typ = int32(i)
		}
	}
	lo, hi := 0, 0
	for i := range ft.Events {
		e := &ft.Events[i]
		if name != -1 && e.Name != name {
			continue
		}
		if typ != -1 && e.Type != typ {
			continue
		}
		sure, maybe := e.N, 0
		switch {
		case !windowed || e.Day > fromDay:
		case e.Day < fromDay:
			continue
		case e.First >= fromOff:
		case e.Last < fromOff:
			continue
		default:
			sure, maybe = 1, e.N-2
		}
		if len(c.Where) > 0 {
			sure, maybe = 0, sure+maybe
		}
		lo += sure
		hi += sure + maybe
	}
	cc := c.Count
	if cc == nil {
		cc = &CountCondition{Op: OpGTE, Value: 1}
	}
	a := cc.Holds(lo)
	switch cc.Op {
	case OpEQ, OpNEQ:
		if lo == hi || cc.Value < lo || cc.Value > hi {
			return a, true
		}
		return false, false
	}
	if a == cc.Holds(hi) {
		return a, true
	}
	return false, false
}

// UsesAudiences reports whether f has an inAudience condition.
func (f *Filter) UsesAudiences() bool {
	return f.any(func(g *Filter) bool { return g.InAudience != nil }, 0)
}

func (f *Filter) any(pred func(*Filter) bool, depth int) bool {
	if f == nil || depth > MaxDepth*4 {
		return false
	}
	if pred(f) {
		return true
	}
	for i := range f.And {
		if f.And[i].any(pred, depth+1) {
			return true
		}
	}
	for i := range f.Or {
		if f.Or[i].any(pred, depth+1) {
			return true
		}
	}
	return f.Not.any(pred, depth+1)
}

// The binary form of Facts (EncodeFacts), version 1 or 2. Strings and
// counts are uvarints (a string: its length, then its bytes); Day is a
// varint.
//
//	version byte (1: no computed values, 2)
//	keys:     count, strings
//	types:    count, strings
//	traits:   count, then name string and value each
//	names:    EventNames: count, strings
//	events:   count, then name index, type index, day, N, First, and Last
//	          when N > 1, each
//	computed: (version 2 only) count, then name string, version (8 bytes
//	          little-endian), value, a uvarint of flags (1: From is set,
//	          2: Until is set), then From and Until when set, each as
//	          seconds since the epoch (varint) and nanoseconds (uvarint)
//
// A value is a tag byte, then: nothing (null, false, true, object, other),
// 8 bytes of float64 bits little-endian (number), a string, or a count and
// the elements (list). Facts with no computed value are written as
// version 1, so facts written before version 2 read the same, and their
// computed values are unknown.
const (
	factsVersion1 = 1
	factsVersion  = 2
)

const (
	tagNull byte = iota
	tagFalse
	tagTrue
	tagNumber
	tagString
	tagList
	tagMap
	tagOther
)

// EncodeFacts returns the stored form of f, without its ProfileID (the
// store's key).
func EncodeFacts(f *Facts) ([]byte, error) {
	b := make([]byte, 0, 64+16*len(f.Events)+32*len(f.Computed))
	if len(f.Computed) == 0 {
		b = append(b, factsVersion1)
	} else {
		b = append(b, factsVersion)
	}
	b = appendStrings(b, f.Keys)
	b = appendStrings(b, f.Types)
	b = binary.AppendUvarint(b, uint64(len(f.Traits)))
	for i, t := range f.Traits {
		b = appendString(b, t.Name)
		var err error
		if b, err = appendFactValue(b, t.Value, 0); err != nil {
			return nil, fmt.Errorf("facts of profile %s: trait %d: %w", f.ProfileID, i, err)
		}
	}
	b = appendStrings(b, f.EventNames)
	b = binary.AppendUvarint(b, uint64(len(f.Events)))
	for _, e := range f.Events {
		if e.N < 1 || e.First < 0 || e.Last < e.First || (e.N == 1 && e.Last != e.First) ||
			e.Name < 0 || e.Type < 0 || int(e.Name) >= len(f.EventNames) || int(e.Type) >= len(f.EventNames) {
			return nil, fmt.Errorf("facts of profile %s: an event count is malformed", f.ProfileID)
		}
		b = binary.AppendUvarint(b, uint64(e.Name))
		b = binary.AppendUvarint(b, uint64(e.Type))
		b = binary.AppendVarint(b, e.Day)
		b = binary.AppendUvarint(b, uint64(e.N))
		b = binary.AppendUvarint(b, uint64(e.First))
		if e.N > 1 {
			b = binary.AppendUvarint(b, uint64(e.Last))
		}
	}
	if len(f.Computed) == 0 {
		return b, nil
	}
	b = binary.AppendUvarint(b, uint64(len(f.Computed)))
	for i, c := range f.Computed {
		if i > 0 && f.Computed[i-1].Name >= c.Name {
			return nil, fmt.Errorf("facts of profile %s: computed values are not sorted by name, each once", f.ProfileID)
		}
		b = appendString(b, c.Name)
		b = binary.LittleEndian.AppendUint64(b, c.Version)
		var err error
		if b, err = appendFactValue(b, c.Value, 0); err != nil {
			return nil, fmt.Errorf("facts of profile %s: computed value %d: %w", f.ProfileID, i, err)
		}
		var flags uint64
		if !c.From.IsZero() {
			flags |= 1
		}
		if !c.Until.IsZero() {
			flags |= 2
		}
		b = binary.AppendUvarint(b, flags)
		for _, t := range []time.Time{c.From, c.Until} {
			if !t.IsZero() {
				b = binary.AppendVarint(b, t.Unix())
				b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
			}
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

func appendFactValue(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNull), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, tagNumber), math.Float64bits(x)), nil
	case string:
		return appendString(append(b, tagString), x), nil
	case []any:
		if depth > 0 {
			return binary.AppendUvarint(append(b, tagList), 0), nil
		}
		b = binary.AppendUvarint(append(b, tagList), uint64(len(x)))
		for _, e := range x {
			var err error
			if b, err = appendFactValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		return append(b, tagMap), nil
	case OtherValue:
		return append(b, tagOther), nil
	}
	return nil, fmt.Errorf("a value of type %T is not canonical", v)
}

// factsReader reads the binary form from a string holding all of it, so
// that every string read is a substring of it and costs no allocation;
// the first error sticks. It moves an offset through s rather than
// re-slicing s: a reader lives on the heap, and every store of a string
// into it would cost a write barrier while the collector runs.
type factsReader struct {
	s   string
	pos int // the next byte to read; len(s) once done or failed
	err error
}

func (r *factsReader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("stored facts are truncated or malformed")
	}
	r.pos = len(r.s)
}

// left is how many bytes are still to read.
func (r *factsReader) left() int { return len(r.s) - r.pos }

// uvarint reads an unsigned varint, as encoding/binary writes it.
func (r *factsReader) uvarint() uint64 {
	var x uint64
	var shift uint
	for i := 0; r.pos+i < len(r.s) && i < binary.MaxVarintLen64; i++ {
		c := r.s[r.pos+i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break
			}
			r.pos += i + 1
			return x | uint64(c)<<shift
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	r.fail()
	return 0
}

// fixed64 reads 8 bytes, little-endian.
func (r *factsReader) fixed64() uint64 {
	if r.left() < 8 {
		r.fail()
		return 0
	}
	var x uint64
	for i := 7; i >= 0; i-- {
		x = x<<8 | uint64(r.s[r.pos+i])
	}
	r.pos += 8
	return x
}

func (r *factsReader) varint() int64 {
	ux := r.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads a count of items that take at least one byte each.
func (r *factsReader) count() int {
	n := r.uvarint()
	if n > uint64(r.left()) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *factsReader) str() string {
	n := r.count()
	s := r.s[r.pos : r.pos+n]
	r.pos += n
	return s
}

func (r *factsReader) value(depth int) any {
	if r.left() == 0 {
		r.fail()
		return nil
	}
	tag := r.s[r.pos]
	r.pos++
	switch tag {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagNumber:
		return math.Float64frombits(r.fixed64())
	case tagString:
		return r.str()
	case tagList:
		n := r.count()
		if depth > 0 && n > 0 {
			r.fail()
			return nil
		}
		out := make([]any, n)
		for i := range out {
			out[i] = r.value(depth + 1)
		}
		return out
	case tagMap:
		return map[string]any{}
	case tagOther:
		return OtherValue{}
	}
	r.fail()
	return nil
}

// DecodeFacts reads back what EncodeFacts wrote, as the facts of
// profileID.
func DecodeFacts(profileID string, b []byte) (Facts, error) {
	if len(b) == 0 {
		return Facts{}, fmt.Errorf("stored facts of profile %s: unknown version", profileID)
	}
	return DecodeFactsString(profileID, string(b))
}

// DecodeFactsString is DecodeFacts of a string: the strings of the facts
// are substrings of s, so a caller decoding many may copy them into one
// string first and decode each as a substring of it (FactsDecoder also
// shares the slices' allocations).
func DecodeFactsString(profileID string, s string) (Facts, error) {
	d := FactsDecoder{block: 1} // one Facts: slices of their own size
	return d.Decode(profileID, s)
}

// FactsDecoder decodes many Facts, carving their slices out of shared
// blocks: a page of facts costs a few allocations rather than several
// per profile. The Facts it returns own their slices (no two share an
// element), and stay valid after later calls. The zero value is ready.
type FactsDecoder struct {
	strs   []string
	traits []TraitFact
	events []EventFact
	block  int // the fewest elements a block holds; 0: factsBlock
}

// factsBlock is how many elements a FactsDecoder allocates at once, at
// the least, unless told otherwise.
const factsBlock = 512

// take returns the next n elements of *block (with capacity n, so that
// no append reaches the next Facts' elements), allocating a new block of
// at least size elements when it has fewer than n left.
func take[T any](block *[]T, n, size int) []T {
	if n == 0 {
		return nil
	}
	if cap(*block)-len(*block) < n {
		if size == 0 {
			size = factsBlock
		}
		*block = make([]T, 0, max(n, size))
	}
	start := len(*block)
	*block = (*block)[:start+n]
	return (*block)[start : start+n : start+n]
}

// Decode is DecodeFactsString, with the slices carved from d's blocks.
func (d *FactsDecoder) Decode(profileID string, s string) (Facts, error) {
	if len(s) == 0 || (s[0] != factsVersion1 && s[0] != factsVersion) {
		return Facts{}, fmt.Errorf("stored facts of profile %s: unknown version", profileID)
	}
	version := s[0]
	r := &factsReader{s: s, pos: 1}
	strs := func() []string {
		out := take(&d.strs, r.count(), d.block)
		for i := range out {
			out[i] = r.str()
		}
		return out
	}
	f := Facts{ProfileID: profileID}
	f.Keys = strs()
	f.Types = strs()
	if f.Traits = take(&d.traits, r.count(), d.block); f.Traits != nil {
		for i := range f.Traits {
			f.Traits[i].Name = r.str()
			f.Traits[i].Value = r.value(0)
		}
	}
	f.EventNames = strs()
	if f.Events = take(&d.events, r.count(), d.block); f.Events != nil {
		for i := range f.Events {
			e := &f.Events[i]
			ni, ti := r.uvarint(), r.uvarint()
			if ni >= uint64(len(f.EventNames)) || ti >= uint64(len(f.EventNames)) {
				r.fail()
				break
			}
			e.Name, e.Type = int32(ni), int32(ti)
			e.Day = r.varint()
			e.N = int(r.uvarint())
			e.First = int64(r.uvarint())
			e.Last = e.First
			if e.N > 1 {
				e.Last = int64(r.uvarint())
			}
		}
	}
	if version == factsVersion {
		r.computed(&f)
	}
	if r.err == nil && r.left() > 0 {
		r.fail()
	}
	if r.err != nil {
		return Facts{}, fmt.Errorf("stored facts of profile %s: %w", profileID, r.err)
	}
	return f, nil
}

// computed reads the computed section of version 2 into f: at least one
// value, sorted by name, each once.
func (r *factsReader) computed(f *Facts) {
	n := r.count()
	if n == 0 {
		r.fail()
		return
	}
	f.Computed = make([]ComputedFact, n)
	for i := range f.Computed {
		c := &f.Computed[i]
		c.Name = r.str()
		if i > 0 && f.Computed[i-1].Name >= c.Name {
			r.fail()
			return
		}
		c.Version = r.fixed64()
		c.Value = r.value(0)
		flags := r.uvarint()
		if flags > 3 {
			r.fail()
			return
		}
		if flags&1 != 0 {
			c.From = r.instant()
		}
		if flags&2 != 0 {
			c.Until = r.instant()
		}
		if r.err != nil {
			return
		}
	}
}

// instant reads a time as EncodeFacts writes it: not the zero time.
func (r *factsReader) instant() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= uint64(time.Second) {
		r.fail()
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if t.IsZero() {
		r.fail()
		return time.Time{}
	}
	return t
}

// ComputedChanged reports whether the computed trait values of next differ
// from those of old, the stored form of the profile's previous facts (nil
// or empty: none were stored): a trait that gained, lost or changed its
// value. A trait without a value counts as absent. Stores call it as they
// write facts, to append a graph.FeedComputedChanged entry.
func ComputedChanged(profileID string, old []byte, next *Facts) (bool, error) {
	var prev []ComputedFact
	if len(old) > 0 {
		f, err := DecodeFacts(profileID, old)
		if err != nil {
			return false, err
		}
		prev = f.Computed
	}
	values := func(cs []ComputedFact) map[string]any {
		m := make(map[string]any, len(cs))
		for _, c := range cs {
			if c.Value != nil {
				m[c.Name] = c.Value
			}
		}
		return m
	}
	return !reflect.DeepEqual(values(prev), values(next.Computed)), nil
}
