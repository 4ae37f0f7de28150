package ingest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// keyChecker is an ingest.KeyChecker over a fixed table of secrets: what a
// key check answers, not a store of keys.
type keyChecker struct {
	enforced bool
	answers  map[string]keyAnswer

	mu    sync.Mutex
	calls map[string]int // WriteKey calls per secret
}

type keyAnswer struct {
	source string
	status int
	msg    string
	wait   time.Duration
}

func (k *keyChecker) Enforced(context.Context) bool { return k.enforced }

func (k *keyChecker) WriteKey(_ context.Context, secret string) (string, int, string, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.calls == nil {
		k.calls = map[string]int{}
	}
	k.calls[secret]++
	a, ok := k.answers[secret]
	if !ok {
		return "", http.StatusUnauthorized, "API key not recognized", 0
	}
	return a.source, a.status, a.msg, a.wait
}

func (k *keyChecker) callsOf(secret string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[secret]
}

// testSecret is a well-formed secret ("cdp_" and 43 base64url characters)
// made of one repeated letter.
func testSecret(c string) string { return "cdp_" + strings.Repeat(c, 42) + "A" }

var (
	secretWeb      = testSecret("W") // source web-app
	secretCRM      = testSecret("C") // source crm-sync
	secretNoSource = testSecret("N") // a key with events:write and no source
	secretRevoked  = testSecret("R")
	secretNoScope  = testSecret("S")
	secretSlow     = testSecret("L") // rate limited, 1.5 s to wait
	secretFast     = testSecret("F") // rate limited, 200 ms to wait
	secretUnknown  = testSecret("U") // not in the table
)

func newKeyChecker(enforced bool) *keyChecker {
	return &keyChecker{enforced: enforced, answers: map[string]keyAnswer{
		secretWeb:      {source: "web-app"},
		secretCRM:      {source: "crm-sync"},
		secretNoSource: {},
		secretRevoked:  {status: http.StatusUnauthorized, msg: "API key revoked"},
		secretNoScope:  {status: http.StatusForbidden, msg: "API key lacks the events:write scope"},
		secretSlow:     {status: http.StatusTooManyRequests, msg: "API key over its rate limit", wait: 1500 * time.Millisecond},
		secretFast:     {status: http.StatusTooManyRequests, msg: "API key over its rate limit", wait: 200 * time.Millisecond},
	}}
}

