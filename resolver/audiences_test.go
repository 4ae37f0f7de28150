package resolver

import (
	"context"
	"encoding/json"
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

const defineCTOp = `mutation($in: ComputedTraitInput!) { defineComputedTrait(input: $in) { name description aggregate event eventType property where window createdAt updatedAt } }`

// order is an Order Completed track event of user_id:user with a total.
func order(id, user string, at time.Time, total any) graph.Event {
	e := ev(id, at, "track", "user_id:"+user)
	e.Name = "Order Completed"
	e.Properties = map[string]any{"total": total}
	return e
}

func defineCT(e *env, in map[string]any) {
	e.t.Helper()
	e.query(defineCTOp, map[string]any{"in": in}, nil)
}

// computedOf reads Profile.computed of the profile of user_id:user.
func computedOf(e *env, user string) map[string]any {
	e.t.Helper()
	var out struct {
		P *struct{ Computed map[string]any } `json:"profileByIdentifier"`
	}
	e.query(`query($v:String!){profileByIdentifier(type:"user_id",value:$v){computed}}`, map[string]any{"v": user}, &out)
	if out.P == nil {
		e.t.Fatalf("no profile holds user_id:%s", user)
	}
	return out.P.Computed
}

func auditOutcomes(t *testing.T, s graph.Store, action string) []string {
	t.Helper()
	es, err := accessStore(s).Audit(context.Background(), access.AuditQuery{Action: action, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Outcome)
	}
	sort.Strings(out)
	return out
}

func TestComputedTraitsDefineListReadDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		now := time.Now().UTC()
		// u1: orders of 10.5 and 20 in the last days, one of 30 forty days
		// ago, and a page view with a total that no trait reads. u2: one
		// order of 5.
		pv := ev("pv1", now.Add(-24*time.Hour), "page", "user_id:u1")
		pv.Name = "Pricing"
		pv.Properties = map[string]any{"total": 999}
		e.apply(
			order("o1", "u1", now.Add(-2*24*time.Hour), 10.5),
			order("o2", "u1", now.Add(-1*24*time.Hour), 20),
			order("o3", "u1", now.Add(-40*24*time.Hour), 30),
			pv,
			order("o4", "u2", now.Add(-3*24*time.Hour), 5),
		)
		defineCT(e, map[string]any{"name": "orders", "aggregate": "COUNT", "event": "Order Completed", "description": "all orders"})
		defineCT(e, map[string]any{"name": "revenue", "aggregate": "SUM", "event": "Order Completed", "property": "total"})
		defineCT(e, map[string]any{"name": "orders_30d", "aggregate": "COUNT", "event": "Order Completed", "window": "P30D"})
		defineCT(e, map[string]any{"name": "big_orders", "aggregate": "COUNT", "eventType": "track",
			"where": []any{map[string]any{"path": "total", "op": "GTE", "value": 20}}})

		var list struct {
			ComputedTraits []struct {
				Name        string
				Description *string
				Aggregate   string
				Event       *string
				EventType   *string
				Property    *string
				Where       []map[string]any
				Window      *string
			}
		}
		e.query(`{ computedTraits { name description aggregate event eventType property where window } }`, nil, &list)
		var names []string
		for _, c := range list.ComputedTraits {
			names = append(names, c.Name)
		}
		if want := []string{"big_orders", "orders", "orders_30d", "revenue"}; !reflect.DeepEqual(names, want) {
			t.Fatalf("computedTraits %v, want %v", names, want)
		}
		big, orders, o30, rev := list.ComputedTraits[0], list.ComputedTraits[1], list.ComputedTraits[2], list.ComputedTraits[3]
		if big.Aggregate != "COUNT" || big.Event != nil || big.EventType == nil || *big.EventType != "track" ||
			!reflect.DeepEqual(big.Where, []map[string]any{{"path": "total", "op": "GTE", "value": 20.0}}) {
			t.Errorf("big_orders %+v", big)
		}
		if orders.Description == nil || *orders.Description != "all orders" || orders.Property != nil || len(orders.Where) != 0 || orders.Window != nil {
			t.Errorf("orders %+v", orders)
		}
		if o30.Window == nil || *o30.Window != "P30D" {
			t.Errorf("orders_30d %+v", o30)
		}
		if rev.Aggregate != "SUM" || rev.Property == nil || *rev.Property != "total" {
			t.Errorf("revenue %+v", rev)
		}

		// Hand-worked: u1 has 3 orders summing 60.5, 2 inside 30 days, 2
		// of at least 20 among its track events; u2 one order of 5.
		want1 := map[string]any{"orders": 3.0, "revenue": 60.5, "orders_30d": 2.0, "big_orders": 2.0}
		if got := computedOf(e, "u1"); !reflect.DeepEqual(got, want1) {
			t.Errorf("u1 computed %v, want %v", got, want1)
		}
		want2 := map[string]any{"orders": 1.0, "revenue": 5.0, "orders_30d": 1.0, "big_orders": 0.0}
		if got := computedOf(e, "u2"); !reflect.DeepEqual(got, want2) {
			t.Errorf("u2 computed %v, want %v", got, want2)
		}
		// COUNT is an integer in the JSON text.
		r := e.post(`{ profileByIdentifier(type:"user_id", value:"u1") { computedTrait(name: "orders") } }`, nil)
		if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"computedTrait":3}`) {
			t.Errorf("computedTrait(orders): %s %+v", r.Data, r.Errors)
		}
		var one struct {
			P struct{ ComputedTrait any } `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type:"user_id", value:"u1") { computedTrait(name: "revenue") } }`, nil, &one)
		if one.P.ComputedTrait != 60.5 {
			t.Errorf("computedTrait(revenue) = %v, want 60.5", one.P.ComputedTrait)
		}
		e.refused(`{ profileByIdentifier(type:"user_id", value:"u1") { computedTrait(name: "nope") } }`, nil, CodeInvalidArgument, `"name"`)

		// A new order counts at once.
		e.apply(order("o5", "u2", now.Add(-time.Hour), 7))
		if got := computedOf(e, "u2"); got["orders"] != 2.0 || got["revenue"] != 12.0 || got["orders_30d"] != 2.0 {
			t.Errorf("u2 after a new order: %v", got)
		}

		// Delete: true once, then false; the trait is gone from computed.
		var del struct{ DeleteComputedTrait *bool }
		e.query(`mutation { deleteComputedTrait(name: "orders") }`, nil, &del)
		if del.DeleteComputedTrait == nil || !*del.DeleteComputedTrait {
			t.Errorf("deleteComputedTrait = %v, want true", del.DeleteComputedTrait)
		}
		e.query(`mutation { deleteComputedTrait(name: "orders") }`, nil, &del)
		if del.DeleteComputedTrait == nil || *del.DeleteComputedTrait {
			t.Errorf("second deleteComputedTrait = %v, want false", del.DeleteComputedTrait)
		}
		if got := computedOf(e, "u1"); len(got) != 3 || got["orders"] != nil {
			t.Errorf("u1 computed after delete %v", got)
		}
		if got := auditOutcomes(t, s, "defineComputedTrait"); !reflect.DeepEqual(got, []string{"ok", "ok", "ok", "ok"}) {
			t.Errorf("defineComputedTrait audit outcomes %v", got)
		}
		if got := auditOutcomes(t, s, "deleteComputedTrait"); !reflect.DeepEqual(got, []string{"ok", "ok"}) {
			t.Errorf("deleteComputedTrait audit outcomes %v", got)
		}
	})
}

func TestComputedTraitValidationNamesTheField(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		for _, c := range []struct {
			in   map[string]any
			want string
		}{
			{map[string]any{"name": "Orders", "aggregate": "COUNT", "event": "x"}, "input.name"},
			{map[string]any{"name": "orders", "aggregate": "COUNT"}, "input.event"},
			{map[string]any{"name": "orders", "aggregate": "COUNT", "event": "x", "property": "total"}, "input.property"},
			{map[string]any{"name": "revenue", "aggregate": "SUM", "event": "x"}, "input.property"},
			{map[string]any{"name": "orders", "aggregate": "COUNT", "event": "x", "window": "30 days"}, "input.window"},
			{map[string]any{"name": "orders", "aggregate": "COUNT", "event": "x", "where": []any{map[string]any{"path": "total", "op": "GT"}}}, "input.where[0].value"},
			{map[string]any{"name": "orders", "aggregate": "COUNT", "event": "x", "where": []any{map[string]any{"path": "a..b", "op": "EXISTS"}}}, "input.where[0].path"},
		} {
			e.refused(defineCTOp, map[string]any{"in": c.in}, CodeInvalidArgument, c.want+":")
		}
		var list struct{ ComputedTraits []struct{ Name string } }
		e.query(`{ computedTraits { name } }`, nil, &list)
		if len(list.ComputedTraits) != 0 {
			t.Errorf("refused definitions were stored: %+v", list.ComputedTraits)
		}
		if got := auditOutcomes(t, s, "defineComputedTrait"); len(got) != 7 || got[0] != CodeInvalidArgument {
			t.Errorf("audit outcomes %v, want 7 INVALID_ARGUMENT", got)
		}
	})
}

const (
	createAudienceOp = `mutation($in: AudienceInput!) { createAudience(input: $in) { id name description filter purpose size createdAt updatedAt refreshedAt } }`
	updateAudienceOp = `mutation($id: ID!, $in: AudienceInput!) { updateAudience(id: $id, input: $in) { id name description filter purpose size createdAt updatedAt refreshedAt } }`
)

type audienceOut struct {
	ID          string
	Name        string
	Description *string
	Filter      any
	Purpose     *string
	Size        int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	RefreshedAt *time.Time
}

func createAudience(e *env, in map[string]any) audienceOut {
	e.t.Helper()
	var out struct{ CreateAudience *audienceOut }
	e.query(createAudienceOp, map[string]any{"in": in}, &out)
	if out.CreateAudience == nil {
		e.t.Fatalf("createAudience returned null")
	}
	return *out.CreateAudience
}

// jsonOf decodes a JSON text as the tests compare filters.
func jsonOf(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAudiencesCreateReadUpdateDeletePage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(order("o1", "u1", time.Now().UTC().Add(-time.Hour), 12))
		pid := e.profileID("user_id", "u1")
		defineCT(e, map[string]any{"name": "orders", "aggregate": "COUNT", "event": "Order Completed"})

		filterText := `{"and":[
			{"trait":{"name":"plan","op":"EQ","value":"pro"}},
			{"event":{"name":"Order Completed","where":[{"path":"total","op":"GT","value":10.5}],"count":{"op":"GTE","value":2},"within":"P30D"}},
			{"computed":{"name":"orders","op":"IN","value":[1,2,3]}},
			{"not":{"identifier":{"type":"email","exists":false}}},
			{"consent":{"purpose":"email","status":"GRANTED"}}]}`
		filter := jsonOf(t, filterText)
		a := createAudience(e, map[string]any{"name": "Loyal", "description": "two orders", "filter": filter, "purpose": "email"})
		if !audience.ValidAudienceID(a.ID) || a.Name != "Loyal" || a.Description == nil || *a.Description != "two orders" ||
			a.Purpose == nil || *a.Purpose != "email" || a.Size != 0 || a.RefreshedAt != nil || a.CreatedAt.IsZero() || !a.UpdatedAt.Equal(a.CreatedAt) {
			t.Errorf("created %+v", a)
		}
		if !reflect.DeepEqual(a.Filter, filter) {
			t.Errorf("filter\n got %v\nwant %v", a.Filter, filter)
		}

		// Read back, with its (empty) kept membership.
		var got struct {
			Audience *struct {
				audienceOut
				Members struct {
					Nodes      []struct{ ID string }
					TotalCount int
				}
				Changes struct{ Nodes []struct{ Kind string } }
			}
		}
		readOp := `query($id: ID!) { audience(id: $id) { id name description filter purpose size createdAt updatedAt refreshedAt members { nodes { id } totalCount } changes { nodes { kind } } } }`
		e.query(readOp, map[string]any{"id": a.ID}, &got)
		if got.Audience == nil || got.Audience.ID != a.ID || !reflect.DeepEqual(got.Audience.Filter, filter) ||
			len(got.Audience.Members.Nodes) != 0 || got.Audience.Members.TotalCount != 0 || len(got.Audience.Changes.Nodes) != 0 {
			t.Fatalf("audience read back %+v", got.Audience)
		}

		// Kept membership, as the keeper writes it, shows in members,
		// changes and Profile.audiences (members: of a profile that
		// grants the audience's purpose, as u1 now does).
		setConsent(e, map[string]any{"identifier": ident("user_id", "u1"), "purpose": "email", "status": "GRANTED"})
		at := graph.Clean(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		if err := s.(audience.Store).ApplyMembership(context.Background(), a.ID, []string{pid}, nil, at); err != nil {
			t.Fatal(err)
		}
		var kept struct {
			Audience struct {
				Size        int
				RefreshedAt *time.Time
				Members     struct {
					Nodes      []struct{ ID string }
					TotalCount int
				}
				Changes struct {
					Nodes []struct {
						Kind      string
						ProfileID string
						Profile   *struct{ ID string }
						At        time.Time
					}
				}
			}
			P struct {
				Audiences []struct {
					Audience struct{ ID, Name string }
					Since    time.Time
				}
			} `json:"profileByIdentifier"`
		}
		e.query(`query($id: ID!) { audience(id: $id) { size refreshedAt members { nodes { id } totalCount } changes { nodes { kind profileId profile { id } at } } }
			profileByIdentifier(type: "user_id", value: "u1") { audiences { audience { id name } since } } }`, map[string]any{"id": a.ID}, &kept)
		ka := kept.Audience
		if ka.Size != 1 || ka.RefreshedAt == nil || !ka.RefreshedAt.Equal(at) || ka.Members.TotalCount != 1 ||
			len(ka.Members.Nodes) != 1 || ka.Members.Nodes[0].ID != pid {
			t.Errorf("kept audience %+v", ka)
		}
		if len(ka.Changes.Nodes) != 1 || ka.Changes.Nodes[0].Kind != "ENTERED" || ka.Changes.Nodes[0].ProfileID != pid ||
			ka.Changes.Nodes[0].Profile == nil || ka.Changes.Nodes[0].Profile.ID != pid || !ka.Changes.Nodes[0].At.Equal(at) {
			t.Errorf("changes %+v", ka.Changes.Nodes)
		}
		if ms := kept.P.Audiences; len(ms) != 1 || ms[0].Audience.ID != a.ID || ms[0].Audience.Name != "Loyal" || !ms[0].Since.Equal(at) {
			t.Errorf("Profile.audiences %+v", ms)
		}

		// Update: new definition, same id and createdAt.
		newFilter := jsonOf(t, `{"or":[{"trait":{"name":"plan","op":"STARTS_WITH","value":"pro"}},{"identifier":{"type":"email"}}]}`)
		var up struct{ UpdateAudience *audienceOut }
		e.query(updateAudienceOp, map[string]any{"id": a.ID, "in": map[string]any{"name": "Loyal 2", "filter": newFilter}}, &up)
		u := up.UpdateAudience
		if u == nil || u.ID != a.ID || u.Name != "Loyal 2" || u.Description != nil || u.Purpose != nil ||
			!reflect.DeepEqual(u.Filter, newFilter) || !u.CreatedAt.Equal(a.CreatedAt) || u.UpdatedAt.Before(a.UpdatedAt) {
			t.Errorf("updated %+v", u)
		}
		e.refused(updateAudienceOp, map[string]any{"id": "seg_0123456789abcdef0123456789abcdef", "in": map[string]any{"name": "x", "filter": newFilter}}, CodeNotFound, `"id"`)

		// Paging: three audiences, two then one, in id order.
		b := createAudience(e, map[string]any{"name": "B", "filter": newFilter})
		c := createAudience(e, map[string]any{"name": "C", "filter": newFilter})
		want := []string{a.ID, b.ID, c.ID}
		sort.Strings(want)
		type page struct {
			Audiences struct {
				Nodes    []struct{ ID string }
				PageInfo struct {
					HasNextPage     bool
					HasPreviousPage bool
					EndCursor       *string
				}
			}
		}
		var p1, p2 page
		e.query(`{ audiences(first: 2) { nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }`, nil, &p1)
		if len(p1.Audiences.Nodes) != 2 || !p1.Audiences.PageInfo.HasNextPage || p1.Audiences.PageInfo.HasPreviousPage ||
			p1.Audiences.Nodes[0].ID != want[0] || p1.Audiences.Nodes[1].ID != want[1] {
			t.Fatalf("first page %+v, want %v", p1, want[:2])
		}
		e.query(`query($after: String) { audiences(first: 2, after: $after) { nodes { id } pageInfo { hasNextPage hasPreviousPage endCursor } } }`,
			map[string]any{"after": *p1.Audiences.PageInfo.EndCursor}, &p2)
		if len(p2.Audiences.Nodes) != 1 || p2.Audiences.PageInfo.HasNextPage || p2.Audiences.Nodes[0].ID != want[2] {
			t.Errorf("second page %+v, want %v", p2, want[2:])
		}
		e.refused(`{ audiences(first: 501) { nodes { id } } }`, nil, CodeInvalidArgument, `"first"`)
		e.refused(`{ audiences(after: "nonsense") { nodes { id } } }`, nil, CodeInvalidArgument, `"after"`)

		// Delete: true, then gone, then false.
		var del struct{ DeleteAudience *bool }
		e.query(`mutation($id: ID!) { deleteAudience(id: $id) }`, map[string]any{"id": a.ID}, &del)
		if del.DeleteAudience == nil || !*del.DeleteAudience {
			t.Errorf("deleteAudience = %v, want true", del.DeleteAudience)
		}
		var gone struct{ Audience *struct{ ID string } }
		e.query(`query($id: ID!) { audience(id: $id) { id } }`, map[string]any{"id": a.ID}, &gone)
		if gone.Audience != nil {
			t.Errorf("deleted audience still read: %+v", gone.Audience)
		}
		e.query(`mutation($id: ID!) { deleteAudience(id: $id) }`, map[string]any{"id": a.ID}, &del)
		if del.DeleteAudience == nil || *del.DeleteAudience {
			t.Errorf("second deleteAudience = %v, want false", del.DeleteAudience)
		}
		// Numbers written in the document keep their values.
		var lit struct{ CreateAudience struct{ Filter any } }
		e.query(`mutation { createAudience(input: {name: "D", filter: {computed: {name: "orders", op: IN, value: [1, 2.5, -3]}}}) { filter } }`, nil, &lit)
		if want := jsonOf(t, `{"computed":{"name":"orders","op":"IN","value":[1,2.5,-3]}}`); !reflect.DeepEqual(lit.CreateAudience.Filter, want) {
			t.Errorf("filter of literals %v, want %v", lit.CreateAudience.Filter, want)
		}
		for action, n := range map[string]int{"createAudience": 4, "updateAudience": 2, "deleteAudience": 2} {
			got := auditOutcomes(t, s, action)
			oks := 0
			for _, o := range got {
				if o == access.OutcomeOK {
					oks++
				}
			}
			if len(got) != n || (action == "updateAudience" && oks != 1) || (action != "updateAudience" && oks != n) {
				t.Errorf("%s audit outcomes %v", action, got)
			}
		}
	})
}

func TestAudienceFilterErrorsNameThePath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)
		refuse := func(in map[string]any, code string, parts ...string) {
			t.Helper()
			e.refused(createAudienceOp, map[string]any{"in": in}, code, parts...)
		}
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"and":[{"trait":{"name":"plan","op":"EXISTS"}},{"event":{"name":"Order Completed","count":{"op":"GTE","value":-1}}}]}`)},
			CodeInvalidArgument, "input.filter.and[1].event.count.value:")
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"and":[{"trait":{"name":"plan","op":"EXISTS"}},{"event":{"name":"Order Completed","count":{"op":"IN","value":1}}}]}`)},
			CodeInvalidArgument, "input.filter.and[1].event.count.op:")
		refuse(map[string]any{"name": "x", "filter": pro, "purpose": "telepathy"}, CodeInvalidArgument, `"input.purpose"`, "advertising")
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"computed":{"name":"ltv","op":"GT","value":1}}`)}, CodeInvalidArgument, "input.filter.computed.name:")
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"trait":{"name":"plan","op":"IN","value":"pro"}}`)}, CodeInvalidArgument, "input.filter.trait.value:")
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"trait":{"name":"plan","op":"EXISTS"},"identifier":{"type":"email"}}`)}, CodeInvalidArgument, "input.filter:", "exactly one")
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"or":[]}`)}, CodeInvalidArgument, "input.filter.or:")
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"event":{"within":"P1X"}}`)}, CodeInvalidArgument, "input.filter.event.within:")
		refuse(map[string]any{"name": "x", "filter": jsonOf(t, `{"inAudience":"seg_0123456789abcdef0123456789abcdef"}`)}, CodeInvalidArgument, "input.filter.inAudience:")
		refuse(map[string]any{"name": "", "filter": pro}, CodeInvalidArgument, `"input.name"`)

		// inAudience cycles: A <- B (B names A); A naming B, or itself, is refused.
		a := createAudience(e, map[string]any{"name": "A", "filter": pro})
		b := createAudience(e, map[string]any{"name": "B", "filter": map[string]any{"and": []any{pro, map[string]any{"inAudience": a.ID}}}})
		r := e.refused(updateAudienceOp, map[string]any{"id": a.ID, "in": map[string]any{"name": "A", "filter": map[string]any{"or": []any{pro, map[string]any{"inAudience": b.ID}}}}},
			CodeInvalidArgument, "input.filter.or[1].inAudience:", b.ID+" -> "+a.ID)
		_ = r
		e.refused(updateAudienceOp, map[string]any{"id": a.ID, "in": map[string]any{"name": "A", "filter": map[string]any{"inAudience": a.ID}}},
			CodeInvalidArgument, "input.filter.inAudience:", a.ID)
		// A named by B cannot be deleted; B can, then A can.
		e.refused(`mutation($id: ID!) { deleteAudience(id: $id) }`, map[string]any{"id": a.ID}, CodeConflict, b.ID)

		// A computed trait a filter uses cannot be deleted.
		defineCT(e, map[string]any{"name": "orders", "aggregate": "COUNT", "event": "Order Completed"})
		createAudience(e, map[string]any{"name": "C", "filter": jsonOf(t, `{"computed":{"name":"orders","op":"GTE","value":1}}`)})
		e.refused(`mutation { deleteComputedTrait(name: "orders") }`, nil, CodeConflict, `"name"`)

		var list struct {
			Audiences struct{ Nodes []struct{ Name string } }
		}
		e.query(`{ audiences { nodes { name } } }`, nil, &list)
		if len(list.Audiences.Nodes) != 3 {
			t.Errorf("audiences %+v, want A, B and C only", list.Audiences.Nodes)
		}
	})
}

func TestAudienceMembersNeedProfilesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		writer, _ := e.key("writer", "", access.ScopeAudiencesWrite, access.ScopeAudiencesRead)
		reader, _ := e.key("reader", "", access.ScopeAudiencesRead)
		var out struct{ CreateAudience struct{ ID string } }
		e.ok(writer, `mutation { createAudience(input: {name: "A", filter: {identifier: {type: "email"}}}) { id } }`, nil, &out)
		r := e.as(reader, `mutation { createAudience(input: {name: "B", filter: {identifier: {type: "email"}}}) { id } }`, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != CodeForbidden || r.Errors[0].Extensions["scope"] != "audiences:write" {
			t.Errorf("createAudience with audiences:read only: %+v", r.Errors)
		}
		r = e.as(reader, `query($id: ID!) { audience(id: $id) { id members { totalCount } } }`, map[string]any{"id": out.CreateAudience.ID})
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != CodeForbidden || r.Errors[0].Extensions["scope"] != "profiles:read" {
			t.Errorf("members without profiles:read: %+v", r.Errors)
		}
		e.ok(reader, `query($id: ID!) { audience(id: $id) { id name } }`, map[string]any{"id": out.CreateAudience.ID}, nil)

		// Profile.audiences needs audiences:read.
		e.apply(ev("m1", t0, "identify", "user_id:u1"))
		profiles, _ := e.key("profiles", "", access.ScopeProfilesRead)
		r = e.as(profiles, `{ profileByIdentifier(type: "user_id", value: "u1") { id audiences { since } } }`, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != CodeForbidden || r.Errors[0].Extensions["scope"] != "audiences:read" {
			t.Errorf("Profile.audiences without audiences:read: %+v", r.Errors)
		}
		both, _ := e.key("both", "", access.ScopeProfilesRead, access.ScopeAudiencesRead)
		var p struct {
			P struct{ Audiences []any } `json:"profileByIdentifier"`
		}
		e.ok(both, `{ profileByIdentifier(type: "user_id", value: "u1") { id audiences { since } } }`, nil, &p)
		if p.P.Audiences == nil || len(p.P.Audiences) != 0 {
			t.Errorf("Profile.audiences of a profile in none: %v, want []", p.P.Audiences)
		}
	})
}

