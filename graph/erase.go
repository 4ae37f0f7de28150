package graph

// Erasure.
//
// RemoveIdentifier, ForgetIdentifier and ForgetProfile erase identifiers so
// that no copy of their values stays in the graph:
//
//   - the identifiers go with their links, refusals and BY edges, and every
//     event that only they carried, with that event's EVENT_ADDED entries
//     in the change feed and in webhook batches not yet delivered
//     (RedactFeed), whatever profile those name;
//   - the events they shared with identifiers that stay are scrubbed: the
//     erased keys leave them (the BY edges), and so does every property or
//     trait value equal to an erased value after normalization (Erased);
//     their name, channel and campaign have erased values replaced
//     (scrubField). When the erased person was shown their properties
//     and traits (her key was their highest-priority one) and the next key
//     is another profile's, those go whole (payloadLeaves);
//   - for one identifier erased, the other events of its profile (carried
//     by its identifiers that stay, never by it) are scrubbed the same
//     way, and an identifier of another profile that shared one of those
//     that changed counts as a sharer below;
//   - a trait value equal to an erased value is removed from the
//     identifiers that stay and shared an event with an erased one, and,
//     for one identifier erased, from the rest of its profile;
//   - history keeps no erased key: a reason naming one is rewritten and its
//     member digest is dropped (RewriteChanges). ForgetProfile deletes the
//     profile and every profile that redirects to it, with their history;
//   - the links and refusals among the identifiers that stay (those whose
//     traits are scrubbed) lose erased values from their evidence and
//     reasons.
//
// The erased values are the erased identifiers' values and the values of
// their personal traits (Rules.PersonalData.Traits). Everything is one
// write transaction: an erasure commits whole or not at all.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// ErasedText replaces an erased value inside free text (a history reason,
// a receipt's reason).
const ErasedText = "[erased]"

// minNeedle is the shortest erased value, in runes, that is also searched
// for inside longer strings; a shorter one (a user id "42") is only matched
// whole, or as part of its key ("user_id:42").
const minNeedle = 5

// Erasure says what an erasure removed. It holds erased keys: the caller
// may hash them (suppression) but must not keep them.
type Erasure struct {
	// Keys are the erased identifiers, sorted.
	Keys []string
	// Events counts the events deleted: those carried only by erased
	// identifiers.
	Events int
	// ScrubbedEvents counts the events kept for identifiers that stay,
	// from which the erased keys and values were removed: every event an
	// erased identifier shared, and every other event of its profile
	// that held an erased value.
	ScrubbedEvents int
	// Traits counts the trait values removed: every trait of an erased
	// identifier, and every value scrubbed from an identifier that stays.
	Traits int
	// Profiles are what remains of the erased identifier's profile
	// (ForgetIdentifier, RemoveIdentifier); none for ForgetProfile.
	Profiles []Profile
	// Others are the identifiers that stay whose events or traits the
	// erasure may have scrubbed: they shared an event with an erased one
	// or one the erasure scrubbed, or their traits are scrubbed in any
	// case. Sorted.
	Others []string
	// Erased holds the erased values; ScrubText uses it.
	Erased *Erased

	// deletedEvents are the ids of the events deleted, whose feed entries
	// the erasure redacts.
	deletedEvents []string
}

// ScrubText replaces every erased value found in s by ErasedText.
func (x *Erasure) ScrubText(s string) string {
	if x == nil || x.Erased == nil {
		return s
	}
	return x.Erased.ScrubText(s)
}

// EraseHook runs in an erasure's transaction after its write w is applied,
// before the hooks ctx carries (WithBeforeCommit) and before the commit,
// with what the erasure removed. What it writes through tx commits with
// the erasure; an error rolls the erasure back. Like BeforeCommit it may
// run more than once and must not keep state between runs; it must not
// modify w or x.
type EraseHook func(ctx context.Context, tx Tx, w *Write, x *Erasure) error

// Erased is a set of erased values and the means to find them again in
// payloads and text: whole values after normalization (the identifier
// types' own, and a generic one for the rest), and longer values and every
// erased key inside free text.
//
// A value shorter than minNeedle runes (a user id "42", a first name
// "Ann") is matched only where it stands for a person: under a field named
// after a personal trait or an identifier (email, name, userId...), never
// as any number or word in someone else's data (a quantity of 42).
type Erased struct {
	norm  *Normalizer
	keys  map[string]bool // erased graph keys
	types []string        // the erased keys' types
	canon map[string]bool // canonical forms of every erased value
	// needles are searched for inside strings, canonical and case-folded
	// (foldCase), longest first; needleSet holds them as they are
	// collected.
	needles   []string
	needleSet map[string]bool
	// personal holds the field names (folded, see fieldName) under which
	// a short value is matched too.
	personal map[string]bool
	// repl replaces what ScrubText finds; "" is ErasedText (HideText sets
	// another).
	repl string
}

