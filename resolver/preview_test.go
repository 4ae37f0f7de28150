package resolver

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

const previewOp = `query($f: AudienceFilter!, $p: String, $n: Int) { previewAudience(filter: $f, purpose: $p) { count sample(first: $n) { id } } }`

type previewOut struct {
	Count  int
	Sample []struct{ ID string }
}

func preview(e *env, filter any, purpose *string, first int) previewOut {
	e.t.Helper()
	var out struct{ PreviewAudience *previewOut }
	e.query(previewOp, map[string]any{"f": filter, "p": purpose, "n": first}, &out)
	if out.PreviewAudience == nil {
		e.t.Fatalf("previewAudience returned null")
	}
	return *out.PreviewAudience
}

func (p previewOut) ids() []string {
	out := []string{}
	for _, s := range p.Sample {
		out = append(out, s.ID)
	}
	return out
}

// sortedIDs returns the profile ids of the user_ids, sorted.
func sortedIDs(e *env, users ...string) []string {
	e.t.Helper()
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = e.profileID("user_id", u)
	}
	sort.Strings(out)
	return out
}

// previewData stores six people, all identified by user_id:
//
//	u1 plan pro,  2 orders in the last 10 days,           email GRANTED
//	u2 plan pro,  2 orders in the last 10 days,           no consent
//	u3 plan pro,  1 order 5 days ago and 1 40 days ago,   email GRANTED
//	u4 plan free, 3 orders in the last 10 days,           email GRANTED
//	u5 plan pro,  2 orders in the last 10 days,           email DENIED
//	u6 plan pro,  3 orders in the last 10 days,           email GRANTED
func previewData(e *env) {
	e.t.Helper()
	now := time.Now().UTC()
	day := 24 * time.Hour
	plan := map[string]string{"u1": "pro", "u2": "pro", "u3": "pro", "u4": "free", "u5": "pro", "u6": "pro"}
	var evs []graph.Event
	for _, u := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		evs = append(evs, withTraits(ev("id-"+u, now.Add(-20*day), "identify", "user_id:"+u), map[string]any{"plan": plan[u]}))
	}
	orders := map[string][]time.Duration{
		"u1": {2 * day, 9 * day}, "u2": {1 * day, 3 * day}, "u3": {5 * day, 40 * day},
		"u4": {1 * day, 2 * day, 3 * day}, "u5": {4 * day, 6 * day}, "u6": {1 * day, 2 * day, 8 * day},
	}
	for u, ago := range orders {
		for i, d := range ago {
			evs = append(evs, order(fmt.Sprintf("o-%s-%d", u, i), u, now.Add(-d), 10))
		}
	}
	e.apply(evs...)
	for u, st := range map[string]string{"u1": "GRANTED", "u3": "GRANTED", "u4": "GRANTED", "u5": "DENIED", "u6": "GRANTED"} {
		setConsent(e, map[string]any{"identifier": ident("user_id", u), "purpose": "email", "status": st})
	}
}

// loyalPro: plan pro and at least two orders inside 30 days.
const loyalPro = `{"and":[{"trait":{"name":"plan","op":"EQ","value":"pro"}},
	{"event":{"name":"Order Completed","count":{"op":"GTE","value":2},"within":"P30D"}}]}`