func TestComputedValuesOfPersonalPropertiesAreMasked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		admin, _ := e.key("admin", "", access.AllScopes()...)
		plain, _ := e.key("plain", "", access.ScopeProfilesRead)
		m := ev("m1", t0, "track", "user_id:u1")
		m.Name = "Signed Up"
		m.Properties = map[string]any{"contact": map[string]any{"email": "ann@example.com"}, "plan": "pro",
			"name": map[string]any{"family": "Smith"}, "refs": map[string]any{"people": []any{map[string]any{"phone": "+14155550167"}}}}
		e.apply(m)
		for _, in := range []string{
			`{name: "signup_email", aggregate: LAST, event: "Signed Up", property: "contact.email"}`,
			// Under a personal name (name), as event properties are masked.
			`{name: "signup_family", aggregate: LAST, event: "Signed Up", property: "name.family"}`,
			// A list holding an object with a personal name.
			`{name: "signup_refs", aggregate: LAST, event: "Signed Up", property: "refs.people"}`,
			`{name: "signup_plan", aggregate: LAST, event: "Signed Up", property: "plan"}`,
			`{name: "signups", aggregate: COUNT, event: "Signed Up"}`,
		} {
			e.ok(admin, `mutation { defineComputedTrait(input: `+in+`) { name } }`, nil, nil)
		}
		const q = `{ profileByIdentifier(type: "user_id", value: "u1") { computed } }`
		var out struct {
			P struct{ Computed map[string]any } `json:"profileByIdentifier"`
		}
		e.ok(plain, q, nil, &out)
		want := map[string]any{"signup_email": "a***@example.com", "signup_plan": "pro", "signups": 1.0,
			"signup_family": "***", "signup_refs": []any{map[string]any{"phone": "+*********67"}}}
		if !reflect.DeepEqual(out.P.Computed, want) {
			t.Errorf("without pii:read: %v, want %v", out.P.Computed, want)
		}
		e.ok(admin, q, nil, &out)
		want["signup_email"], want["signup_family"] = "ann@example.com", "Smith"
		want["signup_refs"] = []any{map[string]any{"phone": "+14155550167"}}
		if !reflect.DeepEqual(out.P.Computed, want) {
			t.Errorf("with pii:read: %v, want %v", out.P.Computed, want)
		}
	})
}