// NewErased collects the erased values of idents, identifiers about to be
// erased: their keys and values, and the values of their personal traits
// (for a trait holding an object or a list, such as an address, every
// value in it of at least minNeedle runes). The engine's erasure adds
// those of the traits their events stored before (addTrait).
func NewErased(n *Normalizer, idents []Identifier) *Erased {
	x := &Erased{norm: n, keys: map[string]bool{}, canon: map[string]bool{}, personal: map[string]bool{}}
	for _, t := range n.rules.PersonalData.Traits {
		x.personal[fieldName(t)] = true
	}
	for _, t := range n.rules.PersonalData.IdentifierTypes {
		x.personal[fieldName(t)] = true
	}
	for _, t := range []string{TypeUserID, TypeAnonymousID, TypeDeviceID, TypeEmail, TypePhone, "userId", "anonymousId", "previousId", "deviceId"} {
		x.personal[fieldName(t)] = true
	}
	// Every identifier type is a name that stands for a person: those the
	// rules list, and the erased identifiers' own, which the rules need
	// not list (a CRM's "crm_id", sent in context.externalIds).
	for t := range n.rules.Types {
		x.personal[fieldName(t)] = true
	}
	for _, id := range idents {
		x.personal[fieldName(id.Type)] = true
	}
	x.needleSet = map[string]bool{}
	for _, id := range idents {
		x.keys[id.Key] = true
		if !slices.Contains(x.types, id.Type) {
			x.types = append(x.types, id.Type)
		}
		x.needleSet[foldCase(canonical(id.Key))] = true
		x.add(id.Value)
		for name, tv := range id.Traits {
			x.addTrait(name, tv.Value)
		}
	}
	slices.Sort(x.types)
	x.sortNeedles()
	return x
}

// NewFinder is NewErased for values to find rather than erase (masking
// looks for a person's values inside their other texts): the keys and
// values of idents, and the values of traits (by name) under personal
// names, as NewErased takes an identifier's personal traits.
func NewFinder(n *Normalizer, idents []Identifier, traits map[string][]any) *Erased {
	x := NewErased(n, idents)
	for name, vs := range traits {
		for _, v := range vs {
			x.addTrait(name, v)
		}
	}
	x.sortNeedles()
	return x
}

// add collects v, an erased value: matched whole, and searched for in
// longer strings when it has at least minNeedle runes.
func (x *Erased) add(v string) {
	c := canonical(v)
	if c == "" {
		return
	}
	x.canon[c] = true
	if utf8.RuneCountInString(c) >= minNeedle {
		x.needleSet[foldCase(c)] = true
	}
}

// addTrait collects the value of the trait name when it is a personal
// one: a scalar as it is, and of an object or a list (an address) every
// value in it of at least minNeedle runes.
func (x *Erased) addTrait(name string, v any) {
	if !x.personal[fieldName(name)] {
		return
	}
	if s, ok := scalarString(v); ok {
		x.add(s)
		return
	}
	var nested func(v any)
	nested = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, e := range t {
				nested(e)
			}
		case []any:
			for _, e := range t {
				nested(e)
			}
		default:
			if s, ok := scalarString(v); ok && utf8.RuneCountInString(canonical(s)) >= minNeedle {
				x.add(s)
			}
		}
	}
	nested(v)
}

// sortNeedles sets needles from the values collected, longest first.
func (x *Erased) sortNeedles() {
	x.needles = slices.Collect(maps.Keys(x.needleSet))
	slices.SortFunc(x.needles, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
}

// FieldName folds a field name (a trait's, a property's) for the test of
// whether it is personal: lowercase, without '_', '-' or spaces
// ("first_name", "firstName" and "First Name" are one). The erasure and
// masking both take a name listed in Rules.PersonalData in every such
// spelling.
func FieldName(s string) string { return fieldName(s) }

// fieldName is FieldName.
func fieldName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// canonical is the generic normal form values are compared in: Unicode
// compatibility composition, lowercase, spaces trimmed and runs of spaces
// folded into one.
func canonical(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(norm.NFKC.String(s)), unicode.IsSpace), " ")
}

// scalarString returns a JSON scalar as the text it was sent as, for
// comparison: strings as they are, numbers in their shortest form.
func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case int32:
		return strconv.FormatInt(int64(t), 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	}
	return "", false
}

// Empty reports whether nothing is erased.
func (x *Erased) Empty() bool { return x == nil || len(x.canon) == 0 && len(x.keys) == 0 }

// Match reports whether v, a scalar, equals an erased value: as is after
// the generic normalization, or as an identifier of an erased type once
// normalized as that type (so " Ann@Example.COM " matches the erased
// email ann@example.com, and "(415) 555-0167" the phone +14155550167).
// It matches wherever v stands; MatchField spares short values in fields
// that do not name a person.
func (x *Erased) Match(v any) bool {
	s, ok := scalarString(v)
	if !ok || x.Empty() {
		return false
	}
	if x.canon[canonical(s)] || x.keys[s] {
		return true
	}
	for _, t := range x.types {
		if n, why := x.norm.Normalize(IdentifierRef{Type: t, Value: s}); why == "" && x.keys[n.Key()] {
			return true
		}
	}
	return false
}

// MatchField is Match for a value found under field (a property or trait
// name; "" inside a list): a value shorter than minNeedle runes matches
// only under a field that names a personal trait or an identifier.
func (x *Erased) MatchField(field string, v any) bool {
	if !x.Match(v) {
		return false
	}
	s, _ := scalarString(v)
	if utf8.RuneCountInString(canonical(s)) >= minNeedle {
		return true
	}
	// Normalized as an identifier, a short text can be long (a phone's
	// digits): such a match stands.
	for _, t := range x.types {
		if n, why := x.norm.Normalize(IdentifierRef{Type: t, Value: s}); why == "" && x.keys[n.Key()] && utf8.RuneCountInString(n.Value) >= minNeedle {
			return true
		}
	}
	return x.personal[fieldName(field)]
}

