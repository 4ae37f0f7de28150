package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// piiProfileID is profileID for a keyEnv, asked with the key secret.
func (e *keyEnv) piiProfileID(secret, typ, value string) string {
	e.t.Helper()
	var out struct {
		P *struct{ ID string } `json:"profileByIdentifier"`
	}
	e.ok(secret, `query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){id}}`, map[string]any{"t": typ, "v": value}, &out)
	if out.P == nil {
		e.t.Fatalf("no profile holds %s:%s", typ, value)
	}
	return out.P.ID
}

// lookalikePIIData stores 60 profiles: the first 30 share a family email,
// the last name Kowalczyk and the team blue, the others none of them; the
// first 20 are the members of a seed audience. Profiles 20 to 29 are the
// best lookalikes, for the traits they share with the seed. It returns
// the seed audience's id and a key with every scope.
func lookalikePIIData(e *keyEnv) (string, string) {
	e.t.Helper()
	return lookalikeHousehold(e, map[string]any{"email": "family@kowalczyk.example", "last_name": "Kowalczyk", "team": "blue"})
}

// lookalikeHousehold stores 60 profiles with a plan each, the first 30
// also holding the household's traits, keeps the first 20 as the members
// of a new audience, and returns its id and an admin key's secret.
func lookalikeHousehold(e *keyEnv, household map[string]any) (string, string) {
	e.t.Helper()
	admin, _ := e.key("admin", "", access.AllScopes()...)
	now := time.Now().UTC()
	var evs []graph.Event
	for i := range 60 {
		u := fmt.Sprintf("u%d", i)
		traits := map[string]any{"plan": []string{"free", "pro"}[i%2]}
		if i < 30 {
			maps.Copy(traits, household)
		}
		evs = append(evs, withTraits(ev("id-"+u, now.Add(-10*24*time.Hour), "identify", "user_id:"+u), traits))
	}
	e.apply(evs...)
	var out struct{ CreateAudience struct{ ID string } }
	e.ok(admin, createAudienceOp, map[string]any{"in": map[string]any{"name": "Seed",
		"filter": jsonOf(e.t, `{"trait":{"name":"plan","op":"EXISTS"}}`)}}, &out)
	var seed []string
	for i := range 20 {
		seed = append(seed, e.piiProfileID(admin, "user_id", fmt.Sprintf("u%d", i)))
	}
	st := e.engine.Store().(audience.Store)
	storetest.Must(e.t, st.ApplyMembership(context.Background(), out.CreateAudience.ID, seed, nil, graph.Now()))
	return out.CreateAudience.ID, admin
}