func basicAuth(user string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wantSources checks that each stored event id (source/messageId) is
// stored with that source, and that the ids in absent are not stored.
func wantSources(t *testing.T, eng *graph.Engine, want map[string]string, absent ...string) {
	t.Helper()
	ids := append([]string{}, absent...)
	for id := range want {
		ids = append(ids, id)
	}
	got := stored(t, eng, ids...)
	for id, src := range want {
		ev, ok := got[id]
		if !ok {
			t.Errorf("event %s is not stored", id)
			continue
		}
		if ev.Source != src {
			t.Errorf("event %s has source %q, want %q", id, ev.Source, src)
		}
	}
	for _, id := range absent {
		if _, ok := got[id]; ok {
			t.Errorf("event %s is stored, want it refused", id)
		}
	}
}

// TestAPIKeysAsWriteKeys: an API key is a write key as the Basic user or
// as writeKey in the body (of a message, of a batch, or of a batch's first
// message), and its source labels the stored events; static write keys
// keep working beside it.
func TestAPIKeysAsWriteKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		keys := newKeyChecker(true)
		h := newHarness(t, s, ingest.Config{Keys: keys})

		ok := func(r reply, stored int, what string) {
			t.Helper()
			if r.status != http.StatusOK || !r.body.Success || r.body.Stored != stored {
				t.Errorf("%s: %d %s, want 200 with %d stored", what, r.status, r.raw, stored)
			}
		}
		ok(h.sdkPost(t, "/v1/track", secretWeb, map[string]any{"messageId": "k-1", "userId": "u-1", "event": "Viewed"}), 1, "Basic user")
		ok(h.rawPost(t, "/v1/identify", mustJSON(t, map[string]any{"messageId": "k-2", "userId": "u-2", "writeKey": secretCRM}), nil), 1, "writeKey in a message")
		ok(h.rawPost(t, "/v1/batch", mustJSON(t, map[string]any{"writeKey": secretWeb, "batch": []any{
			map[string]any{"type": "track", "messageId": "k-3", "userId": "u-3", "event": "e"},
			map[string]any{"type": "identify", "messageId": "k-4", "userId": "u-3"},
		}}), nil), 2, "writeKey of a batch")
		ok(h.rawPost(t, "/v1/batch", mustJSON(t, map[string]any{"batch": []any{
			map[string]any{"type": "track", "messageId": "k-5", "userId": "u-5", "event": "e", "writeKey": secretCRM},
		}}), nil), 1, "writeKey of a batch's first message")
		ok(h.rawPost(t, "/v1/batch", mustJSON(t, map[string]any{"batch": []any{
			map[string]any{"type": "track", "messageId": "k-5a", "userId": "u-5", "event": "e"},
			map[string]any{"type": "track", "messageId": "k-5b", "userId": "u-5", "event": "e", "writeKey": secretCRM},
		}}), nil), 2, "writeKey of the first message of a batch that carries one")
		ok(h.sdkPost(t, "/v1/track", "wk-node", map[string]any{"messageId": "k-6", "userId": "u-6", "event": "e"}), 1, "static key")
		ok(h.rawPost(t, "/v1/track", mustJSON(t, map[string]any{"messageId": "k-7", "userId": "u-7", "event": "e"}),
			map[string]string{"Authorization": basicAuth(secretNoSource), ingest.SourceHeader: "pos"}), 1, "key without a source, source header")
		ok(h.rawPost(t, "/v1/track", mustJSON(t, map[string]any{"messageId": "k-8", "userId": "u-8", "event": "e"}),
			map[string]string{"Authorization": basicAuth(secretNoSource)}), 1, "key without a source")
		ok(h.rawPost(t, "/v1/track", mustJSON(t, map[string]any{"messageId": "k-9", "userId": "u-9", "event": "e"}),
			map[string]string{"Authorization": basicAuth(secretWeb), ingest.SourceHeader: "web-app"}), 1, "source header matching the key's")

		// A source header that disagrees with the key's source is refused.
		r := h.rawPost(t, "/v1/track", mustJSON(t, map[string]any{"messageId": "k-10", "userId": "u-10", "event": "e"}),
			map[string]string{"Authorization": basicAuth(secretWeb), ingest.SourceHeader: "crm-sync"})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body.Error, `does not match the API key's source "web-app"`) {
			t.Errorf("mismatched source header: %d %s", r.status, r.raw)
		}
		r = h.rawPost(t, "/v1/track", mustJSON(t, map[string]any{"messageId": "k-11", "userId": "u-11", "event": "e", "writeKey": secretCRM}),
			map[string]string{ingest.SourceHeader: "web-app"})
		if r.status != http.StatusBadRequest || !strings.Contains(r.body.Error, `does not match the API key's source "crm-sync"`) {
			t.Errorf("mismatched source header, key in the body: %d %s", r.status, r.raw)
		}

		wantSources(t, h.eng, map[string]string{
			"web-app/k-1": "web-app", "crm-sync/k-2": "crm-sync", "web-app/k-3": "web-app", "web-app/k-4": "web-app",
			"crm-sync/k-5": "crm-sync", "node/k-6": "node", "pos/k-7": "pos", "default/k-8": "default", "web-app/k-9": "web-app",
		}, "web-app/k-10", "crm-sync/k-10", "web-app/k-11", "crm-sync/k-11")
		// Each request checked its key once: a check counts against the
		// key's rate limit.
		if n := keys.callsOf(secretWeb); n != 4 {
			t.Errorf("secretWeb checked %d times for 4 requests", n)
		}
	})
}

