package graph

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
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
	// DropUnpairedSurrogate: the value holds a UTF-16 surrogate on its own
	// (a JSON "\ud800" escape without its pair). The collector keeps it as
	// its WTF-8 bytes (ED A0..BF xx) instead of letting the JSON decoder
	// turn it into U+FFFD, which would make different values equal.
	DropUnpairedSurrogate = "unpaired_surrogate"
	// DropControlChar: a C0 or C1 control character (NUL, CR, LF, TAB,
	// DEL, U+0080..U+009F) inside the value; surrounding whitespace is
	// trimmed first.
	DropControlChar = "control_character"
	// DropFormatChar: a format character (Unicode category Cf), such as
	// the zero-width space U+200B, U+FEFF or the bidi controls U+202A..E
	// and U+2066..9, or another character Unicode renders as nothing (a
	// variation selector, U+034F, a Hangul filler; see invisible):
	// invisible, so two values that look the same differ.
	DropFormatChar = "format_character"
)

// emailDomains converts an email's domain to its ASCII form (UTS #46
// mapping for lookup, non-transitional, with the bidi rule). It is more
// lenient than idna.Lookup about ASCII: underscores and odd hyphens, which
// real addresses carry, are kept rather than refused.
var emailDomains = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(),
	idna.StrictDomainName(false), idna.CheckHyphens(false))

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
	v := strings.TrimSpace(ref.Value)
	if why := unusableChars(v); why != "" {
		return IdentifierRef{}, why
	}
	if hasInvisible(typ, v) {
		return IdentifierRef{}, DropFormatChar
	}
	if v == "" {
		return IdentifierRef{}, DropEmpty
	}
	// Canonically equivalent values (a precomposed "é" and "e" + U+0301)
	// are one identifier.
	v = norm.NFC.String(v)
	// Blocked values as sent; the patterns wait for the value as stored,
	// so that every spelling of one identifier gets one verdict.
	if n.blocked(typ, v, false) {
		return IdentifierRef{}, DropBlocked
	}
	switch typ {
	case TypeEmail:
		at := strings.LastIndexByte(v, '@')
		if at <= 0 || at == len(v)-1 || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
			return IdentifierRef{}, DropInvalidEmail
		}
		local := strings.Map(foldLower, v[:at])
		// An @ in the local part only inside quotes ("a@b"@example.com).
		if strings.IndexByte(local, '@') >= 0 && !(len(local) > 1 && local[0] == '"' && local[len(local)-1] == '"') {
			return IdentifierRef{}, DropInvalidEmail
		}
		// The domain goes to UTS #46 as sent, which lowercases it its own
		// way: lowercasing first would turn a capital sharp s (ss there)
		// into a small one (another domain). One trailing root dot names
		// the same domain (example.com.).
		domain, err := emailDomains.ToASCII(strings.TrimSuffix(v[at+1:], "."))
		// The mapping can turn look-alikes into a space or an @ (U+00A0,
		// U+FF20); a value so made could not be looked up again. Nor could
		// one whose mapping breaks a rule checked before it (U+2135 maps
		// to a Hebrew letter after the bidi rule): the result must map to
		// itself.
		if err != nil || !domainLabels(domain) {
			return IdentifierRef{}, DropInvalidEmail
		}
		// (An ASCII domain maps to its lowercase form, which maps to
		// itself: only a domain sent with other characters is checked.)
		if !isASCII(v[at+1:]) {
			if again, err := emailDomains.ToASCII(domain); err != nil || again != domain {
				return IdentifierRef{}, DropInvalidEmail
			}
		}
		// Lowercasing can undo NFC in rare cases; the local part is
		// composed again.
		v = norm.NFC.String(local) + "@" + domain
	case TypePhone:
		num, err := phonenumbers.Parse(v, n.rules.DefaultRegion)
		// A number possible only as a local one (555-1234, no area code)
		// has no E.164 form: formatted anyway it would join everyone with
		// that local number in every area.
		if err != nil || phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
			return IdentifierRef{}, DropInvalidPhone
		}
		// The parser strips one trunk prefix a parse: "+49 (0) 030
		// 1234567" formats as +490301234567, which parses again as
		// +49301234567. The stored value must normalize to itself, or a
		// lookup or erasure by the value a profile shows would reach
		// another identifier; so parse the E.164 form until it is stable.
		// A value sent in its E.164 form is one (the parse of the form is
		// the parse just made).
		for i := 0; ; i++ {
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			if i == 0 && e164 == v {
				break
			}
			again, err := phonenumbers.Parse(e164, n.rules.DefaultRegion)
			if err != nil || i == 4 || phonenumbers.IsPossibleNumberWithReason(again) != phonenumbers.IS_POSSIBLE {
				return IdentifierRef{}, DropInvalidPhone
			}
			if phonenumbers.Format(again, phonenumbers.E164) == e164 {
				break
			}
			num = again
		}
		// Placeholders such as (000) 000-0000 are blocked by their
		// national digits: the E.164 form starts with + and a country
		// code, which ^[0-]*$ never matches.
		if n.blocked(typ, phonenumbers.GetNationalSignificantNumber(num), true) {
			return IdentifierRef{}, DropBlocked
		}
		v = phonenumbers.Format(num, phonenumbers.E164)
	}
	if len(v) > MaxValueBytes {
		return IdentifierRef{}, DropTooLong // grown by composition or punycode
	}
	if n.blocked(typ, v, true) {
		return IdentifierRef{}, DropBlocked
	}
	return IdentifierRef{Type: typ, Value: v}, ""
}

