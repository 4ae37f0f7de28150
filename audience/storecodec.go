package audience

// What both stores share to keep the Store contract identically: the
// checks of what a caller puts, and the JSON forms of a Filter and of a
// computed value.
//
// A Filter is stored as its JSON (EncodeFilter) and read back with
// DecodeFilter, which keeps numbers as json.Number: a filter saved with
// json.Number values (what the GraphQL layer and a JSON decoder with
// UseNumber give) reads back reflect.DeepEqual to it, and a number given
// as an int or a float64 reads back as the json.Number of its JSON text.
//
// A computed value is stored as JSON too (EncodeValue), written so that
// its kind of number survives: an integer (int64 and the other integer
// types) reads back as int64, and a float64 as float64, even when it is
// integral (3.0 is written "3.0"). So the int64 and float64 values that
// ComputedTrait.Compute gives read back exactly, as do nil, bool, string,
// []any and map[string]any; a json.Number reads back as int64 when its
// text is an integer that fits and as float64 otherwise.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

var purposeSyntax = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)

// ValidPurposeSyntax reports whether s has the syntax of a consent purpose
// name: 1 to 64 bytes of a-z, 0-9 and _. Whether the purpose is
// configured is the caller's check.
func ValidPurposeSyntax(s string) bool { return purposeSyntax.MatchString(s) }

// Validate checks an audience as a store takes it in PutAudience: a well
// formed ID, a Name of 1 to MaxAudienceNameLen bytes of UTF-8 with no
// control character, a Description of at most MaxDescriptionLen bytes of
// UTF-8 with no control character but newline and tab, a Purpose empty or
// of ValidPurposeSyntax, and a Filter that encodes as JSON, the zero
// Filter when Static. Whether the filter passes Check is the caller's
// concern. Errors are graph.EINVALID and never repeat the caller's text.
func (a Audience) Validate() error {
	if !ValidAudienceID(a.ID) {
		return graph.Errorf(graph.EINVALID, "audience id must be %s and 32 lowercase hex digits", AudienceIDPrefix)
	}
	if a.Name == "" {
		return graph.Errorf(graph.EINVALID, "audience name must not be empty")
	}
	if len(a.Name) > MaxAudienceNameLen {
		return graph.Errorf(graph.EINVALID, "audience name is longer than %d bytes", MaxAudienceNameLen)
	}
	if msg := nameProblem(a.Name); msg != "" {
		return graph.Errorf(graph.EINVALID, "audience name %s", msg)
	}
	if len(a.Description) > MaxDescriptionLen {
		return graph.Errorf(graph.EINVALID, "audience description is longer than %d bytes", MaxDescriptionLen)
	}
	if msg := graph.TextProblem(a.Description); msg != "" {
		return graph.Errorf(graph.EINVALID, "audience description %s", msg)
	}
	if a.Purpose != "" && !ValidPurposeSyntax(a.Purpose) {
		return graph.Errorf(graph.EINVALID, "audience purpose must be 1 to 64 characters of a-z, 0-9 and _")
	}
	if a.Static && !(&a.Filter).IsZero() {
		return graph.Errorf(graph.EINVALID, "a static audience has no filter")
	}
	if _, err := EncodeFilter(a.Filter); err != nil {
		return err
	}
	return nil
}

// nameProblem says what is wrong with s as a one-line name: invalid UTF-8
// or any control character.
func nameProblem(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "holds a control character"
	}
	return ""
}

// Check checks a page of audiences or members.
func (p Page) Check() error {
	if p.Limit < 1 || p.Limit > MaxPage {
		return graph.Errorf(graph.EINVALID, "page limit must be between 1 and %d, got %d", MaxPage, p.Limit)
	}
	return nil
}

// Check checks a page of an audience's log.
func (p ChangePage) Check() error {
	if p.Limit < 1 || p.Limit > MaxPage {
		return graph.Errorf(graph.EINVALID, "page limit must be between 1 and %d, got %d", MaxPage, p.Limit)
	}
	return nil
}

