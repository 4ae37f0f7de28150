package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// operation runs one query or mutation over w as subscription id and
// returns its data and errors: every next message until complete, or the
// error message that ends it.
func (w *wsClient) operation(id, query string) (map[string]json.RawMessage, []gqlError) {
	w.t.Helper()
	w.subscribe(id, query)
	data := map[string]json.RawMessage{}
	var errs []gqlError
	for {
		m, code, reason := w.readFor(id)
		switch m.Type {
		case "next":
			var p struct {
				Data   map[string]json.RawMessage `json:"data"`
				Errors []gqlError                 `json:"errors"`
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				w.t.Fatalf("payload %s: %v", m.Payload, err)
			}
			for k, v := range p.Data {
				data[k] = v
			}
			errs = append(errs, p.Errors...)
		case "error":
			var es []gqlError
			if err := json.Unmarshal(m.Payload, &es); err != nil {
				w.t.Fatalf("payload %s: %v", m.Payload, err)
			}
			return data, append(errs, es...)
		case "complete":
			return data, errs
		default:
			w.t.Fatalf("operation %s: got %+v (close %d %s)", id, m, code, reason)
		}
	}
}

// errCode is the code of the first error, or "".
func errCode(errs []gqlError) string {
	if len(errs) == 0 {
		return ""
	}
	c, _ := errs[0].Extensions["code"].(string)
	return c
}

// keyCount is the number of keys st holds.
func keyCount(t *testing.T, st access.Store) int {
	t.Helper()
	n, err := st.CountKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const createKeyMutation = `mutation { createApiKey(input: {name: "escape", scopes: ["keys:admin", "pii:read"]}) { secret key { id } } }`

// A key revoked (or expired) after its websocket was opened is refused
// for every new operation over that connection, as an HTTP request with
// it is: a query, and a createApiKey that would mint it a fresh key, both
// get UNAUTHENTICATED and nothing is created. Another connection's key
// goes on.
func TestWebsocketOperationsRecheckKey(t *testing.T) {
	st := storetest.OpenEmbedded(t)
	ks := st.(access.Store)
	k, secret := addKey(t, st, "keys:admin", "profiles:read")
	_, admin := addKey(t, st, "keys:admin", "profiles:read")
	_, dial := startSubs(t, st, app.FeedConfig{}, nil)

	w, _ := dialWS(t, dial, nil)
	w.mustInit(map[string]any{"Authorization": "Bearer " + secret})
	other, _ := dialWS(t, dial, nil)
	other.mustInit(map[string]any{"Authorization": "Bearer " + admin})
	hdr := http.Header{"Authorization": {"Bearer " + secret}}
	viaHeader, _ := dialWS(t, dial, hdr)
	viaHeader.mustInit(nil)
	expiring, exp := expiringConnection(t, ks, dial)

	if d, errs := w.operation("q1", `{ viewer { keyId } }`); len(errs) > 0 || !strings.Contains(string(d["viewer"]), k.ID) {
		t.Fatalf("before revocation: %s %+v", d["viewer"], errs)
	}

	// Revoked over HTTP with another key: this server drops it at once.
	var rev struct {
		R struct {
			ID string `json:"id"`
		} `json:"revokeApiKey"`
	}
	gqlData(t, dial, admin, `mutation { revokeApiKey(id: "`+k.ID+`") { id } }`, &rev)
	if r := send(t, "POST", "http://"+dial+"/graphql", "", secret, typename); r.status != 401 || r.code() != "UNAUTHENTICATED" {
		t.Fatalf("HTTP with the revoked key: %d %s", r.status, r.body)
	}
	before := keyCount(t, ks)
	for _, c := range []struct {
		w    *wsClient
		name string
	}{{w, "connection_init key"}, {viaHeader, "upgrade header key"}} {
		if d, errs := c.w.operation("q2", `{ viewer { keyId } }`); errCode(errs) != "UNAUTHENTICATED" || len(d) != 0 {
			t.Errorf("%s: query after revocation: %s %+v, want UNAUTHENTICATED", c.name, d, errs)
		}
		if d, errs := c.w.operation("m1", createKeyMutation); errCode(errs) != "UNAUTHENTICATED" || len(d) != 0 {
			t.Errorf("%s: createApiKey after revocation: %s %+v, want UNAUTHENTICATED", c.name, d, errs)
		}
	}
	if n := keyCount(t, ks); n != before {
		t.Errorf("keys: %d after the refused createApiKey, want %d", n, before)
	}
	if d, errs := other.operation("q3", `{ viewer { keyId } }`); len(errs) > 0 || len(d["viewer"]) == 0 {
		t.Errorf("the other key's connection: %s %+v", d["viewer"], errs)
	}

	time.Sleep(time.Until(exp.ExpiresAt) + 100*time.Millisecond)
	if d, errs := expiring.operation("e2", `{ viewer { keyId } }`); errCode(errs) != "UNAUTHENTICATED" || !strings.Contains(errs[0].Message, "expired") || len(d) != 0 {
		t.Errorf("query after expiry: %s %+v, want UNAUTHENTICATED", d, errs)
	}
}

// expiringConnection opens a websocket authenticated with a key that
// expires soon after, and checks that an operation over it is answered
// before the expiry. The key must expire while the test runs, so its
// life is short; when the machine is so slow that the answer comes after
// the expiry, nothing was checked, and it tries again with a key that
// lives twice as long. A refusal that comes before the expiry fails.
func expiringConnection(t *testing.T, ks access.Store, dial string) (*wsClient, access.Key) {
	t.Helper()
	for life := 1500 * time.Millisecond; ; life *= 2 {
		exp, expSecret, err := access.NewKey("expiring", []string{"profiles:read"}, "", time.Now().Add(life), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.CreateKey(context.Background(), exp); err != nil {
			t.Fatal(err)
		}
		w, _ := dialWS(t, dial, nil)
		m, code, reason := w.init(map[string]any{"Authorization": "Bearer " + expSecret})
		if m.Type == "connection_ack" {
			d, errs := w.operation("e1", `{ viewer { keyId } }`)
			if len(errs) == 0 && strings.Contains(string(d["viewer"]), exp.ID) {
				return w, exp
			}
			if time.Now().Before(exp.ExpiresAt) {
				t.Fatalf("before expiry: %s %+v", d["viewer"], errs)
			}
		} else if time.Now().Before(exp.ExpiresAt) {
			t.Fatalf("connection_init before expiry: %+v (close %d %s)", m, code, reason)
		}
		if life > wsLimit {
			t.Fatalf("a key living %v expired before one operation over its connection was answered", life)
		}
		t.Logf("a key living %v expired before the test could use it; again with one living twice as long", life)
	}
}

// Each operation over a websocket takes a token of its key's GraphQL rate
// limit, as an HTTP request does: at one per second in bursts of one, a
// burst of queries over one connection is mostly refused with
// RATE_LIMITED.
func TestWebsocketOperationsRateLimited(t *testing.T) {
	st := storetest.OpenEmbedded(t)
	_, secret := addKey(t, st, "profiles:read")
	_, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.Auth.RateLimit, c.Auth.Burst = 1, 1 })
	w, _ := dialWS(t, dial, nil)
	w.mustInit(map[string]any{"Authorization": "Bearer " + secret})
	start := time.Now()
	const n = 20
	answered, limited := 0, 0
	for i := range n {
		d, errs := w.operation("q"+string(rune('a'+i)), `{ __typename }`)
		switch {
		case len(errs) == 0 && len(d["__typename"]) > 0:
			answered++
		case errCode(errs) == "RATE_LIMITED":
			limited++
		default:
			t.Fatalf("query %d: %s %+v", i, d, errs)
		}
	}
	elapsed := time.Since(start)
	if limited == 0 || answered > 2+int(elapsed.Seconds()) {
		t.Fatalf("%d of %d queries answered, %d RATE_LIMITED in %v at 1 per second, bursts of 1", answered, n, limited, elapsed)
	}
}