// Profile.computed reads every event inside the window, page after page,
// however many pages (here with the bound lowered to 1,200 events): a
// profile with more than the bound gets an error for the field, naming
// it, rather than values computed from part of its events, and its
// siblings in the same answer keep theirs.
func TestComputedReadsEveryEvent(t *testing.T) {
	defer func(was int) { maxComputedEvents = was }(maxComputedEvents)
	maxComputedEvents = 1200
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		start := time.Now().UTC().Add(-100 * 24 * time.Hour)
		// u1: 1,150 orders (three pages and more) totalling, by the loop
		// below, sum; u2: 1,201 orders, one over the bound.
		sum := 0.0
		for _, u := range []struct {
			user string
			n    int
		}{{"u1", 1150}, {"u2", 1201}} {
			var evs []graph.Event
			for i := 0; i < u.n; i++ {
				total := float64(i % 7)
				if u.user == "u1" {
					sum += total
				}
				evs = append(evs, order(fmt.Sprintf("%s-%d", u.user, i), u.user, start.Add(time.Duration(i)*time.Minute), total))
				if len(evs) == 500 || i == u.n-1 {
					e.apply(evs...)
					evs = nil
				}
			}
		}
		defineCT(e, map[string]any{"name": "orders", "aggregate": "COUNT", "event": "Order Completed"})
		defineCT(e, map[string]any{"name": "revenue", "aggregate": "SUM", "event": "Order Completed", "property": "total"})
		if got, want := computedOf(e, "u1"), map[string]any{"orders": 1150.0, "revenue": sum}; !reflect.DeepEqual(got, want) {
			t.Errorf("u1 computed %v, want %v", got, want)
		}
		r := e.post(`{ a: profileByIdentifier(type:"user_id", value:"u1") { computedTrait(name: "orders") }
		               b: profileByIdentifier(type:"user_id", value:"u2") { computedTrait(name: "orders") } }`, nil)
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "more than 1200 events") || !strings.Contains(string(r.Data), `"a":{"computedTrait":1150}`) {
			t.Errorf("u1 beside u2: %s %+v, want u1's 1150 and one error naming the bound of 1200 for u2", r.Data, r.Errors)
		}
	})
}

