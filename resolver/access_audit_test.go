package resolver

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
)

// onlyEntry returns the one entry of entries, failing otherwise.
func onlyEntry(t *testing.T, what string, entries []access.AuditEntry) access.AuditEntry {
	t.Helper()
	if len(entries) != 1 {
		t.Fatalf("%s: %d audit entries, want 1: %+v", what, len(entries), entries)
	}
	return entries[0]
}

func outcomes(entries []access.AuditEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Outcome)
	}
	return out
}

func TestMutationAuditEntryExistsExactlyWhenItCommitted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		fs := &failingStore{Store: s}
		e := newKeyEnv(t, fs, testConfig(), nil)
		e.apply(
			ev("m1", t0, "identify", "user_id:u1", "anonymous_id:a1"),
			ev("m2", t0.Add(time.Minute), "track", "anonymous_id:a2"),
			ev("m3", t0.Add(2*time.Minute), "track", "anonymous_id:a3"),
		)
		big, small, third := e.profileIDOf("anonymous_id", "a1"), e.profileIDOf("anonymous_id", "a2"), e.profileIDOf("anonymous_id", "a3")
		ops, opsKey := e.key("ops console", "", access.ScopeIdentityWrite, access.ScopeProfilesRead)

		// A merge that fails after all its checks: no effect, no ok entry,
		// one entry with the error's code.
		fs.fail.Store(true)
		r := e.as(ops, `mutation Merge($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person") { id } }`, map[string]any{"ids": []string{small, big}})
		fs.fail.Store(false)
		checkRefused(t, r.gqlResponse, CodeConflict, "injected")
		if a, b := e.profileIDOf("anonymous_id", "a1"), e.profileIDOf("anonymous_id", "a2"); a == b {
			t.Fatalf("the failed merge took effect")
		}
		failed := onlyEntry(t, "failed merge", e.audit("mergeProfiles"))
		if failed.Outcome != CodeConflict || len(failed.ProfileIDs) != 0 || failed.KeyID != opsKey.ID || failed.Reason != "same person" {
			t.Errorf("failed merge entry %+v", failed)
		}

		// The same merge committed: exactly one ok entry, with the request's
		// key, operation, request id, reason and the profiles it touched.
		e.ok(ops, `mutation Merge($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person") { id } }`, map[string]any{"ids": []string{small, big}}, nil, "X-Request-Id", "req-merge-1")
		var ok []access.AuditEntry
		for _, a := range e.audit("mergeProfiles") {
			if a.Outcome == access.OutcomeOK {
				ok = append(ok, a)
			}
		}
		got := onlyEntry(t, "committed merge", ok)
		want := access.AuditEntry{
			ID: got.ID, At: got.At, KeyID: opsKey.ID, KeyName: "ops console", Action: "mergeProfiles",
			OperationName: "Merge", RequestID: "req-merge-1", ProfileIDs: sorted([]string{big, small}), ProfileCount: 2,
			Reason: "same person", Outcome: access.OutcomeOK,
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("merge entry\n got %+v\nwant %+v", got, want)
		}
		if e.profileIDOf("anonymous_id", "a2") != big {
			t.Errorf("the merge did not take effect")
		}

		// unlinkIdentifiers and removeIdentifier, failed then committed.
		fs.fail.Store(true)
		r = e.as(ops, `mutation { removeIdentifier(type: "anonymous_id", value: "a3", reason: "erase") { id } }`, nil)
		fs.fail.Store(false)
		checkRefused(t, r.gqlResponse, CodeConflict)
		if e.profileIDOf("anonymous_id", "a3") != third {
			t.Fatalf("the failed removal took effect")
		}
		e.ok(ops, `mutation { removeIdentifier(type: "anonymous_id", value: "a3", reason: "erase") { id } }`, nil, nil)
		rm := e.audit("removeIdentifier")
		if !reflect.DeepEqual(outcomes(rm), []string{access.OutcomeOK, CodeConflict}) {
			t.Fatalf("removeIdentifier entries %v, want ok then CONFLICT (newest first)", outcomes(rm))
		}
		if !reflect.DeepEqual(rm[0].ProfileIDs, []string{third}) || rm[0].Reason != "erase" {
			t.Errorf("removal entry %+v, want profile %s", rm[0], third)
		}

		// A mutation refused by its checks: the error's code, nothing else.
		e.as(ops, `mutation { removeIdentifier(type: "anonymous_id", value: "never", reason: "erase") { id } }`, nil)
		e.as(ops, `mutation { mergeProfiles(ids: ["p_none1", "p_none2"], reason: "x") { id } }`, nil)
		if got := outcomes(e.audit("removeIdentifier")); !reflect.DeepEqual(got, []string{CodeNotFound, access.OutcomeOK, CodeConflict}) {
			t.Errorf("removeIdentifier outcomes %v", got)
		}
		if got := outcomes(e.audit("mergeProfiles")); !reflect.DeepEqual(got, []string{CodeNotFound, access.OutcomeOK, CodeConflict}) {
			t.Errorf("mergeProfiles outcomes %v", got)
		}

		// unlinkIdentifiers: the split's profiles.
		e.ok(ops, `mutation { unlinkIdentifiers(a: {type: "user_id", value: "u1"}, b: {type: "anonymous_id", value: "a1"}, reason: "two people") { id } }`, nil, nil)
		un := onlyEntry(t, "unlink", e.audit("unlinkIdentifiers"))
		if un.Outcome != access.OutcomeOK || un.ProfileCount < 1 || !slices.Contains(un.ProfileIDs, big) {
			t.Errorf("unlink entry %+v, want ok with %s", un, big)
		}
	})
}

