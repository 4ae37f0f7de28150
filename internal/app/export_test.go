package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// sourcedKey stores a key labelling its events with source.
func sourcedKey(t *testing.T, st graph.Store, name, source string, scopes ...string) string {
	t.Helper()
	k, secret, err := access.NewKey(name, scopes, source, time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.(access.Store).CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return secret
}

// sendTo posts one Segment message to the collector's endpoint for its type.
func sendTo(t *testing.T, dial, secret, typ, msg string) {
	t.Helper()
	if status, body := post(t, "http://"+dial+"/v1/"+typ, secret, msg); status != 200 {
		t.Fatalf("%s %s: %d %s", typ, msg, status, body)
	}
}

// profileIDOf returns a function giving the id of the profile that holds
// an identifier now, read through e; a miss fails the test.
func profileIDOf(t *testing.T, e *graph.Engine) func(typ, v string) string {
	return func(typ, v string) string {
		t.Helper()
		p, err := e.ProfileByIdentifier(context.Background(), graph.IdentifierRef{Type: typ, Value: v})
		if err != nil {
			t.Fatalf("%s %s: %v", typ, v, err)
		}
		return p.ID
	}
}

// ndjson reads an export: its header and its records, each decoded as
// generic JSON.
func ndjson(t *testing.T, body string) (map[string]any, []map[string]any) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %s", len(lines)+1, err, sc.Text())
		}
		lines = append(lines, m)
	}
	if len(lines) == 0 || lines[0]["kind"] != "header" {
		t.Fatalf("export has no header line first: %s", body)
	}
	return lines[0], lines[1:]
}

// decode parses a hand-written JSON expectation.
func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("expectation %s: %v", s, err)
	}
	return v
}

// byKind groups records by kind, dropping the fields the test cannot know
// in advance (receivedAt, a merge's time and reason), after checking they
// are set.
func byKind(t *testing.T, recs []map[string]any) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	for _, r := range recs {
		k, _ := r["kind"].(string)
		switch k {
		case privacy.KindEvent, privacy.KindConsent:
			if s, _ := r["receivedAt"].(string); s == "" || strings.HasPrefix(s, "0001") {
				t.Errorf("%s record without receivedAt: %v", k, r)
			}
			delete(r, "receivedAt")
		case privacy.KindHistory:
			if s, _ := r["at"].(string); s == "" || strings.HasPrefix(s, "0001") {
				t.Errorf("history record without time: %v", r)
			}
			if s, _ := r["reason"].(string); s == "" {
				t.Errorf("history record without reason: %v", r)
			}
			delete(r, "at")
			delete(r, "reason")
		case privacy.KindRefusal:
			if s, _ := r["at"].(string); s == "" || strings.HasPrefix(s, "0001") {
				t.Errorf("refusal record without time: %v", r)
			}
			delete(r, "at")
		case privacy.KindMembership:
			if s, _ := r["since"].(string); s == "" || strings.HasPrefix(s, "0001") {
				t.Errorf("membership record without since: %v", r)
			}
			delete(r, "since")
		case privacy.KindAudienceChange:
			if s, _ := r["at"].(string); s == "" || strings.HasPrefix(s, "0001") {
				t.Errorf("audience log record without time: %v", r)
			}
			if n, _ := r["seq"].(float64); n < 1 {
				t.Errorf("audience log record without seq: %v", r)
			}
			delete(r, "at")
			delete(r, "seq")
		}
		out[k] = append(out[k], any(r))
	}
	return out
}

