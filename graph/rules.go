package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/unicode/norm"
)

// TypeRule is the identity rule for one identifier type.
type TypeRule struct {
	// Priority orders identifiers within an event: the lowest number anchors
	// the event, and on a conflict the higher-priority side keeps its profile.
	Priority int `json:"priority"`
	// Limit is the most identifiers of this type one profile may hold.
	Limit int `json:"limit"`
	// Blocked values (compared after normalization, case-insensitively).
	Blocked []string `json:"blocked,omitempty"`
	// BlockedPatterns are regular expressions; a value matching any is dropped.
	BlockedPatterns []string `json:"blockedPatterns,omitempty"`

	blocked  map[string]bool
	patterns []*regexp.Regexp
}

// Rules are the identity rules: per-type priorities and limits, blocklists,
// and the default phone region.
type Rules struct {
	// DefaultRegion is the ISO 3166 region used for phone numbers written
	// without a country code.
	DefaultRegion string `json:"defaultRegion"`
	// Default applies to every type not listed in Types.
	Default TypeRule `json:"default"`
	// Types maps an identifier type to its rule.
	Types map[string]*TypeRule `json:"types"`
	// Blocked values apply to every type, each compared as that type
	// normalizes it.
	Blocked []string `json:"blocked,omitempty"`
	// BlockedPatterns apply to every type.
	BlockedPatterns []string `json:"blockedPatterns,omitempty"`
	// MaxIdentifiers is the most identifiers of any types one profile may
	// hold. A link that would take a profile past it is refused.
	MaxIdentifiers int `json:"maxIdentifiers,omitempty"`
	// AllowAnyType accepts identifier types that are neither built in nor
	// listed in Types (nil means true). When false, an event carrying such
	// a type is refused with reason unknown_identifier_type.
	AllowAnyType *bool `json:"allowAnyType,omitempty"`
	// PersonalData names what is personal: values a caller without the
	// pii:read scope sees masked.
	PersonalData PersonalData `json:"personalData"`
	// Consent lists the purposes consent is recorded for, and how outside
	// category names (Segment's, a consent manager's) map onto them.
	Consent ConsentRules `json:"consent"`

	blocked  map[string]bool
	patterns []*regexp.Regexp
	// typeBlocked holds, for the types whose normalization is more than
	// trimming and NFC (email, phone), the top-level blocked values in
	// that type's normalized form.
	typeBlocked map[string]map[string]bool
}

// PersonalData lists the identifier types and trait names whose values are
// personal data.
type PersonalData struct {
	IdentifierTypes []string `json:"identifierTypes"`
	Traits          []string `json:"traits"`
}

// Validate checks the names: every identifier type a type name, every
// trait name not blank, and none listed twice. Errors name the entry at
// fault.
func (p PersonalData) Validate() error {
	types := make(map[string]int, len(p.IdentifierTypes))
	for i, t := range p.IdentifierTypes {
		if !validType(t) {
			return fmt.Errorf("personalData.identifierTypes[%d]: %q is not a type name (lowercase letters, digits and _)", i, t)
		}
		if j, ok := types[t]; ok {
			return fmt.Errorf("personalData.identifierTypes[%d]: %q is listed twice (also at [%d])", i, t, j)
		}
		types[t] = i
	}
	traits := make(map[string]int, len(p.Traits))
	for i, t := range p.Traits {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("personalData.traits[%d]: empty; a blank name masks nothing", i)
		}
		if j, ok := traits[t]; ok {
			return fmt.Errorf("personalData.traits[%d]: %q is listed twice (also at [%d])", i, t, j)
		}
		traits[t] = i
	}
	return nil
}

