package embedded

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
)

// decodeIdentFast reads an identifier record in the exact form encodeIdent
// writes: the keys in its order, no white space, strings without escapes
// and of valid UTF-8, and trait values that are strings, numbers, booleans
// or null, each trait as json.Marshal writes a graph.TraitValue (with or
// without its received). It
// reports false for anything else (an escape, an object or array value, a
// key it does not expect, a malformed record), and the caller then reads
// the record with encoding/json, so that the answer, and any error, is
// always encoding/json's. Every profile read decodes each of the profile's
// identifier records; this path spares most of them reflection, and most
// of their allocations.
//
// The caller has ruled out a long digit run (graph.HasLongDigitRun), so a
// number is what json.Unmarshal makes of it, a float64, then
// graph.IntsOf's int64 when it is integral and below 1e15.
func decodeIdentFast(v []byte) (*identRecord, bool) {
	d := fastDec{b: v}
	r := &identRecord{}
	var first, last [2]int64
	if !d.lit(`{"f":`) || !d.timePair(&first) || !d.lit(`,"l":`) || !d.timePair(&last) {
		return nil, false
	}
	if d.lit(`,"s":[`) {
		for {
			s, ok := d.str()
			if !ok {
				return nil, false
			}
			r.Sources = append(r.Sources, s)
			if d.lit(`]`) {
				break
			}
			if !d.lit(`,`) {
				return nil, false
			}
		}
	}
	if d.lit(`,"profile":`) {
		var ok bool
		if r.Profile, ok = d.str(); !ok {
			return nil, false
		}
	}
	if d.lit(`,"t":{`) {
		r.Traits = map[string]graph.TraitValue{}
		for {
			name, ok := d.str()
			if !ok || !d.lit(`:{"value":`) {
				return nil, false
			}
			var tv graph.TraitValue
			if tv.Value, ok = d.scalar(); !ok || !d.lit(`,"source":`) {
				return nil, false
			}
			if tv.Source, ok = d.str(); !ok || !d.lit(`,"at":`) {
				return nil, false
			}
			raw, ok := d.rawStr()
			if !ok || tv.At.UnmarshalJSON(raw) != nil {
				return nil, false
			}
			if d.lit(`,"received":`) {
				if raw, ok = d.rawStr(); !ok || tv.Received.UnmarshalJSON(raw) != nil {
					return nil, false
				}
			}
			if !d.lit(`}`) {
				return nil, false
			}
			r.Traits[name] = tv
			if d.lit(`}`) {
				break
			}
			if !d.lit(`,`) {
				return nil, false
			}
		}
	}
	if d.lit(`,"type":`) {
		var ok bool
		if r.Type, ok = d.str(); !ok || !d.lit(`,"value":`) {
			return nil, false
		}
		if r.Value, ok = d.str(); !ok {
			return nil, false
		}
	}
	if !d.lit(`}`) || d.i != len(d.b) {
		return nil, false
	}
	if first[1] < 0 || first[1] >= 1e9 || last[1] < 0 || last[1] >= 1e9 {
		return nil, false // decodeIdent words the error
	}
	r.FirstSeen = time.Unix(first[0], first[1]).UTC()
	r.LastSeen = time.Unix(last[0], last[1]).UTC()
	return r, true
}

// fastDec reads b from i on.
type fastDec struct {
	b []byte
	i int
}

// lit consumes s if the input goes on with it.
func (d *fastDec) lit(s string) bool {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return false
	}
	d.i += len(s)
	return true
}

// rawStr consumes a string without escapes, of valid UTF-8, and returns it
// with its quotes.
func (d *fastDec) rawStr() ([]byte, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(d.b[d.i+1:], '"')
	if end < 0 {
		return nil, false
	}
	s := d.b[d.i+1 : d.i+1+end]
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	if !utf8.Valid(s) {
		return nil, false
	}
	raw := d.b[d.i : d.i+end+2]
	d.i += end + 2
	return raw, true
}

// str consumes a string as rawStr does and returns its text.
func (d *fastDec) str() (string, bool) {
	raw, ok := d.rawStr()
	if !ok {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// int consumes an integer: an optional minus, then digits, no leading zero.
func (d *fastDec) int() (int64, bool) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || (d.b[digits] == '0' && d.i-digits > 1) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	return n, err == nil
}

// timePair consumes [seconds,nanoseconds].
func (d *fastDec) timePair(p *[2]int64) bool {
	var ok bool
	if !d.lit(`[`) {
		return false
	}
	if p[0], ok = d.int(); !ok || !d.lit(`,`) {
		return false
	}
	if p[1], ok = d.int(); !ok {
		return false
	}
	return d.lit(`]`)
}

// scalar consumes a trait value that is a string, a number, true, false
// or null.
func (d *fastDec) scalar() (any, bool) {
	if d.i >= len(d.b) {
		return nil, false
	}
	switch c := d.b[d.i]; {
	case c == '"':
		return d.str()
	case c == 't':
		return true, d.lit("true")
	case c == 'f':
		return false, d.lit("false")
	case c == 'n':
		return nil, d.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, false
}

// number consumes a JSON number, checked against JSON's grammar, and
// returns it as json.Unmarshal into an any then graph.IntsOf would.
func (d *fastDec) number() (any, bool) {
	start := d.i
	if d.b[d.i] == '-' {
		d.i++
	}
	digits := func() int {
		n := 0
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	intStart := d.i
	if n := digits(); n == 0 || (d.b[intStart] == '0' && n > 1) {
		return nil, false
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(string(d.b[start:d.i]), 64)
	if err != nil {
		return nil, false // out of range: encoding/json words the error
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return int64(f), true
	}
	return f, true
}
