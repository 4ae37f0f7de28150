package audience

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Env is what Check needs to know beyond the filter itself.
type Env struct {
	// Purposes are the consent purposes; nil means none is configured,
	// and every consent condition is refused.
	Purposes *privacy.Purposes
	// Computed reports whether a computed trait is defined; nil means
	// none is.
	Computed func(name string) bool
	// Audience reports whether an audience exists; nil means none does.
	Audience func(id string) bool
}

// Further limits of a filter, beyond MaxDepth and MaxNodes.
const (
	MaxNameBytes   = 256  // a trait, computed trait or identifier type name, a property path (an event's name: graph.MaxEventNameBytes)
	MaxStringBytes = 1024 // a string value
	MaxInValues    = 1000 // the values of one IN list
	MaxWhere       = 20   // the property filters of one event condition
)

// AudienceIDPrefix starts every audience id (a segment; "aud_" is the
// audit log's): "seg_" and 32 lowercase hex
// digits.
const AudienceIDPrefix = "seg_"

var audienceIDRe = regexp.MustCompile(`^seg_[0-9a-f]{32}$`)

// NewAudienceID returns a random audience id.
func NewAudienceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return AudienceIDPrefix + hex.EncodeToString(b[:])
}

// ValidAudienceID reports whether id has the syntax of an audience id.
func ValidAudienceID(id string) bool { return audienceIDRe.MatchString(id) }

var (
	opList      = joinOps(Ops)
	countOps    = []Op{OpEQ, OpNEQ, OpGT, OpGTE, OpLT, OpLTE}
	countOpList = joinOps(countOps)
	states      = []privacy.State{privacy.StateGranted, privacy.StateDenied, privacy.StateWithdrawn, privacy.StateExpired, privacy.StateUnknown}
	fieldList   = "and, or, not, trait, identifier, event, consent, computed, inAudience"
)

func joinOps(ops []Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

// Check validates the filter f given as the argument named path
// ("filter"): exactly one field per node, at most MaxDepth levels and
// MaxNodes nodes, non-empty and/or lists, each condition's names, op and
// value (see the package documentation), durations, purposes, consent
// states, computed trait names and audience ids, against env.
//
// Errors: EINVALID, the message starting with the path of the fault
// inside the filter, as in "filter.and[2].event.count.value: must be 0
// or more". Messages never repeat a condition's value; names, paths and
// ops are quoted and clipped to 64 bytes.
func Check(f *Filter, env Env, path string) error {
	if f == nil {
		return bad(path, "a filter is required")
	}
	nodes := 0
	if err := measure(f, path, path, 1, &nodes); err != nil {
		return err
	}
	return check(f, env, path)
}

// StoredEventType is s as ingest stores an event's type, trimmed and
// lower-cased, unless that leaves nothing (then s, which Check refuses).
func StoredEventType(s string) string {
	if t := strings.ToLower(strings.TrimSpace(s)); t != "" {
		return t
	}
	return s
}

// Normalize puts the type of every event condition of f in the form
// ingest stores it (StoredEventType), so that type "Track" selects the
// track events: no stored type has a capital; and the type of every
// identifier condition so too (StoredIdentifierType: "Email" is email,
// "ios.idfa" ios_idfa). Names are left as given.
// Check accepts a filter before or after Normalize alike; DecodeFilter
// normalizes what it reads, so a filter stored before types were
// normalized is evaluated, and shown, as one stored now. It goes no deeper
// than MaxDepth levels (Check refuses a deeper filter), so it ends even on
// a tree with a cycle.
func Normalize(f *Filter) { normalize(f, 1) }

func normalize(f *Filter, depth int) {
	if f == nil || depth > MaxDepth {
		return
	}
	for i := range f.And {
		normalize(&f.And[i], depth+1)
	}
	for i := range f.Or {
		normalize(&f.Or[i], depth+1)
	}
	normalize(f.Not, depth+1)
	if f.Event != nil && f.Event.Type != "" {
		f.Event.Type = StoredEventType(f.Event.Type)
	}
	if f.Identifier != nil {
		f.Identifier.Type = StoredIdentifierType(f.Identifier.Type)
	}
}

// StoredIdentifierType is s as identifiers' types are stored: trimmed,
// lower-cased, and a dot read as "_" (the collector reads Segment's
// ios.idfa as ios_idfa), unless that leaves nothing (then s, which Check
// refuses).
func StoredIdentifierType(s string) string {
	if t := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), ".", "_"); t != "" {
		return t
	}
	return s
}