func TestPreviewAudienceCountsAndSamples(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		previewData(e)
		email := "email"

		// Hand-worked: pro with 2+ orders in 30 days are u1, u2, u5, u6
		// (u3 has one inside the window, u4 is free).
		loyal := sortedIDs(e, "u1", "u2", "u5", "u6")
		got := preview(e, jsonOf(t, loyalPro), nil, 10)
		if got.Count != 4 || !reflect.DeepEqual(got.ids(), loyal) {
			t.Errorf("preview %d %v, want 4 %v", got.Count, got.ids(), loyal)
		}
		got = preview(e, jsonOf(t, loyalPro), nil, 2)
		if got.Count != 4 || !reflect.DeepEqual(got.ids(), loyal[:2]) {
			t.Errorf("preview sample(first: 2) %d %v, want 4 %v", got.Count, got.ids(), loyal[:2])
		}
		// With the purpose email, only GRANTED: u1 and u6 (u2 has no
		// record, u5 denied).
		granted := sortedIDs(e, "u1", "u6")
		got = preview(e, jsonOf(t, loyalPro), &email, 10)
		if got.Count != 2 || !reflect.DeepEqual(got.ids(), granted) {
			t.Errorf("preview with purpose %d %v, want 2 %v", got.Count, got.ids(), granted)
		}
		// The consent condition in the filter says the same.
		withConsent := jsonOf(t, `{"and":[`+loyalPro+`,{"consent":{"purpose":"email","status":"GRANTED"}}]}`)
		if got = preview(e, withConsent, nil, 10); got.Count != 2 || !reflect.DeepEqual(got.ids(), granted) {
			t.Errorf("preview with a consent condition %d %v, want 2 %v", got.Count, got.ids(), granted)
		}
		// A filter nobody matches: 0, with an empty sample.
		if got = preview(e, jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"enterprise"}}`), nil, 10); got.Count != 0 || len(got.Sample) != 0 || got.Sample == nil {
			t.Errorf("preview of nobody %+v", got)
		}
		// sample(first: 0) and the count alone.
		if got = preview(e, jsonOf(t, loyalPro), nil, 0); got.Count != 4 || len(got.Sample) != 0 {
			t.Errorf("sample(first: 0) %+v", got)
		}

		// A computed trait with a window, as a condition, whatever the
		// plan: everybody but u3 (one order inside 30 days).
		defineCT(e, map[string]any{"name": "orders_30d", "aggregate": "COUNT", "event": "Order Completed", "window": "P30D"})
		if got = preview(e, jsonOf(t, `{"computed":{"name":"orders_30d","op":"GTE","value":2}}`), nil, 10); got.Count != 5 ||
			!reflect.DeepEqual(got.ids(), sortedIDs(e, "u1", "u2", "u4", "u5", "u6")) {
			t.Errorf("preview on a computed trait %d %v", got.Count, got.ids())
		}
	})
}

func TestPreviewAudienceWritesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		previewData(e)
		// An audience with the same filter: its kept membership is empty
		// (no keeper runs here) and must stay so.
		a := createAudience(e, map[string]any{"name": "Loyal", "filter": jsonOf(t, loyalPro)})
		email := "email"
		if got := preview(e, jsonOf(t, loyalPro), &email, 10); got.Count != 2 {
			t.Fatalf("preview count %d, want 2", got.Count)
		}
		if got := preview(e, jsonOf(t, loyalPro), nil, 10); got.Count != 4 {
			t.Fatalf("preview count %d, want 4", got.Count)
		}
		st := s.(audience.Store)
		ctx := context.Background()
		all, err := st.AudiencePage(ctx, audience.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].ID != a.ID || all[0].Size != 0 || !all[0].RefreshedAt.IsZero() {
			t.Errorf("audiences after previews %+v, want only %s, empty and never refreshed", all, a.ID)
		}
		pids := sortedIDs(e, "u1", "u2", "u3", "u4", "u5", "u6")
		ms, err := st.MembershipsOf(ctx, pids)
		if err != nil {
			t.Fatal(err)
		}
		for pid, list := range ms {
			if len(list) > 0 {
				t.Errorf("profile %s is a member of %+v after previews", pid, list)
			}
		}
		cs, err := st.Changes(ctx, a.ID, audience.ChangePage{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 0 {
			t.Errorf("changes after previews %+v", cs)
		}
	})
}

func TestPreviewAudienceErrorsNameThePath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)
		refuse := func(filter any, purpose any, parts ...string) {
			t.Helper()
			e.refused(previewOp, map[string]any{"f": filter, "p": purpose, "n": 1}, CodeInvalidArgument, parts...)
		}
		refuse(jsonOf(t, `{"and":[{"trait":{"name":"plan","op":"EXISTS"}},{"event":{"name":"Order Completed","count":{"op":"GTE","value":-1}}}]}`), nil,
			"filter.and[1].event.count.value:")
		refuse(jsonOf(t, `{"and":[{"trait":{"name":"plan","op":"EXISTS"}},{"event":{"name":"Order Completed","count":{"op":"IN","value":1}}}]}`), nil,
			"filter.and[1].event.count.op:")
		refuse(pro, "telepathy", `"purpose"`, "advertising")
		refuse(pro, "", `"purpose"`, "must not be empty")
		refuse(jsonOf(t, `{"computed":{"name":"ltv","op":"GT","value":1}}`), nil, "filter.computed.name:")
		refuse(jsonOf(t, `{"trait":{"name":"plan","op":"IN","value":"pro"}}`), nil, "filter.trait.value:")
		refuse(jsonOf(t, `{"trait":{"name":"plan","op":"EXISTS"},"identifier":{"type":"email"}}`), nil, "filter:", "exactly one")
		refuse(jsonOf(t, `{"or":[]}`), nil, "filter.or:")
		refuse(jsonOf(t, `{"event":{"within":"P1X"}}`), nil, "filter.event.within:")
		refuse(jsonOf(t, `{"inAudience":"seg_0123456789abcdef0123456789abcdef"}`), nil, "filter.inAudience:")
		// The size limits hold through GraphQL too: 17 levels, 101 nodes.
		exists := `{"trait":{"name":"plan","op":"EXISTS"}}`
		refuse(jsonOf(t, strings.Repeat(`{"not":`, 16)+exists+strings.Repeat(`}`, 16)), nil,
			"filter"+strings.Repeat(".not", 16)+":", "nested more than 16 levels")
		refuse(jsonOf(t, `{"and":[`+strings.Repeat(exists+`,`, 99)+exists+`]}`), nil, "filter:", "more than 100 nodes")
		// 16 levels and 100 nodes are allowed.
		for _, ok := range []string{
			strings.Repeat(`{"not":`, 15) + exists + strings.Repeat(`}`, 15),
			`{"and":[` + strings.Repeat(exists+`,`, 98) + exists + `]}`,
		} {
			if r := e.post(previewOp, map[string]any{"f": jsonOf(t, ok), "n": 1}); len(r.Errors) > 0 {
				t.Errorf("a filter at the limits was refused: %+v", r.Errors)
			}
		}
		// Never rooted at input.filter, as createAudience's are.
		r := e.post(previewOp, map[string]any{"f": jsonOf(t, `{"or":[]}`), "n": 1})
		if len(r.Errors) == 0 || strings.Contains(r.Errors[0].Message, "input.") {
			t.Errorf("preview error %+v names input", r.Errors)
		}
		e.refused(`{ previewAudience(filter: {identifier: {type: "email"}}) { count sample(first: 101) { id } } }`, nil, CodeInvalidArgument, `"first"`, "100")
		e.refused(`{ previewAudience(filter: {identifier: {type: "email"}}) { count sample(first: -1) { id } } }`, nil, CodeInvalidArgument, `"first"`)
	})
}

const filteredProfilesOp = `query($f: AudienceFilter, $first: Int, $after: String, $last: Int, $before: String) {
	profiles(filter: $f, first: $first, after: $after, last: $last, before: $before) {
		nodes { id } edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount } }`

type profilesPage struct {
	Nodes []struct{ ID string }
	Edges []struct {
		Cursor string
		Node   struct{ ID string }
	}
	PageInfo struct {
		HasNextPage     bool
		HasPreviousPage bool
		StartCursor     *string
		EndCursor       *string
	}
	TotalCount int
}

func (p profilesPage) ids() []string {
	out := []string{}
	for _, n := range p.Nodes {
		out = append(out, n.ID)
	}
	return out
}

func filteredPage(e *env, vars map[string]any) profilesPage {
	e.t.Helper()
	var out struct{ Profiles *profilesPage }
	e.query(filteredProfilesOp, vars, &out)
	if out.Profiles == nil {
		e.t.Fatalf("profiles returned null")
	}
	for i, ed := range out.Profiles.Edges {
		if ed.Node.ID != out.Profiles.Nodes[i].ID {
			e.t.Fatalf("edge %d holds %s, node %s", i, ed.Node.ID, out.Profiles.Nodes[i].ID)
		}
	}
	return *out.Profiles
}

func TestProfilesFilterPagesOverMatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		previewData(e)
		// Plan pro: u1, u2, u3, u5, u6 (u4 is free), in id order.
		pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)
		m := sortedIDs(e, "u1", "u2", "u3", "u5", "u6")
		check := func(what string, p profilesPage, ids []string, next, prev bool) {
			t.Helper()
			if !reflect.DeepEqual(p.ids(), ids) || p.PageInfo.HasNextPage != next || p.PageInfo.HasPreviousPage != prev || p.TotalCount != 5 {
				t.Errorf("%s: %v next=%v prev=%v total=%d, want %v next=%v prev=%v total=5",
					what, p.ids(), p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage, p.TotalCount, ids, next, prev)
			}
		}
		// Forward, two at a time.
		p1 := filteredPage(e, map[string]any{"f": pro, "first": 2})
		check("first 2", p1, m[:2], true, false)
		p2 := filteredPage(e, map[string]any{"f": pro, "first": 2, "after": *p1.PageInfo.EndCursor})
		check("next 2", p2, m[2:4], true, true)
		p3 := filteredPage(e, map[string]any{"f": pro, "first": 2, "after": *p2.PageInfo.EndCursor})
		check("last 1", p3, m[4:], false, true)
		// Backward, two at a time.
		b1 := filteredPage(e, map[string]any{"f": pro, "last": 2})
		check("last 2", b1, m[3:], false, true)
		b2 := filteredPage(e, map[string]any{"f": pro, "last": 2, "before": *b1.PageInfo.StartCursor})
		check("previous 2", b2, m[1:3], true, true)
		b3 := filteredPage(e, map[string]any{"f": pro, "last": 2, "before": *b2.PageInfo.StartCursor})
		check("first 1", b3, m[:1], true, false)
		// A cursor of a profile the filter does not hold for works as a
		// position: after u4 comes the next pro profile in id order.
		u4 := e.profileID("user_id", "u4")
		after, before := []string{}, []string{}
		for _, id := range m {
			if id > u4 {
				after = append(after, id)
			} else {
				before = append(before, id)
			}
		}
		pa := filteredPage(e, map[string]any{"f": pro, "first": 10, "after": profileCursor(u4)})
		if !reflect.DeepEqual(pa.ids(), after) {
			t.Errorf("after u4's cursor: %v, want %v", pa.ids(), after)
		}
		pb := filteredPage(e, map[string]any{"f": pro, "last": 10, "before": profileCursor(u4)})
		if !reflect.DeepEqual(pb.ids(), before) {
			t.Errorf("before u4's cursor: %v, want %v", pb.ids(), before)
		}
		// first: 0 tells whether anything matches.
		p0 := filteredPage(e, map[string]any{"f": pro, "first": 0})
		check("first 0", p0, []string{}, true, false)
		none := filteredPage(e, map[string]any{"f": jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"enterprise"}}`), "first": 0})
		if none.PageInfo.HasNextPage || none.TotalCount != 0 || len(none.Nodes) != 0 {
			t.Errorf("first 0 of nobody %+v", none)
		}
		// Without a filter: every live profile, as before.
		all := filteredPage(e, map[string]any{"first": 10})
		if want := sortedIDs(e, "u1", "u2", "u3", "u4", "u5", "u6"); !reflect.DeepEqual(all.ids(), want) || all.TotalCount != 6 {
			t.Errorf("unfiltered %v total %d, want %v total 6", all.ids(), all.TotalCount, want)
		}
		// Events, windows and consent, as in preview: u1 and u6.
		withConsent := jsonOf(t, `{"and":[`+loyalPro+`,{"consent":{"purpose":"email","status":"GRANTED"}}]}`)
		var c struct {
			Profiles struct {
				Nodes      []struct{ ID string }
				TotalCount int
			}
		}
		e.query(`query($f: AudienceFilter) { profiles(filter: $f) { nodes { id } totalCount } }`, map[string]any{"f": withConsent}, &c)
		got := []string{}
		for _, n := range c.Profiles.Nodes {
			got = append(got, n.ID)
		}
		if want := sortedIDs(e, "u1", "u6"); !reflect.DeepEqual(got, want) || c.Profiles.TotalCount != 2 {
			t.Errorf("profiles(filter: loyal and granted) %v total %d, want %v total 2", got, c.Profiles.TotalCount, want)
		}
	})
}