// profileIDOf returns the id of the profile holding an identifier, read in
// open mode straight from the engine.
func (e *keyEnv) profileIDOf(typ, value string) string {
	e.t.Helper()
	p, err := e.engine.ProfileByIdentifier(context.Background(), graph.IdentifierRef{Type: typ, Value: value})
	if err != nil {
		e.t.Fatalf("profile of %s:%s: %v", typ, value, err)
	}
	return p.ID
}

func TestKeyMutationsAndTheirAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		var mu sync.Mutex
		var revoked []string
		cfg := testConfig()
		cfg.OnRevoke = func(id string) { mu.Lock(); revoked = append(revoked, id); mu.Unlock() }
		e := newKeyEnv(t, s, cfg, nil)
		admin, adminKey := e.key("admin", "", access.ScopeKeysAdmin, access.ScopeEventsWrite, access.ScopeProfilesRead)

		var created struct {
			CreateAPIKey struct {
				Key struct {
					ID, Name   string
					Scopes     []string
					Source     *string
					ExpiresAt  *time.Time
					RevokedAt  *time.Time
					LastUsedAt *time.Time
					Active     bool
				}
				Secret string
			} `json:"createApiKey"`
		}
		exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		e.ok(admin, `mutation($exp: DateTime) { createApiKey(input: {name: "web collector", scopes: ["events:write", "profiles:read"], source: "web-app", expiresAt: $exp}) {
		  key { id name scopes source expiresAt revokedAt lastUsedAt active } secret } }`, map[string]any{"exp": exp.Format(time.RFC3339)}, &created)
		c := created.CreateAPIKey
		if c.Key.Name != "web collector" || !reflect.DeepEqual(c.Key.Scopes, []string{"profiles:read", "events:write"}) ||
			c.Key.Source == nil || *c.Key.Source != "web-app" || c.Key.ExpiresAt == nil || !c.Key.ExpiresAt.Equal(exp) ||
			c.Key.RevokedAt != nil || c.Key.LastUsedAt != nil || !c.Key.Active || access.CheckSecret(c.Secret) != nil {
			t.Fatalf("created %+v", c)
		}
		stored, found, err := e.keys.KeyByHash(context.Background(), access.HashSecret(c.Secret))
		if err != nil || !found || stored.ID != c.Key.ID {
			t.Fatalf("the secret finds %+v, %v, %v", stored, found, err)
		}
		ce := onlyEntry(t, "createApiKey", e.audit("createApiKey"))
		if ce.Outcome != access.OutcomeOK || ce.KeyID != adminKey.ID || ce.Reason != "key "+c.Key.ID || strings.Contains(fmt.Sprintf("%+v", ce), c.Secret) {
			t.Errorf("createApiKey entry %+v", ce)
		}
		// The new key works at once.
		var n struct{ Profiles struct{ TotalCount int } }
		e.ok(c.Secret, `{ profiles { totalCount } }`, nil, &n)

		// Refused creations: an expiry in the past, an unknown scope.
		before, _ := e.keys.CountKeys(context.Background())
		e.refusedAs(admin, `mutation { createApiKey(input: {name: "old", scopes: ["profiles:read"], expiresAt: "2020-01-01T00:00:00Z"}) { secret } }`, CodeInvalidArgument, `"input.expiresAt"`)
		e.refusedAs(admin, `mutation { createApiKey(input: {name: "bad", scopes: ["profiles:write"]}) { secret } }`, CodeInvalidArgument, "profiles:write", "pii:read")
		if after, _ := e.keys.CountKeys(context.Background()); after != before {
			t.Errorf("refused creations stored keys: %d → %d", before, after)
		}
		if got := outcomes(e.audit("createApiKey")); !reflect.DeepEqual(got, []string{CodeInvalidArgument, CodeInvalidArgument, access.OutcomeOK}) {
			t.Errorf("createApiKey outcomes %v", got)
		}

		// Revocation: NOT_FOUND for an unknown id, then the real one.
		e.refusedAs(admin, `mutation { revokeApiKey(id: "key_0000") { id } }`, CodeNotFound, `"id"`)
		var rv struct {
			RevokeAPIKey struct {
				ID        string
				RevokedAt *time.Time
				Active    bool
			} `json:"revokeApiKey"`
		}
		e.ok(admin, `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt active } }`, map[string]any{"id": c.Key.ID}, &rv)
		if rv.RevokeAPIKey.ID != c.Key.ID || rv.RevokeAPIKey.RevokedAt == nil || rv.RevokeAPIKey.Active {
			t.Errorf("revoked %+v", rv.RevokeAPIKey)
		}
		mu.Lock()
		if !reflect.DeepEqual(revoked, []string{c.Key.ID}) {
			t.Errorf("OnRevoke got %v, want [%s]", revoked, c.Key.ID)
		}
		mu.Unlock()
		if got := outcomes(e.audit("revokeApiKey")); !reflect.DeepEqual(got, []string{access.OutcomeOK, CodeNotFound}) {
			t.Errorf("revokeApiKey outcomes %v", got)
		}
		if r := e.as(c.Secret, `{ profiles { totalCount } }`, nil); r.Status != 401 {
			t.Errorf("a revoked key answered %d", r.Status)
		}
	})
}

func (e *keyEnv) refusedAs(secret, query, code string, parts ...string) keyResponse {
	e.t.Helper()
	r := e.as(secret, query, nil)
	checkRefused(e.t, r.gqlResponse, code, parts...)
	return r
}