func bad(path, format string, args ...any) error {
	return graph.Errorf(graph.EINVALID, "%s: %s", path, fmt.Sprintf(format, args...))
}

// measure refuses a tree deeper than MaxDepth or larger than MaxNodes.
// It stops at the first excess, so it ends even on a tree with a cycle.
func measure(f *Filter, root, path string, depth int, nodes *int) error {
	if depth > MaxDepth {
		return bad(path, "the filter is nested more than %d levels deep", MaxDepth)
	}
	if *nodes++; *nodes > MaxNodes {
		return bad(root, "the filter has more than %d nodes", MaxNodes)
	}
	for i := range f.And {
		if err := measure(&f.And[i], root, fmt.Sprintf("%s.and[%d]", path, i), depth+1, nodes); err != nil {
			return err
		}
	}
	for i := range f.Or {
		if err := measure(&f.Or[i], root, fmt.Sprintf("%s.or[%d]", path, i), depth+1, nodes); err != nil {
			return err
		}
	}
	if f.Not != nil {
		return measure(f.Not, root, path+".not", depth+1, nodes)
	}
	return nil
}

// fieldsSet names the fields of f that are set.
func fieldsSet(f *Filter) []string {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(f.And != nil, "and")
	add(f.Or != nil, "or")
	add(f.Not != nil, "not")
	add(f.Trait != nil, "trait")
	add(f.Identifier != nil, "identifier")
	add(f.Event != nil, "event")
	add(f.Consent != nil, "consent")
	add(f.Computed != nil, "computed")
	add(f.InAudience != nil, "inAudience")
	return set
}

func check(f *Filter, env Env, path string) error {
	switch set := fieldsSet(f); len(set) {
	case 0:
		return bad(path, "set exactly one of %s; none is set", fieldList)
	case 1:
	default:
		return bad(path, "set exactly one of %s; %s are set", fieldList, strings.Join(set, ", "))
	}
	switch {
	case f.And != nil:
		return checkList(f.And, env, path+".and")
	case f.Or != nil:
		return checkList(f.Or, env, path+".or")
	case f.Not != nil:
		return check(f.Not, env, path+".not")
	case f.Trait != nil:
		p := path + ".trait"
		if err := checkName(p+".name", f.Trait.Name); err != nil {
			return err
		}
		return checkComparison(p, f.Trait.Op, f.Trait.Value)
	case f.Identifier != nil:
		return checkName(path+".identifier.type", f.Identifier.Type)
	case f.Event != nil:
		return checkEvent(f.Event, path+".event")
	case f.Consent != nil:
		return checkConsent(f.Consent, env, path+".consent")
	case f.Computed != nil:
		p := path + ".computed"
		if err := checkName(p+".name", f.Computed.Name); err != nil {
			return err
		}
		if env.Computed == nil || !env.Computed(f.Computed.Name) {
			return bad(p+".name", "computed trait %s is not defined", quoteClip(f.Computed.Name))
		}
		return checkComparison(p, f.Computed.Op, f.Computed.Value)
	default:
		p, id := path+".inAudience", *f.InAudience
		switch {
		case id == "":
			return bad(p, "an audience id is required")
		case !ValidAudienceID(id):
			// The value is not repeated: it may be personal data pasted
			// by mistake.
			return bad(p, "is not an audience id (%s followed by 32 lowercase hex digits)", AudienceIDPrefix)
		case env.Audience == nil || !env.Audience(id):
			return bad(p, "audience %s does not exist", id)
		}
		return nil
	}
}

