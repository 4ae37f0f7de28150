package resolver

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
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
	"changeCursor":            `changeCursor`,
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

// membershipFields are the fields of Audience that read its membership,
// audiences:read data wherever the audience comes from.
var membershipFields = []string{"size", "members", "changes", "refreshedAt"}

// TestAudienceMembershipNeedsAudiencesRead walks the schema from every
// root field: no path reaches an audience's membership (Audience.size,
// members, changes, refreshedAt, or an AudienceChange or
// AudienceMembership) without a field on it that needs audiences:read.
// createAudience and updateAudience, which need audiences:write only,
// return an Audience; its membership fields carry the scope themselves.
func TestAudienceMembershipNeedsAudiencesRead(t *testing.T) {
	schema := gql.NewExecutableSchema(gql.Config{}).Schema()
	needsRead := func(f *ast.FieldDefinition) bool {
		for _, d := range f.Directives.ForNames("hasScope") {
			if d.Arguments.ForName("scope").Value.Raw == string(access.ScopeAudiencesRead) {
				return true
			}
		}
		return false
	}
	type state struct {
		typ  string
		read bool
	}
	seen := map[state]bool{}
	var walk func(typ, path string, read bool)
	walk = func(typ, path string, read bool) {
		if seen[state{typ, read}] {
			return
		}
		seen[state{typ, read}] = true
		def := schema.Types[typ]
		if def == nil || (def.Kind != ast.Object && def.Kind != ast.Interface) {
			return
		}
		if !read && (typ == "AudienceChange" || typ == "AudienceMembership") {
			t.Errorf("%s reaches %s without audiences:read", path, typ)
			return
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			r := read || needsRead(f)
			if typ == "Audience" && slices.Contains(membershipFields, f.Name) && !r {
				t.Errorf("%s.%s reads an audience's membership without audiences:read", path, f.Name)
			}
			walk(f.Type.Name(), path+"."+f.Name, r)
		}
	}
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
		walk(root.Name, root.Name, false)
	}
	if !seen[state{"Audience", false}] {
		t.Fatal("the walk never reached Audience without audiences:read; the test no longer tests anything")
	}
}

// A key with audiences:write but not audiences:read creates and updates
// an audience and reads back its definition, but not its membership: the
// membership fields of the Audience the mutations return are null with
// FORBIDDEN naming audiences:read, as audience(id) is refused to it.
func TestAudienceWriteKeyReadsNoMembership(t *testing.T) {
	s := storetest.Embedded(t)
	e := newKeyEnv(t, s, testConfig(), nil)
	e.apply(ev("m1", t0, "identify", "user_id:u1"), ev("m2", t0, "identify", "user_id:u2"))
	admin, _ := e.key("admin", "", access.AllScopes()...)
	var out struct{ CreateAudience struct{ ID string } }
	e.ok(admin, createAudienceOp, map[string]any{"in": map[string]any{"name": "Known",
		"filter": jsonOf(t, `{"identifier":{"type":"user_id"}}`)}}, &out)
	id := out.CreateAudience.ID
	p1 := e.piiProfileID(admin, "user_id", "u1")
	storetest.Must(t, s.(audience.Store).ApplyMembership(context.Background(), id, []string{p1}, nil, graph.Now()))

	const sel = `{ id name size refreshedAt changes { nodes { profileId kind } } members { nodes { id } } }`
	writer, _ := e.key("writer", "", access.ScopeAudiencesWrite, access.ScopeProfilesRead)
	for name, op := range map[string]string{
		"updateAudience": `mutation($id: ID!) { updateAudience(id: $id, input: {name: "Known", filter: {identifier: {type: "user_id"}}}) ` + sel + ` }`,
		"createAudience": `mutation { createAudience(input: {name: "Other", filter: {identifier: {type: "user_id"}}}) ` + sel + ` }`,
	} {
		r := e.as(writer, op, map[string]any{"id": id})
		var data map[string]map[string]any
		if err := json.Unmarshal(r.Data, &data); err != nil || data[name] == nil {
			t.Fatalf("%s: data %s (%v), errors %+v", name, r.Data, err, r.Errors)
		}
		a := data[name]
		if a["id"] == nil || a["name"] == nil {
			t.Errorf("%s: the definition is not answered: %s", name, r.Data)
		}
		for _, f := range membershipFields {
			if v, ok := a[f]; !ok || v != nil {
				t.Errorf("%s answered %s = %v to a key without audiences:read", name, f, v)
			}
			found := false
			for _, er := range r.Errors {
				found = found || (len(er.Path) == 2 && er.Path[1] == f && er.Extensions["code"] == CodeForbidden && er.Extensions["scope"] == string(access.ScopeAudiencesRead))
			}
			if !found {
				t.Errorf("%s: no FORBIDDEN error naming audiences:read at %s: %+v", name, f, r.Errors)
			}
		}
	}
	// With audiences:read too, the same answer holds the membership.
	rw, _ := e.key("read-write", "", access.ScopeAudiencesWrite, access.ScopeAudiencesRead, access.ScopeProfilesRead)
	var got struct {
		UpdateAudience struct {
			Size    int
			Changes struct{ Nodes []struct{ ProfileID string } }
			Members struct{ Nodes []struct{ ID string } }
		}
	}
	e.ok(rw, `mutation($id: ID!) { updateAudience(id: $id, input: {name: "Known", filter: {identifier: {type: "user_id"}}}) `+sel+` }`, map[string]any{"id": id}, &got)
	if u := got.UpdateAudience; u.Size != 1 || len(u.Changes.Nodes) != 1 || len(u.Members.Nodes) != 1 {
		t.Errorf("with audiences:read: %+v, want the one member", u)
	}
}

// TestEverySubscriptionFieldNeedsAScope: the subscriptions, which
// TestEveryRootFieldNeedsItsScope cannot call over HTTP, each declare the
// scope they need, one the access package knows; a subscription without
// one would push the change feed to any key.
func TestEverySubscriptionFieldNeedsAScope(t *testing.T) {
	schema := gql.NewExecutableSchema(gql.Config{}).Schema()
	if schema.Subscription == nil {
		t.Fatal("the schema has no Subscription type")
	}
	n := 0
	for _, f := range schema.Subscription.Fields {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		n++
		ds := f.Directives.ForNames("hasScope")
		if len(ds) == 0 {
			t.Errorf("subscription %s has no @hasScope", f.Name)
		}
		for _, d := range ds {
			if _, err := access.ParseScope(d.Arguments.ForName("scope").Value.Raw); err != nil {
				t.Errorf("subscription %s: %v", f.Name, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no subscription field read from the schema")
	}
}
