package resolver

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// profileBookkeeping are the fields of Profile that hold nothing personal:
// a caller that may change a profile (setConsent, mergeProfiles,
// unlinkIdentifiers, removeIdentifier) without profiles:read reads these of
// the profiles the mutation returns, and nothing else.
var profileBookkeeping = map[string]bool{"id": true, "size": true, "createdAt": true, "updatedAt": true}

// TestProfileFieldsNeedProfilesRead: every other field of Profile, those
// the consent and audience schemas add included, declares profiles:read
// and is nullable, so that a refused field leaves the profile's id in the
// answer instead of nulling the whole profile.
func TestProfileFieldsNeedProfilesRead(t *testing.T) {
	schema := gql.NewExecutableSchema(gql.Config{}).Schema()
	def := schema.Types["Profile"]
	if def == nil {
		t.Fatal("no type Profile in the schema")
	}
	for _, f := range def.Fields {
		if len(f.Name) > 1 && f.Name[:2] == "__" {
			continue
		}
		var scopes []string
		for _, d := range f.Directives {
			if d.Name == "hasScope" {
				scopes = append(scopes, d.Arguments.ForName("scope").Value.Raw)
			}
		}
		needs := false
		for _, s := range scopes {
			needs = needs || s == string(access.ScopeProfilesRead)
		}
		if profileBookkeeping[f.Name] {
			if len(scopes) != 0 {
				t.Errorf("Profile.%s is bookkeeping but needs %v", f.Name, scopes)
			}
			continue
		}
		if !needs {
			t.Errorf("Profile.%s does not need profiles:read (it needs %v)", f.Name, scopes)
		}
		if f.Type.NonNull {
			t.Errorf("Profile.%s is %s: a field that needs a scope must be nullable", f.Name, f.Type)
		}
	}
}

// everyProfileField selects every field of Profile, for the refusal of all
// but the bookkeeping ones.
func everyProfileField(t *testing.T) (selection string, personal []string) {
	t.Helper()
	schema := gql.NewExecutableSchema(gql.Config{}).Schema()
	for _, f := range schema.Types["Profile"].Fields {
		if len(f.Name) > 1 && f.Name[:2] == "__" {
			continue
		}
		sel := f.Name
		switch f.Name {
		case "explainLink":
			sel += `(a: {type: "user_id", value: "u1"}, b: {type: "anonymous_id", value: "a1"})`
		case "computedTrait":
			sel += `(name: "none")`
		}
		if inner := subSelection(schema, f.Type); inner != "" {
			sel += " { " + inner + " }"
		}
		selection += sel + " "
		if !profileBookkeeping[f.Name] {
			personal = append(personal, f.Name)
		}
	}
	return selection, personal
}

// subSelection is the first leaf field of an object type (recursively), or
// "" for a leaf type.
func subSelection(schema *ast.Schema, typ *ast.Type) string {
	for typ.Elem != nil {
		typ = typ.Elem
	}
	def := schema.Types[typ.NamedType]
	if def == nil || (def.Kind != ast.Object && def.Kind != ast.Interface) {
		return ""
	}
	for _, f := range def.Fields {
		if len(f.Name) > 1 && f.Name[:2] == "__" {
			continue
		}
		if inner := subSelection(schema, f.Type); inner != "" {
			return f.Name + " { " + inner + " }"
		}
		return f.Name
	}
	return ""
}