func sameJSON(t *testing.T, what string, got []any, want string) {
	t.Helper()
	w := decode(t, want)
	if got == nil {
		got = []any{}
	}
	if !reflect.DeepEqual(any(got), w) {
		g, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(w, "", " ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, wj)
	}
}

// The people of the export tests, sent through the collector with a key of
// source "web". Ann identifies (u-ann, anon-1, her email), browses as
// anon-2 (a profile of its own), which an alias then merges into hers, and
// orders; Bob identifies, and one event of his also carries Ann's anon-1
// (a shared device): the rules refuse that link (one user_id per profile),
// so the event is Bob's, and Ann's export shows it with her identifier only
// and without its payload.
var (
	msgBob    = `{"userId":"u-bob","messageId":"m5","timestamp":"2026-01-01T08:00:00Z","traits":{"name":"Bob Roe"}}`
	msgAnnID  = `{"userId":"u-ann","anonymousId":"anon-1","messageId":"m1","timestamp":"2026-01-01T10:00:00Z","traits":{"email":"Ann@Example.com","name":"Ann Lee","plan":"pro"},"context":{"consent":{"categoryPreferences":{"Advertising":true}}}}`
	msgBrowse = `{"anonymousId":"anon-2","messageId":"m2","event":"Viewed Item","timestamp":"2026-01-01T09:00:00Z","properties":{"sku":"A-1","price":12.5}}`
	msgAlias  = `{"userId":"u-ann","previousId":"anon-2","messageId":"m3","timestamp":"2026-01-01T11:00:00Z"}`
	msgOrder  = `{"userId":"u-ann","messageId":"m4","event":"Ordered","timestamp":"2026-01-01T12:00:00Z","properties":{"total":30,"items":["A-1"],"address":{"city":"Lyon"}}}`
	msgShared = `{"userId":"u-bob","anonymousId":"anon-1","messageId":"m6","event":"Shared Device","timestamp":"2026-01-01T13:00:00Z","properties":{"screen":"tv"}}`
)

// What Ann's export holds, worked out by hand from the messages above.
const (
	wantAnnIdentifiers = `[
 {"kind":"identifier","type":"anonymous_id","value":"anon-1","firstSeen":"2026-01-01T10:00:00Z","lastSeen":"2026-01-01T13:00:00Z","sources":["web"]},
 {"kind":"identifier","type":"anonymous_id","value":"anon-2","firstSeen":"2026-01-01T09:00:00Z","lastSeen":"2026-01-01T11:00:00Z","sources":["web"]},
 {"kind":"identifier","type":"email","value":"ann@example.com","firstSeen":"2026-01-01T10:00:00Z","lastSeen":"2026-01-01T10:00:00Z","sources":["web"]},
 {"kind":"identifier","type":"user_id","value":"u-ann","firstSeen":"2026-01-01T10:00:00Z","lastSeen":"2026-01-01T12:00:00Z","sources":["web"]}]`
	wantAnnTraits = `[
 {"kind":"trait","identifier":{"type":"user_id","value":"u-ann"},"name":"email","value":"Ann@Example.com","source":"web","at":"2026-01-01T10:00:00Z"},
 {"kind":"trait","identifier":{"type":"user_id","value":"u-ann"},"name":"name","value":"Ann Lee","source":"web","at":"2026-01-01T10:00:00Z"},
 {"kind":"trait","identifier":{"type":"user_id","value":"u-ann"},"name":"plan","value":"pro","source":"web","at":"2026-01-01T10:00:00Z"}]`
	wantAnnEvents = `[
 {"kind":"event","id":"web/m6","messageId":"m6","type":"track","name":"Shared Device","channel":"server","source":"web","timestamp":"2026-01-01T13:00:00Z",
  "properties":{},"traits":{},"identifiers":[{"type":"anonymous_id","value":"anon-1"}],"shared":true},
 {"kind":"event","id":"web/m4","messageId":"m4","type":"track","name":"Ordered","channel":"server","source":"web","timestamp":"2026-01-01T12:00:00Z",
  "properties":{"total":30,"items":["A-1"],"address":{"city":"Lyon"}},"traits":{},"identifiers":[{"type":"user_id","value":"u-ann"}],"shared":false},
 {"kind":"event","id":"web/m3","messageId":"m3","type":"alias","channel":"server","source":"web","timestamp":"2026-01-01T11:00:00Z",
  "properties":{},"traits":{},"identifiers":[{"type":"user_id","value":"u-ann"},{"type":"anonymous_id","value":"anon-2"}],"shared":false},
 {"kind":"event","id":"web/m1","messageId":"m1","type":"identify","channel":"server","source":"web","timestamp":"2026-01-01T10:00:00Z",
  "properties":{},"traits":{"email":"Ann@Example.com","name":"Ann Lee","plan":"pro"},
  "identifiers":[{"type":"user_id","value":"u-ann"},{"type":"email","value":"ann@example.com"},{"type":"anonymous_id","value":"anon-1"}],"shared":false},
 {"kind":"event","id":"web/m2","messageId":"m2","type":"track","name":"Viewed Item","channel":"server","source":"web","timestamp":"2026-01-01T09:00:00Z",
  "properties":{"sku":"A-1","price":12.5},"traits":{},"identifiers":[{"type":"anonymous_id","value":"anon-2"}],"shared":false}]`
	wantBobEvents = `[
 {"kind":"event","id":"web/m6","messageId":"m6","type":"track","name":"Shared Device","channel":"server","source":"web","timestamp":"2026-01-01T13:00:00Z",
  "properties":{"screen":"tv"},"traits":{},"identifiers":[{"type":"user_id","value":"u-bob"}],"shared":false},
 {"kind":"event","id":"web/m5","messageId":"m5","type":"identify","channel":"server","source":"web","timestamp":"2026-01-01T08:00:00Z",
  "properties":{},"traits":{"name":"Bob Roe"},"identifiers":[{"type":"user_id","value":"u-bob"}],"shared":false}]`
)

// exportAudit returns the privacy.export entries of the log, newest first.
func exportAudit(t *testing.T, st graph.Store) []access.AuditEntry {
	t.Helper()
	es, err := st.(access.Store).Audit(context.Background(), access.AuditQuery{Action: privacy.ExportAction, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// A full export equals what was sent, event for event, over HTTP (NDJSON)
// and GraphQL (dataExport), on both stores: identifiers with first and
// last seen and sources, every trait value with its source and time, the
// merge in the history, and every event with its payload. A merged-away id
// answers for its survivor; an unknown id is 404 NOT_FOUND; a key without
// privacy:read is refused with 403 FORBIDDEN; every export is audited.
func TestDataExport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := sourcedKey(t, st, "site", "web", "events:write")
		officer := sourcedKey(t, st, "privacy officer", "", "privacy:read")
		reader := sourcedKey(t, st, "reader", "", "profiles:read", "pii:read", "audit:read")
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		ctx := context.Background()
		// An audience Ann enters (her plan is pro), which her export lists.
		vip := audience.Audience{ID: audience.NewAudienceID(), Name: "pro plan", CreatedAt: graph.Now(), UpdatedAt: graph.Now(),
			Filter: audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}}}
		if err := st.(audience.Store).PutAudience(ctx, vip); err != nil {
			t.Fatal(err)
		}

		sendTo(t, dial, web, "identify", msgBob)
		sendTo(t, dial, web, "identify", msgAnnID)
		sendTo(t, dial, web, "track", msgBrowse)
		browser, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "anonymous_id", Value: "anon-2"})
		if err != nil {
			t.Fatal(err)
		}
		ann, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-ann"})
		if err != nil {
			t.Fatal(err)
		}
		if browser.ID == ann.ID {
			t.Fatal("anon-2 was in Ann's profile before the alias")
		}
		sendTo(t, dial, web, "alias", msgAlias)
		sendTo(t, dial, web, "track", msgOrder)
		sendTo(t, dial, web, "track", msgShared)
		bob, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-bob"})
		if err != nil {
			t.Fatal(err)
		}
		if bob.ID == ann.ID {
			t.Fatal("the shared device merged Bob and Ann")
		}
		// The service keeps membership after each commit: wait until Ann
		// is in.
		for deadline := time.Now().Add(keptLimit); ; {
			ms, err := st.(audience.Store).Members(ctx, vip.ID, audience.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) == 1 && ms[0].ProfileID == ann.ID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Ann is not in the audience %v after her messages: %+v", keptLimit, ms)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// m1's consent hangs on each identifier it carried: three records.
		const wantConsent = 3
		wantHistory := `[{"kind":"history","change":"merge","from":"` + browser.ID + `","into":"` + ann.ID + `"}]`
		// Ann's entry into the audience is in its log; nobody left it.
		wantAnnLog := `[{"kind":"audienceChange","audience":"` + vip.ID + `","name":"pro plan","change":"ENTERED","profileId":"` + ann.ID + `"}]`

		exportURL := func(id string) string { return "http://" + dial + "/v1/privacy/profiles/" + id + "/export" }
		audits := 0
		for _, asked := range []string{ann.ID, browser.ID} {
			r := send(t, "GET", exportURL(asked), "", officer, "")
			audits++
			if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
				t.Fatalf("export of %s: %d %s %s", asked, r.status, r.header.Get("Content-Type"), r.body)
			}
			head, recs := ndjson(t, r.body)
			if head["profileId"] != ann.ID || head["requestedId"] != asked {
				t.Errorf("export of %s: header names profile %v (asked %v), want %s", asked, head["profileId"], head["requestedId"], ann.ID)
			}
			if s, _ := head["exportedAt"].(string); s == "" {
				t.Errorf("header without exportedAt: %v", head)
			}
			// Links: m1 joined u-ann to anon-1 and to the email, the alias
			// anon-2 to u-ann. No computed trait is defined.
			// Refusals: Bob's event on anon-1, refused by the user_id
			// limit.
			wantCounts := map[string]any{"identifiers": 4.0, "traits": 3.0, "consent": float64(wantConsent), "events": 5.0, "history": 1.0,
				"links": 3.0, "refusals": 1.0, "memberships": 1.0, "computed": 0.0, "audienceChanges": 1.0}
			if !reflect.DeepEqual(head["counts"], wantCounts) {
				t.Errorf("export of %s: header counts %v, want %v", asked, head["counts"], wantCounts)
			}
			got := byKind(t, recs)
			seen := map[string]any{}
			for k, v := range got {
				seen[k] = float64(len(v))
			}
			for _, k := range []string{"identifier", "trait", "consent", "event", "history", "membership"} {
				if seen[k] == nil {
					seen[k] = 0.0
				}
			}
			if want := map[string]any{"identifier": 4.0, "trait": 3.0, "consent": float64(wantConsent), "event": 5.0, "history": 1.0, "link": 3.0, "refusal": 1.0, "membership": 1.0, "audienceChange": 1.0}; !reflect.DeepEqual(seen, want) {
				t.Errorf("export of %s: records by kind %v, want %v (as the header counts)", asked, seen, want)
			}
			sameJSON(t, "identifiers", got["identifier"], wantAnnIdentifiers)
			sameJSON(t, "traits", got["trait"], wantAnnTraits)
			sameJSON(t, "events", got["event"], wantAnnEvents)
			sameJSON(t, "history", got["history"], wantHistory)
			sameJSON(t, "memberships", got["membership"], `[{"kind":"membership","audience":"`+vip.ID+`","name":"pro plan"}]`)
			sameJSON(t, "audience log", got["audienceChange"], wantAnnLog)
			// Bob's user id is his: its value is withheld.
			sameJSON(t, "refusals", got["refusal"], `[{"kind":"refusal","a":{"type":"user_id","value":"[withheld]"},"b":{"type":"anonymous_id","value":"anon-1"},
				"source":"rules","reason":"profile would hold 2 user_id identifiers (limit 1)","evidence":"web/m6"}]`)
			holders := map[string]bool{}
			for _, c := range got["consent"] {
				m := c.(map[string]any)
				if m["purpose"] != "advertising" || m["status"] != "GRANTED" || m["at"] != "2026-01-01T10:00:00Z" || m["source"] != "web" {
					t.Errorf("consent record %v, want advertising GRANTED at 2026-01-01T10:00:00Z from web", m)
				}
				if id, ok := m["identifier"].(map[string]any); ok {
					holders[fmt.Sprint(id["type"], ":", id["value"])] = true
				}
			}
			if want := map[string]bool{"user_id:u-ann": true, "anonymous_id:anon-1": true, "email:ann@example.com": true}; !reflect.DeepEqual(holders, want) {
				t.Errorf("consent records hang on %v, want m1's identifiers %v", holders, want)
			}
		}

		// Bob's export holds the shared event in full: it is anchored on him.
		r := send(t, "GET", exportURL(bob.ID), "", officer, "")
		audits++
		if r.status != 200 {
			t.Fatalf("export of Bob: %d %s", r.status, r.body)
		}
		head, recs := ndjson(t, r.body)
		bobs := byKind(t, recs)
		sameJSON(t, "Bob's events", bobs["event"], wantBobEvents)
		// He never entered the audience: Ann's entry is not his.
		sameJSON(t, "Bob's audience log", bobs["audienceChange"], `[]`)
		sameJSON(t, "Bob's refusals", bobs["refusal"], `[{"kind":"refusal","a":{"type":"user_id","value":"u-bob"},"b":{"type":"anonymous_id","value":"[withheld]"},
			"source":"rules","reason":"profile would hold 2 user_id identifiers (limit 1)","evidence":"web/m6"}]`)
		if n := head["counts"].(map[string]any)["audienceChanges"]; n != 0.0 {
			t.Errorf("Bob's export counts %v audience log entries, want 0", n)
		}

		// The same content over GraphQL, as one object.
		var gq struct {
			E struct {
				ProfileID       string
				RequestedID     string
				Counts          map[string]int
				Identifiers     []map[string]any
				Traits          []map[string]any
				Events          []map[string]any
				History         []map[string]any
				Consent         []map[string]any
				Memberships     []map[string]any
				AudienceChanges []map[string]any
			} `json:"dataExport"`
		}
		gqlData(t, dial, officer, `{ dataExport(profileId: "`+browser.ID+`") }`, &gq)
		audits++
		if gq.E.ProfileID != ann.ID || gq.E.RequestedID != browser.ID {
			t.Errorf("dataExport of %s answers for %s", browser.ID, gq.E.ProfileID)
		}
		if want := map[string]int{"identifiers": 4, "traits": 3, "consent": wantConsent, "events": 5, "history": 1, "links": 3, "refusals": 1, "memberships": 1, "computed": 0, "audienceChanges": 1}; !reflect.DeepEqual(gq.E.Counts, want) {
			t.Errorf("dataExport counts %v, want %v", gq.E.Counts, want)
		}
		all := append(append(append(append(append(append(gq.E.Identifiers, gq.E.Traits...), gq.E.Events...), gq.E.History...), gq.E.Consent...), gq.E.Memberships...), gq.E.AudienceChanges...)
		gg := byKind(t, all)
		sameJSON(t, "dataExport identifiers", gg["identifier"], wantAnnIdentifiers)
		sameJSON(t, "dataExport traits", gg["trait"], wantAnnTraits)
		sameJSON(t, "dataExport events", gg["event"], wantAnnEvents)
		sameJSON(t, "dataExport history", gg["history"], wantHistory)
		sameJSON(t, "dataExport memberships", gg["membership"], `[{"kind":"membership","audience":"`+vip.ID+`","name":"pro plan"}]`)
		sameJSON(t, "dataExport audience log", gg["audienceChange"], wantAnnLog)
		if len(gg["consent"]) != wantConsent {
			t.Errorf("dataExport consent %v, want %d records", gg["consent"], wantConsent)
		}

		// Unknown id: 404 NOT_FOUND, over HTTP and GraphQL.
		r = send(t, "GET", exportURL("p_nobody"), "", officer, "")
		audits++
		var e struct{ Error, Code string }
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || r.status != 404 || e.Code != "NOT_FOUND" || e.Error == "" {
			t.Errorf("export of an unknown id: %d %s, want 404 NOT_FOUND", r.status, r.body)
		}
		body, _ := json.Marshal(map[string]string{"query": `{ dataExport(profileId: "p_nobody") }`})
		if r := send(t, "POST", "http://"+dial+"/graphql", "", officer, string(body)); r.code() != "NOT_FOUND" {
			t.Errorf("dataExport of an unknown id: %d %s, want NOT_FOUND", r.status, r.body)
		}
		audits++

		// A malformed id (an email pasted for an id, or a long value): 400
		// INVALID_ARGUMENT, never repeating it, over HTTP and GraphQL.
		for _, bad := range []string{"ann@example.com", "p_" + strings.Repeat("x", 3000)} {
			r = send(t, "GET", exportURL(bad), "", officer, "")
			var e struct{ Error, Code string }
			if err := json.Unmarshal([]byte(r.body), &e); err != nil || r.status != http.StatusBadRequest || e.Code != "INVALID_ARGUMENT" || strings.Contains(r.body, bad) {
				t.Errorf("export of a malformed id: %d %.300s, want 400 INVALID_ARGUMENT not repeating it", r.status, r.body)
			}
			body, _ := json.Marshal(map[string]any{"query": `query($id: ID!) { dataExport(profileId: $id) }`, "variables": map[string]string{"id": bad}})
			if r := send(t, "POST", "http://"+dial+"/graphql", "", officer, string(body)); r.code() != "INVALID_ARGUMENT" || strings.Contains(r.body, bad) {
				t.Errorf("dataExport of a malformed id: %d %.300s, want INVALID_ARGUMENT not repeating it", r.status, r.body)
			}
			audits += 2
		}

		// Without privacy:read: refused, whatever else the key holds, and
		// audited (below); no key: 401, not audited.
		if r := send(t, "GET", exportURL(ann.ID), "", reader, ""); r.status != http.StatusForbidden || r.code() != "FORBIDDEN" {
			t.Errorf("export with a key lacking privacy:read: %d %s, want 403 FORBIDDEN", r.status, r.body)
		}
		if r := send(t, "GET", exportURL(ann.ID), "", "", ""); r.status != http.StatusUnauthorized {
			t.Errorf("export without a key: %d %s, want 401", r.status, r.body)
		}
		body, _ = json.Marshal(map[string]string{"query": `{ dataExport(profileId: "` + ann.ID + `") }`})
		if r := send(t, "POST", "http://"+dial+"/graphql", "", reader, string(body)); r.code() != "FORBIDDEN" || strings.Contains(r.body, "Ann Lee") {
			t.Errorf("dataExport with a key lacking privacy:read: %d %s, want FORBIDDEN", r.status, r.body)
		}
		audits += 2
		// Another method on the export path is not the collector's.
		if r := send(t, "POST", exportURL(ann.ID), "", officer, "{}"); r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST to the export: %d %s, want 405", r.status, r.body)
		}

		// One audit entry per export, naming the profile and the outcome.
		es := exportAudit(t, st)
		if len(es) != audits {
			t.Fatalf("%d privacy.export audit entries, want %d: %+v", len(es), audits, es)
		}
		// Newest first: the reader's two refusals (GraphQL, HTTP), naming
		// the profile asked for, the four malformed ids, GraphQL unknown,
		// HTTP unknown, GraphQL of anon-2's old id, Bob, then Ann by her
		// old and her own id.
		wantOutcomes := []string{"FORBIDDEN", "FORBIDDEN", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "NOT_FOUND", "NOT_FOUND", "ok", "ok", "ok", "ok"}
		wantProfiles := [][]string{{ann.ID}, {ann.ID}, nil, nil, nil, nil, nil, nil, sorted(ann.ID, browser.ID), {bob.ID}, sorted(ann.ID, browser.ID), {ann.ID}}
		for i, a := range es {
			wantKey := "privacy officer"
			if i < 2 {
				wantKey = "reader"
			}
			if a.Outcome != wantOutcomes[i] || !(reflect.DeepEqual(a.ProfileIDs, wantProfiles[i]) || len(a.ProfileIDs)+len(wantProfiles[i]) == 0) || a.KeyName != wantKey {
				t.Errorf("audit entry %d: outcome %s, profiles %v, key %q; want %s, %v, %s", i, a.Outcome, a.ProfileIDs, a.KeyName, wantOutcomes[i], wantProfiles[i], wantKey)
			}
		}
	})
}