func TestIngestAuditAndSource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		fs := &failingStore{Store: s}
		e := newKeyEnv(t, fs, testConfig(), nil)
		// profiles:read too, to read the profiles the results name.
		web, webKey := e.key("web", "web-app", access.ScopeEventsWrite, access.ScopeProfilesRead)
		bare, bareKey := e.key("no source", "", access.ScopeEventsWrite)

		var out struct {
			Ingest struct {
				Accepted int
				Results  []struct{ ProfileID *string }
			}
		}
		e.ok(web, `mutation Track { ingest(events: [{type: "track", event: "A", userId: "w1", messageId: "i1"}, {type: "track", event: "B", userId: "w2", messageId: "i2"}]) { accepted results { profileId } } }`, nil, &out, "X-Request-Id", "req-ingest")
		if out.Ingest.Accepted != 2 || out.Ingest.Results[0].ProfileID == nil || out.Ingest.Results[1].ProfileID == nil {
			t.Fatalf("ingest %+v", out.Ingest)
		}
		evs, err := e.engine.Events(context.Background(), []string{"web-app/i1"})
		if err != nil || evs["web-app/i1"].Source != "web-app" {
			t.Fatalf("event of the web key: %+v, %v", evs, err)
		}
		got := onlyEntry(t, "ingest", e.audit("ingest"))
		wantPIDs := sorted([]string{*out.Ingest.Results[0].ProfileID, *out.Ingest.Results[1].ProfileID})
		if got.Outcome != access.OutcomeOK || got.KeyID != webKey.ID || got.OperationName != "Track" || got.RequestID != "req-ingest" ||
			!reflect.DeepEqual(got.ProfileIDs, wantPIDs) || got.ProfileCount != 2 {
			t.Errorf("ingest entry %+v, want profiles %v", got, wantPIDs)
		}

		// A key without a source labels its events with its id.
		e.ok(bare, `mutation { ingest(events: [{type: "track", event: "C", userId: "w3", messageId: "i3"}]) { accepted } }`, nil, nil)
		if evs, _ := e.engine.Events(context.Background(), []string{bareKey.ID + "/i3"}); evs[bareKey.ID+"/i3"].Source != bareKey.ID {
			t.Errorf("event of the key without source: %+v", evs)
		}

		// Every message refused before submission: an ok entry, no profile.
		e.ok(web, `mutation { ingest(events: [{type: "bogus", userId: "w4"}]) { rejected } }`, nil, nil)
		if got := e.audit("ingest")[0]; got.Outcome != access.OutcomeOK || got.ProfileCount != 0 {
			t.Errorf("all-refused ingest entry %+v", got)
		}

		// A store that fails after the checks: nothing stored, no ok entry.
		fs.fail.Store(true)
		r := e.as(web, `mutation { ingest(events: [{type: "track", event: "D", userId: "w5", messageId: "i5"}]) { accepted } }`, nil)
		fs.fail.Store(false)
		if len(r.Errors) == 0 {
			t.Fatalf("ingest over a failing store answered %s", r.Data)
		}
		if evs, _ := e.engine.Events(context.Background(), []string{"web-app/i5"}); len(evs) != 0 {
			t.Errorf("the failed ingest stored %+v", evs)
		}
		all := e.audit("ingest")
		if !reflect.DeepEqual(outcomes(all), []string{CodeConflict, access.OutcomeOK, access.OutcomeOK, access.OutcomeOK}) {
			t.Errorf("ingest outcomes %v", outcomes(all))
		}
	})
}

func TestPersonalReadsAreAudited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(withTraits(ev("m1", t0, "identify", "email:ann@example.com", "user_id:u1"), map[string]any{"plan": "pro"}),
			ev("m2", t0, "identify", "user_id:u2"))
		pid := e.profileIDOf("user_id", "u1")
		reader, _ := e.key("analyst", "", access.ScopeProfilesRead)
		support, supportKey := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)

		// Masked answers and answers without personal values: no entry.
		e.ok(reader, `{ profileByIdentifier(type: "user_id", value: "u1") { identifiers { value } traits } }`, nil, nil)
		e.ok(support, `{ profileByIdentifier(type: "user_id", value: "u1") { id traits identifiers(types: ["user_id"]) { value } } }`, nil, nil)
		e.ok(support, `{ profileByIdentifier(type: "user_id", value: "u2") { identifiers { value key } } }`, nil, nil)
		if got := e.audit(""); len(got) != 0 {
			t.Fatalf("audit entries without unmasked personal data: %+v", got)
		}

		// Unmasked: one entry per root field that returned some.
		e.ok(support, `query Look { a: profileByIdentifier(type: "user_id", value: "u1") { identifiers { value } } b: profileByIdentifier(type: "user_id", value: "u1") { identifiers { key } }
		  identifier(type: "user_id", value: "u1") { value } profiles(first: 5) { totalCount } }`, nil, nil, "X-Request-Id", "req-read")
		got := onlyEntry(t, "personal read", e.audit(""))
		want := access.AuditEntry{ID: got.ID, At: got.At, KeyID: supportKey.ID, KeyName: "support", Action: "profileByIdentifier",
			OperationName: "Look", RequestID: "req-read", ProfileIDs: []string{pid}, ProfileCount: 1, Outcome: access.OutcomeOK}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read entry\n got %+v\nwant %+v", got, want)
		}

		// An event read by id names the profiles of its identifiers.
		e.ok(support, `{ identifier(type: "email", value: "ann@example.com") { value } event(id: "m1") { identifiers { key } } }`, nil, nil)
		if got := e.audit("event"); len(got) != 1 || !reflect.DeepEqual(got[0].ProfileIDs, []string{pid}) {
			t.Errorf("event read entries %+v", got)
		}
		if got := e.audit("identifier"); len(got) != 1 || !reflect.DeepEqual(got[0].ProfileIDs, []string{pid}) {
			t.Errorf("identifier read entries %+v", got)
		}
	})
}

