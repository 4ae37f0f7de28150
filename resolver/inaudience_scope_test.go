package resolver

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestInAudienceNeedsAudiencesRead: membership is audiences:read data, so
// an inAudience condition in any filter argument (profiles, funnel,
// attribution, paths, and the filters audiences are saved with) is refused
// to a key without audiences:read, naming the condition and the scope,
// before the audience is looked up: the answer says nothing of who is a
// member, nor whether the audience exists. With audiences:read the same
// requests answer.
func TestInAudienceNeedsAudiencesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "user_id:u1", "anonymous_id:a1"))
		admin, _ := e.key("admin", "", access.AllScopes()...)
		var created struct{ CreateAudience struct{ ID string } }
		e.ok(admin, `mutation { createAudience(input: {name: "Known", filter: {identifier: {type: "user_id"}}}) { id } }`, nil, &created)
		known := created.CreateAudience.ID
		const unknown = "seg_0123456789abcdef0123456789abcdef"

		profilesOnly, _ := e.key("profiles only", "", access.ScopeProfilesRead)
		both, _ := e.key("profiles and audiences", "", access.ScopeProfilesRead, access.ScopeAudiencesRead)
		writeOnly, _ := e.key("audiences write only", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)

		cases := []struct {
			name, field, op, path string
		}{
			{"profiles", "profiles", `query($a: ID!) { profiles(filter: {inAudience: $a}, first: 5) { totalCount nodes { id } } }`, "filter.inAudience"},
			{"profiles nested", "profiles", `query($a: ID!) { profiles(filter: {and: [{identifier: {type: "user_id"}}, {not: {inAudience: $a}}]}, first: 5) { totalCount } }`, "filter.and[1].not.inAudience"},
			{"funnel", "funnel", `query($a: ID!) { funnel(steps: [{type: "identify"}], within: "P1D", filter: {inAudience: $a}) { profiles } }`, "filter.inAudience"},
			{"attribution", "attribution", `query($a: ID!) { attribution(conversion: {type: "identify"}, dimension: CHANNEL, model: LINEAR, lookback: "P7D", filter: {inAudience: $a}) { conversions } }`, "filter.inAudience"},
			{"paths", "paths", `query($a: ID!) { paths(start: {type: "identify"}, filter: {inAudience: $a}) { count } }`, "filter.inAudience"},
			{"createAudience", "createAudience", `mutation($a: ID!) { createAudience(input: {name: "Of members", filter: {inAudience: $a}}) { id } }`, "input.filter.inAudience"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				refusedBy := profilesOnly
				if c.field == "createAudience" {
					refusedBy = writeOnly
				}
				for _, id := range []string{known, unknown} {
					r := e.as(refusedBy, c.op, map[string]any{"a": id})
					var data map[string]any
					if err := json.Unmarshal(r.Data, &data); err != nil {
						t.Fatalf("data %s: %v", r.Data, err)
					}
					if data[c.field] != nil {
						t.Errorf("%s of %s without audiences:read answered %v", c.field, id, data[c.field])
					}
					if len(r.Errors) != 1 {
						t.Fatalf("%s of %s without audiences:read: errors %+v, want one", c.field, id, r.Errors)
					}
					er := r.Errors[0]
					if er.Extensions["code"] != CodeForbidden || er.Extensions["scope"] != string(access.ScopeAudiencesRead) ||
						!strings.HasPrefix(er.Message, c.path+": ") || strings.Contains(er.Message, id) {
						t.Errorf("%s of %s without audiences:read: error %+v, want FORBIDDEN for audiences:read naming %s and not the id", c.field, id, er, c.path)
					}
				}
				if c.field == "createAudience" {
					var got struct{ CreateAudience struct{ ID string } }
					e.ok(admin, c.op, map[string]any{"a": known}, &got)
					if got.CreateAudience.ID == "" {
						t.Errorf("createAudience with audiences:read made no audience")
					}
					return
				}
				r := e.ok(both, c.op, map[string]any{"a": known}, nil)
				var data map[string]any
				if err := json.Unmarshal(r.Data, &data); err != nil || data[c.field] == nil {
					t.Errorf("%s with audiences:read: data %s (%v), want an answer", c.field, r.Data, err)
				}
			})
		}
	})
}