// ScrubText replaces every erased key, and every erased value of at least
// minNeedle runes, found in s by ErasedText. The search reads s in the
// canonical form the needles are in (compatibility composition, lowercase,
// runs of spaces folded), so a value is found however either was written:
// decomposed (e and a combining diaeresis) or composed, in capitals or in
// compatibility characters (fullwidth letters). It reads s percent-decoded
// too, as a URL carries a value (ann%40example.com, Ann%20Lee, and Ann+Lee
// as a form writes a space), since a page's url, search and referrer are
// where an email or a name sent through a link is kept (and decoded
// twice, for a URL carried in another's query). A match replaces
// the whole characters of s it came from, with their combining marks (or
// their %XX escapes); s is returned unchanged when nothing is found.
func (x *Erased) ScrubText(s string) string {
	if x.Empty() || s == "" {
		return s
	}
	out, found := x.scrubNeedles(s, nil)
	// A value percent-encoded, then with '+' read as a space too (an
	// email holding a '+' is found by the passes before, where '+' stays),
	// after the escapes are decoded or before, as a form's query is
	// (%2B44+20 for +44 20); then encoded twice, as a URL carried in
	// another's query is (%2540 for @).
	for _, view := range percentViews {
		if o, ok := x.scrubNeedles(out, func(s string) (string, []int, bool) { return percentViewN(s, view.depth, view.plus, view.form) }); ok {
			out, found = o, true
		}
	}
	// Phones, percent-decoded first, as a URL carries one
	// ("tel:%2B1%20415%20555%200167", whose %2B is the phone's +), then as
	// written, then with '+' read as a space, as a form sends one
	// ("(415)+555-0167", or "%2B44+20+7946+0958", whose %2B is the
	// phone's + and decoded after the spaces), and encoded twice; a '+' is
	// kept before the other views, where it may be the phone's own.
	for i, view := range percentViews {
		if i == 1 {
			if o, ok := x.scrubPhones(out); ok {
				out, found = o, true
			}
		}
		v, at, ok := percentViewN(out, view.depth, view.plus, view.form)
		if !ok {
			continue
		}
		if rs := x.phoneRanges(v); len(rs) > 0 {
			for i := range rs {
				rs[i] = [2]int{at[2*rs[i][0]], at[2*(rs[i][1]-1)+1]}
			}
			out, found = x.replaceRanges(out, rs), true
		}
	}
	if !found {
		return s
	}
	return out
}

// HideText is ScrubText replacing what it finds by with rather than
// ErasedText: masking shows so a personal value found inside another
// text (a page's url holding the visitor's email).
func (x *Erased) HideText(s, with string) string {
	if x.Empty() {
		return s
	}
	c := *x
	c.repl = with
	return c.ScrubText(s)
}

// replacement is what a value found is replaced by.
func (x *Erased) replacement() string {
	if x.repl != "" {
		return x.repl
	}
	return ErasedText
}

