package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Ann's phone, given in a second identify.
const msgAnnPhone = `{"userId":"u-ann","messageId":"m7","timestamp":"2026-01-01T12:30:00Z","traits":{"phone":"+1 415 555 0123"}}`

// annNeedles are Ann's values, lowercased, as any store or answer could
// hold them: none may be found after her erasure.
var annNeedles = []string{"u-ann", "ann@example.com", "ann lee", "4155550123", "anon-1", "anon-2"}

// metricValue reads a counter of the service's registry.
func metricValue(t *testing.T, svc *app.Service, name string) float64 {
	t.Helper()
	mfs, err := svc.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func gqlPost(t *testing.T, dial, secret, query string) httpReply {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		t.Fatal(err)
	}
	return send(t, "POST", "http://"+dial+"/graphql", "", secret, string(body))
}

// findNeedles returns Ann's values found in s, ignoring case.
func findNeedles(s string) []string {
	low := strings.ToLower(s)
	var out []string
	for _, n := range annNeedles {
		if strings.Contains(low, n) {
			out = append(out, n)
		}
	}
	return out
}

// After forgetProfile, on both stores: GraphQL, the export endpoint and a
// raw scan of the store find none of Ann's email, phone, user id, name or
// devices; Bob's data, which shared an event with her, is intact; the
// receipt counts what went and holds no personal data; a re-sent message
// of hers is suppressed until unsuppress lets its identifier back in; bad
// input gets a clear error naming the argument, and a key without
// privacy:write erases nothing.
func TestForgetProfileEndToEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := sourcedKey(t, st, "site", "web", "events:write")
		officer := sourcedKey(t, st, "privacy officer", "", "privacy:read", "privacy:write")
		reader := sourcedKey(t, st, "reader", "", "profiles:read", "pii:read", "audit:read")
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		ctx := context.Background()

		for _, m := range []struct{ typ, msg string }{
			{"identify", msgBob}, {"identify", msgAnnID}, {"track", msgBrowse}, {"alias", msgAlias},
			{"track", msgOrder}, {"identify", msgAnnPhone}, {"track", msgShared},
		} {
			sendTo(t, dial, web, m.typ, m.msg)
		}
		ann, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-ann"})
		if err != nil {
			t.Fatal(err)
		}
		before := storetest.Scan(t, st)
		if got := findNeedles(before); len(got) != len(annNeedles) {
			t.Fatalf("before the erasure the raw scan finds %v of %v: it could not tell the erasure worked", got, annNeedles)
		}

		// Refused: no privacy:write; then bad input, each naming its
		// argument and never repeating a value.
		if r := gqlPost(t, dial, reader, `mutation { forgetProfile(id: "`+ann.ID+`", reason: "x") { id } }`); r.code() != "FORBIDDEN" {
			t.Fatalf("forgetProfile without privacy:write: %d %s", r.status, r.body)
		}
		for _, c := range []struct{ query, code, names string }{
			{`mutation { forgetProfile(id: "p_nobody", reason: "request") { id } }`, "NOT_FOUND", "p_nobody"},
			{`mutation { forgetProfile(id: "` + ann.ID + `", reason: " ") { id } }`, "INVALID_ARGUMENT", "reason"},
			{`mutation { forgetIdentifier(identifier: {type: "email", value: "not-an-email"}, reason: "request") { id } }`, "INVALID_ARGUMENT", "identifier.value"},
			{`mutation { forgetIdentifier(identifier: {type: "email", value: "zed@example.com"}, reason: "request") { id } }`, "NOT_FOUND", "identifier"},
			{`mutation { unsuppress(identifier: {type: "email", value: "ann@example.com"}, reason: "") }`, "INVALID_ARGUMENT", "reason"},
			{`{ erasureReceipts(first: 1001) { nodes { id } } }`, "INVALID_ARGUMENT", "first"},
		} {
			r := gqlPost(t, dial, officer, c.query)
			if r.code() != c.code || !strings.Contains(r.body, c.names) {
				t.Errorf("%s: %d %s; want %s naming %s", c.query, r.status, r.body, c.code, c.names)
			}
			if strings.Contains(r.body, "not-an-email") || strings.Contains(r.body, "zed@example.com") {
				t.Errorf("%s: the error repeats the value: %s", c.query, r.body)
			}
		}
		if got := findNeedles(storetest.Scan(t, st)); len(got) != len(annNeedles) {
			t.Fatalf("refused erasures erased %v", annNeedles)
		}

		// The erasure, asked by Ann's old id (anon-2's profile, merged into
		// hers), with her email in the reason.
		var fp struct {
			R map[string]any `json:"forgetProfile"`
		}
		gqlData(t, dial, officer, `mutation { forgetProfile(id: "`+ann.ID+`", reason: "Request from Ann@Example.com") {
			id kind reason keyName identifiers events scrubbedEvents traits consentRecords suppressedHashes } }`, &fp)
		// Identifiers: u-ann, anon-1, anon-2, her email and phone. Events:
		// m1, m2, m3, m4, m7 were hers alone; m6 is Bob's too. Traits:
		// email, name, plan and phone on u-ann. Consent: m1's grant on
		// each of its three identifiers.
		id, _ := fp.R["id"].(string)
		want := map[string]any{"id": id, "kind": "profile", "reason": "Request from [erased]", "keyName": "privacy officer",
			"identifiers": 5.0, "events": 5.0, "scrubbedEvents": 1.0, "traits": 4.0, "consentRecords": 3.0, "suppressedHashes": 5.0}
		if !strings.HasPrefix(id, "rcp_") || !reflect.DeepEqual(fp.R, want) {
			t.Fatalf("receipt = %v\nwant %v", fp.R, want)
		}

		// GraphQL: nothing of Ann's, in any profile or event; Bob whole.
		r := gqlPost(t, dial, reader, `{ profiles(first: 10) { nodes { id traits identifiers(first: 10) { type value }
			journey(first: 20) { nodes { id properties traits identifiers { type value } } } } } }`)
		if r.status != 200 || r.code() != "" {
			t.Fatalf("profiles: %d %s", r.status, r.body)
		}
		if got := findNeedles(r.body); len(got) > 0 {
			t.Errorf("GraphQL still answers %v: %s", got, r.body)
		}
		for _, w := range []string{"u-bob", "Bob Roe", `"screen":"tv"`, "web/m6", "web/m5"} {
			if !strings.Contains(r.body, w) {
				t.Errorf("GraphQL lost Bob's %s: %s", w, r.body)
			}
		}
		if r := gqlPost(t, dial, reader, `{ profile(id: "`+ann.ID+`") { id } }`); strings.Contains(r.body, `"id":"`+ann.ID+`"`) {
			t.Errorf("Ann's profile still answers: %s", r.body)
		}
		// The export endpoint: 404 NOT_FOUND for her id.
		er := send(t, "GET", "http://"+dial+"/v1/privacy/profiles/"+ann.ID+"/export", "", officer, "")
		var e struct{ Code string }
		if json.Unmarshal([]byte(er.body), &e); er.status != http.StatusNotFound || e.Code != "NOT_FOUND" {
			t.Errorf("export of the erased profile: %d %s, want 404 NOT_FOUND", er.status, er.body)
		}
		// The store, byte by byte or property by property.
		after := storetest.Scan(t, st)
		if got := findNeedles(after); len(got) > 0 {
			t.Errorf("the raw scan of the store still finds %v", got)
		}
		if !strings.Contains(after, "u-bob") || !strings.Contains(after, "Bob Roe") {
			t.Error("the raw scan no longer finds Bob's values")
		}

		// The receipt is listed; the audit entry has the scrubbed reason.
		var rl struct {
			L struct{ Nodes []map[string]any } `json:"erasureReceipts"`
		}
		gqlData(t, dial, officer, `{ erasureReceipts { nodes { id reason keyId } } }`, &rl)
		if len(rl.L.Nodes) != 1 || rl.L.Nodes[0]["id"] != id || rl.L.Nodes[0]["reason"] != "Request from [erased]" || rl.L.Nodes[0]["keyId"] == nil {
			t.Errorf("erasureReceipts = %v, want the one receipt", rl.L.Nodes)
		}
		if r := gqlPost(t, dial, reader, `{ erasureReceipts { nodes { id } } }`); r.code() != "FORBIDDEN" {
			t.Errorf("erasureReceipts without privacy:read: %s", r.body)
		}
		es, err := st.(access.Store).Audit(ctx, access.AuditQuery{Action: "forgetProfile", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		// Newest first: the erasure, then the refused ones (bad reason,
		// unknown profile, no privacy:write), whose reasons are withheld.
		// The erasure's names its receipt and no profile id (Ann's ids
		// derive from her identifiers), but counts the profiles it
		// touched: her two, and Bob's, whose m6 it scrubbed.
		wantAudit := []struct {
			outcome, reason string
			count           int
		}{
			{"ok", id + ": Request from [erased]", 3},
			{"INVALID_ARGUMENT", "(withheld: the reason was refused)", 0},
			{"NOT_FOUND", "(withheld: the erasure did not complete)", 0},
			{"FORBIDDEN", "(withheld: the erasure did not complete)", 0},
		}
		if len(es) != len(wantAudit) {
			t.Fatalf("forgetProfile audit entries = %+v, want %d", es, len(wantAudit))
		}
		for i, w := range wantAudit {
			a := es[i]
			if a.Outcome != w.outcome || a.Reason != w.reason || a.ProfileCount != w.count || len(a.ProfileIDs) != 0 {
				t.Errorf("forgetProfile audit entry %d = %+v, want outcome %s, reason %q, %d profiles, no profile id", i, a, w.outcome, w.reason, w.count)
			}
		}

		// Ann's messages come back: suppressed, and counted.
		if status, body := post(t, "http://"+dial+"/v1/identify", web, msgAnnID); status != http.StatusBadRequest || !strings.Contains(body, "suppressed") {
			t.Errorf("re-sent message: %d %s, want 400 suppressed", status, body)
		}
		const signup = `{"anonymousId":"anon-9","messageId":"m8","timestamp":"2026-02-01T10:00:00Z","traits":{"email":"ANN@example.com"}}`
		if status, body := post(t, "http://"+dial+"/v1/identify", web, signup); status != http.StatusBadRequest || !strings.Contains(body, "suppressed") {
			t.Errorf("a new message with her email: %d %s, want 400 suppressed", status, body)
		}
		if n := metricValue(t, svc, "cdp_ingest_events_suppressed_total"); n != 2 {
			t.Errorf("cdp_ingest_events_suppressed_total = %v, want 2", n)
		}
		if got := findNeedles(storetest.Scan(t, st)); len(got) > 0 {
			t.Errorf("suppressed messages stored %v", got)
		}
		// unsuppress lets her email back in.
		var un struct {
			U *bool `json:"unsuppress"`
		}
		gqlData(t, dial, officer, `mutation { unsuppress(identifier: {type: "email", value: " Ann@Example.com"}, reason: "signed up again") }`, &un)
		if un.U == nil || !*un.U {
			t.Fatalf("unsuppress answered %v, want true", un.U)
		}
		sendTo(t, dial, web, "identify", signup)
		if _, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "email", Value: "ann@example.com"}); err != nil {
			t.Fatalf("after unsuppress the sign-up is not stored: %v", err)
		}
		// forgetIdentifier: the device of the sign-up alone. Its event
		// stays, for the email, scrubbed of the device.
		var fi struct {
			R map[string]any `json:"forgetIdentifier"`
		}
		gqlData(t, dial, officer, `mutation { forgetIdentifier(identifier: {type: "anonymous_id", value: "anon-9"}, reason: "device sold") {
			kind identifiers events scrubbedEvents suppressedHashes } }`, &fi)
		if w := map[string]any{"kind": "identifier", "identifiers": 1.0, "events": 0.0, "scrubbedEvents": 1.0, "suppressedHashes": 1.0}; !reflect.DeepEqual(fi.R, w) {
			t.Errorf("forgetIdentifier receipt = %v, want %v", fi.R, w)
		}
		if status, body := post(t, "http://"+dial+"/v1/track", web, `{"anonymousId":"anon-9","event":"Back","messageId":"m9"}`); status != http.StatusBadRequest || !strings.Contains(body, "suppressed") {
			t.Errorf("a message of the forgotten device: %d %s, want 400 suppressed", status, body)
		}
		if strings.Contains(storetest.Scan(t, st), "anon-9") {
			t.Error("the raw scan still finds the forgotten device")
		}
	})
}
