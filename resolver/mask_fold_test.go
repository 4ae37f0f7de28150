package resolver

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Trait and property names come as each source spells them: "Email",
// "First Name" and "e-mail" are the rules' "email" and "first_name" (as
// the erasure takes them), so a key without pii:read sees their values
// masked, and may not compare them in a filter.
func TestMaskingFoldsPersonalNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		m1 := withTraits(ev("m1", t0, "identify", "user_id:u1"),
			map[string]any{"Email": "ann@example.com", "First Name": "Annabel", "PHONE": "+14155550167", "Plan": "pro"})
		m1.Properties = map[string]any{"E-mail": "ann@example.com", "buyer": map[string]any{"Name": "Annabel"}, "sku": "A-1"}
		e.apply(m1)
		reader, _ := e.key("analyst", "", access.ScopeProfilesRead)

		var got struct {
			P struct {
				Traits      map[string]any
				TraitValues []struct {
					Name  string
					Value any
				}
				Journey struct {
					Edges []struct {
						Node struct{ Properties, Traits map[string]any }
					}
				}
			}
		}
		r := e.ok(reader, `{ p: profileByIdentifier(type: "user_id", value: "u1") {
			traits traitValues(first: 10) { name value }
			journey(first: 5) { edges { node { properties traits } } } } }`, nil, &got)
		for _, v := range []string{"ann@example.com", "Annabel", "4155550167"} {
			if bytes.Contains(r.Raw, []byte(v)) {
				t.Errorf("answer without pii:read holds %q:\n%s", v, r.Raw)
			}
		}
		wantTraits := map[string]any{"Email": "a***@example.com", "First Name": "***", "PHONE": "+*********67", "Plan": "pro"}
		if !reflect.DeepEqual(got.P.Traits, wantTraits) {
			t.Errorf("traits %v, want %v", got.P.Traits, wantTraits)
		}
		for _, tv := range got.P.TraitValues {
			if !reflect.DeepEqual(tv.Value, wantTraits[tv.Name]) {
				t.Errorf("traitValues %s = %v, want %v", tv.Name, tv.Value, wantTraits[tv.Name])
			}
		}
		wantProps := map[string]any{"E-mail": "a***@example.com", "buyer": map[string]any{"Name": "***"}, "sku": "A-1"}
		if n := len(got.P.Journey.Edges); n != 1 {
			t.Fatalf("journey holds %d events, want 1", n)
		}
		if n := got.P.Journey.Edges[0].Node; !reflect.DeepEqual(n.Properties, wantProps) || !reflect.DeepEqual(n.Traits, wantTraits) {
			t.Errorf("event properties %v traits %v, want %v and %v", n.Properties, n.Traits, wantProps, wantTraits)
		}

		// Comparing such a value would tell it a guess at a time.
		for _, c := range []struct{ filter, at string }{
			{`{trait: {name: "Email", op: EQ, value: "ann@example.com"}}`, "filter.trait"},
			{`{trait: {name: "first name", op: STARTS_WITH, value: "A"}}`, "filter.trait"},
			{`{event: {type: "identify", where: [{path: "buyer.Name", op: EQ, value: "Annabel"}]}}`, "filter.event.where[0]"},
		} {
			r := e.as(reader, `{ profiles(filter: `+c.filter+`) { totalCount } }`, nil)
			checkRefused(t, r.gqlResponse, CodeForbidden, c.at, string(access.ScopePIIRead))
			if scope, _ := r.Errors[0].Extensions["scope"].(string); scope != string(access.ScopePIIRead) {
				t.Errorf("%s: extensions.scope %q, want %q", c.filter, scope, access.ScopePIIRead)
			}
		}
	})
}