// checkPersonalRefused checks an answer whose root field returned one
// profile or a list of them: each answers its id, and each of fields is
// null with exactly one FORBIDDEN error naming profiles:read at its path.
func checkPersonalRefused(t *testing.T, r keyResponse, root string, fields ...string) {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(r.Data, &data); err != nil {
		t.Fatalf("data %s: %v", r.Data, err)
	}
	type located struct {
		path []any
		obj  map[string]any
	}
	var profiles []located
	switch v := data[root].(type) {
	case map[string]any:
		profiles = append(profiles, located{[]any{root}, v})
	case []any:
		for i, p := range v {
			m, _ := p.(map[string]any)
			profiles = append(profiles, located{[]any{root, float64(i)}, m})
		}
	}
	if len(profiles) == 0 {
		t.Fatalf("%s answered no profile: data %s, errors %+v", root, r.Data, r.Errors)
	}
	want := 0
	for _, p := range profiles {
		if id, _ := p.obj["id"].(string); id == "" {
			t.Errorf("%v: no id in %v", p.path, p.obj)
		}
		for _, f := range fields {
			want++
			if v, present := p.obj[f]; !present || v != nil {
				t.Errorf("%v.%s without profiles:read = %v, want null", p.path, f, v)
			}
			path := fmt.Sprint(append(append([]any{}, p.path...), f))
			found := 0
			for _, er := range r.Errors {
				if fmt.Sprint(er.Path) == path && er.Extensions["code"] == CodeForbidden && er.Extensions["scope"] == string(access.ScopeProfilesRead) {
					found++
				}
			}
			if found != 1 {
				t.Errorf("%s: %d FORBIDDEN profiles:read errors, want 1; errors %+v", path, found, r.Errors)
			}
		}
	}
	if len(r.Errors) != want {
		t.Errorf("%d errors, want %d (one per refused field): %+v", len(r.Errors), want, r.Errors)
	}
}

const personalSelection = `id size createdAt updatedAt identifiers { type value } traits journey(first: 5) { nodes { id properties } }`

// personalAnswered checks that a profile answered with profiles:read holds
// its identifiers, traits and journey.
func personalAnswered(t *testing.T, what string, p map[string]any) {
	t.Helper()
	if id, _ := p["id"].(string); id == "" {
		t.Errorf("%s: no id: %v", what, p)
	}
	if ids, _ := p["identifiers"].([]any); len(ids) == 0 {
		t.Errorf("%s: identifiers %v, want some", what, p["identifiers"])
	}
	if _, ok := p["traits"].(map[string]any); !ok {
		t.Errorf("%s: traits %v, want an object", what, p["traits"])
	}
	j, _ := p["journey"].(map[string]any)
	if nodes, _ := j["nodes"].([]any); len(nodes) == 0 {
		t.Errorf("%s: journey %v, want events", what, p["journey"])
	}
}