// TestProfilesFilterScansPastManyProfiles pages over three matches among
// 150 profiles, so each page reads several chunks of profiles.
func TestProfilesFilterScansPastManyProfiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		var evs []graph.Event
		for i := range 150 {
			u := fmt.Sprintf("v%03d", i)
			evs = append(evs, withTraits(ev("m-"+u, t0, "identify", "user_id:"+u), map[string]any{"vip": i == 10 || i == 75 || i == 140}))
		}
		e.apply(evs...)
		vip := jsonOf(t, `{"trait":{"name":"vip","op":"EQ","value":true}}`)
		want := sortedIDs(e, "v010", "v075", "v140")
		var fwd []string
		vars := map[string]any{"f": vip, "first": 1}
		for range 4 {
			p := filteredPage(e, vars)
			fwd = append(fwd, p.ids()...)
			if p.TotalCount != 3 {
				t.Errorf("totalCount %d, want 3", p.TotalCount)
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			vars["after"] = *p.PageInfo.EndCursor
		}
		if !reflect.DeepEqual(fwd, want) {
			t.Errorf("forward one at a time %v, want %v", fwd, want)
		}
		var back []string
		vars = map[string]any{"f": vip, "last": 1}
		for range 4 {
			p := filteredPage(e, vars)
			back = append(p.ids(), back...)
			if !p.PageInfo.HasPreviousPage {
				break
			}
			vars["before"] = *p.PageInfo.StartCursor
		}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("backward one at a time %v, want %v", back, want)
		}
	})
}

