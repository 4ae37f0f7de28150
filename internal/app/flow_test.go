package app_test

import (
	"encoding/json"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// gqlData runs a GraphQL operation that must answer 200 without errors and
// decodes its data into out.
func gqlData(t *testing.T, dial, secret, query string, out any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	r := send(t, "POST", "http://"+dial+"/graphql", "", secret, string(body))
	var m struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if err := json.Unmarshal([]byte(r.body), &m); err != nil || r.status != 200 || len(m.Errors) > 0 {
		t.Fatalf("%s: %d %s", query, r.status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(m.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// collect posts one Segment message with the secret as the Basic user and
// returns the status.
func collect(t *testing.T, dial, secret, msg string) int {
	t.Helper()
	status, _ := post(t, "http://"+dial+"/v1/identify", secret, msg)
	return status
}

// A newcomer's first run, through the wired service: open mode until the
// first key is created over GraphQL, enforced from the very next request;
// an event key labels the collector's events with its source; a reader
// without pii:read sees masked values; a key revoked on this server is
// refused at once; and every mutation left one audit entry.
func TestNewcomerFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		var admin struct {
			C struct {
				Secret string
				Key    struct{ ID string }
			} `json:"createApiKey"`
		}
		gqlData(t, dial, "", `mutation { createApiKey(input: {name: "admin", scopes: ["keys:admin", "audit:read", "profiles:read", "pii:read", "events:write"]}) { secret key { id } } }`, &admin)
		// No wait: the server that stored the key enforces keys at once.
		if r := send(t, "POST", "http://"+dial+"/graphql", "", "", typename); r.status != 401 || r.code() != "UNAUTHENTICATED" {
			t.Fatalf("the request right after the first key was created, without a key: %d %s, want 401", r.status, r.body)
		}
		var web, reader struct {
			C struct {
				Secret string
				Key    struct{ ID string }
			} `json:"createApiKey"`
		}
		gqlData(t, dial, admin.C.Secret, `mutation { createApiKey(input: {name: "site", scopes: ["events:write"], source: "web"}) { secret key { id } } }`, &web)
		gqlData(t, dial, admin.C.Secret, `mutation { createApiKey(input: {name: "front", scopes: ["profiles:read"]}) { secret key { id } } }`, &reader)

		msg := `{"userId":"u-1","traits":{"email":"ann@example.com","phone":"+14155550167","name":"Ann Lee"}}`
		if st := collect(t, dial, "", msg); st != 401 {
			t.Fatalf("collector without a key once keys exist: %d, want 401", st)
		}
		if st := collect(t, dial, reader.C.Secret, msg); st != 403 {
			t.Fatalf("collector with a key lacking events:write: %d, want 403", st)
		}
		if st := collect(t, dial, web.C.Secret, msg); st != 200 {
			t.Fatalf("collector with the event key: %d", st)
		}

		const lookup = `{ profileByIdentifier(type: "user_id", value: "u-1") { identifiers { type value } traits journey { nodes { source } } } }`
		type answer struct {
			P struct {
				Identifiers []struct{ Type, Value string }
				Traits      map[string]any
				Journey     struct{ Nodes []struct{ Source string } }
			} `json:"profileByIdentifier"`
		}
		var masked, clear answer
		gqlData(t, dial, reader.C.Secret, lookup, &masked)
		gqlData(t, dial, admin.C.Secret, lookup, &clear)
		if n := masked.P.Journey.Nodes; len(n) != 1 || n[0].Source != "web" {
			t.Errorf("the event sent with the key of source web: journey %+v", n)
		}
		want := map[string]string{"email": "a***@example.com", "phone": "+*********67", "user_id": "u-1"}
		for _, id := range masked.P.Identifiers {
			if want[id.Type] != id.Value {
				t.Errorf("without pii:read, identifier %s = %q, want %q", id.Type, id.Value, want[id.Type])
			}
		}
		if masked.P.Traits["name"] != "***" || masked.P.Traits["email"] != "a***@example.com" {
			t.Errorf("without pii:read, traits %v", masked.P.Traits)
		}
		if clear.P.Traits["name"] != "Ann Lee" || clear.P.Traits["email"] != "ann@example.com" {
			t.Errorf("with pii:read, traits %v", clear.P.Traits)
		}

		gqlData(t, dial, admin.C.Secret, `mutation { revokeApiKey(id: "`+reader.C.Key.ID+`") { id } }`, nil)
		if r := send(t, "POST", "http://"+dial+"/graphql", "", reader.C.Secret, typename); r.status != 401 {
			t.Errorf("a key revoked on this server, used right after: %d %s, want 401", r.status, r.body)
		}

		var log struct {
			A struct {
				Nodes []struct{ Action, Outcome string }
			} `json:"auditLog"`
		}
		gqlData(t, dial, admin.C.Secret, `{ auditLog(first: 50) { nodes { action outcome } } }`, &log)
		count := map[string]int{}
		for _, e := range log.A.Nodes {
			if e.Outcome == access.OutcomeOK {
				count[e.Action]++
			}
		}
		if count["createApiKey"] != 3 || count["revokeApiKey"] != 1 {
			t.Errorf("audit log ok entries by action %v, want 3 createApiKey and 1 revokeApiKey", count)
		}
	})
}