// Lookalike reasons show a personal trait's value as masking shows it to
// a key without pii:read ("trait email=f***@kowalczyk.example"), and as
// stored to a key with it, whose read is audited with the profiles.
func TestLookalikeReasonsMaskPersonalTraits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		aid, _ := lookalikePIIData(e)
		const op = `query($a: ID!) { lookalike(audienceId: $a, size: 10) { profile { id traits } reasons } }`
		type answer struct {
			Lookalike []struct {
				Profile struct {
					ID     string
					Traits map[string]any
				}
				Reasons []string
			}
		}
		reasonsOf := func(a answer) []string {
			var all []string
			for _, m := range a.Lookalike {
				all = append(all, m.Reasons...)
			}
			slices.Sort(all)
			return slices.Compact(all)
		}

		masked, _ := e.key("masked", "", access.ScopeProfilesRead, access.ScopeAudiencesRead)
		var a answer
		r := e.ok(masked, op, map[string]any{"a": aid}, &a)
		if len(a.Lookalike) != 10 {
			t.Fatalf("%d matches, want 10", len(a.Lookalike))
		}
		for _, m := range a.Lookalike {
			if m.Profile.Traits["email"] != "f***@kowalczyk.example" || m.Profile.Traits["last_name"] != access.Masked {
				t.Fatalf("traits %v: want email and last_name masked", m.Profile.Traits)
			}
		}
		want := []string{"trait email=f***@kowalczyk.example", "trait last_name=***", "trait team=blue"}
		if got := reasonsOf(a); !slices.Equal(got, want) {
			t.Fatalf("reasons without pii:read %q, want %q", got, want)
		}
		for _, v := range []string{"family@", "Kowalczyk"} {
			if strings.Contains(string(r.Raw), v) {
				t.Fatalf("answer without pii:read holds %q: %s", v, r.Raw)
			}
		}
		if n := len(e.audit("lookalike")); n != 0 {
			t.Fatalf("%d audit entries for a masked lookalike, want none", n)
		}

		// With pii:read but without reasons (nor traits) asked for, no
		// personal value is shown, so nothing is audited.
		pii, _ := e.key("pii", "", access.ScopeProfilesRead, access.ScopeAudiencesRead, access.ScopePIIRead)
		var plain struct {
			Lookalike []struct{ Score float64 }
		}
		e.ok(pii, `query($a: ID!) { lookalike(audienceId: $a, size: 10) { profile { id } score } }`, map[string]any{"a": aid}, &plain)
		if len(plain.Lookalike) != 10 {
			t.Fatalf("%d matches without reasons, want 10", len(plain.Lookalike))
		}
		if n := len(e.audit("lookalike")); n != 0 {
			t.Fatalf("%d audit entries for a lookalike that showed no personal value, want none", n)
		}

		// With pii:read, the values as stored, and the read is audited
		// naming the matched profiles. Only reasons are asked for here,
		// so the entry comes from them alone.
		var b struct {
			Lookalike []struct {
				Profile struct{ ID string }
				Reasons []string
			}
		}
		e.ok(pii, `query($a: ID!) { lookalike(audienceId: $a, size: 10) { profile { id } reasons } }`, map[string]any{"a": aid}, &b)
		var all, ids []string
		for _, m := range b.Lookalike {
			all = append(all, m.Reasons...)
			ids = append(ids, m.Profile.ID)
		}
		slices.Sort(all)
		all = slices.Compact(all)
		want = []string{"trait email=family@kowalczyk.example", "trait last_name=Kowalczyk", "trait team=blue"}
		if !slices.Equal(all, want) {
			t.Fatalf("reasons with pii:read %q, want %q", all, want)
		}
		es := e.audit("lookalike")
		if len(es) != 1 || es[0].KeyName != "pii" {
			t.Fatalf("audit entries %+v, want one lookalike entry of key pii", es)
		}
		for _, id := range ids {
			if !slices.Contains(es[0].ProfileIDs, id) {
				t.Fatalf("audit entry profiles %v miss matched profile %s", es[0].ProfileIDs, id)
			}
		}
	})
}