// ConsentRules are the consent purposes and the mapping of outside category
// names onto them. The privacy package reads them; graph only checks them.
type ConsentRules struct {
	// Purposes, in the order profiles list their consent. A list given in
	// the rules file replaces the default one.
	Purposes []string `json:"purposes"`
	// Categories maps an outside category name to a purpose. An entry here
	// wins; a category not listed matches the purpose of the same name,
	// case-insensitively (Segment's "Advertising" is "advertising").
	// Category names are compared case-insensitively.
	Categories map[string]string `json:"categories,omitempty"`
}

// DefaultConsentPurposes are the purposes when the rules file names none.
func DefaultConsentPurposes() []string {
	return []string{"analytics", "personalization", "advertising", "email", "sms", "push"}
}

// MaxConsentCategoryBytes bounds a category name in Consent.Categories.
const MaxConsentCategoryBytes = 128

// Validate checks the purposes (names as identifier types, at least one, no
// duplicates) and that every category maps to one of them. Errors name the
// field at fault.
func (c ConsentRules) Validate() error {
	if len(c.Purposes) == 0 {
		return fmt.Errorf("consent.purposes: list at least one purpose")
	}
	seen := make(map[string]bool, len(c.Purposes))
	for i, p := range c.Purposes {
		if !validType(p) {
			return fmt.Errorf("consent.purposes[%d]: %q is not a purpose name (lowercase letters, digits and _, up to 64, starting with a letter)", i, p)
		}
		if seen[p] {
			return fmt.Errorf("consent.purposes[%d]: %q is listed twice", i, p)
		}
		seen[p] = true
	}
	names := make([]string, 0, len(c.Categories))
	for n := range c.Categories {
		names = append(names, n)
	}
	sort.Strings(names)
	folded := make(map[string]string, len(names))
	for _, n := range names {
		p := c.Categories[n]
		switch {
		case strings.TrimSpace(n) == "" || len(n) > MaxConsentCategoryBytes || !utf8.ValidString(n) || strings.ContainsFunc(n, unicode.IsControl):
			return fmt.Errorf("consent.categories: category %q must be 1 to %d bytes of printable UTF-8", n, MaxConsentCategoryBytes)
		case !seen[p]:
			return fmt.Errorf("consent.categories.%s: %q is not a purpose; the purposes are %s", n, p, strings.Join(c.Purposes, ", "))
		}
		f := strings.ToLower(strings.TrimSpace(n))
		if prev, ok := folded[f]; ok {
			return fmt.Errorf("consent.categories: %q and %q are the same category (names are compared case-insensitively)", prev, n)
		}
		folded[f] = n
	}
	return nil
}

// Well-known identifier types.
const (
	TypeUserID      = "user_id"
	TypeEmail       = "email"
	TypePhone       = "phone"
	TypeAnonymousID = "anonymous_id"
	TypeDeviceID    = "device_id"
)

// MaxValueBytes is the longest identifier value accepted.
const MaxValueBytes = 1024

// MaxEventNameBytes bounds an event's name: what ingest accepts, and so
// what an audience's event condition, a computed trait or an intelligence
// query may name. The name is indexed on Neo4j (with the time, a key of
// at most about 8 KB), so a much longer one could not be stored there; a
// name this long is a client's bug (a whole object interpolated into it),
// and cutting it would make it another name, so it is refused.
const MaxEventNameBytes = 4096

// DefaultMaxIdentifiers is the default of Rules.MaxIdentifiers.
const DefaultMaxIdentifiers = 200

// ReasonUnknownType refuses an event carrying an identifier type the rules
// do not know, when they do not allow any type.
const ReasonUnknownType = "unknown_identifier_type"