func TestAuditWriterBatchesAndFlushes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		w := NewAuditWriter(accessStore(s), zerolog.Nop())
		cfg := testConfig()
		cfg.Audit = w
		e := newKeyEnv(t, s, cfg, nil)
		e.apply(ev("m1", t0, "identify", "email:ann@example.com", "user_id:u1"))
		support, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
		for range 3 {
			e.ok(support, `{ profileByIdentifier(type: "user_id", value: "u1") { identifiers { value } } }`, nil, nil)
		}
		for i := range 1200 {
			w.Record(access.AuditEntry{ID: fmt.Sprintf("aud_bulk%04d", i), At: t0.Add(time.Duration(i) * time.Second), Action: "bulk", Outcome: access.OutcomeOK})
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := len(e.audit("profileByIdentifier")); got != 3 {
			t.Errorf("%d read entries after Close, want 3", got)
		}
		es, err := e.keys.Audit(context.Background(), access.AuditQuery{Action: "bulk", Limit: access.MaxPage})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != access.MaxPage || es[0].ID != "aud_bulk1199" {
			t.Errorf("bulk entries: %d, newest %v", len(es), es[0].ID)
		}
		// After Close, Record writes at once.
		w.Record(access.AuditEntry{ID: "aud_late", At: t0, Action: "late", Outcome: access.OutcomeOK})
		if got := len(e.audit("late")); got != 1 {
			t.Errorf("entry recorded after Close: %d stored", got)
		}
	})
}

func TestAuditLogFiltersAndPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
		seed := []access.AuditEntry{
			{ID: "aud_a1", At: at(0), KeyID: "key_k1", KeyName: "one", Action: "mergeProfiles", ProfileIDs: []string{"p_1"}, ProfileCount: 1, Reason: "dupes", Outcome: access.OutcomeOK},
			{ID: "aud_a2", At: at(1), KeyID: "key_k2", KeyName: "two", Action: "ingest", RequestID: "r2", ProfileIDs: []string{"p_1", "p_2"}, ProfileCount: 2, Outcome: access.OutcomeOK},
			{ID: "aud_a3", At: at(2), KeyID: "key_k1", KeyName: "one", Action: "removeIdentifier", ProfileIDs: []string{"p_2"}, ProfileCount: 1, Outcome: CodeNotFound},
			{ID: "aud_a4", At: at(2), KeyID: "key_k1", KeyName: "one", Action: "mergeProfiles", OperationName: "Fix", ProfileIDs: []string{"p_3"}, ProfileCount: 1, Outcome: access.OutcomeOK},
			{ID: "aud_a5", At: at(3), KeyID: "key_k2", KeyName: "two", Action: "profileByIdentifier", Outcome: access.OutcomeOK},
		}
		if err := e.keys.AppendAudit(context.Background(), seed); err != nil {
			t.Fatal(err)
		}
		auditor, _ := e.key("auditor", "", access.ScopeAuditRead)

		type page struct {
			IDs     []string
			Next    bool
			Prev    bool
			EndCurs string
		}
		list := func(first int, filter map[string]any, after string) page {
			t.Helper()
			var out struct {
				AuditLog struct {
					Edges []struct {
						Cursor string
						Node   struct{ ID string }
					}
					PageInfo struct {
						HasNextPage, HasPreviousPage bool
						EndCursor                    *string
					}
				}
			}
			vars := map[string]any{}
			if first > 0 {
				vars["first"] = first
			}
			if filter != nil {
				vars["filter"] = filter
			}
			if after != "" {
				vars["after"] = after
			}
			e.ok(auditor, `query($first: Int, $after: String, $filter: AuditFilter) { auditLog(first: $first, after: $after, filter: $filter) {
			  edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`, vars, &out)
			var p page
			for _, ed := range out.AuditLog.Edges {
				p.IDs = append(p.IDs, ed.Node.ID)
			}
			p.Next, p.Prev = out.AuditLog.PageInfo.HasNextPage, out.AuditLog.PageInfo.HasPreviousPage
			if out.AuditLog.PageInfo.EndCursor != nil {
				p.EndCurs = *out.AuditLog.PageInfo.EndCursor
			}
			return p
		}
		check := func(what string, got page, ids []string, next bool) {
			t.Helper()
			if !reflect.DeepEqual(got.IDs, ids) || got.Next != next {
				t.Errorf("%s: %v (next %v), want %v (next %v)", what, got.IDs, got.Next, ids, next)
			}
		}

		// Newest first; a tie in time goes by id, descending.
		p1 := list(2, nil, "")
		check("page 1", p1, []string{"aud_a5", "aud_a4"}, true)
		p2 := list(2, nil, p1.EndCurs)
		check("page 2", p2, []string{"aud_a3", "aud_a2"}, true)
		p3 := list(2, nil, p2.EndCurs)
		check("page 3", p3, []string{"aud_a1"}, false)
		if !p2.Prev || p1.Prev {
			t.Errorf("hasPreviousPage: page 1 %v, page 2 %v", p1.Prev, p2.Prev)
		}
		check("default", list(0, nil, ""), []string{"aud_a5", "aud_a4", "aud_a3", "aud_a2", "aud_a1"}, false)

		check("keyId", list(0, map[string]any{"keyId": "key_k1"}, ""), []string{"aud_a4", "aud_a3", "aud_a1"}, false)
		check("profileId", list(0, map[string]any{"profileId": "p_1"}, ""), []string{"aud_a2", "aud_a1"}, false)
		check("action", list(0, map[string]any{"action": "mergeProfiles"}, ""), []string{"aud_a4", "aud_a1"}, false)
		window := map[string]any{"from": at(1).Format(time.RFC3339), "to": at(3).Format(time.RFC3339)}
		check("from/to", list(0, window, ""), []string{"aud_a4", "aud_a3", "aud_a2"}, false)
		k1f := map[string]any{"keyId": "key_k1", "from": at(2).Format(time.RFC3339)}
		k1 := list(1, k1f, "")
		check("keyId and from, page 1", k1, []string{"aud_a4"}, true)
		check("keyId and from, page 2", list(1, k1f, k1.EndCurs), []string{"aud_a3"}, false)

		// Every field of an entry.
		var one struct {
			AuditLog struct {
				Nodes []map[string]any
			}
		}
		e.ok(auditor, `{ auditLog(first: 1, filter: {action: "ingest"}) { nodes { id at keyId keyName action operationName requestId profileIds profileCount reason outcome } } }`, nil, &one)
		want := map[string]any{"id": "aud_a2", "at": "2024-05-01T12:01:00Z", "keyId": "key_k2", "keyName": "two", "action": "ingest", "operationName": nil,
			"requestId": "r2", "profileIds": []any{"p_1", "p_2"}, "profileCount": float64(2), "reason": nil, "outcome": "ok"}
		if len(one.AuditLog.Nodes) != 1 || !reflect.DeepEqual(one.AuditLog.Nodes[0], want) {
			t.Errorf("entry fields %v, want %v", one.AuditLog.Nodes, want)
		}

		// Refused arguments.
		e.refusedAs(auditor, `{ auditLog(first: 501) { nodes { id } } }`, CodeInvalidArgument, "first")
		e.refusedAs(auditor, `{ auditLog(first: -1) { nodes { id } } }`, CodeInvalidArgument, "first")
		e.refusedAs(auditor, `{ auditLog(after: "garbage") { nodes { id } } }`, CodeInvalidArgument, `"after"`)
		e.refusedAs(auditor, `{ auditLog(filter: {from: "2024-05-02T00:00:00Z", to: "2024-05-01T00:00:00Z"}) { nodes { id } } }`, CodeInvalidArgument, `"filter.to"`)
		profCursor := profileCursor("p1")
		e.refusedAs(auditor, `{ auditLog(after: "`+profCursor+`") { nodes { id } } }`, CodeInvalidArgument, "another list")
	})
}

func TestAPIKeysNeverShowSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		admin, adminKey := e.key("admin", "", access.ScopeKeysAdmin)
		secrets := []string{admin}
		ids := []string{adminKey.ID}
		hashes := []string{adminKey.Hash}
		for _, name := range []string{"alpha", "beta", "gamma"} {
			sec, k := e.key(name, "src-"+name, access.ScopeEventsWrite)
			secrets, ids, hashes = append(secrets, sec), append(ids, k.ID), append(hashes, k.Hash)
		}
		slices.Sort(ids)

		q := `query($after: String) { apiKeys(first: 3, after: $after) { edges { cursor node { id name scopes source createdAt lastUsedAt expiresAt revokedAt active } } pageInfo { hasNextPage endCursor } } }`
		type conn struct {
			APIKeys struct {
				Edges []struct {
					Cursor string
					Node   struct {
						ID, Name string
						Active   bool
					}
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			} `json:"apiKeys"`
		}
		var p1, p2 conn
		r1 := e.ok(admin, q, nil, &p1)
		r2 := e.ok(admin, q, map[string]any{"after": p1.APIKeys.PageInfo.EndCursor}, &p2)
		var got []string
		for _, c := range []conn{p1, p2} {
			for _, ed := range c.APIKeys.Edges {
				got = append(got, ed.Node.ID)
				if !ed.Node.Active {
					t.Errorf("key %s inactive", ed.Node.ID)
				}
			}
		}
		if !reflect.DeepEqual(got, ids) || !p1.APIKeys.PageInfo.HasNextPage || p2.APIKeys.PageInfo.HasNextPage {
			t.Errorf("apiKeys pages %v (next %v, %v), want %v", got, p1.APIKeys.PageInfo.HasNextPage, p2.APIKeys.PageInfo.HasNextPage, ids)
		}
		for _, raw := range [][]byte{r1.Raw, r2.Raw, cursorsIn(r1.Raw), cursorsIn(r2.Raw)} {
			for _, secret := range append(slices.Clone(secrets), hashes...) {
				if strings.Contains(string(raw), secret) || strings.Contains(string(raw), secret[len(secret)-20:]) {
					t.Errorf("apiKeys answer holds a secret or hash: %s", raw)
				}
			}
		}
		// Nor does the schema let anyone ask for one.
		var typ struct {
			Type struct{ Fields []struct{ Name string } } `json:"__type"`
		}
		e.ok(admin, `{ __type(name: "ApiKey") { fields { name } } }`, nil, &typ)
		for _, f := range typ.Type.Fields {
			if n := strings.ToLower(f.Name); strings.Contains(n, "hash") || strings.Contains(n, "secret") {
				t.Errorf("ApiKey has field %s", f.Name)
			}
		}
		e.refusedAs(admin, `{ apiKeys(first: 501) { nodes { id } } }`, CodeInvalidArgument, "first")
	})
}

// plainStore hides the access side of a store.
type plainStore struct{ graph.Store }

func TestKeyFieldsWithoutKeyStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, plainStore{s}, testConfig(), nil)
		for _, q := range []string{
			`{ apiKeys { nodes { id } } }`,
			`{ auditLog { nodes { id } } }`,
			`mutation { createApiKey(input: {name: "x", scopes: ["metrics:read"]}) { secret } }`,
			`mutation { revokeApiKey(id: "key_x") { id } }`,
		} {
			e.refused(q, nil, CodeUnavailable, "no key store configured")
		}
	})
}

// flakyAudit wraps a real access store: its next failures calls to
// AppendAudit fail as an unreachable store does, without writing.
type flakyAudit struct {
	access.Store
	failures atomic.Int64
}

