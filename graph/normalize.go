package graph

import (
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// Reasons a value is dropped during normalization.
const (
	DropEmpty        = "empty"
	DropBlocked      = "blocked"
	DropTooLong      = "too_long"
	DropInvalidType  = "invalid_type"
	DropInvalidEmail = "invalid_email"
	DropInvalidPhone = "invalid_phone"
	DropInvalidUTF8  = "invalid_utf8"
)

// Normalizer turns raw identifiers into graph keys under a set of rules, and
// counts every value it drops by reason.
type Normalizer struct {
	rules *Rules
	mu    sync.Mutex
	drops map[string]int64
}

// NewNormalizer returns a normalizer for rules.
func NewNormalizer(r *Rules) *Normalizer {
	return &Normalizer{rules: r, drops: map[string]int64{}}
}

// Rules returns the rules in force.
func (n *Normalizer) Rules() *Rules { return n.rules }

// Normalize returns the normalized reference, or "" and the reason it was
// dropped. It does not count the drop; Count does.
func (n *Normalizer) Normalize(ref IdentifierRef) (IdentifierRef, string) {
	typ := strings.ToLower(strings.TrimSpace(ref.Type))
	if !validType(typ) {
		return IdentifierRef{}, DropInvalidType
	}
	if len(ref.Value) > MaxValueBytes {
		return IdentifierRef{}, DropTooLong
	}
	if !utf8.ValidString(ref.Value) {
		return IdentifierRef{}, DropInvalidUTF8
	}
	v := strings.TrimSpace(ref.Value)
	if v == "" {
		return IdentifierRef{}, DropEmpty
	}
	if n.blocked(typ, v) {
		return IdentifierRef{}, DropBlocked
	}
	switch typ {
	case TypeEmail:
		v = strings.ToLower(v)
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 || strings.ContainsAny(v, " \t\r\n") {
			return IdentifierRef{}, DropInvalidEmail
		}
	case TypePhone:
		num, err := phonenumbers.Parse(v, n.rules.DefaultRegion)
		if err != nil || !phonenumbers.IsPossibleNumber(num) {
			return IdentifierRef{}, DropInvalidPhone
		}
		v = phonenumbers.Format(num, phonenumbers.E164)
	}
	if n.blocked(typ, v) {
		return IdentifierRef{}, DropBlocked
	}
	return IdentifierRef{Type: typ, Value: v}, ""
}

func (n *Normalizer) blocked(typ, v string) bool {
	lv := strings.ToLower(v)
	if n.rules.blocked[lv] {
		return true
	}
	for _, re := range n.rules.patterns {
		if re.MatchString(v) {
			return true
		}
	}
	tr := n.rules.Rule(typ)
	if tr.blocked[lv] {
		return true
	}
	for _, re := range tr.patterns {
		if re.MatchString(v) {
			return true
		}
	}
	return false
}

// Count records one dropped value.
func (n *Normalizer) Count(reason string) {
	n.mu.Lock()
	n.drops[reason]++
	n.mu.Unlock()
}

// Drops returns the dropped-value counts by reason.
func (n *Normalizer) Drops() map[string]int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[string]int64, len(n.drops))
	for k, v := range n.drops {
		out[k] = v
	}
	return out
}

// NormalizeAll normalizes an event's identifiers, drops and counts the bad
// ones, and returns the distinct keys in priority order with the reasons
// for what was dropped.
func (n *Normalizer) NormalizeAll(refs []IdentifierRef) (keys []string, dropped []Drop) {
	seen := map[string]bool{}
	for _, r := range refs {
		nr, why := n.Normalize(r)
		if why != "" {
			n.Count(why)
			dropped = append(dropped, Drop{Ref: r, Reason: why})
			continue
		}
		k := nr.Key()
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	n.SortByPriority(keys)
	return keys, dropped
}

// SortByPriority orders keys by their type's priority, then by key.
func (n *Normalizer) SortByPriority(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		pi := n.rules.Rule(SplitKey(keys[i]).Type).Priority
		pj := n.rules.Rule(SplitKey(keys[j]).Type).Priority
		if pi != pj {
			return pi < pj
		}
		return keys[i] < keys[j]
	})
}

// Drop is a value that normalization refused.
type Drop struct {
	Ref    IdentifierRef
	Reason string
}