// DefaultRules returns the built-in rules.
func DefaultRules() *Rules {
	r := &Rules{
		DefaultRegion: "US",
		Default:       TypeRule{Priority: 100, Limit: 5},
		Types: map[string]*TypeRule{
			TypeUserID:      {Priority: 1, Limit: 1},
			TypeEmail:       {Priority: 2, Limit: 5},
			TypePhone:       {Priority: 3, Limit: 5},
			TypeDeviceID:    {Priority: 4, Limit: 10},
			TypeAnonymousID: {Priority: 5, Limit: 50},
		},
		// The words programs write for a missing value and forms for a
		// person not known, what C ("(null)"), Go ("<nil>") and JavaScript
		// ("[object Object]") print for a missing string or an object, and
		// the -1 sentinel; zeros are the pattern. Case never counts.
		Blocked: []string{"null", "nil", "undefined", "none", "nan", "n/a", "anonymous", "unknown", "-1",
			"(null)", "<nil>", "[object Object]"},
		BlockedPatterns: []string{`^[0-]*$`},
		MaxIdentifiers:  DefaultMaxIdentifiers,
		PersonalData: PersonalData{
			IdentifierTypes: []string{TypeEmail, TypePhone},
			Traits:          []string{"email", "phone", "name", "first_name", "last_name", "firstName", "lastName", "address", "birthday"},
		},
		Consent: ConsentRules{Purposes: DefaultConsentPurposes()},
	}
	if err := r.compile(); err != nil {
		panic(err) // the built-in rules are constant; a failure is a programming error
	}
	return r
}

// numbersGiven records which of a rule's numbers a rules file gives.
type numbersGiven struct {
	Priority *int `json:"priority"`
	Limit    *int `json:"limit"`
}

// mapFields are the fields of Rules that are maps, by JSON path: the
// decoder's path to a value inside one leaves out the key it is under.
var mapFields = []string{"types", "consent.categories"}

// mapKeyAt returns the key of the entry, in the JSON object at path (field
// names, matched as the decoder matches them, ignoring case), whose value
// spans offset off of data.
func mapKeyAt(data []byte, off int64, path ...string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for depth := 0; ; depth++ {
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return "", false
		}
		found := false
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false
			}
			key, _ := kt.(string)
			if depth < len(path) && strings.EqualFold(key, path[depth]) {
				found = true
				break
			}
			start := dec.InputOffset()
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return "", false
			}
			if depth == len(path) && off > start && off <= dec.InputOffset() {
				return key, true
			}
		}
		if !found {
			return "", false
		}
	}
}