// A member merged away since the keeper wrote the membership is listed no
// more: its survivor, a member too, is listed once, under its own row,
// whether the page holds both rows or they fall on pages of their own.
func TestMembersShowAMergedMemberOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "user_id:u1"), ev("m2", t0.Add(time.Minute), "track", "anonymous_id:a2"))
		a, err := e.engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u1"})
		storetest.Must(t, err)
		b, err := e.engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "anonymous_id", Value: "a2"})
		storetest.Must(t, err)
		as := s.(audience.Store)
		now := graph.Now()
		id := audience.NewAudienceID()
		storetest.Must(t, as.PutAudience(ctx, audience.Audience{ID: id, Name: "both", Filter: audience.Filter{Identifier: &audience.IdentifierCondition{Type: "user_id"}}, CreatedAt: now, UpdatedAt: now}))
		storetest.Must(t, as.ApplyMembership(ctx, id, []string{a.ID, b.ID}, nil, now))
		merged, err := e.engine.MergeProfiles(ctx, []string{a.ID, b.ID}, "same person")
		storetest.Must(t, err)
		var out struct {
			Audience struct {
				Members struct{ Nodes []struct{ ID string } }
			}
		}
		e.query(`query($id: ID!) { audience(id: $id) { members(first: 10) { nodes { id } } } }`, map[string]any{"id": id}, &out)
		nodes := out.Audience.Members.Nodes
		if len(nodes) != 1 || nodes[0].ID != merged.ID {
			t.Fatalf("members after the merge: %+v, want the survivor %s once", nodes, merged.ID)
		}
		// Paged one at a time: the merged-away row is skipped, not shown as
		// the survivor on a page of its own, and the pages lead on past it.
		var seen []string
		var after any
		for range 5 {
			var out struct {
				Audience struct {
					Members struct {
						Nodes    []struct{ ID string }
						PageInfo struct {
							HasNextPage bool
							EndCursor   *string
						}
					}
				}
			}
			e.query(`query($id: ID!, $after: String) { audience(id: $id) { members(first: 1, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } } }`,
				map[string]any{"id": id, "after": after}, &out)
			for _, n := range out.Audience.Members.Nodes {
				seen = append(seen, n.ID)
			}
			if !out.Audience.Members.PageInfo.HasNextPage || out.Audience.Members.PageInfo.EndCursor == nil {
				break
			}
			after = *out.Audience.Members.PageInfo.EndCursor
		}
		if len(seen) != 1 || seen[0] != merged.ID {
			t.Fatalf("members paged one at a time after the merge: %v, want the survivor %s once", seen, merged.ID)
		}
	})
}

