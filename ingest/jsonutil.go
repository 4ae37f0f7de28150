package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/surrogates"
)

// MaxDepth is the deepest nesting of objects and arrays a message may have.
// Real SDK payloads stay under ten levels; the limit keeps a hostile body
// from costing recursion in every layer that walks the value later.
const MaxDepth = 64

// checkJSON rejects invalid UTF-8 and nesting deeper than maxDepth before
// anything decodes the body. encoding/json would silently replace invalid
// UTF-8 with U+FFFD, turning bad input into different data.
func checkJSON(raw []byte, maxDepth int, what string) *MessageError {
	if !utf8.Valid(raw) {
		off := 0
		for off < len(raw) {
			r, n := utf8.DecodeRune(raw[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return &MessageError{Reason: ReasonInvalidUTF8, Message: fmt.Sprintf("%s is not valid UTF-8 (first bad byte at offset %d)", what, off)}
	}
	depth := 0
	inString, escaped := false, false
	for i, b := range raw {
		if inString {
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
			continue
		}
		switch b {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > maxDepth {
				return &MessageError{Reason: ReasonTooDeep, Message: fmt.Sprintf("%s nests objects and arrays deeper than %d levels (at byte %d)", what, maxDepth, i)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// decodeJSON decodes one JSON value, keeping numbers exact, and refuses
// trailing data.
func decodeJSON(raw []byte, what string) (any, *MessageError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed(what, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &MessageError{Reason: ReasonMalformed, Message: fmt.Sprintf("malformed JSON in %s: unexpected data after the value at byte %d", what, dec.InputOffset())}
	}
	return v, nil
}

func malformed(what string, err error) *MessageError {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return &MessageError{Reason: ReasonMalformed, Message: fmt.Sprintf("malformed JSON in %s: it is empty", what)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &MessageError{Reason: ReasonMalformed, Message: fmt.Sprintf("malformed JSON in %s: it ends before the value is complete", what)}
	case errors.As(err, &se):
		return &MessageError{Reason: ReasonMalformed, Message: fmt.Sprintf("malformed JSON in %s at byte %d: %s", what, se.Offset, se.Error())}
	}
	return &MessageError{Reason: ReasonMalformed, Message: fmt.Sprintf("malformed JSON in %s: %v", what, err)}
}

// keepSurrogates undoes, in the identifier fields of a decoded JSON object,
// what encoding/json does to an unpaired surrogate escape ("\ud800"):
// it decodes every one to U+FFFD, so two different lone surrogates would
// become one identifier value. The value is put back with the surrogate in
// WTF-8 form, which the engine's normalizer refuses as
// unpaired_surrogate; the rest of the message keeps the decoder's U+FFFD.
// isIdent says which paths hold identifiers.
func keepSurrogates(raw []byte, m map[string]any, isIdent func(path []string) bool, what string) *MessageError {
	found, err := surrogates.Strings(raw)
	if err != nil {
		return malformed(what, err)
	}
	for _, f := range found {
		if isIdent(f.Path) {
			replaceString(m, f.Path, f.Lossy, f.Value)
		}
	}
	return nil
}

// replaceString sets the string at path in v to value if it is now lossy.
func replaceString(v any, path []string, lossy, value string) {
	for i, p := range path {
		last := i == len(path)-1
		switch c := v.(type) {
		case map[string]any:
			if last {
				if s, ok := c[p].(string); ok && s == lossy {
					c[p] = value
				}
				return
			}
			v = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(c) {
				return
			}
			if last {
				if s, ok := c[n].(string); ok && s == lossy {
					c[n] = value
				}
				return
			}
			v = c[n]
		default:
			return
		}
	}
}

// messageIdentifierPath reports whether path names a field of a message
// that the parser reads an identifier from, or its messageId (which
// messageID refuses with an unpaired surrogate: two ids differing only
// there must not become one).
func messageIdentifierPath(path []string) bool {
	switch {
	case len(path) == 1:
		return path[0] == "userId" || path[0] == "anonymousId" || path[0] == "previousId" || path[0] == "messageId"
	case len(path) == 2 && path[0] == "traits":
		return path[1] == "email" || path[1] == "phone"
	case len(path) > 1 && path[0] == "context":
		return contextIdentifierPath(path[1:])
	}
	return false
}

// contextIdentifierPath is messageIdentifierPath within a context object.
func contextIdentifierPath(path []string) bool {
	switch len(path) {
	case 2:
		return path[0] == "traits" && (path[1] == "email" || path[1] == "phone") ||
			path[0] == "device" && path[1] == "id"
	case 3:
		return path[0] == "externalIds" && path[2] == "id"
	}
	return false
}

// jsonType names the JSON type of a decoded value for error messages.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int64, int32, uint64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// plain converts decoded JSON into the value types every store handles:
// json.Number becomes int64 when it is an integer that fits, float64
// otherwise. A number beyond float64 is refused, since it could not be
// stored or encoded again. path names the value in the error, with each
// key as graph.MessageKey names it (a key that looks like an email or a
// phone number is withheld). A string
// keepSurrogates put back in WTF-8 for an identifier (traits.email, say,
// which is a trait too) is stored as the decoder gave it, with U+FFFD.
func plain(v any, path string) (any, error) {
	switch x := v.(type) {
	case string:
		return surrogates.Lossy(x), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			// The number is not repeated: it may be personal (a card number).
			return nil, fmt.Errorf("%s: the number is beyond the range of a 64-bit float", path)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			p, err := plain(e, path+"."+graph.MessageKey(k))
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			p, err := plain(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	}
	return v, nil
}

// mergeMaps returns base overlaid with over, merging nested objects, so a
// message's own context refines the batch context instead of replacing it.
func mergeMaps(base, over map[string]any) map[string]any {
	if len(base) == 0 {
		return over
	}
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = mergeMaps(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}