// CheckMembership checks the arguments of ApplyMembership: a well formed
// audience id, and profile ids that are not empty and not both entering
// and exiting.
func CheckMembership(id string, enter, exit []string) error {
	if !ValidAudienceID(id) {
		return graph.Errorf(graph.EINVALID, "audience id must be %s and 32 lowercase hex digits", AudienceIDPrefix)
	}
	in := make(map[string]bool, len(enter))
	for _, p := range enter {
		if p == "" {
			return graph.Errorf(graph.EINVALID, "an entering profile id is empty")
		}
		in[p] = true
	}
	for _, p := range exit {
		if p == "" {
			return graph.Errorf(graph.EINVALID, "an exiting profile id is empty")
		}
		if in[p] {
			return graph.Errorf(graph.EINVALID, "a profile both enters and exits the audience in one call")
		}
	}
	return nil
}

// CheckComputedValue checks a value as PutComputedValues takes it.
func CheckComputedValue(v ComputedValue) error {
	if v.ProfileID == "" {
		return graph.Errorf(graph.EINVALID, "computed value: profile id is empty")
	}
	if err := validateCTName(v.Name); err != nil {
		return graph.Errorf(graph.EINVALID, "computed value: the trait name is not a computed trait name")
	}
	if _, err := EncodeValue(v.Value); err != nil {
		return err
	}
	return nil
}

// CheckComputedName checks a computed trait name given to a store.
func CheckComputedName(name string) error {
	if validateCTName(name) != nil {
		return graph.Errorf(graph.EINVALID, "computed trait name must be 1 to %d characters of a-z, 0-9 and _, starting with a letter", MaxComputedNameLen)
	}
	return nil
}

// EncodeFilter returns the JSON of f as stored.
func EncodeFilter(f Filter) ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, graph.Errorf(graph.EINVALID, "audience filter does not encode as JSON (a value is not a JSON value)")
	}
	return b, nil
}

// DecodeFilter reads back what EncodeFilter wrote, numbers as json.Number,
// and event types normalized (Normalize): a filter stored before they were
// reads back as one stored now.
func DecodeFilter(b []byte) (Filter, error) {
	var f Filter
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&f); err != nil {
		return Filter{}, fmt.Errorf("stored audience filter: %w", err)
	}
	Normalize(&f)
	return f, nil
}

// EncodeValue returns the JSON of a computed value as stored, its map keys
// sorted and its float64 numbers marked as such (see the top of this file).
func EncodeValue(v any) ([]byte, error) {
	b, err := appendValue(nil, v, 0)
	if err != nil {
		return nil, graph.Errorf(graph.EINVALID, "computed value: %s", err.Error())
	}
	return b, nil
}

const maxValueDepth = 64

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxValueDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxValueDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		s, _ := json.Marshal(x)
		return append(b, s...), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("an integer is larger than int64")
		}
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("an integer is larger than int64")
		}
		return strconv.AppendUint(b, x, 10), nil
	case float32:
		return appendFloat(b, float64(x))
	case float64:
		return appendFloat(b, x)
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil || !json.Valid([]byte(x)) {
			return nil, fmt.Errorf("a json.Number is not a number")
		}
		return append(b, x...), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			s, _ := json.Marshal(k)
			b = append(append(b, s...), ':')
			var err error
			if b, err = appendValue(b, x[k], depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	default:
		return nil, fmt.Errorf("a value of type %T is not a JSON value", v)
	}
}

// appendFloat writes f so that it reads back as a float64: with a decimal
// point or an exponent even when it is integral.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("a number is NaN or infinite")
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if !bytes.ContainsAny(b[start:], ".eE") {
		b = append(b, ".0"...)
	}
	return b, nil
}

// DecodeValue reads back what EncodeValue wrote: integers as int64,
// other numbers as float64.
func DecodeValue(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("stored computed value: %w", err)
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !bytes.ContainsAny([]byte(s), ".eE") {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
		return x
	}
	return v
}