// ParseRules parses rules from JSON, on top of the defaults. Fields left
// out keep their defaults, and listed types are added to (or replace) the
// built-in ones. Errors name the line and column or the field at fault;
// the caller, which read the data, names where it came from.
func ParseRules(data []byte) (*Rules, error) {
	// Some editors write a byte order mark first; it is not JSON, and
	// nothing else in a rules file can hold one.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if err := oneObject(data); err != nil {
		return nil, err
	}
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	base := DefaultRules()
	var in Rules
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := position(data, se.Offset)
			return nil, fmt.Errorf("line %d, column %d: %v", line, col, se)
		case errors.As(err, &te):
			line, col := position(data, te.Offset)
			field := te.Field
			// The decoder leaves map keys out of the path ("types.limit",
			// "consent.categories" for a category's purpose): name the
			// entry that holds the value.
			for _, m := range mapFields {
				rest, ok := strings.CutPrefix(field, m)
				if !ok || rest != "" && rest[0] != '.' {
					continue
				}
				if key, ok := mapKeyAt(data, te.Offset, strings.Split(m, ".")...); ok {
					field = m + "." + key + rest
				}
				break
			}
			return nil, fmt.Errorf("line %d, column %d: field %q must be %s, not %s", line, col, field, te.Type, te.Value)
		default:
			line, col := position(data, dec.InputOffset())
			return nil, fmt.Errorf("line %d, column %d: %v", line, col, strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	// A second value after the object (another object, a comment) is
	// not read by Decode: left unnoticed, half of the file would count.
	if rest := bytes.TrimLeft(data[dec.InputOffset():], jsonSpace); len(rest) > 0 {
		line, col := position(data, int64(len(data)-len(rest)))
		return nil, fmt.Errorf("line %d, column %d: more after the rules object; the file must hold one JSON object", line, col)
	}
	// Which numbers the file gives, 0 included: a number left out keeps
	// the value it would have, and a 0 given is a 0 (a priority that
	// outranks every other, or a limit compile refuses).
	var given struct {
		Default        numbersGiven             `json:"default"`
		Types          map[string]*numbersGiven `json:"types"`
		MaxIdentifiers *int                     `json:"maxIdentifiers"`
	}
	if err := json.Unmarshal(data, &given); err != nil {
		return nil, fmt.Errorf("rules: %v", strings.TrimPrefix(err.Error(), "json: "))
	}
	if in.DefaultRegion != "" {
		base.DefaultRegion = strings.ToUpper(in.DefaultRegion)
	}
	// What default leaves out keeps the built-in value.
	if given.Default.Priority != nil {
		base.Default.Priority = in.Default.Priority
	}
	if given.Default.Limit != nil {
		base.Default.Limit = in.Default.Limit
	}
	if in.Default.Blocked != nil {
		base.Default.Blocked = in.Default.Blocked
	}
	if in.Default.BlockedPatterns != nil {
		base.Default.BlockedPatterns = in.Default.BlockedPatterns
	}
	for name, tr := range in.Types {
		if tr == nil {
			return nil, fmt.Errorf("types.%s: rule must be an object", name)
		}
		if !validType(name) {
			return nil, fmt.Errorf("types.%s: type names are lowercase letters, digits and _ (up to 64), starting with a letter", name)
		}
		// What a type's rule leaves out keeps the built-in value for a
		// built-in type, and default's for another: a new type without a
		// priority must not take 0 and outrank user_id.
		prev, ok := base.Types[name]
		if !ok {
			prev = &base.Default
		}
		g := given.Types[name]
		if g == nil {
			g = &numbersGiven{}
		}
		if g.Priority == nil {
			tr.Priority = prev.Priority
		}
		if g.Limit == nil {
			tr.Limit = prev.Limit
		}
		base.Types[name] = tr
	}
	if in.Blocked != nil {
		base.Blocked = in.Blocked
	}
	if in.BlockedPatterns != nil {
		base.BlockedPatterns = in.BlockedPatterns
	}
	if given.MaxIdentifiers != nil {
		base.MaxIdentifiers = in.MaxIdentifiers
	}
	if in.AllowAnyType != nil {
		base.AllowAnyType = in.AllowAnyType
	}
	if in.PersonalData.IdentifierTypes != nil {
		base.PersonalData.IdentifierTypes = in.PersonalData.IdentifierTypes
	}
	if in.PersonalData.Traits != nil {
		base.PersonalData.Traits = in.PersonalData.Traits
	}
	if in.Consent.Purposes != nil {
		base.Consent.Purposes = in.Consent.Purposes
	}
	if in.Consent.Categories != nil {
		base.Consent.Categories = in.Consent.Categories
	}
	if err := base.PersonalData.Validate(); err != nil {
		return nil, err
	}
	if err := base.compile(); err != nil {
		return nil, err
	}
	return base, nil
}

// jsonSpace are the bytes JSON allows around a value.
const jsonSpace = " \t\r\n"

// oneObject refuses data that does not start with a JSON object: an empty
// file, and null, which would otherwise decode as "nothing given" and
// start the service on the built-in rules without a word. A syntax error
// inside the object is left to the decoder, which places it.
func oneObject(data []byte) error {
	v := bytes.TrimLeft(data, jsonSpace)
	if len(v) == 0 {
		return errors.New("empty: the file must hold one JSON object ({} for the built-in rules)")
	}
	var what string
	switch c := v[0]; {
	case c == '{':
		return nil
	case c == '[':
		what = "an array"
	case c == '"':
		what = "a string"
	case c == '-' || c >= '0' && c <= '9':
		what = "a number"
	case bytes.HasPrefix(v, []byte("null")):
		what = "null"
	case bytes.HasPrefix(v, []byte("true")) || bytes.HasPrefix(v, []byte("false")):
		what = "true or false"
	default:
		return nil // not JSON at all: the decoder says where
	}
	line, col := position(data, int64(len(data)-len(v)))
	return fmt.Errorf("line %d, column %d: the file must hold one JSON object ({...}), not %s", line, col, what)
}