func (f *flakyAudit) AppendAudit(ctx context.Context, entries []access.AuditEntry) error {
	if f.failures.Add(-1) >= 0 {
		return graph.ErrUnavailable(errors.New("audit store down (test)"))
	}
	return f.Store.AppendAudit(ctx, entries)
}

func TestAuditWriterRetriesThenLogs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		store := accessStore(s)
		flaky := &flakyAudit{Store: store}
		var logs testlog.Buffer

		// Two failures: the retries append the batch.
		flaky.failures.Store(2)
		w := NewAuditWriter(flaky, zerolog.New(&logs))
		w.Record(access.AuditEntry{ID: "aud_retried", At: t0, Action: "profileByIdentifier", ProfileIDs: []string{"p1"}, ProfileCount: 1, Outcome: access.OutcomeOK})
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		es, err := store.Audit(context.Background(), access.AuditQuery{Limit: 10})
		if err != nil || len(es) != 1 || es[0].ID != "aud_retried" {
			t.Fatalf("after two failures: %+v, %v", es, err)
		}
		if logs.String() != "" {
			t.Errorf("a batch written on retry logged %s", logs.String())
		}

		// A store that stays down: the loss is logged, ids and actions only.
		flaky.failures.Store(1000)
		w = NewAuditWriter(flaky, zerolog.New(&logs))
		w.Record(access.AuditEntry{ID: "aud_lost", At: t0, Action: "identifier", Outcome: access.OutcomeOK})
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if l := logs.String(); !strings.Contains(l, "aud_lost") || !strings.Contains(l, "not written") {
			t.Errorf("lost batch log: %s", l)
		}
	})
}

// An outage longer than the quick retries loses no entry: the batch waits
// and is written once the store takes entries again.
func TestAuditWriterKeepsEntriesThroughAnOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		store := accessStore(s)
		flaky := &flakyAudit{Store: store}
		var logs testlog.Buffer
		flaky.failures.Store(1_000_000)
		w := NewAuditWriter(flaky, zerolog.New(&logs))
		w.Record(access.AuditEntry{ID: "aud_during", At: t0, Action: "profileByIdentifier", ProfileIDs: []string{"p1"}, ProfileCount: 1, Outcome: access.OutcomeOK})
		// A flush fails through its quick retries and says the batch
		// waits; then the store is back.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logs.String(), "retried") {
			if time.Now().After(deadline) {
				t.Fatalf("no sign of the batch waiting for the store after 30 s; logs: %s", logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		flaky.failures.Store(0)
		w.Record(access.AuditEntry{ID: "aud_after", At: t0.Add(time.Second), Action: "profileByIdentifier", ProfileIDs: []string{"p1"}, ProfileCount: 1, Outcome: access.OutcomeOK})
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		es, err := store.Audit(context.Background(), access.AuditQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"aud_after", "aud_during"}) {
			t.Fatalf("audit log after the outage holds %v, want aud_after and aud_during", ids)
		}
		if strings.Contains(logs.String(), "not written") {
			t.Errorf("an entry written after the outage was logged as lost: %s", logs.String())
		}
	})
}

func TestPersonalReadWithheldWhenItsEntryCannotBeWritten(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		flaky := &flakyAudit{Store: accessStore(s)}
		cfg := testConfig()
		cfg.Keys = flaky
		e := newKeyEnv(t, s, cfg, nil)
		e.apply(ev("m1", t0, "identify", "email:ann@example.com", "user_id:u1"))
		support, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
		flaky.failures.Store(1)
		r := e.as(support, `{ profileByIdentifier(type: "user_id", value: "u1") { identifiers { value } } }`, nil)
		checkRefused(t, r.gqlResponse, CodeUnavailable, "audit")
		if strings.Contains(string(r.Raw), "ann@example.com") {
			t.Errorf("withheld answer holds the email: %s", r.Raw)
		}
		// Once the store is back, the same read answers and is recorded.
		r = e.ok(support, `{ profileByIdentifier(type: "user_id", value: "u1") { identifiers { value } } }`, nil, nil)
		if !strings.Contains(string(r.Raw), "ann@example.com") || len(e.audit("profileByIdentifier")) != 1 {
			t.Errorf("read after recovery: %s, entries %+v", r.Raw, e.audit(""))
		}
	})
}

// A key gives only scopes its creator holds, and the last usable key with
// keys:admin cannot be revoked over GraphQL: keys:admin is not a way to
// every scope, and nobody is locked out of key administration.
func TestKeyAdminLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		admin, adminKey := e.key("admin", "", access.ScopeKeysAdmin, access.ScopeProfilesRead)
		before, _ := e.keys.CountKeys(context.Background())
		e.refusedAs(admin, `mutation { createApiKey(input: {name: "wider", scopes: ["profiles:read", "pii:read"]}) { secret } }`,
			CodeForbidden, `"input.scopes"`, "pii:read")
		if after, _ := e.keys.CountKeys(context.Background()); after != before {
			t.Fatalf("a refused creation stored a key: %d → %d", before, after)
		}
		var created struct {
			CreateAPIKey struct{ Key struct{ ID string } } `json:"createApiKey"`
		}
		e.ok(admin, `mutation { createApiKey(input: {name: "narrower", scopes: ["profiles:read"]}) { key { id } } }`, nil, &created)

		// The only admin key revokes itself: refused, and it still works.
		e.refusedAs(admin, `mutation { revokeApiKey(id: "`+adminKey.ID+`") { id } }`, CodeConflict, adminKey.ID, "last usable key with keys:admin")
		e.ok(admin, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": created.CreateAPIKey.Key.ID}, nil)
		// With a second admin key, the first can go.
		second, secondKey := e.key("second admin", "", access.ScopeKeysAdmin, access.ScopeProfilesRead)
		e.ok(second, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": adminKey.ID}, nil)
		e.refusedAs(second, `mutation { revokeApiKey(id: "`+secondKey.ID+`") { id } }`, CodeConflict, secondKey.ID)
		if got := outcomes(e.audit("createApiKey")); !reflect.DeepEqual(got, []string{access.OutcomeOK, CodeForbidden}) {
			t.Errorf("createApiKey outcomes %v", got)
		}
	})
}

