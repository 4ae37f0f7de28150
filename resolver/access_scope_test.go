package resolver

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// rootSamples is one call of every root field, with valid arguments. A
// root field added to the schema without a sample here fails
// TestEveryRootFieldNeedsItsScope, so every field is covered.
var rootSamples = map[string]string{
	"profile":                 `profile(id: "p_none") { id }`,
	"profileByIdentifier":     `profileByIdentifier(type: "user_id", value: "u1") { id }`,
	"profiles":                `profiles(first: 1) { totalCount }`,
	"identifier":              `identifier(type: "user_id", value: "u1") { type }`,
	"explainLink":             `explainLink(a: {type: "user_id", value: "u1"}, b: {type: "anonymous_id", value: "a1"}) { linked }`,
	"event":                   `event(id: "m1") { id }`,
	"dataExport":              `dataExport(profileId: "p_none")`,
	"apiKeys":                 `apiKeys(first: 1) { nodes { id } }`,
	"auditLog":                `auditLog(first: 1) { nodes { id } }`,
	"mergeProfiles":           `mergeProfiles(ids: ["p_none1", "p_none2"], reason: "scope test") { id }`,
	"unlinkIdentifiers":       `unlinkIdentifiers(a: {type: "user_id", value: "nobody1"}, b: {type: "user_id", value: "nobody2"}, reason: "scope test") { id }`,
	"removeIdentifier":        `removeIdentifier(type: "user_id", value: "nobody", reason: "scope test") { id }`,
	"ingest":                  `ingest(events: [{type: "track", event: "Scoped", userId: "u9", messageId: "scope-1"}]) { accepted }`,
	"createApiKey":            `createApiKey(input: {name: "made in a test", scopes: ["keys:admin"]}) { key { id } }`, // a key gives only scopes its creator holds
	"revokeApiKey":            `revokeApiKey(id: "key_none") { id }`,
	"setConsent":              `setConsent(input: {identifier: {type: "user_id", value: "nobody"}, purpose: "email", status: GRANTED}) { id }`,
	"erasureReceipts":         `erasureReceipts(first: 1) { nodes { id } }`,
	"forgetProfile":           `forgetProfile(id: "p_none", reason: "scope test") { id }`,
	"forgetIdentifier":        `forgetIdentifier(identifier: {type: "user_id", value: "nobody"}, reason: "scope test") { id }`,
	"unsuppress":              `unsuppress(identifier: {type: "user_id", value: "nobody"}, reason: "scope test")`,
	"computedTraits":          `computedTraits { name }`,
	"audience":                `audience(id: "seg_00000000000000000000000000000000") { id }`,
	"audiences":               `audiences(first: 1) { nodes { id } }`,
	"defineComputedTrait":     `defineComputedTrait(input: {name: "scope_orders", aggregate: COUNT, event: "Order Completed"}) { name }`,
	"deleteComputedTrait":     `deleteComputedTrait(name: "scope_none")`,
	"createAudience":          `createAudience(input: {name: "scope test", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id }`,
	"updateAudience":          `updateAudience(id: "seg_00000000000000000000000000000000", input: {name: "scope test", filter: {trait: {name: "plan", op: EQ, value: "pro"}}}) { id }`,
	"deleteAudience":          `deleteAudience(id: "seg_00000000000000000000000000000000")`,
	"previewAudience":         `previewAudience(filter: {trait: {name: "plan", op: EQ, value: "pro"}}) { count }`,
	"funnel":                  `funnel(steps: [{name: "Viewed"}], within: "P1D") { profiles }`,
	"attribution":             `attribution(conversion: {name: "Bought"}, dimension: CHANNEL, model: LINEAR, lookback: "P7D") { conversions }`,
	"paths":                   `paths(start: {name: "Viewed"}) { count }`,
	"lookalike":               `lookalike(audienceId: "seg_00000000000000000000000000000000", size: 5) { score }`,
	"createLookalikeAudience": `createLookalikeAudience(audienceId: "seg_00000000000000000000000000000000", size: 5, name: "scope test") { id }`,
}

// companion is another root field of the same operation type that needs a
// scope other than s, to show the rest of the request still answers.
func companion(mutation bool, s access.Scope) (name, call string) {
	switch {
	case !mutation && s != access.ScopeKeysAdmin:
		return "apiKeys", rootSamples["apiKeys"]
	case !mutation:
		return "auditLog", rootSamples["auditLog"]
	case s != access.ScopeKeysAdmin:
		return "createApiKey", rootSamples["createApiKey"]
	default:
		return "ingest", `ingest(events: [{type: "track", event: "Companion", userId: "u8", messageId: "companion-1"}]) { accepted }`
	}
}

type rootField struct {
	name     string
	mutation bool
	scopes   []access.Scope // every @hasScope of the field, in schema order
}

// rootFields reads every root field and its @hasScope from the schema.
func rootFields(t *testing.T) []rootField {
	t.Helper()
	schema := gql.NewExecutableSchema(gql.Config{}).Schema()
	var out []rootField
	for _, obj := range []struct {
		mutation bool
		fields   []string
	}{{false, nil}, {true, nil}} {
		def := schema.Query
		if obj.mutation {
			def = schema.Mutation
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") || (!obj.mutation && f.Name == "viewer") {
				continue // viewer needs no scope: TestViewer
			}
			ds := f.Directives.ForNames("hasScope")
			if len(ds) == 0 {
				t.Errorf("root field %s has no @hasScope", f.Name)
				continue
			}
			rf := rootField{name: f.Name, mutation: obj.mutation}
			for _, d := range ds {
				s, err := access.ParseScope(d.Arguments.ForName("scope").Value.Raw)
				if err != nil {
					t.Errorf("root field %s: %v", f.Name, err)
					continue
				}
				rf.scopes = append(rf.scopes, s)
			}
			out = append(out, rf)
		}
	}
	if len(out) < len(rootSamples) {
		t.Fatalf("read %d root fields from the schema, fewer than the %d samples", len(out), len(rootSamples))
	}
	return out
}