func TestProfilesFilterErrorsNameThePath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		for _, c := range []struct{ filter, want string }{
			{`{"and":[{"trait":{"name":"plan","op":"EXISTS"}},{"event":{"name":"Order Completed","count":{"op":"GTE","value":-1}}}]}`, "filter.and[1].event.count.value:"},
			{`{"computed":{"name":"ltv","op":"GT","value":1}}`, "filter.computed.name:"},
			{`{"or":[]}`, "filter.or:"},
			{`{"not":{"consent":{"purpose":"telepathy","status":"GRANTED"}}}`, "filter.not.consent.purpose:"},
		} {
			e.refused(filteredProfilesOp, map[string]any{"f": jsonOf(t, c.filter), "first": 1}, CodeInvalidArgument, c.want)
		}
		e.refused(filteredProfilesOp, map[string]any{"f": jsonOf(t, `{"identifier":{"type":"email"}}`), "first": 1, "last": 1}, CodeInvalidArgument, `"last"`)
		e.refused(filteredProfilesOp, map[string]any{"f": jsonOf(t, `{"identifier":{"type":"email"}}`), "after": "nonsense"}, CodeInvalidArgument, `"after"`)
	})
}

func TestPreviewAndProfilesFilterScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(withTraits(ev("m1", t0, "identify", "user_id:u1"), map[string]any{"plan": "pro"}))
		audiences, _ := e.key("audiences", "", access.ScopeAudiencesRead)
		profiles, _ := e.key("profiles", "", access.ScopeProfilesRead)
		var one struct {
			P struct{ ID string } `json:"profileByIdentifier"`
		}
		e.ok(profiles, `{ profileByIdentifier(type: "user_id", value: "u1") { id } }`, nil, &one)
		pid := one.P.ID
		both, _ := e.key("both", "", access.ScopeAudiencesRead, access.ScopeProfilesRead)
		const count = `{ previewAudience(filter: {trait: {name: "plan", op: EQ, value: "pro"}}) { count } }`
		const sample = `{ previewAudience(filter: {trait: {name: "plan", op: EQ, value: "pro"}}) { count sample { id } } }`
		const search = `{ profiles(filter: {trait: {name: "plan", op: EQ, value: "pro"}}) { nodes { id } totalCount } }`
		forbidden := func(r keyResponse, scope access.Scope, what string) {
			t.Helper()
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != CodeForbidden || r.Errors[0].Extensions["scope"] != string(scope) {
				t.Errorf("%s: errors %+v, want FORBIDDEN naming %s", what, r.Errors, scope)
			}
		}
		forbidden(e.as(profiles, count, nil), access.ScopeAudiencesRead, "previewAudience with profiles:read only")
		forbidden(e.as(audiences, sample, nil), access.ScopeProfilesRead, "preview sample with audiences:read only")
		forbidden(e.as(audiences, search, nil), access.ScopeProfilesRead, "profiles(filter) with audiences:read only")
		var c struct{ PreviewAudience struct{ Count int } }
		e.ok(audiences, count, nil, &c)
		if c.PreviewAudience.Count != 1 {
			t.Errorf("count %d, want 1", c.PreviewAudience.Count)
		}
		var sm struct {
			PreviewAudience struct {
				Count  int
				Sample []struct{ ID string }
			}
		}
		e.ok(both, sample, nil, &sm)
		if sm.PreviewAudience.Count != 1 || len(sm.PreviewAudience.Sample) != 1 || sm.PreviewAudience.Sample[0].ID != pid {
			t.Errorf("preview %+v, want 1 [%s]", sm.PreviewAudience, pid)
		}
		var ps struct {
			Profiles struct {
				Nodes      []struct{ ID string }
				TotalCount int
			}
		}
		e.ok(profiles, search, nil, &ps)
		if len(ps.Profiles.Nodes) != 1 || ps.Profiles.Nodes[0].ID != pid || ps.Profiles.TotalCount != 1 {
			t.Errorf("profiles(filter) %+v, want [%s] total 1", ps.Profiles, pid)
		}
	})
}