// TestMutationResultsNeedProfilesRead: a key that may run setConsent,
// mergeProfiles, unlinkIdentifiers or removeIdentifier but lacks
// profiles:read still runs them and reads the returned profiles' ids, but
// not their identifiers, traits, journey or any other personal field.
func TestMutationResultsNeedProfilesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(
			withTraits(ev("m1", t0, "identify", "user_id:u1", "anonymous_id:a1"), map[string]any{"plan": "pro"}),
			ev("m2", t0.Add(time.Minute), "identify", "user_id:u2", "anonymous_id:a2"),
			ev("m3", t0.Add(2*time.Minute), "track", "anonymous_id:x3"),
			ev("m4", t0.Add(3*time.Minute), "track", "anonymous_id:x4"),
			ev("m5", t0.Add(4*time.Minute), "track", "anonymous_id:x5"),
			ev("m6", t0.Add(5*time.Minute), "identify", "user_id:u6", "anonymous_id:a6"),
			ev("m7", t0.Add(6*time.Minute), "identify", "user_id:u7", "anonymous_id:a7", "anonymous_id:a7b"),
		)
		u1 := e.profileIDOf("user_id", "u1")

		consent, _ := e.key("consent banner", "", access.ScopeConsentWrite)
		consentReader, _ := e.key("consent and profiles", "", access.ScopeConsentWrite, access.ScopeProfilesRead)
		identity, _ := e.key("identity ops", "", access.ScopeIdentityWrite)
		identityReader, _ := e.key("identity ops and profiles", "", access.ScopeIdentityWrite, access.ScopeProfilesRead)

		setConsent := func(status string) string {
			return `mutation { setConsent(input: {identifier: {type: "user_id", value: "u1"}, purpose: "email", status: ` + status + `}) { ` + personalSelection + ` } }`
		}

		t.Run("setConsent", func(t *testing.T) {
			// The reviewer's reproduction: consent:write alone.
			r := e.as(consent, setConsent("GRANTED"), nil)
			checkPersonalRefused(t, r, "setConsent", "identifiers", "traits", "journey")
			var out struct {
				P struct {
					ID, CreatedAt, UpdatedAt string
					Size                     int
				} `json:"setConsent"`
			}
			if err := json.Unmarshal(r.Data, &out); err != nil {
				t.Fatal(err)
			}
			if out.P.ID != u1 || out.P.Size != 2 || out.P.CreatedAt == "" || out.P.UpdatedAt == "" {
				t.Errorf("setConsent bookkeeping %+v, want id %s and size 2", out.P, u1)
			}
			// The decision was recorded all the same.
			var seen struct {
				P struct {
					Consent []struct{ Purpose, Status string }
				} `json:"profile"`
			}
			e.ok(consentReader, `query($id: ID!) { profile(id: $id) { consent { purpose status } } }`, map[string]any{"id": u1}, &seen)
			granted := false
			for _, c := range seen.P.Consent {
				granted = granted || (c.Purpose == "email" && c.Status == "GRANTED")
			}
			if !granted {
				t.Errorf("consent after setConsent without profiles:read: %+v, want email GRANTED", seen.P.Consent)
			}

			// With profiles:read the same fields answer.
			var full struct {
				P map[string]any `json:"setConsent"`
			}
			e.ok(consentReader, setConsent("DENIED"), nil, &full)
			personalAnswered(t, "setConsent with profiles:read", full.P)
		})

		t.Run("setConsent every field", func(t *testing.T) {
			sel, personal := everyProfileField(t)
			r := e.as(consent, `mutation { setConsent(input: {identifier: {type: "user_id", value: "u1"}, purpose: "email", status: GRANTED}) { `+sel+` } }`, nil)
			checkPersonalRefused(t, r, "setConsent", personal...)
		})

		t.Run("mergeProfiles", func(t *testing.T) {
			merge := `mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person") { ` + personalSelection + ` } }`
			r := e.as(identity, merge, map[string]any{"ids": []string{e.profileIDOf("user_id", "u2"), e.profileIDOf("anonymous_id", "x3")}})
			checkPersonalRefused(t, r, "mergeProfiles", "identifiers", "traits", "journey")
			if e.profileIDOf("user_id", "u2") != e.profileIDOf("anonymous_id", "x3") {
				t.Errorf("mergeProfiles without profiles:read did not merge")
			}

			var full struct {
				P map[string]any `json:"mergeProfiles"`
			}
			e.ok(identityReader, merge, map[string]any{"ids": []string{e.profileIDOf("anonymous_id", "x4"), e.profileIDOf("anonymous_id", "x5")}}, &full)
			personalAnswered(t, "mergeProfiles with profiles:read", full.P)
		})

		t.Run("unlinkIdentifiers", func(t *testing.T) {
			unlink := func(u, a string) string {
				return `mutation { unlinkIdentifiers(a: {type: "user_id", value: "` + u + `"}, b: {type: "anonymous_id", value: "` + a + `"}, reason: "shared device") { ` + personalSelection + ` } }`
			}
			r := e.as(identity, unlink("u6", "a6"), nil)
			checkPersonalRefused(t, r, "unlinkIdentifiers", "identifiers", "traits", "journey")

			var full struct {
				Ps []map[string]any `json:"unlinkIdentifiers"`
			}
			e.ok(identityReader, unlink("u2", "a2"), nil, &full)
			if len(full.Ps) == 0 {
				t.Fatalf("unlinkIdentifiers with profiles:read returned no profile")
			}
			for i, p := range full.Ps {
				personalAnswered(t, fmt.Sprintf("unlinkIdentifiers[%d] with profiles:read", i), p)
			}
		})

		t.Run("removeIdentifier", func(t *testing.T) {
			remove := func(a string) string {
				return `mutation { removeIdentifier(type: "anonymous_id", value: "` + a + `", reason: "wrong device") { ` + personalSelection + ` } }`
			}
			r := e.as(identity, remove("a7"), nil)
			checkPersonalRefused(t, r, "removeIdentifier", "identifiers", "traits", "journey")

			var full struct {
				Ps []map[string]any `json:"removeIdentifier"`
			}
			e.ok(identityReader, remove("a7b"), nil, &full)
			if len(full.Ps) == 0 {
				t.Fatalf("removeIdentifier with profiles:read returned no profile")
			}
			for i, p := range full.Ps {
				if ids, _ := p["identifiers"].([]any); len(ids) == 0 {
					t.Errorf("removeIdentifier[%d] with profiles:read: identifiers %v", i, p["identifiers"])
				}
				if _, ok := p["traits"].(map[string]any); !ok {
					t.Errorf("removeIdentifier[%d] with profiles:read: traits %v", i, p["traits"])
				}
			}
		})
	})
}