func TestEveryRootFieldNeedsItsScope(t *testing.T) {
	fields := rootFields(t)
	// Fields that need more than one scope, read from the schema above:
	// the test below checks each scope is asked for.
	want := map[string][]access.Scope{
		"lookalike":               {access.ScopeProfilesRead, access.ScopeAudiencesRead},
		"createLookalikeAudience": {access.ScopeAudiencesWrite, access.ScopeAudiencesRead},
	}
	for _, f := range fields {
		if w, ok := want[f.name]; ok && !slices.Equal(f.scopes, w) {
			t.Errorf("%s needs %v in the schema, want %v", f.name, f.scopes, w)
		}
	}
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "user_id:u1", "anonymous_id:a1"))
		for _, f := range fields {
			t.Run(f.name, func(t *testing.T) {
				call, ok := rootSamples[f.name]
				if !ok {
					t.Fatalf("root field %s has no sample call in rootSamples; add one", f.name)
				}
				op := "query"
				if f.mutation {
					op = "mutation"
				}
				for _, scope := range f.scopes {
					other, otherCall := companion(f.mutation, scope)

					// Every scope but this one: this field alone is refused.
					without, _ := e.key("all but "+string(scope), "", allBut(scope)...)
					r := e.as(without, op+" { "+call+" other: "+otherCall+" }", nil)
					var data map[string]any
					if err := json.Unmarshal(r.Data, &data); err != nil {
						t.Fatalf("data %s: %v", r.Data, err)
					}
					if v, present := data[f.name]; !present || v != nil {
						t.Errorf("%s without %s: data %v, want null", f.name, scope, v)
					}
					var forbidden *gqlError
					for i := range r.Errors {
						if len(r.Errors[i].Path) > 0 && r.Errors[i].Path[0] == f.name {
							forbidden = &r.Errors[i]
						}
						if len(r.Errors[i].Path) > 0 && r.Errors[i].Path[0] == "other" {
							t.Errorf("companion %s failed: %+v", other, r.Errors[i])
						}
					}
					if forbidden == nil || forbidden.Extensions["code"] != CodeForbidden || forbidden.Extensions["scope"] != string(scope) {
						t.Fatalf("%s without %s: errors %+v, want FORBIDDEN with scope %s", f.name, scope, r.Errors, scope)
					}
					if data["other"] == nil {
						t.Errorf("companion %s did not answer: %s", other, r.Data)
					}
					if f.mutation {
						// The refused attempt is in the log, with no effect.
						found := false
						for _, a := range e.audit(f.name) {
							found = found || (a.Outcome == CodeForbidden && a.KeyName == "all but "+string(scope))
						}
						if !found {
							t.Errorf("no FORBIDDEN audit entry for the refused %s", f.name)
						}
					}
				}

				// Its own scopes alone: not refused (other errors, such as
				// NOT_FOUND for the sample's made-up ids, may occur).
				with, _ := e.key("only "+f.name+"'s scopes", "", f.scopes...)
				r := e.as(with, op+" { "+call+" }", nil)
				for _, er := range r.Errors {
					if er.Extensions["code"] == CodeForbidden {
						t.Errorf("%s with %v refused: %+v", f.name, f.scopes, er)
					}
				}
			})
		}

		// No key at all: every field refused, naming that no key came.
		r := e.as("", `{ profiles(first: 1) { totalCount } }`, nil)
		checkRefused(t, r.gqlResponse, CodeForbidden, "carries no key")
	})
}

// TestViewer: viewer needs no scope and tells the caller what it holds:
// its key's scopes in canonical order, or every scope in open mode.
func TestViewer(t *testing.T) {
	type viewer struct {
		Viewer struct {
			Open   bool
			KeyID  *string
			Name   *string
			Scopes []string
		}
	}
	e := newKeyEnv(t, storetest.OpenEmbedded(t), testConfig(), nil)
	secret, k := e.key("console", "", access.ScopePIIRead, access.ScopeProfilesRead)
	var got viewer
	e.ok(secret, `{ viewer { open keyId name scopes } }`, nil, &got)
	v := got.Viewer
	if v.Open || v.KeyID == nil || *v.KeyID != k.ID || v.Name == nil || *v.Name != "console" || strings.Join(v.Scopes, ",") != "profiles:read,pii:read" {
		t.Errorf("viewer with a key: %+v", v)
	}
	o := newEnv(t, storetest.OpenEmbedded(t), testConfig(), nil)
	got = viewer{}
	o.query(`{ viewer { open keyId name scopes } }`, nil, &got)
	want := "profiles:read,pii:read,events:write,identity:write,consent:write,privacy:read,privacy:write,audiences:read,audiences:write,audit:read,keys:admin,metrics:read"
	if v := got.Viewer; !v.Open || v.KeyID != nil || v.Name != nil || strings.Join(v.Scopes, ",") != want {
		t.Errorf("viewer in open mode: %+v", v)
	}
}