// TestAPIKeyRefusals: a key the checker refuses gets its status and
// message (429 with Retry-After in whole seconds, rounded up), whether it
// came in the header or in the body, the secret is never echoed, and
// nothing is stored.
func TestAPIKeyRefusals(t *testing.T) {
	keys := newKeyChecker(true)
	h := newHarness(t, storetest.Embedded(t), ingest.Config{Keys: keys})
	cases := []struct {
		name, secret string
		status       int
		msg, retry   string
	}{
		{"revoked", secretRevoked, 401, "API key revoked", ""},
		{"unknown", secretUnknown, 401, "API key not recognized", ""},
		{"no scope", secretNoScope, 403, "API key lacks the events:write scope", ""},
		{"rate limited 1.5s", secretSlow, 429, "API key over its rate limit", "2"},
		{"rate limited 200ms", secretFast, 429, "API key over its rate limit", "1"},
	}
	n := 0
	for _, c := range cases {
		for _, where := range []string{"header", "body", "batch"} {
			n++
			id := "r-" + strings.ReplaceAll(c.name, " ", "") + "-" + where
			msg := map[string]any{"messageId": id, "userId": "u-r", "event": "e"}
			var r reply
			switch where {
			case "header":
				r = h.sdkPost(t, "/v1/track", c.secret, msg)
			case "body":
				msg["writeKey"] = c.secret
				r = h.rawPost(t, "/v1/track", mustJSON(t, msg), nil)
			case "batch":
				msg["type"] = "track"
				r = h.rawPost(t, "/v1/batch", mustJSON(t, map[string]any{"writeKey": c.secret, "batch": []any{msg}}), nil)
			}
			if r.status != c.status || r.body.Success || r.body.Error != c.msg {
				t.Errorf("%s in the %s: %d %s, want %d %q", c.name, where, r.status, r.raw, c.status, c.msg)
			}
			if got := r.header.Get("Retry-After"); got != c.retry {
				t.Errorf("%s in the %s: Retry-After %q, want %q", c.name, where, got, c.retry)
			}
			if strings.Contains(r.raw, c.secret[4:]) {
				t.Errorf("%s in the %s: the answer echoes the secret: %s", c.name, where, r.raw)
			}
			for _, src := range []string{"web-app", "default", "crm-sync"} {
				if got := stored(t, h.eng, src+"/"+id); len(got) != 0 {
					t.Errorf("%s in the %s: event stored", c.name, where)
				}
			}
		}
		if calls := keys.callsOf(c.secret); calls != 3 {
			t.Errorf("%s: checked %d times for 3 requests", c.name, calls)
		}
	}

	// A key in the header is refused before the body is read: the body
	// here is not even JSON.
	r := h.rawPost(t, "/v1/track", []byte("{not json"), map[string]string{"Authorization": basicAuth(secretRevoked)})
	if r.status != http.StatusUnauthorized || r.body.Error != "API key revoked" {
		t.Errorf("refused header key with a malformed body: %d %s, want 401 before the body is read", r.status, r.raw)
	}
}

// TestKeysEnforcedWithoutStaticKeys: with no static write keys and keys
// enforced, a request without a known key is refused with 401, a message
// saying how to send one and never the key; an API key works.
func TestKeysEnforcedWithoutStaticKeys(t *testing.T) {
	keys := newKeyChecker(true)
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}, Keys: keys})
	msg := func(id string) map[string]any { return map[string]any{"messageId": id, "userId": "u-e", "event": "e"} }

	r := h.rawPost(t, "/v1/track", mustJSON(t, msg("e-1")), nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body.Error, "write key missing") ||
		!strings.Contains(r.body.Error, "Basic auth user name") || !strings.Contains(r.body.Error, "writeKey in the body") ||
		!strings.Contains(r.body.Error, "events:write") {
		t.Errorf("no key: %d %s, want 401 saying how to send a key", r.status, r.raw)
	}
	r = h.sdkPost(t, "/v1/track", "some-static-looking-key", msg("e-2"))
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body.Error, "write key not recognized") || strings.Contains(r.raw, "some-static-looking-key") {
		t.Errorf("unknown key: %d %s, want 401 naming no key", r.status, r.raw)
	}
	r = h.rawPost(t, "/v1/track", mustJSON(t, msg("e-3")), map[string]string{ingest.SourceHeader: "pos"})
	if r.status != http.StatusUnauthorized {
		t.Errorf("no key, a source header: %d %s, want 401", r.status, r.raw)
	}
	r = h.sdkPost(t, "/v1/track", secretWeb, msg("e-4"))
	if r.status != http.StatusOK || r.body.Stored != 1 {
		t.Errorf("API key: %d %s, want 200", r.status, r.raw)
	}
	wantSources(t, h.eng, map[string]string{"web-app/e-4": "web-app"}, "default/e-1", "default/e-2", "pos/e-3")
}