// TestScopedFieldsAreNullable: a field that needs a scope is nullable in
// every type of the schema, so that a key without the scope loses that
// field alone: a non-null one would null its parent, and with it fields the
// key may read (an audience's size along with its members). A
// subscription's root field is the exception: it is the operation's only
// field, and a refused one ends the subscription before any event.
func TestScopedFieldsAreNullable(t *testing.T) {
	schema := gql.NewExecutableSchema(gql.Config{}).Schema()
	checked := 0
	for name, def := range schema.Types {
		if (len(name) > 1 && name[:2] == "__") || name == "Subscription" {
			continue
		}
		for _, f := range def.Fields {
			if f.Directives.ForName("hasScope") == nil {
				continue
			}
			checked++
			if f.Type.NonNull {
				t.Errorf("%s.%s is %s and needs a scope: it must be nullable", name, f.Name, f.Type)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d fields carry @hasScope; is the directive still called hasScope?", checked)
	}
}

// TestAudienceSizeWithoutProfilesRead: a key with audiences:read but not
// profiles:read reads an audience's size and a preview's count; members
// and sample alone answer null with a FORBIDDEN error each.
func TestAudienceSizeWithoutProfilesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(
			withTraits(ev("m1", t0, "identify", "user_id:u1"), map[string]any{"plan": "pro"}),
			withTraits(ev("m2", t0.Add(time.Minute), "identify", "user_id:u2"), map[string]any{"plan": "pro"}),
			withTraits(ev("m3", t0.Add(2*time.Minute), "identify", "user_id:u3"), map[string]any{"plan": "free"}),
		)
		writer, _ := e.key("audience builder", "", access.ScopeAudiencesWrite, access.ScopeAudiencesRead)
		reader, _ := e.key("audience reader", "", access.ScopeAudiencesRead)
		var made struct {
			A struct{ ID string } `json:"createAudience"`
		}
		e.ok(writer, `mutation { createAudience(input: {name: "pro", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id } }`, nil, &made)

		forbidden := func(r keyResponse, path string) {
			t.Helper()
			n := 0
			for _, er := range r.Errors {
				if fmt.Sprint(er.Path) == path && er.Extensions["code"] == CodeForbidden && er.Extensions["scope"] == string(access.ScopeProfilesRead) {
					n++
				}
			}
			if n != 1 || len(r.Errors) != 1 {
				t.Errorf("errors %+v, want one FORBIDDEN profiles:read at %s", r.Errors, path)
			}
		}

		r := e.as(reader, `{ previewAudience(filter: {trait: {name: "plan", op: EQ, value: "pro"}}) { count sample { id } } }`, nil)
		var preview struct {
			P *struct {
				Count  *int
				Sample []any
			} `json:"previewAudience"`
		}
		if err := json.Unmarshal(r.Data, &preview); err != nil {
			t.Fatal(err)
		}
		if preview.P == nil || preview.P.Count == nil || *preview.P.Count != 2 || preview.P.Sample != nil {
			t.Errorf("previewAudience without profiles:read = %s, want count 2 and sample null", r.Data)
		}
		forbidden(r, "[previewAudience sample]")

		r = e.as(reader, `query($id: ID!) { audience(id: $id) { name size members { totalCount } } }`, map[string]any{"id": made.A.ID})
		var aud struct {
			A *struct {
				Name    string
				Size    *int
				Members any
			} `json:"audience"`
		}
		if err := json.Unmarshal(r.Data, &aud); err != nil {
			t.Fatal(err)
		}
		if aud.A == nil || aud.A.Name != "pro" || aud.A.Size == nil || aud.A.Members != nil {
			t.Errorf("audience without profiles:read = %s, want its name, its size and members null", r.Data)
		}
		forbidden(r, "[audience members]")
	})
}