// first: 0 returns no edges but says whether any exist, in every
// connection as in profiles.
func TestFirstZeroSaysWhetherAnyExist(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		type page struct {
			Audiences struct {
				Nodes    []struct{ ID string }
				PageInfo struct{ HasNextPage bool }
			}
		}
		const op = `{ audiences(first: 0) { nodes { id } pageInfo { hasNextPage } } }`
		var none, one page
		e.query(op, nil, &none)
		if none.Audiences.PageInfo.HasNextPage || len(none.Audiences.Nodes) != 0 {
			t.Fatalf("no audience, first 0: %+v", none)
		}
		e.query(`mutation { createAudience(input: {name: "a", filter: {trait: {name: "plan", op: EXISTS}}}) { id } }`, nil, &struct{}{})
		e.query(op, nil, &one)
		if !one.Audiences.PageInfo.HasNextPage || len(one.Audiences.Nodes) != 0 {
			t.Fatalf("one audience, first 0: %+v, want no node and hasNextPage", one)
		}
	})
}

// Profile.audiences holds up to audience.MaxAudiences memberships and is
// priced as that many, unless first asks for fewer: 100 memberships, each
// with a page of 90 changes, are refused (priced 1,000 x 361), while the
// first 5 of them answer, and without first every membership answers.
func TestProfileAudiencesPricedByBound(t *testing.T) {
	s := storetest.Embedded(t)
	e := newEnv(t, s, testConfig(), nil)
	e.apply(ev("m1", t0, "identify", "user_id:u1"))
	p1 := e.profileID("user_id", "u1")
	st := s.(audience.Store)
	ctx := context.Background()
	now := graph.Now()
	for i := range 100 {
		a := audience.Audience{ID: audience.NewAudienceID(), Name: fmt.Sprintf("A%d", i), CreatedAt: now, UpdatedAt: now}
		if err := json.Unmarshal([]byte(`{"identifier":{"type":"user_id"}}`), &a.Filter); err != nil {
			t.Fatal(err)
		}
		storetest.Must(t, st.PutAudience(ctx, a))
		storetest.Must(t, st.ApplyMembership(ctx, a.ID, []string{p1}, nil, now))
	}
	vars := map[string]any{"id": p1}
	e.refused(`query($id: ID!) { profile(id: $id) { audiences { audience { changes(first: 90) { nodes { profileId kind at } } } } } }`, vars, CodeComplexityLimit)

	var out struct {
		Profile struct {
			Audiences []struct {
				Audience struct {
					ID      string
					Changes struct{ Nodes []struct{ ProfileID string } }
				}
			}
		}
	}
	e.query(`query($id: ID!) { profile(id: $id) { audiences(first: 5) { audience { id changes(first: 90) { nodes { profileId } } } } } }`, vars, &out)
	if a := out.Profile.Audiences; len(a) != 5 || len(a[0].Audience.Changes.Nodes) != 1 {
		t.Errorf("audiences(first: 5): %+v", a)
	}
	out.Profile.Audiences = nil
	e.query(`query($id: ID!) { profile(id: $id) { audiences { audience { id } } } }`, vars, &out)
	if len(out.Profile.Audiences) != 100 {
		t.Errorf("audiences without first: %d memberships, want 100", len(out.Profile.Audiences))
	}
}