// A key without pii:read cannot compare the value of a trait masking hides
// from it: the filter is refused with FORBIDDEN naming the trait and the
// scope, in profiles, previewAudience and an audience definition, and in
// an event condition's property filters. EXISTS stays allowed, a filter on
// a trait that is not personal works, and with pii:read the same filter
// works.
func TestFilterOnMaskedTraitNeedsPIIRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		now := time.Now().UTC()
		smith := withTraits(ev("i1", now.Add(-time.Hour), "identify", "user_id:u1"), map[string]any{"last_name": "Smith", "plan": "pro"})
		other := withTraits(ev("i2", now.Add(-time.Hour), "identify", "user_id:u2"), map[string]any{"last_name": "Jones", "plan": "free"})
		order := ev("o1", now.Add(-time.Minute), "track", "user_id:u1")
		order.Name = "Order Completed"
		order.Properties = map[string]any{"billing": map[string]any{"email": "smith@example.com"}, "sku": "A-1"}
		e.apply(smith, other, order)

		masked, _ := e.key("masked", "", access.ScopeProfilesRead, access.ScopeAudiencesRead, access.ScopeAudiencesWrite)
		pii, _ := e.key("pii", "", access.ScopeProfilesRead, access.ScopePIIRead)
		smithID := e.piiProfileID(pii, "user_id", "u1")

		const profilesOp = `query($f: AudienceFilter) { profiles(first: 10, filter: $f) { nodes { id } } }`
		filter := func(s string) map[string]any { return map[string]any{"f": jsonOf(t, s)} }
		refused := func(r keyResponse, name string) {
			t.Helper()
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != CodeForbidden || r.Errors[0].Extensions["scope"] != string(access.ScopePIIRead) {
				t.Fatalf("errors %+v, want one FORBIDDEN naming scope pii:read; data %s", r.Errors, r.Data)
			}
			msg := r.Errors[0].Message
			if !strings.Contains(msg, `"`+name+`"`) || !strings.Contains(msg, "pii:read") {
				t.Fatalf("message %q does not name %q and pii:read", msg, name)
			}
		}
		ids := func(r keyResponse) []string {
			t.Helper()
			var out struct {
				Profiles struct{ Nodes []struct{ ID string } }
			}
			if len(r.Errors) > 0 {
				t.Fatalf("errors %+v", r.Errors)
			}
			if err := json.Unmarshal(r.Data, &out); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range out.Profiles.Nodes {
				got = append(got, n.ID)
			}
			return got
		}

		startsWith := `{"trait":{"name":"last_name","op":"STARTS_WITH","value":"Sm"}}`
		refused(e.as(masked, profilesOp, filter(startsWith)), "last_name")
		for _, f := range []string{
			`{"and":[{"trait":{"name":"plan","op":"EXISTS"}},{"not":{"trait":{"name":"last_name","op":"LT","value":"T"}}}]}`,
			`{"trait":{"name":"last_name","op":"CONTAINS","value":"mit"}}`,
			`{"trait":{"name":"last_name","op":"EQ","value":"Smith"}}`,
		} {
			refused(e.as(masked, profilesOp, filter(f)), "last_name")
		}
		// Event properties are masked by name at any depth.
		refused(e.as(masked, profilesOp, filter(`{"event":{"name":"Order Completed","where":[{"path":"billing.email","op":"STARTS_WITH","value":"s"}]}}`)), "billing.email")
		refused(e.as(masked, `query($f: AudienceFilter!) { previewAudience(filter: $f) { count } }`, filter(startsWith)), "last_name")
		refused(e.as(masked, createAudienceOp, map[string]any{"in": map[string]any{"name": "S", "filter": jsonOf(t, startsWith)}}), "last_name")
		refused(e.as(masked, `query { funnel(steps: [{name: "Order Completed", where: [{path: "billing.email", op: STARTS_WITH, value: "s"}]}, {name: "Order Completed"}], within: "P1D") { profiles } }`, nil), "billing.email")

		// Allowed: existence of a personal trait (masking shows it), a
		// trait that is not personal, and a property that is not.
		if got := ids(e.as(masked, profilesOp, filter(`{"trait":{"name":"last_name","op":"EXISTS"}}`))); len(got) != 2 {
			t.Fatalf("EXISTS on last_name: %v, want both profiles", got)
		}
		if got := ids(e.as(masked, profilesOp, filter(`{"trait":{"name":"plan","op":"STARTS_WITH","value":"pr"}}`))); !slices.Equal(got, []string{smithID}) {
			t.Fatalf("STARTS_WITH on plan: %v, want [%s]", got, smithID)
		}
		if got := ids(e.as(masked, profilesOp, filter(`{"event":{"name":"Order Completed","where":[{"path":"sku","op":"EQ","value":"A-1"}]}}`))); !slices.Equal(got, []string{smithID}) {
			t.Fatalf("where sku: %v, want [%s]", got, smithID)
		}
		// With pii:read the same filter answers.
		if got := ids(e.as(pii, profilesOp, filter(startsWith))); !slices.Equal(got, []string{smithID}) {
			t.Fatalf("STARTS_WITH on last_name with pii:read: %v, want [%s]", got, smithID)
		}
	})
}
