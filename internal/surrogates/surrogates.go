// Package surrogates finds unpaired UTF-16 surrogate escapes ("\ud800"
// without its low half, or a low half alone) in JSON text.
//
// encoding/json decodes every unpaired surrogate escape to U+FFFD, so two
// different ones become the same string. Where that matters (identifier
// values), the caller finds them here first and keeps the value in WTF-8
// form instead: the surrogate's own three bytes (ED A0..BF xx), which no
// valid UTF-8 string holds, so the value can be refused for what it is.
package surrogates

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Escaped reports whether text holds an unpaired surrogate escape: \uXXXX
// with XXXX in D800-DBFF not followed by an escape in DC00-DFFF, or one in
// DC00-DFFF not preceded by such a high half. text is JSON, or a GraphQL
// document, whose string escapes have the same form; an escaped backslash
// ("\\ud800") is not an escape.
func Escaped(text []byte) bool {
	if !bytes.Contains(text, []byte(`\u`)) {
		return false
	}
	for i := 0; i < len(text); i++ {
		if text[i] != '\\' {
			continue
		}
		if i+1 >= len(text) {
			return false
		}
		if text[i+1] != 'u' {
			i++ // skip the escaped character, a backslash included
			continue
		}
		r, ok := hex4(text, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case isHigh(r):
			if lo, ok := escapeAt(text, i+6); ok && isLow(lo) {
				i += 11 // the pair
				continue
			}
			return true
		case isLow(r):
			return true
		}
		i += 5
	}
	return false
}

// Found is a JSON string value that holds an unpaired surrogate escape.
type Found struct {
	// Path names the value: object keys, and array indexes in decimal.
	Path []string
	// Value is the string as sent, with each unpaired surrogate kept in
	// WTF-8 form (so it is not valid UTF-8).
	Value string
	// Lossy is the string as encoding/json decodes it (each unpaired
	// surrogate as U+FFFD). A caller replacing a decoded value by Value
	// checks it still equals Lossy: with a key repeated in an object, the
	// decoder keeps the last value, which may be another one.
	Lossy string
}

// Strings returns every string value of the JSON text raw that holds an
// unpaired surrogate escape, in document order. Object keys are not
// reported. raw must be valid JSON; the error is the decoder's otherwise.
// Without any unpaired escape it returns nil at once.
func Strings(raw []byte) ([]Found, error) {
	if !Escaped(raw) {
		return nil, nil
	}
	type frame struct {
		object  bool
		wantKey bool
		key     string
		index   int
	}
	var stack []frame
	path := func() []string {
		out := make([]string, len(stack))
		for i, f := range stack {
			if f.object {
				out[i] = f.key
			} else {
				out[i] = strconv.Itoa(f.index)
			}
		}
		return out
	}
	// next moves the innermost container past one value.
	next := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	var out []Found
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				next()
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
				stack[n-1].key, stack[n-1].wantKey = t, false
				continue
			}
			// The token's text: what lies between the previous token and
			// this one's end, past any separator and space.
			lit := raw[start:dec.InputOffset()]
			lit = lit[bytes.IndexByte(lit, '"'):]
			if Escaped(lit) {
				out = append(out, Found{Path: path(), Value: unquote(lit), Lossy: t})
			}
			next()
		default:
			next()
		}
	}
}

// unquote decodes a valid JSON string literal, quotes included, keeping
// unpaired surrogates in WTF-8 form.
func unquote(lit []byte) string {
	s := lit[1 : len(lit)-1]
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(s, i+1)
			i += 4
			if isHigh(r) {
				if lo, ok := escapeAt(s, i+1); ok && isLow(lo) {
					out = utf8.AppendRune(out, utf16.DecodeRune(r, lo))
					i += 6
					continue
				}
			}
			if isHigh(r) || isLow(r) {
				// WTF-8: the surrogate's code point in three bytes.
				out = append(out, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
				continue
			}
			out = utf8.AppendRune(out, r)
		default: // " \ /
			out = append(out, s[i])
		}
	}
	return string(out)
}

func isHigh(r rune) bool { return r >= 0xD800 && r <= 0xDBFF }
func isLow(r rune) bool  { return r >= 0xDC00 && r <= 0xDFFF }

// escapeAt reads a \uXXXX escape starting at b[i].
func escapeAt(b []byte, i int) (rune, bool) {
	if i+1 >= len(b) || b[i] != '\\' || b[i+1] != 'u' {
		return 0, false
	}
	return hex4(b, i+2)
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// Lossy returns s as encoding/json would have decoded it: each surrogate in
// WTF-8 form (three bytes ED A0..BF 80..BF) as U+FFFD. It undoes what the
// Value of a Found keeps, for a copy of the value that is stored or shown
// rather than resolved. Any other invalid byte becomes U+FFFD too.
func Lossy(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if i+2 < len(s) && s[i] == 0xED && s[i+1] >= 0xA0 && s[i+1] <= 0xBF && s[i+2] >= 0x80 && s[i+2] <= 0xBF {
			out = utf8.AppendRune(out, utf8.RuneError)
			i += 3
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		out = utf8.AppendRune(out, r)
		i += n
	}
	return string(out)
}