// Opening a websocket takes one token of its key's GraphQL rate limit,
// however the key is sent: in the upgrade request's Authorization header,
// in connection_init, or in both (the guard took the token at the
// upgrade; connection_init took a second one for the same key). With
// bursts of two and a rate that refills nothing while the test runs, each
// connection has exactly one token left for its operations: the first
// query is answered and the second refused with RATE_LIMITED.
func TestWebsocketOpeningTakesOneToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.Auth.RateLimit, c.Auth.Burst = 0.0001, 2 })
		for _, c := range []struct {
			name           string
			header, inInit bool
		}{
			{"the upgrade header", true, false},
			{"connection_init", false, true},
			{"both", true, true},
		} {
			_, secret := addKey(t, st, "profiles:read")
			var hdr http.Header
			if c.header {
				hdr = http.Header{"Authorization": {"Bearer " + secret}}
			}
			var payload map[string]any
			if c.inInit {
				payload = map[string]any{"Authorization": "Bearer " + secret}
			}
			w, status := dialWS(t, dial, hdr)
			if status != http.StatusSwitchingProtocols {
				t.Fatalf("%s: upgrade answered %d", c.name, status)
			}
			w.mustInit(payload)
			if d, errs := w.operation("q1", `{ __typename }`); len(errs) > 0 || len(d["__typename"]) == 0 {
				t.Errorf("key in %s: the first query got %s %+v, want an answer (one token left after opening)", c.name, d, errs)
			}
			if d, errs := w.operation("q2", `{ __typename }`); errCode(errs) != "RATE_LIMITED" {
				t.Errorf("key in %s: the second query got %s %+v, want RATE_LIMITED", c.name, d, errs)
			}
		}
	})
}