// A SUM of finite numbers past the range of a double has no value, and an
// AVG of them is their running mean, on both stores alike (the filter
// compiled to Cypher on Neo4j, the computed values on the embedded
// store): Profile.computed answers, and counts agree with the naive ones.
func TestComputedSumPastTheRangeOfADouble(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		now := time.Now().UTC().Add(-time.Hour)
		e.apply(order("big-1", "big", now, 1e308), order("big-2", "big", now.Add(time.Second), 1e308),
			order("small-1", "small", now, 5.0))
		defineCT(e, map[string]any{"name": "revenue", "aggregate": "SUM", "event": "Order Completed", "property": "total"})
		defineCT(e, map[string]any{"name": "avg_order", "aggregate": "AVG", "event": "Order Completed", "property": "total"})
		var out struct {
			P struct{ Computed map[string]any } `json:"profileByIdentifier"`
		}
		e.query(`{ profileByIdentifier(type:"user_id", value:"big") { computed } }`, nil, &out)
		if v, ok := out.P.Computed["revenue"]; ok && v != nil {
			t.Errorf("revenue of two orders of 1e308 = %v, want no value", v)
		}
		if v, _ := out.P.Computed["avg_order"].(float64); v != 1e308 {
			t.Errorf("avg_order of two orders of 1e308 = %v, want 1e308", out.P.Computed["avg_order"])
		}
		for _, c := range []struct {
			f    string
			want int
		}{
			{`{"computed":{"name":"revenue","op":"EXISTS"}}`, 1}, // small alone
			{`{"computed":{"name":"revenue","op":"GT","value":100}}`, 0},
			{`{"computed":{"name":"revenue","op":"LT","value":100}}`, 1},
			{`{"computed":{"name":"avg_order","op":"GT","value":1e307}}`, 1},
			{`{"computed":{"name":"avg_order","op":"EXISTS"}}`, 2},
		} {
			var out struct{ PreviewAudience struct{ Count int } }
			e.query(`query($f: AudienceFilter!) { previewAudience(filter: $f) { count } }`, map[string]any{"f": jsonOf(t, c.f)}, &out)
			if out.PreviewAudience.Count != c.want {
				t.Errorf("%s: count %d, want %d", c.f, out.PreviewAudience.Count, c.want)
			}
		}
	})
}