func sorted(a, b string) []string {
	if b < a {
		a, b = b, a
	}
	return []string{a, b}
}

// The export lists the values of the computed traits the service keeps
// for the person (in the profile's facts), as Profile.computed shows them,
// and counts them in its header.
func TestExportHoldsKeptComputedValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		web := sourcedKey(t, st, "site", "web", "events:write")
		admin := sourcedKey(t, st, "admin", "", "privacy:read", "audiences:write", "audiences:read", "profiles:read", "pii:read")
		svc, dial, _, _ := startService(t, st, "127.0.0.1:0", app.Auth{})
		ctx := context.Background()
		gqlData(t, dial, admin, `mutation { defineComputedTrait(input: {name: "orders", aggregate: COUNT, event: "Ordered"}) { name } }`, nil)
		sendTo(t, dial, web, "track", `{"userId":"u-ann","messageId":"o1","event":"Ordered","timestamp":"2026-01-01T12:00:00Z","properties":{"total":30}}`)
		sendTo(t, dial, web, "track", `{"userId":"u-ann","messageId":"o2","event":"Ordered","timestamp":"2026-01-01T12:30:00Z","properties":{"total":10}}`)
		p, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u-ann"})
		if err != nil {
			t.Fatal(err)
		}
		// The keeper keeps the value after the commit, in the background,
		// one event at a time: wait for the value both orders give, not the
		// first one kept.
		as := st.(audience.Store)
		for deadline := time.Now().Add(wsLimit); ; time.Sleep(20 * time.Millisecond) {
			fs, err := as.Facts(ctx, []string{p.ID})
			if err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(fs[p.ID].Computed, func(c audience.ComputedFact) bool { return c.Name == "orders" && fmt.Sprint(c.Value) == "2" }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the keeper kept no count of 2 orders: %v", fs[p.ID].Computed)
			}
		}
		r := send(t, "GET", "http://"+dial+"/v1/privacy/profiles/"+p.ID+"/export", "", admin, "")
		if r.status != 200 {
			t.Fatalf("export: %d %s", r.status, r.body)
		}
		head, recs := ndjson(t, r.body)
		var computed []map[string]any
		for _, rec := range recs {
			if rec["kind"] == "computed" {
				computed = append(computed, rec)
			}
		}
		counts, _ := head["counts"].(map[string]any)
		if len(computed) != 1 || computed[0]["name"] != "orders" || fmt.Sprint(computed[0]["value"]) != "2" || counts["computed"] != 1.0 {
			t.Errorf("export's computed records %v (header counts %v), want orders = 2, counted", computed, counts)
		}
	})
}
