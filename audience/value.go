package audience

import (
	"cmp"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kind is what a JSON-like value is, for comparisons.
type kind uint8

const (
	kMissing kind = iota // absent, or null
	kBool
	kNumber
	kString
	kList
	kMap
	kOther // anything else, a json.Number that is not a number included
)

func (k kind) String() string {
	switch k {
	case kMissing:
		return "null"
	case kBool:
		return "a boolean"
	case kNumber:
		return "a number"
	case kString:
		return "a string"
	case kList:
		return "a list"
	case kMap:
		return "an object"
	}
	return "a value of an unsupported type"
}

// scalar is a value reduced to its kind and, for a boolean, number or
// string, its content.
type scalar struct {
	k kind
	b bool
	n float64
	s string
}

// scalarOf classifies v. Numbers of every Go type, json.Number included,
// become float64 (integers beyond 2^53 lose precision). A nil slice, map
// or pointer is null, as encoding/json writes it.
func scalarOf(v any) scalar {
	switch x := v.(type) {
	case nil:
		return scalar{}
	case string:
		return scalar{k: kString, s: x}
	case bool:
		return scalar{k: kBool, b: x}
	case float64:
		return scalar{k: kNumber, n: x}
	case int:
		return scalar{k: kNumber, n: float64(x)}
	case int64:
		return scalar{k: kNumber, n: float64(x)}
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: ±Inf
			return scalar{k: kOther}
		}
		return scalar{k: kNumber, n: f}
	case []any:
		if x == nil { // as JSON encodes it: null
			return scalar{}
		}
		return scalar{k: kList}
	case map[string]any:
		if x == nil {
			return scalar{}
		}
		return scalar{k: kMap}
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return scalar{k: kBool, b: rv.Bool()}
	case reflect.String:
		return scalar{k: kString, s: rv.String()}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar{k: kNumber, n: float64(rv.Int())}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return scalar{k: kNumber, n: float64(rv.Uint())}
	case reflect.Float32, reflect.Float64:
		return scalar{k: kNumber, n: rv.Float()}
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return scalar{}
		}
		return scalar{k: kList}
	case reflect.Map:
		if rv.IsNil() {
			return scalar{}
		}
		return scalar{k: kMap}
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return scalar{}
		}
		return scalarOf(rv.Elem().Interface())
	}
	return scalar{k: kOther}
}

// isScalar reports whether k is a boolean, number or string.
func (k kind) isScalar() bool { return k == kBool || k == kNumber || k == kString }

// listOf returns the elements of a list value, and whether v is one.
func listOf(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case nil:
		return nil, false
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	if rv.Kind() == reflect.Slice && rv.IsNil() {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

// equal reports whether a and b are scalars of the same kind and equal
// value: numbers as float64, strings byte for byte.
func equal(a, b scalar) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kBool:
		return a.b == b.b
	case kNumber:
		return a.n == b.n
	case kString:
		return a.s == b.s
	}
	return false
}

// order compares a and b when both are numbers or both strings; ok is
// false otherwise, and for NaN.
func order(a, b scalar) (c int, ok bool) {
	switch {
	case a.k == kNumber && b.k == kNumber:
		switch {
		case a.n < b.n:
			return -1, true
		case a.n > b.n:
			return 1, true
		case a.n == b.n:
			return 0, true
		}
		return 0, false // NaN
	case a.k == kString && b.k == kString:
		return CompareUTF16(a.s, b.s), true
	}
	return 0, false
}

// CompareUTF16 orders strings by their UTF-16 code units, as Neo4j's
// comparison operators do, so that a filter answers alike on both stores:
// code point order, except that a character above U+FFFF (a surrogate
// pair, from U+D800) sorts before one from U+E000 to U+FFFF. It returns
// -1, 0 or 1, as strings.Compare.
func CompareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16Units(ra), utf16Units(rb)
			if ua[0] != ub[0] {
				return cmp.Compare(ua[0], ub[0])
			}
			return cmp.Compare(ua[1], ub[1])
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// utf16Units are r's UTF-16 code units: one, then 0, below U+10000; a
// surrogate pair above.
func utf16Units(r rune) [2]rune {
	if r < 0x10000 {
		return [2]rune{r, 0}
	}
	r -= 0x10000
	return [2]rune{0xD800 + r>>10, 0xDC00 + r&0x3FF}
}

// compare applies op to the value v read from a profile or event and the
// filter's value w. See the package documentation for the rules.
func compare(op Op, v, w any) bool {
	a := scalarOf(v)
	switch op {
	case OpExists:
		return a.k != kMissing
	case OpNotExists:
		return a.k == kMissing
	}
	if a.k == kMissing {
		return false
	}
	switch op {
	case OpEQ:
		return equal(a, scalarOf(w))
	case OpNEQ:
		b := scalarOf(w)
		return a.k.isScalar() && a.k == b.k && !equal(a, b)
	case OpGT, OpGTE, OpLT, OpLTE:
		c, ok := order(a, scalarOf(w))
		if !ok {
			return false
		}
		switch op {
		case OpGT:
			return c > 0
		case OpGTE:
			return c >= 0
		case OpLT:
			return c < 0
		}
		return c <= 0
	case OpIN:
		if !a.k.isScalar() {
			return false
		}
		list, _ := listOf(w)
		for _, e := range list {
			if equal(a, scalarOf(e)) {
				return true
			}
		}
		return false
	case OpContains:
		b := scalarOf(w)
		switch a.k {
		case kString:
			return b.k == kString && strings.Contains(a.s, b.s)
		case kList:
			list, _ := listOf(v)
			for _, e := range list {
				if equal(scalarOf(e), b) {
					return true
				}
			}
		}
		return false
	case OpStartsWith:
		b := scalarOf(w)
		return a.k == kString && b.k == kString && strings.HasPrefix(a.s, b.s)
	}
	return false
}

// Lookup reads the value at a dotted path of an event's properties, each
// segment a key of a nested object ("order.total"). It returns nil when
// the path is missing, runs through anything but an object (a list
// included: "items.0" finds nothing) or ends at a null. Keys holding a
// dot cannot be reached.
func Lookup(props map[string]any, path string) any {
	var cur any = props
	for seg := range strings.SplitSeq(path, ".") {
		switch m := cur.(type) {
		case map[string]any:
			v, ok := m[seg]
			if !ok {
				return nil
			}
			cur = v
		default:
			rv := reflect.ValueOf(cur)
			if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
				return nil
			}
			e := rv.MapIndex(reflect.ValueOf(seg).Convert(rv.Type().Key()))
			if !e.IsValid() {
				return nil
			}
			cur = e.Interface()
		}
	}
	return cur
}