// TestPreviewAndProfilesFilterPricing: a scan costs scanCost (500) over the
// price of what it returns.
func TestPreviewAndProfilesFilterPricing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.MaxComplexity = 600
		e := newEnv(t, s, cfg, nil)
		e.apply(withTraits(ev("m1", t0, "identify", "user_id:u1"), map[string]any{"plan": "pro"}))
		const f = `{trait: {name: "plan", op: EQ, value: "pro"}}`
		// 500 + count 1 + sample (1 + 98 x id 1) = 600.
		e.query(`{ previewAudience(filter: `+f+`) { count sample(first: 98) { id } } }`, nil, nil)
		// 500 + 1 + (1 + 100 x 1) = 602.
		e.refused(`{ previewAudience(filter: `+f+`) { count sample(first: 100) { id } } }`, nil, CodeComplexityLimit, "complexity 602")
		// The default sample of 10: 500 + 1 + 11 = 512.
		e.query(`{ previewAudience(filter: `+f+`) { count sample { id } } }`, nil, nil)
		// profiles: 1 + 10 x (nodes 1 + id 1) = 21, and 500 with a filter.
		e.query(`{ profiles(filter: `+f+`, first: 10) { nodes { id } } }`, nil, nil)
		e.refused(`{ a: profiles(filter: `+f+`, first: 10) { nodes { id } } b: profiles(filter: `+f+`, first: 10) { nodes { id } } }`, nil, CodeComplexityLimit, "complexity 1042")
		e.query(`{ a: profiles(first: 10) { nodes { id } } b: profiles(first: 10) { nodes { id } } }`, nil, nil)
	})
}