// foldLower lowercases r and, where a capital has two small forms, gives
// the one lowercasing the capital gives: the final sigma is σ (Σ's), the
// long s is s, the micro sign μ, and so on for the few letters case
// folding maps so. Lowercasing alone leaves ς as written, so ΝΙΚΟΣ and
// νικος, one word in two cases, would be two addresses. A letter that
// is no case form of the capital its upper case gives (the dotless ı,
// whose capital is I) is kept.
func foldLower(r rune) rune {
	r = unicode.ToLower(r)
	u := unicode.ToUpper(r)
	if u == r {
		return r
	}
	l := unicode.ToLower(u)
	if l == r {
		return r
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == u {
			return l
		}
	}
	return r
}

// isASCII reports whether s holds only ASCII characters.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// domainLabels reports whether an ASCII domain is made of dot-separated
// labels of letters, digits, hyphens and underscores, none empty.
func domainLabels(d string) bool {
	if d == "" {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// unusableChars names the first problem that makes v unusable as an
// identifier value, or returns "": invalid UTF-8 (an unpaired surrogate in
// WTF-8 form is named as such), a control character or a format character.
func unusableChars(v string) string {
	if !utf8.ValidString(v) {
		if hasSurrogate(v) {
			return DropUnpairedSurrogate
		}
		return DropInvalidUTF8
	}
	for i := 0; i < len(v); {
		if b := v[i]; b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				return DropControlChar
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		switch {
		case unicode.IsControl(r):
			return DropControlChar
		case unicode.Is(unicode.Cf, r):
			return DropFormatChar
		}
		i += size
	}
	return ""
}

// invisible reports whether r is one of the default-ignorable code points
// outside category Cf, which Unicode says to render as nothing: variation
// selectors (U+FE00..F, U+180B..F, U+E0100..), the combining grapheme
// joiner U+034F, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0,
// the Khmer inherent vowels U+17B4..5, and the reserved ranges of the
// property. Like a zero-width space, such a character makes two values a
// person reads alike differ, and a value of fillers alone reads blank yet
// would join everyone who sends it.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector)
}

// hasInvisible reports whether v, a value of type typ, holds an invisible
// character. An email's domain is left out: UTS #46 drops those it allows
// (variation selectors, U+034F) and refuses the others, so a domain
// written with one is that domain or no domain (an emoji domain typed
// with U+FE0F after its heart is the domain without it).
func hasInvisible(typ, v string) bool {
	if typ == TypeEmail {
		if at := strings.LastIndexByte(v, '@'); at >= 0 {
			v = v[:at]
		}
	}
	return strings.IndexFunc(v, invisible) >= 0
}

// hasSurrogate reports whether v holds a UTF-16 surrogate code point
// encoded as UTF-8 bytes would encode it (ED A0..BF xx), which UTF-8 forbids.
func hasSurrogate(v string) bool {
	for i := 0; i+1 < len(v); i++ {
		if v[i] == 0xED && v[i+1] >= 0xA0 && v[i+1] <= 0xBF {
			return true
		}
	}
	return false
}

// blocked reports whether v, or its compatibility form, is a blocked
// value of typ, or with patterns matches a blocked pattern. The
// compatibility form is NFKC (fullwidth "０" is "0", "ｎｕｌｌ" is "null",
// the small and fullwidth hyphen-minus are "-") with every minus
// look-alike as "-" (minusLike). The value kept is v: only the check
// folds.
func (n *Normalizer) blocked(typ, v string, patterns bool) bool {
	// ASCII is its own compatibility form, and holds no minus look-alike.
	if !isASCII(v) {
		if f := minusLike.Replace(norm.NFKC.String(v)); f != v && n.blockedAs(typ, f, patterns) {
			return true
		}
	}
	return n.blockedAs(typ, v, patterns)
}

// minusLike turns into "-" the characters typed for a minus that NFKC
// leaves apart from it: the minus sign U+2212 (NFKC folds the superscript
// and subscript minus to it), the hyphens U+2010 and U+2011, the figure
// dash U+2012 and the en dash U+2013, which word processors and
// spreadsheets put for "-". So "−1" is the -1 placeholder and "0–0" is
// zeros. The em dash, never a minus, stays.
var minusLike = strings.NewReplacer("\u2212", "-", "\u2010", "-", "\u2011", "-", "\u2012", "-", "\u2013", "-")

func (n *Normalizer) blockedAs(typ, v string, patterns bool) bool {
	lv := strings.ToLower(v)
	// The top-level values as written stand for themselves. An address
	// is compared only as email normalizes it (typeBlocked): lowercased
	// as sent it may be another address's spelling, as a capital sharp s
	// lowercases to ß but is ss in a domain ("ann@STRAẞE.de" is
	// ann@strasse.de, not ann@straße.de). A value with no @ is no address,
	// and a placeholder ("null") is still blocked as one.
	if n.rules.blocked[lv] && (typ != TypeEmail || !strings.Contains(v, "@")) {
		return true
	}
	if n.rules.typeBlocked[typ][lv] {
		return true
	}
	tr := n.rules.Rule(typ)
	if tr.blocked[lv] {
		return true
	}
	if !patterns {
		return false
	}
	for _, re := range n.rules.patterns {
		if re.MatchString(v) {
			return true
		}
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

// NormalizeAll normalizes an event's identifiers, drops the bad ones, and
// returns the distinct keys in priority order with the reasons for what
// was dropped. It counts nothing: the caller counts (Count) what it
// dropped once the event's call has committed.
func (n *Normalizer) NormalizeAll(refs []IdentifierRef) (keys []string, dropped []Drop) {
	seen := map[string]bool{}
	for _, r := range refs {
		nr, why := n.Normalize(r)
		if why != "" {
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
// Priorities returns the priority of each identifier type the rules
// list, and the priority of every other type: the order SortByPriority
// sorts by, for a store that ranks identifiers itself.
func (n *Normalizer) Priorities() (map[string]int, int) {
	out := make(map[string]int, len(n.rules.Types))
	for typ, r := range n.rules.Types {
		out[typ] = r.Priority
	}
	return out, n.rules.Default.Priority
}

func (n *Normalizer) SortByPriority(keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(n.rules.Rule(SplitKey(a).Type).Priority, n.rules.Rule(SplitKey(b).Type).Priority); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
}

// Drop is a value that normalization refused.
type Drop struct {
	Ref    IdentifierRef
	Reason string
}