func checkList(list []Filter, env Env, path string) error {
	if len(list) == 0 {
		return bad(path, "list at least one filter")
	}
	for i := range list {
		if err := check(&list[i], env, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// checkName checks a required name: not empty, valid UTF-8, at most
// MaxNameBytes.
func checkName(path, s string) error {
	if s == "" {
		return bad(path, "must not be empty")
	}
	return checkOptionalName(path, s)
}

func checkOptionalName(path, s string) error {
	if len(s) > MaxNameBytes {
		return bad(path, "is longer than %d bytes", MaxNameBytes)
	}
	if !utf8.ValidString(s) {
		return bad(path, "is not valid UTF-8")
	}
	return nil
}

// checkEventName checks an event's name, which may be as long as ingest
// takes one (graph.MaxEventNameBytes).
func checkEventName(path, s string) error {
	if len(s) > graph.MaxEventNameBytes {
		return bad(path, "is longer than %d bytes", graph.MaxEventNameBytes)
	}
	if !utf8.ValidString(s) {
		return bad(path, "is not valid UTF-8")
	}
	return nil
}

func checkEvent(c *EventCondition, path string) error {
	if err := checkEventName(path+".name", c.Name); err != nil {
		return err
	}
	if err := checkOptionalName(path+".type", c.Type); err != nil {
		return err
	}
	// A type no event has would select nothing, silently. The value is not
	// echoed: it may be personal data given in the wrong field.
	if c.Type != "" && !slices.Contains(ComputedEventTypes, StoredEventType(c.Type)) {
		return bad(path+".type", "is not one of %s", strings.Join(ComputedEventTypes, ", "))
	}
	if err := CheckWhere(c.Where, path+".where"); err != nil {
		return err
	}
	if c.Count != nil {
		p := path + ".count"
		if !isOneOf(c.Count.Op, countOps) {
			if c.Count.Op == "" {
				return bad(p+".op", "is required; use one of %s", countOpList)
			}
			return bad(p+".op", "%s does not apply to a count; use one of %s", quoteClip(string(c.Count.Op)), countOpList)
		}
		if c.Count.Value < 0 {
			return bad(p+".value", "must be 0 or more, got %d", c.Count.Value)
		}
	}
	if c.Within != "" {
		if _, err := ParseDuration(c.Within); err != nil {
			return bad(path+".within", "%s", graph.ErrorMessage(err))
		}
	}
	return nil
}

// CheckWhere checks a list of property filters given at path (as in
// "input.where"): at most MaxWhere, each with a property path
// (CheckPropertyPath), an op and a value that fits it, as Check does for
// an event condition's where.
//
// Errors: EINVALID, naming the path of the fault ("input.where[1].op").
func CheckWhere(where []PropertyFilter, path string) error {
	if len(where) > MaxWhere {
		return bad(path, "has %d filters; at most %d are allowed", len(where), MaxWhere)
	}
	for i := range where {
		w := &where[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		if err := CheckPropertyPath(p+".path", w.Path); err != nil {
			return err
		}
		if err := checkComparison(p, w.Op, w.Value); err != nil {
			return err
		}
	}
	return nil
}

// CheckPropertyPath checks s, given at path, as a dotted path into event
// properties: not empty, at most MaxNameBytes, valid UTF-8, no empty
// segment.
//
// Errors: EINVALID, naming path.
func CheckPropertyPath(path, s string) error {
	if err := checkName(path, s); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(s, ".") {
		if seg == "" {
			return bad(path, "%s has an empty segment; join property names with single dots, as in order.total", quoteClip(s))
		}
	}
	return nil
}

func checkConsent(c *ConsentCondition, env Env, path string) error {
	p := path + ".purpose"
	switch {
	case c.Purpose == "":
		return bad(p, "must not be empty")
	case env.Purposes == nil:
		return bad(p, "no consent purposes are configured")
	case !env.Purposes.Known(c.Purpose):
		return bad(p, "purpose %s is not known; the purposes are %s", quoteClip(c.Purpose), env.Purposes.String())
	}
	for _, s := range states {
		if c.Status == s {
			return nil
		}
	}
	list := make([]string, len(states))
	for i, s := range states {
		list[i] = string(s)
	}
	if c.Status == "" {
		return bad(path+".status", "is required; use one of %s", strings.Join(list, ", "))
	}
	return bad(path+".status", "%s is not one of %s", quoteClip(string(c.Status)), strings.Join(list, ", "))
}

func isOneOf(op Op, ops []Op) bool {
	for _, o := range ops {
		if op == o {
			return true
		}
	}
	return false
}

// checkComparison checks the op and value of a trait, computed trait or
// property condition at path.
func checkComparison(path string, op Op, value any) error {
	if !isOneOf(op, Ops) {
		if op == "" {
			return bad(path+".op", "is required; use one of %s", opList)
		}
		return bad(path+".op", "%s is not one of %s", quoteClip(string(op)), opList)
	}
	p := path + ".value"
	v := scalarOf(value)
	switch op {
	case OpExists, OpNotExists:
		if v.k != kMissing {
			return bad(p, "%s takes no value", op)
		}
		return nil
	case OpIN:
		if v.k == kMissing {
			return bad(p, "IN needs a list of strings, numbers or booleans")
		}
		list, ok := listOf(value)
		if !ok {
			return bad(p, "IN needs a list of strings, numbers or booleans, got %s", v.k)
		}
		if len(list) == 0 {
			return bad(p, "IN needs at least one value")
		}
		if len(list) > MaxInValues {
			return bad(p, "IN takes at most %d values, got %d", MaxInValues, len(list))
		}
		for i, e := range list {
			if err := checkScalar(fmt.Sprintf("%s[%d]", p, i), "IN values", scalarOf(e), true); err != nil {
				return err
			}
		}
		return nil
	case OpGT, OpGTE, OpLT, OpLTE:
		if v.k == kBool {
			return bad(p, "%s needs a number or a string, got a boolean", op)
		}
		if v.k != kMissing && v.k.isScalar() {
			return checkScalar(p, string(op), v, false)
		}
		return bad(p, "%s needs a number or a string%s", op, got(v.k))
	case OpStartsWith:
		if v.k != kString {
			return bad(p, "STARTS_WITH needs a string%s", got(v.k))
		}
		return checkScalar(p, string(op), v, false)
	default: // EQ, NEQ, CONTAINS
		if v.k != kMissing && v.k.isScalar() {
			return checkScalar(p, string(op), v, false)
		}
		return bad(p, "%s needs a string, a number or a boolean%s", op, got(v.k))
	}
}

// got says what a wrong value was, or nothing when it is missing.
func got(k kind) string {
	if k == kMissing {
		return ""
	}
	return ", got " + k.String()
}

// checkScalar checks a scalar value's content: a number finite, a string
// at most MaxStringBytes.
func checkScalar(path, what string, v scalar, list bool) error {
	switch v.k {
	case kNumber:
		if math.IsNaN(v.n) || math.IsInf(v.n, 0) {
			return bad(path, "is not a finite number")
		}
	case kString:
		if len(v.s) > MaxStringBytes {
			return bad(path, "a string of %d bytes is longer than the %d allowed", len(v.s), MaxStringBytes)
		}
	case kBool:
	default:
		if list {
			return bad(path, "%s must be strings, numbers or booleans, got %s", what, v.k)
		}
		return bad(path, "%s needs a string, a number or a boolean, got %s", what, v.k)
	}
	return nil
}