// TestLookalikePricing: a lookalike costs two scans and a fit (500 + 500 +
// 5,000) plus size times its selection; createLookalikeAudience the same
// plus its audience. At the default limit of 20,000, three per operation
// pass and a fourth is refused.
func TestLookalikePricing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		const seg = `"seg_0123456789abcdef0123456789abcdef"`
		aliases := func(n int, field string) string {
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, " a%d: %s", i, field)
			}
			return b.String()
		}
		notForComplexity := func(op string) {
			t.Helper()
			if r := e.post(op, nil); r.code() == CodeComplexityLimit {
				t.Errorf("refused for complexity: %+v", r.Errors)
			}
		}
		// 6,000 + 1 x score 1 = 6,001 each.
		one := `lookalike(audienceId: ` + seg + `, size: 1) { score }`
		e.refused(`{`+aliases(4, one)+` }`, nil, CodeComplexityLimit, "complexity 24004", "limit of 20000")
		notForComplexity(`{` + aliases(3, one) + ` }`)
		// 6,000 + size x (score 1 + profile (1 + id 1)): 18,000 at 4,000, 21,000 at 5,000.
		notForComplexity(`{ lookalike(audienceId: ` + seg + `, size: 4000) { score profile { id } } }`)
		e.refused(`{ lookalike(audienceId: `+seg+`, size: 5000) { score profile { id } } }`, nil, CodeComplexityLimit, "complexity 21000")
		// 6,000 + id 1 = 6,001 each.
		create := `createLookalikeAudience(audienceId: ` + seg + `, size: 10, name: "x") { id }`
		e.refused(`mutation {`+aliases(4, create)+` }`, nil, CodeComplexityLimit, "complexity 24004")
		notForComplexity(`mutation {` + aliases(3, create) + ` }`)
	})
}