// replaceRanges returns s with each of the ranges rs (in order, apart)
// replaced by x's replacement (ErasedText unless HideText).
func (x *Erased) replaceRanges(s string, rs [][2]int) string {
	var b strings.Builder
	last := 0
	for _, r := range rs {
		b.WriteString(s[last:r[0]])
		b.WriteString(x.replacement())
		last = r[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// scrubNeedles replaces every needle found in s, read through view when
// not nil, by ErasedText, and reports whether it replaced any. view
// returns the text to search and, for each of its bytes i, where in s it
// came from: s[at[2*i]:at[2*i+1]]; ok false when the text is s itself
// (then there is nothing more to find).
func (x *Erased) scrubNeedles(s string, view func(string) (text string, at []int, ok bool)) (string, bool) {
	out, found := s, false
	var at []int
	read := func() (folded, bool) {
		if view == nil {
			return foldText(out), true
		}
		v, a, ok := view(out)
		at = a
		return foldText(v), ok
	}
	f, ok := read()
	if !ok {
		return s, false
	}
	for _, n := range x.needles {
		if !strings.Contains(f.text, n) {
			continue
		}
		var b strings.Builder
		last := 0 // the end in out of what is written to b
		for pos := 0; ; {
			i := strings.Index(f.text[pos:], n)
			if i < 0 {
				break
			}
			i += pos
			from, to := f.from[i], f.to[i+len(n)-1]
			if view != nil {
				from, to = at[2*from], at[2*(to-1)+1]
			}
			pos = i + len(n)
			if from < last {
				// The match begins in characters the one before replaced
				// (one that folds into several, such as "ﬃ"): the two
				// are one.
				last = max(last, to)
				continue
			}
			b.WriteString(out[last:from])
			b.WriteString(x.replacement())
			last = to
		}
		b.WriteString(out[last:])
		out, found = b.String(), true
		if f, ok = read(); !ok {
			break // nothing encoded is left
		}
	}
	return out, found
}

// percentViews are the percent-decoded views of a text ScrubText reads,
// in order: decoded once, once with '+' read as a space after it, once as
// a form's query is decoded ('+' a space before it, so that %2B stays a
// '+'), twice, and twice with '+' a space after the last decoding or
// before it.
var percentViews = []struct {
	depth      int
	plus, form bool
}{{1, false, false}, {1, true, false}, {1, false, true}, {2, false, false}, {2, true, false}, {2, false, true}}

// percentViewN is percentView applied depth times, then, when plus, with
// '+' read as a space; when form, '+' is read as a space before the last
// decoding instead (a form's query, whose %2B is a '+'). at maps each byte
// of the text to where in s it came from. ok is false when the view is the
// text itself or a shallower view: the last decoding changed nothing (or,
// for the first view with plus, there is neither an escape nor a '+'; for
// one with form, the text before the last decoding holds no '+').
func percentViewN(s string, depth int, plus, form bool) (text string, at []int, ok bool) {
	text = s
	for d := 1; d <= depth; d++ {
		if form && d == depth {
			if !strings.Contains(text, "+") {
				return "", nil, false // the view without form
			}
			// Byte for byte: at still maps text.
			text = strings.ReplaceAll(text, "+", " ")
		}
		v, a, changed := percentView(text)
		if !changed {
			if d > 1 || !plus {
				return "", nil, false
			}
			break
		}
		if at != nil {
			for i := 0; i < len(a); i += 2 {
				a[i], a[i+1] = at[2*a[i]], at[2*(a[i+1]-1)+1]
			}
		}
		text, at = v, a
	}
	if plus {
		if !strings.Contains(text, "+") {
			return "", nil, false
		}
		text = strings.ReplaceAll(text, "+", " ")
	}
	if at == nil {
		at = make([]int, 2*len(text))
		for i := range len(text) {
			at[2*i], at[2*i+1] = i, i+1
		}
	}
	return text, at, true
}

// percentView returns s with every %XX escape decoded, with, for each
// byte i of the text, where in s it came from: s[at[2*i]:at[2*i+1]]. ok is
// false when nothing was decoded.
func percentView(s string) (text string, at []int, ok bool) {
	if !strings.Contains(s, "%") {
		return s, nil, false
	}
	var b strings.Builder
	b.Grow(len(s))
	at = make([]int, 0, 2*len(s))
	for i := 0; i < len(s); {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			at = append(at, i, i+3)
			i, ok = i+3, true
			continue
		}
		b.WriteByte(s[i])
		at = append(at, i, i+1)
		i++
	}
	return b.String(), at, ok
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// phoneSeparators may stand between the digit groups of a phone number
// written in a text: "(415) 555-0167", "415.555.0167", "+1/415 555 0167".
const phoneSeparators = " -.()/"

// scrubPhones replaces by ErasedText every number in s that the phone
// normalization reads as an erased phone, however it is written there
// (national or international, with spaces, dashes, dots or brackets), and
// reports whether it replaced any. A number is a run of digit groups
// joined by at most three separators, with a '+' or '(' just before it;
// of each run, the longest part that is an erased phone is replaced, and
// the rest searched again.
func (x *Erased) scrubPhones(s string) (string, bool) {
	rs := x.phoneRanges(s)
	if len(rs) == 0 {
		return s, false
	}
	return x.replaceRanges(s, rs), true
}

// phoneRanges returns the ranges of s that scrubPhones replaces, in order.
func (x *Erased) phoneRanges(s string) [][2]int {
	// Every way of writing a number ends with its last seven digits:
	// only a run that ends so is read as a phone.
	tails := map[string]bool{}
	for k := range x.keys {
		if r := SplitKey(k); r.Type == TypePhone && len(r.Value) > 7 {
			tails[r.Value[len(r.Value)-7:]] = true
		}
	}
	if len(tails) == 0 {
		return nil
	}
	type group struct{ i, j int }
	var groups []group
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		groups = append(groups, group{i, j})
		i = j
	}
	joined := func(a, b group) bool {
		gap := s[a.j:b.i]
		return len(gap) <= 3 && strings.Trim(gap, phoneSeparators) == ""
	}
	var out [][2]int
	last := 0
	for a := 0; a < len(groups); a++ {
		// The groups from a that a number of at most 17 digits can span.
		var digits []byte
		var ends []int // digits[:ends[k]] are those of groups a..a+k
		for z := a; z < len(groups) && (z == a || joined(groups[z-1], groups[z])); z++ {
			digits = append(digits, s[groups[z].i:groups[z].j]...)
			if len(digits) > 17 {
				break
			}
			ends = append(ends, len(digits))
		}
		for k := len(ends) - 1; k >= 0; k-- {
			d := digits[:ends[k]]
			if len(d) < 7 || !tails[string(d[len(d)-7:])] {
				continue
			}
			z := a + k
			from := groups[a].i
			for from > last && from > groups[a].i-2 && (s[from-1] == '+' || s[from-1] == '(') {
				from--
			}
			n, why := x.norm.Normalize(IdentifierRef{Type: TypePhone, Value: s[from:groups[z].j]})
			if why != "" || !x.keys[n.Key()] {
				continue
			}
			out = append(out, [2]int{from, groups[z].j})
			last = groups[z].j
			a = z
			break
		}
	}
	return out
}

// foldRune maps r to the least rune of its case-folding orbit, so that
// two runes equal under Unicode case folding map to one: lowercasing
// alone leaves a final sigma (ς) apart from σ, which a name in capitals
// (Σ) lowercases to.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// foldCase maps every rune of s with foldRune.
func foldCase(s string) string { return strings.Map(foldRune, s) }

// folded is a text in canonical form (as canonical gives it, though not
// trimmed, and with foldRune's case folding), with, for each of its bytes, the bytes of the original text it
// came from: from[i] to to[i], a whole normalization segment (a character
// with its combining marks) or run of spaces.
type folded struct {
	text     string
	from, to []int
}

// foldText returns s in canonical form, segment by segment, so that a
// match in it can be mapped back to s.
func foldText(s string) folded {
	var f folded
	var b strings.Builder
	b.Grow(len(s))
	f.from, f.to = make([]int, 0, len(s)), make([]int, 0, len(s))
	space := false // the last byte written is a folded space
	var it norm.Iter
	it.InitString(norm.NFKC, s)
	for !it.Done() {
		start := it.Pos()
		seg := strings.ToLower(string(it.Next()))
		end := it.Pos()
		for _, r := range seg {
			if unicode.IsSpace(r) {
				if space {
					// The run goes on: its one space stands for all of it.
					f.to[len(f.to)-1] = end
					continue
				}
				space = true
				b.WriteByte(' ')
				f.from, f.to = append(f.from, start), append(f.to, end)
				continue
			}
			space = false
			w, _ := b.WriteRune(foldRune(r))
			for range w {
				f.from, f.to = append(f.from, start), append(f.to, end)
			}
		}
	}
	f.text = b.String()
	return f
}

// scrubField returns s, a free-text field of an event that stays (its
// name, channel or campaign), scrubbed: ErasedText when s as a whole is
// an erased value (Match, spared when shorter than minNeedle runes as
// under a field that names no person: an event named "42" keeps its
// name), and otherwise s with ScrubText's replacements. A field is never
// dropped, so the event keeps a name when it had one. changed reports
// whether s changed.
func (x *Erased) scrubField(s string) (string, bool) {
	if s == "" {
		return s, false
	}
	if x.MatchField("", s) {
		return ErasedText, s != ErasedText
	}
	out := x.ScrubText(s)
	return out, out != s
}

// scrubEvent returns the payload of ev, an event that stays, without
// erased values, and whether anything changed: its properties and traits
// (dropped whole when dropPayload), and its free text: its name (a
// track's "Invited ann@example.com"), channel (context.channel, as sent)
// and campaign. Its type and source are not the sender's text, and its ID
// and MessageID name it, so they stay.
func (x *Erased) scrubEvent(ev Event, dropPayload bool) (EventPayload, bool) {
	props, ch1 := x.scrubMap(ev.Properties)
	traits, ch2 := x.scrubMap(ev.Traits)
	if dropPayload {
		props, traits, ch1 = nil, nil, true
	}
	name, ch3 := x.scrubField(ev.Name)
	channel, ch4 := x.scrubField(ev.Channel)
	campaign, ch5 := x.scrubField(ev.Campaign)
	p := EventPayload{ID: ev.ID, Properties: props, Traits: traits}
	if ch3 {
		p.Name = &name
	}
	if ch4 {
		p.Channel = &channel
	}
	if ch5 {
		p.Campaign = &campaign
	}
	return p, ch1 || ch2 || ch3 || ch4 || ch5
}

// scrubValue returns v, found under field, without erased values: a scalar
// equal to one is dropped (ok false), maps and lists lose such entries and
// keys, and strings have erased keys and longer values inside them
// replaced. changed reports whether anything went.
func (x *Erased) scrubValue(field string, v any) (out any, ok, changed bool) {
	switch t := v.(type) {
	case map[string]any:
		m, ch := x.scrubMap(t)
		return m, true, ch
	case []any:
		var l []any
		ch := false
		for _, e := range t {
			o, keep, c := x.scrubValue(field, e)
			ch = ch || c || !keep
			if keep {
				l = append(l, o)
			}
		}
		if !ch {
			return t, true, false
		}
		if l == nil {
			l = []any{}
		}
		return l, true, true
	}
	if x.MatchField(field, v) {
		return nil, false, true
	}
	if s, isStr := v.(string); isStr {
		if r := x.ScrubText(s); r != s {
			return r, true, true
		}
	}
	return v, true, false
}

// scrubMap returns m without erased values (see scrubValue), and whether
// anything went. m itself is not modified. A key that is itself an erased
// value (of at least minNeedle runes, or an erased identifier) goes with
// its value.
func (x *Erased) scrubMap(m map[string]any) (map[string]any, bool) {
	if len(m) == 0 {
		return m, false
	}
	var out map[string]any
	for k, v := range m {
		o, keep, ch := x.scrubValue(k, v)
		if keep && x.erasedName(k) {
			keep, ch = false, true
		}
		if !ch {
			continue
		}
		if out == nil {
			out = maps.Clone(m)
		}
		if keep {
			out[k] = o
		} else {
			delete(out, k)
		}
	}
	if out == nil {
		return m, false
	}
	return out, true
}

// erasedName reports whether a name (a property's or a trait's) is, or
// holds, an erased value: the name goes with its value, since renaming it
// could collide with another name.
func (x *Erased) erasedName(name string) bool {
	return x.MatchField("", name) || x.ScrubText(name) != name
}

// scrubTraits returns the traits of an identifier that stays without those
// whose value or name is, or holds, an erased value, and how many went.
func (x *Erased) scrubTraits(ts map[string]TraitValue) (map[string]TraitValue, int) {
	n := 0
	var out map[string]TraitValue
	for name, tv := range ts {
		o, keep, ch := x.scrubValue(name, tv.Value)
		if keep && x.erasedName(name) {
			keep, ch = false, true
		}
		if !ch {
			continue
		}
		if out == nil {
			out = maps.Clone(ts)
		}
		n++
		if keep {
			out[name] = TraitValue{Value: o, Source: tv.Source, At: tv.At, Received: tv.Received}
		} else {
			delete(out, name)
		}
	}
	if out == nil {
		return ts, 0
	}
	return out, n
}

// scrubChange returns c without erased keys and values in its reason and
// without the member digests of erased keys, and whether anything went.
func (x *Erased) scrubChange(c ProfileChange, digests map[string]bool) (ProfileChange, bool) {
	out := c
	out.Reason = x.ScrubText(c.Reason)
	out.Members = slices.DeleteFunc(slices.Clone(c.Members), func(d string) bool { return digests[d] })
	return out, out.Reason != c.Reason || len(out.Members) != len(c.Members)
}

// ForgetProfile erases a whole person: every identifier of the profile id
// resolves to (an id merged away answers for its survivor), everything only
// they carried, and the profile with every profile that redirects to it.
// Shared events, other identifiers' traits and history are scrubbed (see
// the package's erasure notes). hook, when not nil, runs in the
// transaction (EraseHook).
//
// Errors: EINVALID (a reason ReasonProblem refuses), ENOTFOUND.
func (e *Engine) ForgetProfile(ctx context.Context, id, reason string, hook EraseHook) (Erasure, error) {
	if err := requireReason(reason); err != nil {
		return Erasure{}, err
	}
	r, err := e.retirer(ctx) // the ids deleted are retired
	if err != nil {
		return Erasure{}, err
	}
	var out Erasure
	err = e.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		out = Erasure{}
		// The profile id answers for is read again under its lock: an
		// unlink committing meanwhile may have given id back its own part.
		live, ps, err := lockResolved(ctx, tx, []string{id})
		if err != nil {
			return err
		}
		p, ok := live[id]
		if !ok {
			return Errorf(ENOTFOUND, "profile %s not found", ProfileRef(id))
		}
		ms, err := tx.Members(ctx, []string{p.ID})
		if err != nil {
			return err
		}
		cands, err := mergedInto(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		w := &Write{At: e.stamp(1, latestOf(ps))}
		history := []string{p.ID}
		w.DeleteProfiles = append(w.DeleteProfiles, p.ID)
		for _, c := range cands {
			w.DeleteProfiles = append(w.DeleteProfiles, c.profile.ID)
			history = append(history, c.profile.ID)
		}
		if err := e.erase(ctx, tx, ms[p.ID], nil, history, w, &out); err != nil {
			return err
		}
		return e.applyErasure(ctx, tx, r, w, &out, hook)
	})
	if err != nil {
		return Erasure{}, err
	}
	return out, nil
}

// ForgetIdentifier erases one identifier and what only it carried, and
// splits its profile when it was a bridge, as RemoveIdentifier does. Shared
// events, other identifiers' traits and history are scrubbed (see the
// package's erasure notes). hook, when not nil, runs in the transaction.
//
// Errors: EINVALID, ENOTFOUND (an *IdentifierError when about the
// identifier).
func (e *Engine) ForgetIdentifier(ctx context.Context, ref IdentifierRef, reason string, hook EraseHook) (Erasure, error) {
	if err := requireReason(reason); err != nil {
		return Erasure{}, err
	}
	n, err := e.NormalizeRef(ref)
	if err != nil {
		return Erasure{}, err
	}
	r, err := e.retirer(ctx) // the split may name profiles, or delete p
	if err != nil {
		return Erasure{}, err
	}
	var out Erasure
	err = e.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		out = Erasure{}
		id, p, err := lockOne(ctx, tx, n)
		if err != nil {
			return err
		}
		ms, err := tx.Members(ctx, []string{p.ID})
		if err != nil {
			return err
		}
		var rest []string
		for _, m := range ms[p.ID] {
			if m.Key != id.Key {
				rest = append(rest, m.Key)
			}
		}
		w := &Write{At: e.stamp(1, maxTime(p.CreatedAt, p.UpdatedAt))} // the split may create profiles
		if err := e.erase(ctx, tx, []Identifier{id}, rest, []string{p.ID}, w, &out); err != nil {
			return err
		}
		if out.Profiles, err = e.split(ctx, tx, r, p, map[string]bool{id.Key: true}, nil, "identifier removed: "+out.ScrubText(reason), w); err != nil {
			return err
		}
		return e.applyErasure(ctx, tx, r, w, &out, hook)
	})
	if err != nil {
		return Erasure{}, err
	}
	return out, nil
}