// A computed trait's eventType is taken in any case, as an audience
// filter's event type is: " Track " is stored as track and counts u1's
// two track events (the orders), not its page view.
func TestComputedEventTypeInAnyCase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		now := time.Now().UTC()
		e.apply(
			order("o1", "u1", now.Add(-2*time.Hour), 10),
			order("o2", "u1", now.Add(-time.Hour), 20),
			ev("pv1", now.Add(-time.Hour), "page", "user_id:u1"),
		)
		var out struct {
			D struct{ EventType *string } `json:"defineComputedTrait"`
		}
		e.query(defineCTOp, map[string]any{"in": map[string]any{"name": "tracks", "aggregate": "COUNT", "eventType": " Track "}}, &out)
		if out.D.EventType == nil || *out.D.EventType != "track" {
			t.Fatalf("defineComputedTrait answers eventType %v, want track", out.D.EventType)
		}
		var list struct {
			ComputedTraits []struct{ EventType *string }
		}
		e.query(`{ computedTraits { eventType } }`, nil, &list)
		if len(list.ComputedTraits) != 1 || list.ComputedTraits[0].EventType == nil || *list.ComputedTraits[0].EventType != "track" {
			t.Fatalf("computedTraits %+v, want one of eventType track", list.ComputedTraits)
		}
		if got := computedOf(e, "u1")["tracks"]; got != 2.0 {
			t.Fatalf("tracks of u1 = %v, want 2", got)
		}
	})
}