// maxRulesDepth bounds how deep checkKeys follows nested values: the
// rules nest 4 levels, and what lies deeper is a value of the wrong type
// the decoder refuses.
const maxRulesDepth = 32

// errNotJSON stops checkKeys at a syntax error, which the decoder reports
// with its place.
var errNotJSON = errors.New("not JSON")

// checkKeys walks the JSON of a rules file beside the Rules type. It
// refuses a key given twice in one object, which a decoder reads as the
// last and drops the first without a word, and a field Rules does not
// have, placing each at the key (the decoder places an unknown field at
// the end of its object, maybe lines away).
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkKeys(dec, data, reflect.TypeOf(Rules{}), "", 0); err != nil && !errors.Is(err, errNotJSON) {
		return err
	}
	return nil
}

// jsonField is a field of a struct as JSON names it.
type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the exported fields of struct type t under their JSON
// names, in order.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name, f.Type})
	}
	return out
}

// walkKeys reads one value from dec, of Go type t (nil when the value is
// of no known type: inside a value of the wrong kind, which the decoder
// refuses itself), at path, depth levels down.
func walkKeys(dec *json.Decoder, data []byte, t reflect.Type, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil || depth > maxRulesDepth {
		return errNotJSON
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch tok {
	case json.Delim('{'):
		var fields []jsonField
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		seen := map[string]string{}
		for dec.More() {
			// The key starts after the separators read so far.
			start := dec.InputOffset()
			for start < int64(len(data)) && strings.IndexByte(jsonSpace+",", data[start]) >= 0 {
				start++
			}
			kt, err := dec.Token()
			if err != nil {
				return errNotJSON
			}
			key, _ := kt.(string)
			name, et := key, reflect.Type(nil)
			switch {
			case fields != nil:
				// encoding/json matches a field's name exactly or else
				// ignoring case: "Limit" is limit.
				i := slices.IndexFunc(fields, func(f jsonField) bool { return f.name == key })
				if i < 0 {
					i = slices.IndexFunc(fields, func(f jsonField) bool { return strings.EqualFold(f.name, key) })
				}
				if i < 0 {
					names := make([]string, len(fields))
					for j, f := range fields {
						names[j] = f.name
					}
					in := ""
					if path != "" {
						in = " in " + path
					}
					line, col := position(data, start)
					return fmt.Errorf("line %d, column %d: unknown field %q%s (the fields are %s)", line, col, key, in, strings.Join(names, ", "))
				}
				name, et = fields[i].name, fields[i].typ
			case t != nil && t.Kind() == reflect.Map:
				et = t.Elem()
			}
			at := name
			if path != "" {
				at = path + "." + name
			}
			if first, ok := seen[name]; ok {
				line, col := position(data, start)
				also := ""
				if first != key {
					also = fmt.Sprintf(" (as %q and %q: field names ignore case)", first, key)
				}
				return fmt.Errorf("line %d, column %d: field %q is given twice%s", line, col, at, also)
			}
			seen[name] = key
			if err := walkKeys(dec, data, et, at, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errNotJSON
		}
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, data, et, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errNotJSON
		}
	}
	return nil
}

func (r *Rules) compile() error {
	if len(r.DefaultRegion) != 2 || !phonenumbers.GetSupportedRegions()[r.DefaultRegion] {
		return fmt.Errorf("defaultRegion: %q is not a region code the phone library knows (two letters, such as US, GB or IT)", r.DefaultRegion)
	}
	if r.MaxIdentifiers < 1 {
		return fmt.Errorf("maxIdentifiers: must be at least 1, got %d", r.MaxIdentifiers)
	}
	if err := r.Consent.Validate(); err != nil {
		return err
	}
	if err := r.Default.compile("default", ""); err != nil {
		return err
	}
	names := make([]string, 0, len(r.Types))
	for n := range r.Types {
		names = append(names, n)
	}
	sort.Strings(names)
	// A type's blocked values are compared after normalization, so each
	// is also blocked in its normalized form ("555-555-5555" as
	// +15555555555, "test@bücher.example" as test@xn--bcher-kva.example).
	plain := &Normalizer{rules: &Rules{DefaultRegion: r.DefaultRegion}}
	for _, n := range names {
		tr := r.Types[n]
		if err := tr.compile("types."+n, n); err != nil {
			return err
		}
		for _, b := range tr.Blocked {
			if ref, why := plain.Normalize(IdentifierRef{Type: n, Value: b}); why == "" {
				tr.blocked[strings.ToLower(ref.Value)] = true
			}
		}
	}
	// The top-level values apply to every type, each as that type
	// normalizes it: "555-555-5555" blocks the phone +15555555555 (but
	// not that user id), "ann@STRAẞE.de" the email ann@strasse.de. The
	// other types keep a value trimmed and in NFC, as lowerSet does.
	if err := usableBlocked("blocked", r.Blocked); err != nil {
		return err
	}
	r.blocked = lowerSet(r.Blocked)
	r.typeBlocked = map[string]map[string]bool{}
	for _, typ := range []string{TypeEmail, TypePhone} {
		m := map[string]bool{}
		for _, b := range r.Blocked {
			if ref, why := plain.Normalize(IdentifierRef{Type: typ, Value: b}); why == "" {
				m[strings.ToLower(ref.Value)] = true
			}
		}
		r.typeBlocked[typ] = m
	}
	var err error
	r.patterns, err = compilePatterns("blockedPatterns", r.BlockedPatterns, ordinaryKinds...)
	return err
}

// usableBlocked refuses a blocked value no identifier can have, which
// would block nothing: blank, too long, or holding a character that
// normalization drops a value for. The error names the entry, not the
// value, which may be personal data.
func usableBlocked(field string, vals []string) error {
	for i, v := range vals {
		v = strings.TrimSpace(v)
		var why string
		switch {
		case v == "":
			why = "empty; a blank value blocks nothing (blank identifiers are dropped as empty)"
		case len(v) > MaxValueBytes:
			why = fmt.Sprintf("over %d bytes, longer than any identifier, so it blocks nothing", MaxValueBytes)
		default:
			bad := unusableChars(v)
			if bad == "" && hasInvisible(TypeEmail, v) {
				// As an email's is, the part after a last @ is left
				// out: an address's domain may be written with one.
				bad = DropFormatChar
			}
			switch bad {
			case DropControlChar:
				why = "holds a control character (such as a tab or line break inside it), which no identifier may hold, so it blocks nothing"
			case DropFormatChar:
				why = "holds a format character or another invisible one (such as a zero-width space, a soft hyphen, a bidi control or a variation selector), which no identifier may hold, so it blocks nothing"
			case DropInvalidUTF8, DropUnpairedSurrogate:
				why = "is not valid UTF-8, which no identifier may be, so it blocks nothing"
			}
		}
		if why != "" {
			return fmt.Errorf("%s[%d]: %s", field, i, why)
		}
	}
	return nil
}

func (t *TypeRule) compile(field, typ string) error {
	if t.Limit < 1 {
		return fmt.Errorf("%s.limit: must be at least 1, got %d", field, t.Limit)
	}
	if t.Priority < 0 {
		return fmt.Errorf("%s.priority: must not be negative, got %d", field, t.Priority)
	}
	if err := usableBlocked(field+".blocked", t.Blocked); err != nil {
		return err
	}
	t.blocked = lowerSet(t.Blocked)
	if typ == TypeEmail {
		// An address is compared only as email normalizes it (added by
		// the caller): lowercased as written it may be another address's
		// spelling, as at the top level (see Normalizer.blockedAs). A
		// value with no @ is no address, and stays as written.
		maps.DeleteFunc(t.blocked, func(v string, _ bool) bool { return strings.Contains(v, "@") })
	}
	var err error
	t.patterns, err = compilePatterns(field+".blockedPatterns", t.BlockedPatterns, ordinaryKind(typ))
	return err
}

// KnownType reports whether events may carry identifiers of type typ: a
// built-in or listed type, or any type when AllowAnyType is unset or true.
func (r *Rules) KnownType(typ string) bool {
	if r.AllowAnyType == nil || *r.AllowAnyType {
		return true
	}
	_, ok := r.Types[typ]
	return ok
}

// Rule returns the rule for an identifier type.
func (r *Rules) Rule(typ string) *TypeRule {
	if t, ok := r.Types[typ]; ok {
		return t
	}
	return &r.Default
}

// compilePatterns compiles the blocked patterns of field, refusing one
// that matches every ordinary value of one of kinds: it would block every
// identifier of that kind.
func compilePatterns(field string, pats []string, kinds ...ordinary) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(pats))
	for i, p := range pats {
		// The empty pattern is the blank blocked value of patterns, but
		// it matches every value instead of none.
		if p == "" {
			return nil, fmt.Errorf("%s[%d]: an empty pattern matches every value, so it would block every identifier", field, i)
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q is not a valid regular expression: %v", field, i, p, err)
		}
		for _, k := range kinds {
			if matchesAll(re, k.values) {
				return nil, fmt.Errorf("%s[%d]: matches every ordinary %s tried, so it would block every identifier %s; anchor it to the junk values it is meant for, as in ^[0-]*$", field, i, k.name, k.whose)
			}
		}
		out = append(out, re)
	}
	return out, nil
}

