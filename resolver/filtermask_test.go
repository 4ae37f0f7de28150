package resolver

import (
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// readActions returns the actions of the audit log's entries other than
// the mutations the tests make, oldest first.
func readActions(e *keyEnv) []string {
	e.t.Helper()
	var out []string
	es := e.audit("")
	for i := len(es) - 1; i >= 0; i-- {
		switch es[i].Action {
		case "createAudience", "defineComputedTrait":
		default:
			out = append(out, es[i].Action)
		}
	}
	return out
}

// The saved filters of audiences and the where lists of computed traits
// hold the values their conditions compare: a value compared with a
// personal one is masked without pii:read, as the value it is compared
// with would be, and shown with it, the read audited.
func TestSavedFilterValuesAreMaskedWithoutPIIRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		writer, _ := e.key("writer", "", access.ScopeAudiencesWrite, access.ScopeAudiencesRead, access.ScopePIIRead)
		reader, _ := e.key("reader", "", access.ScopeAudiencesRead)
		support, supportKey := e.key("support", "", access.ScopeAudiencesRead, access.ScopePIIRead)

		for _, in := range []string{
			`{name: "email_orders", aggregate: COUNT, event: "Order Completed", where: [{path: "email", op: EQ, value: "ann@example.com"}]}`,
			`{name: "signup_email", aggregate: LAST, event: "Signed Up", property: "contact.email"}`,
			`{name: "signups", aggregate: COUNT, event: "Signed Up"}`,
		} {
			e.ok(writer, `mutation { defineComputedTrait(input: `+in+`) { name } }`, nil, nil)
		}
		var created struct{ CreateAudience struct{ ID string } }
		e.ok(writer, `mutation { createAudience(input: {name: "Ann", filter: {trait: {name: "email", op: EQ, value: "ann@example.com"}}}) { id } }`, nil, &created)
		annID := created.CreateAudience.ID
		e.ok(writer, `mutation { createAudience(input: {name: "Mixed", filter: {or: [
			{trait: {name: "phone", op: IN, value: ["+14155550167", "+14155550199"]}},
			{event: {name: "Signed Up", where: [{path: "contact.email", op: STARTS_WITH, value: "ann"}, {path: "plan", op: EQ, value: "pro"}]}},
			{computed: {name: "signup_email", op: EQ, value: "ann@example.com"}},
			{computed: {name: "signups", op: GTE, value: 2}},
			{not: {trait: {name: "name", op: EQ, value: "Ann Smith"}}},
			{trait: {name: "email", op: EXISTS}}]}}) { id } }`, nil, nil)
		e.ok(writer, `mutation { createAudience(input: {name: "Pro", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id } }`, nil, &created)
		proID := created.CreateAudience.ID
		clear := []string{"ann@example.com", `"ann"`, "4155550167", "4155550199", "Ann Smith"}

		const audOp = `{ audiences { nodes { name filter } } }`
		const oneOp = `query($id: ID!) { audience(id: $id) { filter } }`
		const ctOp = `{ computedTraits { name where } }`
		type audiences struct {
			Audiences struct {
				Nodes []struct {
					Name   string
					Filter any
				}
			}
		}
		filters := func(a audiences) map[string]any {
			out := map[string]any{}
			for _, n := range a.Audiences.Nodes {
				out[n.Name] = n.Filter
			}
			return out
		}
		type cts struct {
			ComputedTraits []struct {
				Name  string
				Where any
			}
		}
		wheres := func(c cts) map[string]any {
			out := map[string]any{}
			for _, n := range c.ComputedTraits {
				out[n.Name] = n.Where
			}
			return out
		}

		// Hand-worked: email a***@example.com, phones +*********67 and
		// +*********99 (each value of IN on its own), "ann" under
		// contact.email (no @) and the name ***; the computed trait
		// signup_email reads contact.email, so its value is masked as an
		// email; counts and plan are not personal.
		maskedFilters := map[string]any{
			"Ann": jsonOf(t, `{"trait":{"name":"email","op":"EQ","value":"a***@example.com"}}`),
			"Mixed": jsonOf(t, `{"or":[
				{"trait":{"name":"phone","op":"IN","value":["+*********67","+*********99"]}},
				{"event":{"name":"Signed Up","where":[{"path":"contact.email","op":"STARTS_WITH","value":"***"},{"path":"plan","op":"EQ","value":"pro"}]}},
				{"computed":{"name":"signup_email","op":"EQ","value":"a***@example.com"}},
				{"computed":{"name":"signups","op":"GTE","value":2}},
				{"not":{"trait":{"name":"name","op":"EQ","value":"***"}}},
				{"trait":{"name":"email","op":"EXISTS"}}]}`),
			"Pro": jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`),
		}
		clearFilters := map[string]any{
			"Ann": jsonOf(t, `{"trait":{"name":"email","op":"EQ","value":"ann@example.com"}}`),
			"Mixed": jsonOf(t, `{"or":[
				{"trait":{"name":"phone","op":"IN","value":["+14155550167","+14155550199"]}},
				{"event":{"name":"Signed Up","where":[{"path":"contact.email","op":"STARTS_WITH","value":"ann"},{"path":"plan","op":"EQ","value":"pro"}]}},
				{"computed":{"name":"signup_email","op":"EQ","value":"ann@example.com"}},
				{"computed":{"name":"signups","op":"GTE","value":2}},
				{"not":{"trait":{"name":"name","op":"EQ","value":"Ann Smith"}}},
				{"trait":{"name":"email","op":"EXISTS"}}]}`),
			"Pro": maskedFilters["Pro"],
		}
		maskedWheres := map[string]any{
			"email_orders": jsonOf(t, `[{"path":"email","op":"EQ","value":"a***@example.com"}]`),
			"signup_email": []any{},
			"signups":      []any{},
		}
		clearWheres := map[string]any{
			"email_orders": jsonOf(t, `[{"path":"email","op":"EQ","value":"ann@example.com"}]`),
			"signup_email": []any{},
			"signups":      []any{},
		}

		// Without pii:read: masked, nothing in clear anywhere, no entry.
		var a audiences
		r := e.ok(reader, audOp, nil, &a)
		if got := filters(a); !reflect.DeepEqual(got, maskedFilters) {
			t.Errorf("audiences without pii:read\n got %v\nwant %v", got, maskedFilters)
		}
		var one struct{ Audience struct{ Filter any } }
		r1 := e.ok(reader, oneOp, map[string]any{"id": annID}, &one)
		if !reflect.DeepEqual(one.Audience.Filter, maskedFilters["Ann"]) {
			t.Errorf("audience without pii:read: %v", one.Audience.Filter)
		}
		var c cts
		r2 := e.ok(reader, ctOp, nil, &c)
		if got := wheres(c); !reflect.DeepEqual(got, maskedWheres) {
			t.Errorf("computedTraits without pii:read\n got %v\nwant %v", got, maskedWheres)
		}
		for _, raw := range [][]byte{r.Raw, r1.Raw, r2.Raw} {
			for _, v := range clear {
				if strings.Contains(string(raw), v) {
					t.Errorf("answer without pii:read holds %s: %s", v, raw)
				}
			}
		}
		if got := readActions(e); len(got) != 0 {
			t.Errorf("read entries without pii:read: %v", got)
		}

		// A filter without personal values: shown as it is to both, and
		// no entry even with pii:read.
		var pro struct{ Audience struct{ Filter any } }
		for _, key := range []string{reader, support} {
			e.ok(key, oneOp, map[string]any{"id": proID}, &pro)
			if !reflect.DeepEqual(pro.Audience.Filter, clearFilters["Pro"]) {
				t.Errorf("non-personal filter: %v", pro.Audience.Filter)
			}
		}
		if got := readActions(e); len(got) != 0 {
			t.Errorf("read entries for a filter without personal values: %v", got)
		}

		// With pii:read: as saved, and one entry per root field read.
		a = audiences{}
		e.ok(support, audOp, nil, &a, "X-Request-Id", "req-aud")
		if got := filters(a); !reflect.DeepEqual(got, clearFilters) {
			t.Errorf("audiences with pii:read\n got %v\nwant %v", got, clearFilters)
		}
		es := e.audit("audiences")
		if len(es) != 1 {
			t.Fatalf("audiences read entries: %+v", es)
		}
		want := access.AuditEntry{ID: es[0].ID, At: es[0].At, KeyID: supportKey.ID, KeyName: "support", Action: "audiences",
			RequestID: "req-aud", Outcome: access.OutcomeOK}
		if !reflect.DeepEqual(es[0], want) {
			t.Errorf("audiences read entry\n got %+v\nwant %+v", es[0], want)
		}
		c = cts{}
		e.ok(support, ctOp, nil, &c)
		if got := wheres(c); !reflect.DeepEqual(got, clearWheres) {
			t.Errorf("computedTraits with pii:read\n got %v\nwant %v", got, clearWheres)
		}
		e.ok(support, oneOp, map[string]any{"id": annID}, &one)
		if !reflect.DeepEqual(one.Audience.Filter, clearFilters["Ann"]) {
			t.Errorf("audience with pii:read: %v", one.Audience.Filter)
		}
		if got, want := readActions(e), []string{"audiences", "computedTraits", "audience"}; !reflect.DeepEqual(got, want) {
			t.Errorf("read entries %v, want %v", got, want)
		}
	})
}