// applyErasure retires the ids of the profiles w deletes, applies w, then
// runs hook and the hooks ctx carries.
func (e *Engine) applyErasure(ctx context.Context, tx Tx, r retirer, w *Write, x *Erasure, hook EraseHook) error {
	if err := touchOthers(ctx, tx, w, x.Others); err != nil {
		return err
	}
	r.retire(w)
	if err := tx.Apply(ctx, w); err != nil {
		return err
	}
	if err := RedactFeed(ctx, tx, w.DeleteProfiles, x.deletedEvents); err != nil {
		return err
	}
	if err := AppendFeed(ctx, tx, feedOfErasure(w)); err != nil {
		return err
	}
	if hook != nil {
		if err := hook(ctx, tx, w, x); err != nil {
			return err
		}
	}
	if fn, ok := ctx.Value(beforeCommitKey{}).(BeforeCommit); ok && fn != nil {
		return fn(ctx, tx, w)
	}
	return nil
}

// payloadLeaves reports whether erasing the keys erased of a shared
// event's keys takes its payload from the person it was shown to: its
// highest-priority key is erased, and the highest-priority key that stays
// was in another profile (profileOf, as before the erasure), whose
// journey would show the payload from then on. When that key was in the
// same profile, the payload stays with the same person.
func (e *Engine) payloadLeaves(keys []string, erased map[string]bool, profileOf map[string]string) bool {
	ks := slices.Clone(keys)
	e.norm.SortByPriority(ks)
	if len(ks) == 0 || !erased[ks[0]] {
		return false
	}
	for _, k := range ks[1:] {
		if !erased[k] {
			return profileOf[k] == "" || profileOf[k] != profileOf[ks[0]]
		}
	}
	return false
}

