package access

import (
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// Masking hides personal values from a caller without the pii:read scope.
// What is personal comes from the rules (graph.Rules.PersonalData): the
// identifier types and trait names listed there. An email keeps its first
// character and its domain, a phone its last two digits, and any other
// personal value becomes Masked.

// Masked replaces a personal value that is neither an email nor a phone.
const Masked = "***"

// MaskEmail keeps an email's first character and its domain:
// "ann@example.com" becomes "a***@example.com". A value that is not an
// email is masked whole.
func MaskEmail(v string) string {
	at := strings.LastIndexByte(v, '@')
	if at <= 0 {
		return Masked
	}
	_, size := utf8.DecodeRuneInString(v)
	return v[:size] + "***" + v[at:]
}

// MaskPhone keeps a phone's last two digits and its leading "+", and
// replaces every other digit by "*": "+14155550167" becomes "+*********67".
// Characters other than digits are dropped.
func MaskPhone(v string) string {
	var digits int
	for _, r := range v {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if digits <= 2 {
		return Masked
	}
	var b strings.Builder
	if strings.HasPrefix(v, "+") {
		b.WriteByte('+')
	}
	seen := 0
	for _, r := range v {
		if r < '0' || r > '9' {
			continue
		}
		seen++
		if seen > digits-2 {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// Masker masks the personal values the rules name.
type Masker struct {
	types map[string]bool
	// traits holds the personal trait names folded (graph.FieldName): a
	// name is personal in any spelling the erasure takes for it ("Email",
	// "e-mail", "First Name"), since sources spell their fields as they
	// please; the folded name says how a value is masked ("email",
	// "phone" or any other).
	traits map[string]bool
	// keyRe finds graph keys of personal types inside free text.
	keyRe *regexp.Regexp
}

// NewMasker returns a masker for the personal data the rules list.
func NewMasker(r *graph.Rules) *Masker {
	m := &Masker{types: map[string]bool{}, traits: map[string]bool{}}
	var alts []string
	for _, t := range r.PersonalData.IdentifierTypes {
		m.types[t] = true
		alts = append(alts, regexp.QuoteMeta(t))
	}
	for _, t := range r.PersonalData.Traits {
		m.traits[graph.FieldName(t)] = true
	}
	if len(alts) > 0 {
		// A type name is a word of letters, digits and _; the value runs to
		// the next space, colon or quote. An email may hold quotes and
		// colons before its @ (o'brien@..., "ann.lee"@...) but no space,
		// and its domain is ASCII labels (graph's normalization): it runs
		// to the end of the domain that follows its last @ before a space.
		// The email branch comes first, and Go's alternation takes the
		// first that matches.
		slices.Sort(alts)
		pat := `\b(?:(?:` + strings.Join(alts, "|") + `):[^\s:"']+)`
		if m.types[graph.TypeEmail] {
			pat = `\b(?:` + graph.TypeEmail + `:\S+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*|(?:` + strings.Join(alts, "|") + `):[^\s:"']+)`
		}
		m.keyRe = regexp.MustCompile(pat)
	}
	return m
}

// Text masks the graph keys of personal types that free text embeds, such
// as the reason the engine gives a split ("unlinked email:ann@example.com
// and user_id:u1: ..." becomes "unlinked email:a***@example.com and
// user_id:u1: ..."). Bare values the text may hold are not recognized.
func (m *Masker) Text(s string) string {
	if m.keyRe == nil {
		return s
	}
	return m.keyRe.ReplaceAllStringFunc(s, m.Key)
}

// HasPersonal reports whether traits hold a personal value that Traits
// would mask, in nested objects and lists included.
func (m *Masker) HasPersonal(traits map[string]any) bool {
	for k, v := range traits {
		if m.personalTrait(k) || m.personalIn(v) {
			return true
		}
	}
	return false
}

// personalIn reports whether v, the value of a name that is not personal,
// holds a personal name below it: in an object, or in an object anywhere
// in a list.
func (m *Masker) personalIn(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return m.HasPersonal(t)
	case []any:
		return slices.ContainsFunc(t, m.personalIn)
	}
	return false
}

// PersonalType reports whether identifiers of type typ are personal data.
func (m *Masker) PersonalType(typ string) bool { return m.types[typ] }

// PersonalTrait reports whether the trait name is personal data: one the
// rules list, in any spelling graph.FieldName folds to it.
func (m *Masker) PersonalTrait(name string) bool { return m.personalTrait(name) }

func (m *Masker) personalTrait(name string) bool { return m.traits[graph.FieldName(name)] }

// Value masks v as a value of an identifier of type typ, when that type is
// personal; otherwise it returns v.
func (m *Masker) Value(typ, v string) string {
	if !m.types[typ] {
		return v
	}
	return maskAs(typ, v)
}

// Key masks the value part of a graph key ("email:ann@example.com"
// becomes "email:a***@example.com") when its type is personal.
func (m *Masker) Key(key string) string {
	ref := graph.SplitKey(key)
	if !m.types[ref.Type] {
		return key
	}
	return ref.Type + ":" + maskAs(ref.Type, ref.Value)
}

// Trait masks a trait value when its name is personal: a string as an
// email or phone when the name says so, anything else as Masked.
func (m *Masker) Trait(name string, v any) any {
	kind := graph.FieldName(name)
	if !m.traits[kind] {
		return v
	}
	if s, ok := v.(string); ok {
		return maskAs(kind, s)
	}
	return Masked
}

// Traits returns a copy of traits with the personal ones masked, in nested
// objects and in objects inside lists included (event properties and
// traits are free-form).
func (m *Masker) Traits(traits map[string]any) map[string]any {
	if traits == nil {
		return nil
	}
	out := make(map[string]any, len(traits))
	for _, k := range slices.Sorted(maps.Keys(traits)) {
		if m.personalTrait(k) {
			out[k] = m.Trait(k, traits[k])
			continue
		}
		out[k] = m.nested(traits[k])
	}
	return out
}

// nested is v, the value of a name that is not personal, with the personal
// names below it masked: in an object, or in the objects of a list, at any
// depth. Other values are returned as they are.
func (m *Masker) nested(v any) any {
	switch t := v.(type) {
	case map[string]any:
		return m.Traits(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = m.nested(e)
		}
		return out
	}
	return v
}

func maskAs(kind, v string) string {
	switch kind {
	case graph.TypeEmail:
		return MaskEmail(v)
	case graph.TypePhone:
		return MaskPhone(v)
	}
	return Masked
}

// Finder finds a person's own personal values inside their other texts
// (a page's url holding their email, a note holding their phone), which
// masking by name leaves whole: the values of keys of personal types and
// of traits (by name, several values each) under personal names, found
// as an erasure finds them (graph.Erased). Nil when there is none.
func (m *Masker) Finder(n *graph.Normalizer, keys []string, traits map[string][]any) *graph.Erased {
	var idents []graph.Identifier
	for _, k := range keys {
		ref := graph.SplitKey(k)
		if m.types[ref.Type] {
			idents = append(idents, graph.Identifier{Key: k, Type: ref.Type, Value: ref.Value})
		}
	}
	personal := map[string][]any{}
	for name, vs := range traits {
		if m.personalTrait(name) {
			personal[name] = vs
		}
	}
	if len(idents) == 0 && len(personal) == 0 {
		return nil
	}
	x := graph.NewFinder(n, idents, personal)
	if x.Empty() {
		return nil
	}
	return x
}

// MembersFinder is Finder for the identifiers ms of one person and their
// traits.
func (m *Masker) MembersFinder(n *graph.Normalizer, ms []graph.Identifier) *graph.Erased {
	keys := make([]string, len(ms))
	traits := map[string][]any{}
	for i, id := range ms {
		keys[i] = id.Key
		for name, tv := range id.Traits {
			traits[name] = append(traits[name], tv.Value)
		}
	}
	return m.Finder(n, keys, traits)
}

// Hide returns v (traits or properties masked by name already, or one
// value of them) with every value x finds in its strings replaced by
// Masked, but below personal names (masked already), copying only what
// changes, and whether anything did. A nil x finds nothing.
func (m *Masker) Hide(x *graph.Erased, v any) (any, bool) {
	if x == nil {
		return v, false
	}
	switch t := v.(type) {
	case string:
		h := x.HideText(t, Masked)
		return h, h != t
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			if m.personalTrait(k) {
				continue
			}
			h, ch := m.Hide(x, e)
			if !ch {
				continue
			}
			if out == nil {
				out = maps.Clone(t)
			}
			out[k] = h
		}
		if out == nil {
			return v, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range t {
			h, ch := m.Hide(x, e)
			if !ch {
				continue
			}
			if out == nil {
				out = slices.Clone(t)
			}
			out[i] = h
		}
		if out == nil {
			return v, false
		}
		return out, true
	}
	return v, false
}