// A key that expires creates only keys that expire no later than it does:
// else it could mint a key that never expires and keep its access.
func TestKeyCreatesNoKeyOutlivingIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		now := graph.Now()
		ends := now.Add(48 * time.Hour)
		k, admin, err := access.NewKey("temporary admin", access.ScopeNames([]access.Scope{access.ScopeKeysAdmin, access.ScopeProfilesRead}), "", ends, now)
		storetest.Must(t, err)
		storetest.Must(t, e.keys.CreateKey(context.Background(), k))
		before, _ := e.keys.CountKeys(context.Background())
		for _, expiry := range []string{"", `, expiresAt: "` + ends.Add(time.Hour).Format(time.RFC3339) + `"`} {
			e.refusedAs(admin, `mutation { createApiKey(input: {name: "forever", scopes: ["profiles:read"]`+expiry+`}) { secret } }`,
				CodeForbidden, `"input.expiresAt"`, "expire no later than it does")
		}
		if after, _ := e.keys.CountKeys(context.Background()); after != before {
			t.Fatalf("a refused creation stored a key: %d → %d", before, after)
		}
		e.ok(admin, `mutation($at: DateTime!) { createApiKey(input: {name: "shorter", scopes: ["profiles:read"], expiresAt: $at}) { key { id } } }`,
			map[string]any{"at": ends.Add(-time.Hour).Format(time.RFC3339)}, nil)
		e.ok(admin, `mutation($at: DateTime!) { createApiKey(input: {name: "as long", scopes: ["profiles:read"], expiresAt: $at}) { key { id } } }`,
			map[string]any{"at": ends.Format(time.RFC3339Nano)}, nil)
		// A key that never expires creates any.
		forever, _ := e.key("admin", "", access.ScopeKeysAdmin, access.ScopeProfilesRead)
		e.ok(forever, `mutation { createApiKey(input: {name: "forever", scopes: ["profiles:read"]}) { key { id } } }`, nil, nil)
	})
}

// appendCounter counts the audit writes (AppendAudit calls) made through
// it and the entries they carried.
type appendCounter struct {
	access.Store
	calls, entries atomic.Int64
}

func (c *appendCounter) AppendAudit(ctx context.Context, es []access.AuditEntry) error {
	c.calls.Add(1)
	c.entries.Add(int64(len(es)))
	return c.Store.AppendAudit(ctx, es)
}

// A key without the scope of a mutation (a Segment write key, public in
// web pages, holding events:write alone) cannot make one request cost a
// store write per refused field: an operation holds at most
// MaxMutationFields root mutation fields (more is refused whole, before
// anything runs or is logged, with QUERY_TOO_LARGE), and the FORBIDDEN
// entries of one operation are appended together, in one write, each
// refused field keeping its own entry.
func TestRefusedMutationsAuditedInOneWrite(t *testing.T) {
	s := storetest.Embedded(t)
	counter := &appendCounter{Store: accessStore(s)}
	cfg := testConfig()
	cfg.Keys = counter
	e := newKeyEnv(t, s, cfg, nil)
	writeKey, _ := e.key("web", "web", access.ScopeEventsWrite)
	op := func(n int) string {
		var b strings.Builder
		b.WriteString("mutation($i: ID!) { ...F")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, " a%d: deleteAudience(id: $i)", i)
		}
		b.WriteString(" } fragment F on Mutation { a0: deleteAudience(id: $i) __typename }")
		return b.String()
	}

	// Past the limit (a fragment's fields count): refused whole.
	for _, n := range []int{MaxMutationFields + 1, 1600} {
		r := e.as(writeKey, op(n), map[string]any{"i": "x"})
		if r.code() != CodeQueryTooLarge || len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, fmt.Sprintf("limit of %d", MaxMutationFields)) {
			t.Errorf("%d root mutation fields: status %d, %d errors, code %q, want QUERY_TOO_LARGE", n, r.Status, len(r.Errors), r.code())
		}
	}
	if n := len(e.audit("deleteAudience")); n != 0 || counter.calls.Load() != 0 {
		t.Errorf("operations refused whole wrote %d entries (at least) in %d writes", n, counter.calls.Load())
	}

	// At the limit: every field refused and logged, in one write.
	e = newKeyEnv(t, storetest.Embedded(t), cfg, nil)
	counter.Store = e.keys
	counter.calls.Store(0)
	writeKey, _ = e.key("web", "web", access.ScopeEventsWrite)
	r := e.as(writeKey, op(MaxMutationFields), map[string]any{"i": "x"})
	forbidden := 0
	for _, er := range r.Errors {
		if er.Extensions["code"] == CodeForbidden {
			forbidden++
		}
	}
	if forbidden != MaxMutationFields {
		t.Errorf("%d FORBIDDEN errors, want %d: %+v", forbidden, MaxMutationFields, r.Errors)
	}
	es := e.audit("deleteAudience")
	if len(es) != MaxMutationFields {
		t.Errorf("%d audit entries, want one per refused field (%d)", len(es), MaxMutationFields)
	}
	for _, a := range es {
		if a.Outcome != CodeForbidden || a.KeyName != "web" {
			t.Errorf("entry %+v, want FORBIDDEN by web", a)
		}
	}
	if c := counter.calls.Load(); c != 1 {
		t.Errorf("the refusals of one operation took %d audit writes, want 1", c)
	}
}

