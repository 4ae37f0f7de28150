package resolver

import (
	"fmt"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The name lists that filter a profile's lists (journey's types and
// channels, identifiers' types) hold at most maxNameFilter names: each
// is compared with every event or identifier of every profile of the
// page, so 100,000 names (1 MB of variables) cost seconds of CPU per page
// while the complexity limit saw one field. A longer list is refused
// before anything runs, naming the argument and the field; 100 names are
// answered as few are.
func TestNameFiltersAreBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("test/e1", t0, "track", "user_id:U"))
		names := func(n int) []string {
			out := []string{"track", "web", "user_id"}
			for i := len(out); i < n; i++ {
				out = append(out, fmt.Sprintf("name%d", i))
			}
			return out
		}
		for _, c := range []struct{ field, arg, op string }{
			{"Profile.journey", "types", `query($n: [String!]) { profiles(first: 10) { nodes { journey(first: 1, types: $n) { nodes { id } } } } }`},
			{"Profile.journey", "channels", `query($n: [String!]) { profiles(first: 10) { nodes { journey(first: 1, channels: $n) { nodes { id } } } } }`},
			{"Profile.identifiers", "types", `query($n: [String!]) { profiles(first: 10) { nodes { identifiers(first: 1, types: $n) { key } } } }`},
		} {
			r := e.post(c.op, map[string]any{"n": names(maxNameFilter + 1)})
			checkRefused(t, r, CodeInvalidArgument, fmt.Sprintf("%q of %s", c.arg, c.field), fmt.Sprint(maxNameFilter))
			if r.Status != 422 || r.Data != nil && string(r.Data) != "null" {
				t.Errorf("%s(%s: %d names): status %d, data %s; want 422 before anything runs", c.field, c.arg, maxNameFilter+1, r.Status, r.Data)
			}
			var out struct {
				Profiles struct {
					Nodes []struct {
						Journey     struct{ Nodes []struct{ ID string } }
						Identifiers []struct{ Key string }
					}
				}
			}
			e.query(c.op, map[string]any{"n": names(maxNameFilter)}, &out)
			if n := out.Profiles.Nodes; len(n) != 1 || len(n[0].Journey.Nodes)+len(n[0].Identifiers) != 1 {
				t.Errorf("%s(%s: %d names) = %+v, want the one event or identifier", c.field, c.arg, maxNameFilter, n)
			}
		}
	})
}