// TestKeysNotEnforcedIsOpen: with no static write keys and keys not
// enforced, the collector is open as before (any key, source from the
// header or "default"); an API key still labels its events, and an API
// key the checker refuses is still refused.
func TestKeysNotEnforcedIsOpen(t *testing.T) {
	keys := newKeyChecker(false)
	h := newHarness(t, storetest.Embedded(t), ingest.Config{WriteKeys: map[string]string{}, Keys: keys})
	msg := func(id string) []byte {
		return mustJSON(t, map[string]any{"messageId": id, "userId": "u-o", "event": "e"})
	}
	for _, c := range []struct {
		id     string
		hdr    map[string]string
		status int
	}{
		{"o-1", nil, 200},
		{"o-2", map[string]string{"Authorization": basicAuth("anything")}, 200},
		{"o-3", map[string]string{ingest.SourceHeader: "pos"}, 200},
		{"o-4", map[string]string{"Authorization": basicAuth(secretCRM)}, 200},
		{"o-5", map[string]string{"Authorization": basicAuth(secretUnknown)}, 401},
		{"o-6", map[string]string{"Authorization": basicAuth(secretNoScope)}, 403},
	} {
		if r := h.rawPost(t, "/v1/track", msg(c.id), c.hdr); r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.id, r.status, r.raw, c.status)
		}
	}
	wantSources(t, h.eng, map[string]string{"default/o-1": "default", "default/o-2": "default", "pos/o-3": "pos", "crm-sync/o-4": "crm-sync"},
		"default/o-5", "default/o-6")
}

// TestStaticKeysWithoutChecker: without a key checker, a "cdp_" key is a
// static key like any other: unknown unless configured.
func TestStaticKeysWithoutChecker(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	r := h.sdkPost(t, "/v1/track", secretWeb, map[string]any{"messageId": "s-1", "userId": "u-s", "event": "e"})
	if r.status != http.StatusUnauthorized || r.body.Error != "write key not recognized: this collector needs a write key; send it as the Basic auth user name (empty password) or as writeKey in the body" {
		t.Errorf("API key without a checker: %d %s", r.status, r.raw)
	}
}

// An Authorization header with an empty Basic user name ("Basic Og==")
// carries no key, so the body's writeKey is read, as without the header.
func TestEmptyBasicUserReadsTheBodyKey(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	empty := map[string]string{"Authorization": basicAuth("")}
	for path, body := range map[string]string{
		"/v1/track": `{"writeKey":"wk-js","messageId":"eb-1","userId":"u-eb","event":"e"}`,
		"/v1/batch": `{"writeKey":"wk-js","batch":[{"type":"track","messageId":"eb-2","userId":"u-eb","event":"e"}]}`,
	} {
		if r := h.rawPost(t, path, []byte(body), empty); r.status != http.StatusOK || r.body.Stored != 1 {
			t.Errorf("%s, empty Basic user, writeKey in the body: %d %s, want 200 with 1 stored", path, r.status, r.raw)
		}
	}
	r := h.rawPost(t, "/v1/track", []byte(`{"messageId":"eb-3","userId":"u-eb","event":"e"}`), empty)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body.Error, "write key missing") {
		t.Errorf("empty Basic user and no writeKey: %d %s, want 401 naming the missing key", r.status, r.raw)
	}
}