// AuditFilter: `from` is "Inclusive." and `to` "Exclusive.". An entry at
// T (whole microseconds) is before from = T+0.5µs, so it must be left
// out; and it is before to = T+0.5µs, so it must be kept. Journey and the
// intel queries round such bounds up (graph.CleanUp); auditLog truncated them.
func TestAuditFilterSubMicrosecondBounds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		a := e.profileID("user_id", "u1")
		// A merge with an unknown id: refused (NOT_FOUND) and audited.
		e.post(`mutation($ids:[ID!]!){mergeProfiles(ids:$ids, reason:"review"){id}}`, map[string]any{"ids": []string{a, "p_nope"}})
		var log struct {
			AuditLog struct {
				Nodes []struct {
					ID, Action string
					At         time.Time
				}
			}
		}
		e.query(`{auditLog(first: 1, filter: {action: "mergeProfiles"}){nodes{id action at}}}`, nil, &log)
		if len(log.AuditLog.Nodes) != 1 {
			t.Fatalf("no audit entry: %+v", log)
		}
		at := log.AuditLog.Nodes[0].At
		half := at.Add(500 * time.Nanosecond).Format(time.RFC3339Nano)
		var from, to struct {
			AuditLog struct{ Nodes []struct{ ID string } }
		}
		e.query(`query($f: DateTime){auditLog(filter: {action: "mergeProfiles", from: $f}){nodes{id}}}`, map[string]any{"f": half}, &from)
		if len(from.AuditLog.Nodes) != 0 {
			t.Errorf("entry at %s listed with filter.from %s (inclusive bound after it)", at.Format(time.RFC3339Nano), half)
		}
		e.query(`query($t: DateTime){auditLog(filter: {action: "mergeProfiles", to: $t}){nodes{id}}}`, map[string]any{"t": half}, &to)
		if len(to.AuditLog.Nodes) != 1 {
			t.Errorf("entry at %s left out with filter.to %s (exclusive bound after it)", at.Format(time.RFC3339Nano), half)
		}
	})
}

// An auditLog filter.to of the earliest instant (0001-01-01T00:00:00Z, a
// zero Go time) is a bound like any other, as journey's is: no entry is
// before it, though the stores read a zero To as no bound at all. Given
// with an offset it names the same instant.
func TestAuditFilterToAtTheEarliestInstant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		a := e.profileID("user_id", "u1")
		e.post(`mutation($ids:[ID!]!){mergeProfiles(ids:$ids, reason:"review"){id}}`, map[string]any{"ids": []string{a, "p_nope"}})
		const q = `query($t: DateTime){auditLog(filter: {to: $t}){nodes{id} pageInfo{hasNextPage}}}`
		var all struct {
			AuditLog struct{ Nodes []struct{ ID string } }
		}
		e.query(q, map[string]any{"t": "2999-01-01T00:00:00Z"}, &all)
		if len(all.AuditLog.Nodes) == 0 {
			t.Fatal("no audit entry to filter out")
		}
		for _, earliest := range []string{"0001-01-01T00:00:00Z", "0001-01-01T02:00:00+02:00"} {
			var out struct {
				AuditLog struct {
					Nodes    []struct{ ID string }
					PageInfo struct{ HasNextPage bool }
				}
			}
			e.query(q, map[string]any{"t": earliest}, &out)
			if n := len(out.AuditLog.Nodes); n != 0 || out.AuditLog.PageInfo.HasNextPage {
				t.Errorf("auditLog(filter: {to: %s}) = %d entries (hasNextPage %v), want none", earliest, n, out.AuditLog.PageInfo.HasNextPage)
			}
		}
		e.refused(`{auditLog(filter: {from: "2024-01-01T00:00:00Z", to: "0001-01-01T00:00:00Z"}){nodes{id}}}`, nil,
			CodeInvalidArgument, `"filter.to"`, `"filter.from"`)
	})
}

// An auditLog filter.from of the earliest instant (0001-01-01T00:00:00Z, a
// zero Go time, which the stores read as no bound) is a bound like any
// other: a to before it (in year 0) is refused, as a to before any other
// from is, and as journey refuses it. From the earliest instant to the
// earliest instant lists nothing, as any empty span does.
func TestAuditFilterFromAtTheEarliestInstant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		a := e.profileID("user_id", "u1")
		e.post(`mutation($ids:[ID!]!){mergeProfiles(ids:$ids, reason:"review"){id}}`, map[string]any{"ids": []string{a, "p_nope"}})
		const q = `query($f: DateTime, $t: DateTime){auditLog(filter: {from: $f, to: $t}){nodes{id}}}`
		for _, earliest := range []string{"0001-01-01T00:00:00Z", "0001-01-01T01:00:00+01:00"} {
			e.refused(q, map[string]any{"f": earliest, "t": "0000-06-01T00:00:00Z"}, CodeInvalidArgument, `"filter.to"`, `"filter.from"`)
			e.refused(journeyQuery, map[string]any{"id": a, "from": earliest, "to": "0000-06-01T00:00:00Z"}, CodeInvalidArgument, `"to"`, `"from"`)
			var out struct {
				AuditLog struct{ Nodes []struct{ ID string } }
			}
			e.query(q, map[string]any{"f": earliest, "t": "0001-01-01T00:00:00Z"}, &out)
			if n := len(out.AuditLog.Nodes); n != 0 {
				t.Errorf("auditLog(filter: {from: %s, to: the earliest instant}) = %d entries, want none", earliest, n)
			}
		}
	})
}