// ordinary is a kind of identifier, with normalized values of common
// shapes that no pattern meant for junk values matches all of.
type ordinary struct {
	name, whose string // for the refusal
	values      []string
}

var (
	ordinaryEmails = ordinary{"email", "of type email",
		[]string{"ann.lee@example.com", "bo@mail.example.org", "x_y+tag@sub.example.co.uk"}}
	ordinaryPhones = ordinary{"phone number", "of type phone",
		[]string{"+14155550123", "+442071838750", "+493012345678"}}
	ordinaryIDs = ordinary{"id (a user id, a UUID, a customer number)", "it applies to",
		[]string{"u-18273", "3f2a7c1e-9b4d-4e8a-a1c2-7d5e6f8a9b0c", "CUST000123", "a1b2c3d4e5"}}
)

// ordinaryKinds are the kinds a top-level pattern, which applies to every
// type, is tried on.
var ordinaryKinds = []ordinary{ordinaryEmails, ordinaryPhones, ordinaryIDs}

// ordinaryKind is the kind an identifier type's patterns are tried on.
func ordinaryKind(typ string) ordinary {
	switch typ {
	case TypeEmail:
		return ordinaryEmails
	case TypePhone:
		return ordinaryPhones
	}
	return ordinaryIDs
}

// matchesAll reports whether re matches every one of vals: a pattern such
// as .* or ^ (or, for phone numbers, ^\+) that blocks whatever it is
// given.
func matchesAll(re *regexp.Regexp, vals []string) bool {
	for _, v := range vals {
		if !re.MatchString(v) {
			return false
		}
	}
	return true
}

func lowerSet(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		// As an identifier is compared: trimmed, in NFC, lowercased.
		m[strings.ToLower(norm.NFC.String(strings.TrimSpace(x)))] = true
	}
	return m
}

func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col = 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

var typeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func validType(t string) bool { return typeRe.MatchString(t) }