// A key in the upgrade request's Authorization header is checked by the
// guard before the upgrade, as the header of any request is: a key it
// refuses gets the HTTP refusal (401 for an unknown key, 429 past the
// key's rate limit), not a websocket to be closed with 4401 or 4429 as a
// refused connection_init is.
func TestWebsocketUpgradeHeaderRefusedOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, secret := addKey(t, st, "profiles:read")
		_, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.Auth.RateLimit, c.Auth.Burst = 0.0001, 1 })
		bearer := func(s string) http.Header { return http.Header{"Authorization": {"Bearer " + s}} }
		if _, status := dialWS(t, dial, bearer("cdp_"+strings.Repeat("A", 43))); status != http.StatusUnauthorized {
			t.Errorf("an unknown key in the upgrade header: %d, want 401", status)
		}
		if _, status := dialWS(t, dial, bearer(secret)); status != http.StatusSwitchingProtocols {
			t.Fatalf("the key's first upgrade: %d, want 101", status)
		}
		if _, status := dialWS(t, dial, bearer(secret)); status != http.StatusTooManyRequests {
			t.Errorf("the key's second upgrade, past its burst of one: %d, want 429", status)
		}
	})
}

// A connection opened in open mode (no key stored) keeps no scope once
// the first key exists: created over that very connection, or stored
// behind the server's back. Without a key its next operation is refused
// with UNAUTHENTICATED; one that sent a key in connection_init then runs
// with that key's scopes only. A subscription begun in open mode ends with
// UNAUTHENTICATED at its next check.
func TestWebsocketOpenModeEndsWithFirstKey(t *testing.T) {
	st := storetest.OpenEmbedded(t)
	ks := st.(access.Store)
	svc, dial := startSubs(t, st, app.FeedConfig{}, func(c *app.Config) { c.GraphQL.KeyRecheck = 50 * time.Millisecond })
	w, _ := dialWS(t, dial, nil)
	w.mustInit(nil)
	w.subscribe("s", `subscription { changes { cursor } }`)
	waitActive(t, svc, 1)
	// A key not stored yet: open mode ignores it.
	later, laterSecret, err := access.NewKey("later", []string{"profiles:read"}, "", time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	withKey, _ := dialWS(t, dial, nil)
	withKey.mustInit(map[string]any{"Authorization": "Bearer " + laterSecret})
	for _, c := range []*wsClient{w, withKey} {
		if d, errs := c.operation("v1", `{ viewer { open } }`); len(errs) > 0 || string(d["viewer"]) != `{"open":true}` {
			t.Fatalf("open mode: %s %+v", d["viewer"], errs)
		}
	}

	// The first key, created over the open connection.
	d, errs := w.operation("m1", `mutation { createApiKey(input: {name: "first", scopes: ["keys:admin"]}) { secret } }`)
	if len(errs) > 0 || !strings.Contains(string(d["createApiKey"]), "cdp_") {
		t.Fatalf("createApiKey in open mode: %s %+v", d["createApiKey"], errs)
	}
	if r := send(t, "POST", "http://"+dial+"/graphql", "", "", typename); r.status != 401 || r.code() != "UNAUTHENTICATED" {
		t.Fatalf("HTTP without a key after the first key: %d %s", r.status, r.body)
	}
	// Its subscription begun in open mode ends at the next check.
	if e := w.subError("s"); e.Extensions["code"] != "UNAUTHENTICATED" || !strings.Contains(e.Message, "open mode") {
		t.Errorf("subscription begun in open mode, after the first key: %+v, want UNAUTHENTICATED", e)
	}
	waitActive(t, svc, 0)
	before := keyCount(t, ks)
	if d, errs := w.operation("v2", `{ viewer { open } }`); errCode(errs) != "UNAUTHENTICATED" || len(d) != 0 {
		t.Errorf("open connection, query after the first key: %s %+v, want UNAUTHENTICATED", d, errs)
	}
	if d, errs := w.operation("m2", createKeyMutation); errCode(errs) != "UNAUTHENTICATED" || len(d) != 0 {
		t.Errorf("open connection, createApiKey after the first key: %s %+v, want UNAUTHENTICATED", d, errs)
	}
	if n := keyCount(t, ks); n != before {
		t.Errorf("keys: %d after the refused createApiKey, want %d", n, before)
	}

	// The key the other connection sent is stored now: it runs as that key.
	if err := ks.CreateKey(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	if d, errs := withKey.operation("v3", `{ viewer { open keyId scopes } }`); len(errs) > 0 ||
		string(d["viewer"]) != `{"open":false,"keyId":"`+later.ID+`","scopes":["profiles:read"]}` {
		t.Errorf("connection with a key, after the first key: %s %+v, want key %s with profiles:read", d["viewer"], errs, later.ID)
	}
	if d, errs := withKey.operation("m3", createKeyMutation); errCode(errs) != "FORBIDDEN" || string(d["createApiKey"]) != "null" {
		t.Errorf("connection with a profiles:read key, createApiKey: %s %+v, want FORBIDDEN", d["createApiKey"], errs)
	}
	if n := keyCount(t, ks); n != before+1 {
		t.Errorf("keys: %d, want %d", n, before+1)
	}
}
