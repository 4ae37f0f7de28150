package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A DateTime argument is an RFC 3339 date-time, whose offset says which
// instant it is: a time without one (which the server would have to read
// in some zone of its choosing) and an empty string (which read as no
// bound, or as no expiry) are refused naming the argument, and the lower
// case t and z that RFC 3339 allows are taken. Offsets are read as the
// instant they name: 14:00+02:00 is 12:00Z.
func TestDateTimeArgumentsAreRFC3339WithAnOffset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("test/e1", t0, "track", "user_id:U")) // 2024-05-01T12:00:00Z
		pid := e.profileID("user_id", "U")

		// Hand-worked: the one event is at 12:00Z; from is inclusive, to
		// exclusive.
		for _, c := range []struct {
			bound, value string
			want         int
		}{
			{"to", "2024-05-01T14:00:00+02:00", 0},
			{"to", "2024-05-01T14:00:00.000001+02:00", 1},
			{"from", "2024-05-01T07:00:00-05:00", 1},
			{"from", "2024-05-01T07:00:00.000001-05:00", 0},
			{"to", "2024-05-01t12:00:00.000001z", 1},
			{"from", "2024-05-01t12:00:00.000001z", 0},
		} {
			p := e.journeyPage(map[string]any{"id": pid, "first": 10, c.bound: c.value})
			if got := len(p.ids()); got != c.want {
				t.Errorf("journey(%s: %s): %d events, want %d", c.bound, c.value, got, c.want)
			}
		}

		for _, bad := range []string{"", "2023-03-04 05:06:07", "2023-03-04T05:06:07", "2023-03-04", "1714564800", "2023-03-04T05:06:07 Z"} {
			r := e.refused(journeyQuery, map[string]any{"id": pid, "first": 10, "to": bad}, CodeInvalidArgument, "journey.to", "offset")
			if bad != "" && strings.Contains(r.Errors[0].Message, bad) {
				t.Errorf("to %q: the message repeats it: %q", bad, r.Errors[0].Message)
			}
			e.refused(`query($f: DateTime) { auditLog(filter: {from: $f}) { nodes { id } } }`, map[string]any{"f": bad},
				CodeInvalidArgument, "auditLog.filter.from", "offset")
			// An empty expiry is not "never": nothing is created.
			r = e.post(`mutation($x: DateTime) { createApiKey(input: {name: "k", scopes: ["profiles:read"], expiresAt: $x}) { key { id } } }`, map[string]any{"x": bad})
			checkRefused(t, r, CodeInvalidArgument, "expiresAt", "offset")
		}
		var keys struct {
			APIKeys struct{ Nodes []struct{ ID string } }
		}
		e.query(`{ apiKeys { nodes { id } } }`, nil, &keys)
		if n := len(keys.APIKeys.Nodes); n != 0 {
			t.Errorf("%d keys created with a bad expiresAt, want none", n)
		}
	})
}
