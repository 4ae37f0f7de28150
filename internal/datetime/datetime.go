// Package datetime is the GraphQL DateTime scalar: an RFC 3339 date-time,
// whose offset is required, in; UTC out.
package datetime

import (
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

// errNotDateTime is the refusal of a value that is not an RFC 3339
// date-time. It does not repeat the value, which may be personal (a birth
// date pasted in the wrong field); the error presenter names the argument.
var errNotDateTime = errors.New("must be an RFC 3339 date-time with an offset, such as 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00")

// MarshalDateTime writes t in UTC, RFC 3339 with the fraction it has;
// the zero time is null.
func MarshalDateTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) {
		io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339Nano)))
	})
}

// UnmarshalDateTime reads an RFC 3339 date-time (section 5.6), lower-case
// t and z included. A time without an offset is refused rather than read
// in a zone of the server's choosing, and so is an empty string, which
// gqlgen's own scalar read as the zero time: no bound for a filter's to,
// no expiry for a key.
func UnmarshalDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok || len(s) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, errNotDateTime
	}
	b := []byte(s)
	if b[10] == 't' {
		b[10] = 'T'
	}
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	// Go also reads a fraction after a comma and offsets of 24 hours or
	// more, which RFC 3339 has not (time-secfrac, time-numoffset).
	if len(b) > 19 && b[19] == ',' {
		return time.Time{}, errNotDateTime
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, errNotDateTime
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return time.Time{}, errNotDateTime
	}
	return t, nil
}