// erase adds to w the erasure of idents (locked, or in a locked profile):
// their deletion, the events they carried alone (deleted with them by the
// store), the scrubbing of the events they shared, of the events of also
// (keys of identifiers that stay, the rest of the profile, whose events
// and traits are scrubbed in any case), of the traits of also and of the
// identifiers that shared those events, and of the history of the
// profiles named by history. It fills x's counts.
func (e *Engine) erase(ctx context.Context, tx Tx, idents []Identifier, also []string, history []string, w *Write, x *Erasure) error {
	x.Erased = NewErased(e.norm, idents)
	erased := map[string]bool{}
	digests := map[string]bool{}
	for _, id := range idents {
		erased[id.Key] = true
		digests[MemberDigest(id.Key)] = true
		x.Keys = append(x.Keys, id.Key)
		x.Traits += len(id.Traits)
	}
	slices.Sort(x.Keys)
	w.DeleteIdentifiers = append(w.DeleteIdentifiers, x.Keys...)

	evs, err := tx.EventsBy(ctx, x.Keys)
	if err != nil {
		return err
	}
	others := map[string]bool{}
	for _, k := range also {
		others[k] = true
	}
	// The traits an event stored on an erased identifier (its
	// highest-priority one) were the person's when it came: a name or an
	// address changed since is no longer a stored trait, but is still
	// theirs wherever an event that stays names it.
	for _, ev := range evs {
		if len(ev.Traits) == 0 {
			continue
		}
		ks := slices.Clone(ev.Keys)
		e.norm.SortByPriority(ks)
		if len(ks) > 0 && erased[ks[0]] {
			for name, v := range ev.Traits {
				x.Erased.addTrait(name, v)
			}
		}
	}
	x.Erased.sortNeedles()
	var sharedEvs []Event
	carried := make(map[string]bool, len(evs))
	for _, ev := range evs {
		carried[ev.ID] = true
		shared := false
		for _, k := range ev.Keys {
			if !erased[k] {
				shared = true
				others[k] = true
			}
		}
		if !shared {
			x.Events++
			x.deletedEvents = append(x.deletedEvents, ev.ID)
			continue
		}
		sharedEvs = append(sharedEvs, ev)
	}
	// The other events of the profile (also: the rest of it, when one
	// identifier is erased), which its other identifiers carried without
	// it, may hold its value too (a track sent with the user id whose
	// properties name the email): they are the same person's, and are
	// scrubbed the same way. One read of the profile's events, never a
	// scan of the store. An identifier of another profile that shared one
	// of those events is treated as a sharer: its traits are scrubbed and
	// its profile touched.
	if len(also) > 0 {
		pevs, err := tx.EventsBy(ctx, also)
		if err != nil {
			return err
		}
		for _, ev := range pevs {
			if carried[ev.ID] {
				continue // scrubbed below, as an event an erased key shared
			}
			p, changed := x.Erased.scrubEvent(ev, false)
			if !changed {
				continue
			}
			x.ScrubbedEvents++
			w.ScrubEvents = append(w.ScrubEvents, p)
			for _, k := range ev.Keys {
				others[k] = true
			}
		}
	}

	x.Others = slices.Sorted(maps.Keys(others))
	// The identifiers that stay, locked so that no concurrent write to
	// their traits is lost when they are written back, and so that the
	// profiles they are in hold while the shared events are weighed.
	profileOf := make(map[string]string, len(idents)+len(others))
	for _, id := range idents {
		profileOf[id.Key] = id.ProfileID
	}
	var locked map[string]Identifier
	if len(others) > 0 {
		seen := make([]IdentifierSeen, 0, len(others))
		for _, k := range x.Others {
			r := SplitKey(k)
			seen = append(seen, IdentifierSeen{Key: k, Type: r.Type, Value: r.Value})
		}
		if locked, err = tx.LockIdentifiers(ctx, seen, false); err != nil {
			return err
		}
		for k, id := range locked {
			profileOf[k] = id.ProfileID
		}
	}

	for _, ev := range sharedEvs {
		x.ScrubbedEvents++
		// When its properties and traits were shown to the erased person
		// alone (the profile holding its highest-priority identifier),
		// and would now be shown to another, they go with her.
		if p, changed := x.Erased.scrubEvent(ev, e.payloadLeaves(ev.Keys, erased, profileOf)); changed {
			w.ScrubEvents = append(w.ScrubEvents, p)
		}
	}

	// The traits of the identifiers that stay.
	for _, k := range x.Others {
		id, ok := locked[k]
		if !ok {
			continue
		}
		ts, n := x.Erased.scrubTraits(id.Traits)
		if n > 0 {
			x.Traits += n
			w.Traits = append(w.Traits, TraitUpdate{Key: k, Traits: ts})
		}
	}

	// Links and refusals among the identifiers that stay may name an
	// erased value in their free text (a manual merge's evidence, an
	// unlink's reason).
	if len(others) > 0 {
		keys := slices.Sorted(maps.Keys(others))
		links, err := tx.Links(ctx, keys)
		if err != nil {
			return err
		}
		for _, l := range links {
			if erased[l.A] || erased[l.B] {
				continue // deleted with the identifier
			}
			if ev := x.Erased.ScrubText(l.Evidence); ev != l.Evidence {
				l.Evidence = ev
				w.PutLinks = append(w.PutLinks, l)
			}
		}
		refused, err := tx.Rejected(ctx, keys)
		if err != nil {
			return err
		}
		for _, r := range refused {
			if erased[r.A] || erased[r.B] {
				continue
			}
			reason, ev := x.Erased.ScrubText(r.Reason), x.Erased.ScrubText(r.Evidence)
			if reason != r.Reason || ev != r.Evidence {
				r.Reason, r.Evidence = reason, ev
				w.PutRejected = append(w.PutRejected, r)
			}
		}
	}

	// History: the profiles erased or split (the erased person's own),
	// and those of the identifiers that shared events.
	own := map[string]bool{}
	for _, id := range history {
		own[id] = true
	}
	if len(others) > 0 {
		ids, err := tx.Identifiers(ctx, slices.Sorted(maps.Keys(others)))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id.ProfileID != "" && !slices.Contains(history, id.ProfileID) {
				history = append(history, id.ProfileID)
			}
		}
	}
	// And the profiles merged into those, at every level: an entry of a
	// merge into a profile that was itself merged on names the erased
	// identifier as well (an email's profile took an anonymous visitor's,
	// then merged into a user id's).
	//
	// The erased person's own profiles are followed back through splits
	// too: a profile that a split gave a part to may hold that part's
	// identifiers still, and the merges into the profile it was split
	// from recorded them (X, holding a1, merged into Y, Y into P, then a
	// split gave X its a1 back: Y's entry into P names a1, and Y still
	// redirects to P). A split entry goes From the profile split Into the
	// part's id, so the walk goes from Into to From, as for a merge. The
	// profiles of those who only shared events are not followed through
	// splits: the person a part was split from is someone else.
	//
	// One read per level.
	slices.Sort(history)
	inHistory := map[string]bool{}
	for _, id := range history {
		inHistory[id] = true
	}
	var cs []ProfileChange
	for level := history; len(level) > 0; {
		got, err := tx.Changes(ctx, level)
		if err != nil {
			return err
		}
		cs = append(cs, got...)
		var next []string
		for _, c := range got {
			mine := own[c.Into] && (c.Kind == ChangeMerge || c.Kind == ChangeSplit)
			switch {
			case mine && !own[c.From]:
				// Reached as someone else's first, maybe: read again
				// as the person's own, to follow its splits.
				own[c.From], inHistory[c.From] = true, true
				next = append(next, c.From)
			case c.Kind == ChangeMerge && inHistory[c.Into] && !inHistory[c.From]:
				inHistory[c.From] = true
				next = append(next, c.From)
			}
		}
		slices.Sort(next)
		level = slices.Compact(next)
	}
	deleted := map[string]bool{}
	for _, id := range w.DeleteProfiles {
		deleted[id] = true
	}
	done := map[string]bool{}
	for _, c := range cs {
		if deleted[c.From] || deleted[c.Into] {
			continue // deleted with its profile
		}
		k := fmt.Sprintf("%s\x00%s\x00%s\x00%d", c.Kind, c.From, c.Into, c.At.UnixMicro())
		if done[k] {
			continue
		}
		done[k] = true
		if nc, ch := x.Erased.scrubChange(c, digests); ch {
			w.RewriteChanges = append(w.RewriteChanges, nc)
		}
	}
	return nil
}

// touchOthers moves on, in w, the UpdatedAt of the live profiles of others
// (identifiers that stay, whose shared events or traits the erasure
// scrubbed) that w does not already write: what their audiences read
// changed, and the audience keeper tells a changed profile by UpdatedAt
// (see TouchProfiles).
func touchOthers(ctx context.Context, tx Tx, w *Write, others []string) error {
	if len(others) == 0 {
		return nil
	}
	written := map[string]bool{}
	for _, p := range w.PutProfiles {
		written[p.ID] = true
	}
	for _, id := range w.DeleteProfiles {
		written[id] = true
	}
	ids, err := tx.Identifiers(ctx, others)
	if err != nil {
		return err
	}
	var pids []string
	for _, id := range ids {
		if !written[id.ProfileID] {
			pids = append(pids, id.ProfileID)
		}
	}
	return touchInto(ctx, tx, w, pids)
}
