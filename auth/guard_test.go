package auth_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Open mode: no key stored and not required. Every caller is the open
// principal (every scope), a bearer is ignored, and /metrics passes. The
// first key turns enforcement on once the zero count is older than 500 ms,
// and revoking every key never turns it off.
func TestOpenModeUntilAKeyExists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Now: clk.Now, RateLimit: 1, Burst: 1})
		url := serve(t, g)
		ctx := context.Background()

		if !g.Open(ctx) || g.Enforced(ctx) {
			t.Fatal("a guard over an empty store, not required, is not open")
		}
		// Three requests with a burst of 1: open mode has no key and no limit.
		for i, authz := range []string{"", "Bearer garbage", bearer(access.NewSecret())} {
			a := request(t, "POST", url+"/graphql", authz)
			if a.status != 200 || a.body["open"] != true || a.body["pii"] != true || a.body["keyId"] != "" {
				t.Fatalf("open mode, request %d: %d %s, want 200 with the open principal", i, a.status, a.raw)
			}
		}
		if a := request(t, "GET", url+"/metrics", ""); a.status != 200 || a.body["open"] != true {
			t.Fatalf("open mode /metrics: %d %s", a.status, a.raw)
		}

		_, secret := createKey(t, ks, "first", []string{"profiles:read"}, "", time.Time{})
		// The zero count read at t0 is trusted for 500 ms.
		clk.Advance(499 * time.Millisecond)
		if !g.Open(ctx) {
			t.Fatal("the count of zero read 499 ms ago was not trusted")
		}
		clk.Advance(time.Millisecond)
		if g.Open(ctx) {
			t.Fatal("500 ms after the count read zero, a stored key did not turn enforcement on")
		}
		wantRefused(t, "enforced, no key", request(t, "POST", url+"/graphql", ""), 401, "UNAUTHENTICATED", "", "API key is required")
		if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 || a.body["open"] != false || a.body["pii"] != false {
			t.Fatalf("enforced, good key: %d %s", a.status, a.raw)
		}

		// Revoking the only key keeps the guard enforced (revoked keys count,
		// and a guard that saw a key stays enforced).
		k, _, err := ks.KeyByHash(ctx, access.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ks.RevokeKey(ctx, k.ID, t0); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if g.Open(ctx) {
			t.Fatal("revoking the only key opened the server")
		}
		fresh := newGuard(t, auth.Config{Store: ks, Now: clk.Now})
		if fresh.Open(ctx) {
			t.Fatal("a new guard over a store holding only a revoked key is open")
		}
	})
}

// Every way of not holding a usable key gets 401 UNAUTHENTICATED with
// WWW-Authenticate: Bearer and a message saying what is wrong, never the
// secret; a good key reaches the handler as the principal. Expiry is
// exact: the key works until the instant before ExpiresAt.
func TestEnforcedKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Required: true, Now: clk.Now})
		url := serve(t, g)
		ctx := context.Background()

		// Required with no key stored: everything is refused.
		for _, path := range []string{"/graphql", "/metrics"} {
			wantRefused(t, "no key stored "+path, request(t, "POST", url+path, ""), 401, "UNAUTHENTICATED", "", "API key is required")
		}

		good, goodSecret := createKey(t, ks, "good", []string{"profiles:read"}, "", time.Time{})
		expiresAt := t0.Add(time.Hour)
		expiring, expiringSecret := createKey(t, ks, "expiring", []string{"profiles:read"}, "", expiresAt)
		revoked, revokedSecret := createKey(t, ks, "revoked", []string{"profiles:read"}, "", time.Time{})
		if _, _, err := ks.RevokeKey(ctx, revoked.ID, t0.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		unknown := access.NewSecret()
		cases := []struct {
			name, authz, secret string
			want                []string
		}{
			{"no header", "", "", []string{"an API key is required", "Authorization: Bearer"}},
			{"basic", "Basic " + goodSecret, goodSecret, []string{"not a Bearer API key"}},
			{"empty bearer", "Bearer   ", "", []string{"no API key after Bearer"}},
			{"malformed", "Bearer cdp_short", "cdp_short", []string{"malformed API key"}},
			{"not base64url", "Bearer " + goodSecret[:len(goodSecret)-1] + "*", goodSecret[:len(goodSecret)-1] + "*", []string{"malformed API key"}},
			{"unknown", bearer(unknown), unknown, []string{"unknown API key"}},
			{"revoked", bearer(revokedSecret), revokedSecret, []string{"API key " + revoked.ID + " was revoked"}},
		}
		for _, c := range cases {
			wantRefused(t, c.name, request(t, "POST", url+"/graphql", c.authz), 401, "UNAUTHENTICATED", c.secret, c.want...)
		}

		a := request(t, "POST", url+"/graphql", bearer(goodSecret))
		if a.status != 200 || a.body["keyId"] != good.ID || a.body["open"] != false {
			t.Fatalf("good key: %d %s, want 200 as key %s", a.status, a.raw, good.ID)
		}
		// "bearer" in any case, extra spaces around the secret.
		if a := request(t, "POST", url+"/graphql", "bearer   "+goodSecret+" "); a.status != 200 || a.body["keyId"] != good.ID {
			t.Fatalf("lowercase bearer: %d %s", a.status, a.raw)
		}

		clk.Set(expiresAt.Add(-time.Microsecond))
		if a := request(t, "POST", url+"/graphql", bearer(expiringSecret)); a.status != 200 || a.body["keyId"] != expiring.ID {
			t.Fatalf("a key 1 µs before its expiry: %d %s", a.status, a.raw)
		}
		clk.Set(expiresAt) // within the cache's 500 ms: the cached key is refused too
		wantRefused(t, "expired", request(t, "POST", url+"/graphql", bearer(expiringSecret)), 401, "UNAUTHENTICATED",
			expiringSecret, "API key "+expiring.ID+" expired at 2026-03-01T13:00:00Z")

		// A CORS preflight needs no key, and reaches the handler without a
		// principal (no scope at all).
		a = request(t, "OPTIONS", url+"/graphql", "")
		if a.status != 200 || a.body["open"] != false || a.body["keyId"] != "" {
			t.Fatalf("preflight: %d %s", a.status, a.raw)
		}
	})
}

// A key revoked straight in the store, as another replica would, is
// refused within a second; on the replica that revokes it, Invalidate
// refuses it at once. Real time: the cache's age is what is tested.
func TestRevokedKeyRefusedWithinASecond(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		g := newGuard(t, auth.Config{Store: ks, Required: true})
		url := serve(t, g)
		ctx := context.Background()

		k, secret := createKey(t, ks, "elsewhere", []string{"profiles:read"}, "", time.Time{})
		if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 {
			t.Fatalf("before revocation: %d %s", a.status, a.raw)
		}
		if _, _, err := ks.RevokeKey(ctx, k.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		wantRefused(t, "a second after revocation elsewhere", request(t, "POST", url+"/graphql", bearer(secret)), 401,
			"UNAUTHENTICATED", secret, "was revoked")
	})
}

func TestInvalidateRefusesAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock() // never moves: only Invalidate can drop the cached key
		g := newGuard(t, auth.Config{Store: ks, Required: true, Now: clk.Now})
		url := serve(t, g)

		k, secret := createKey(t, ks, "here", []string{"profiles:read"}, "", time.Time{})
		other, otherSecret := createKey(t, ks, "other", []string{"profiles:read"}, "", time.Time{})
		for _, s := range []string{secret, otherSecret} {
			if a := request(t, "POST", url+"/graphql", bearer(s)); a.status != 200 {
				t.Fatalf("before revocation: %d %s", a.status, a.raw)
			}
		}
		for _, id := range []string{k.ID, other.ID} {
			if _, _, err := ks.RevokeKey(context.Background(), id, t0); err != nil {
				t.Fatal(err)
			}
		}
		// Within the cache's life the revocation is not seen yet...
		if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 {
			t.Fatalf("the cached key was read again within 500 ms: %d %s", a.status, a.raw)
		}
		// ...until the key is invalidated; the other key stays cached.
		g.Invalidate(k.ID)
		wantRefused(t, "invalidated", request(t, "POST", url+"/graphql", bearer(secret)), 401, "UNAUTHENTICATED", secret, "was revoked")
		if a := request(t, "POST", url+"/graphql", bearer(otherSecret)); a.status != 200 {
			t.Fatalf("Invalidate dropped another key: %d %s", a.status, a.raw)
		}
	})
}

// Rate limits: 0.5 requests per second, bursts of 2. A key's collector and
// GraphQL buckets are apart, each key has its own, and Retry-After is the
// wait for the next token in whole seconds.
func TestRateLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Required: true, RateLimit: 0.5, Burst: 2, Now: clk.Now})
		url := serve(t, g)
		ctx := context.Background()
		k, secret := createKey(t, ks, "busy", []string{"events:write", "profiles:read", "metrics:read"}, "web", time.Time{})
		_, otherSecret := createKey(t, ks, "quiet", []string{"profiles:read"}, "", time.Time{})

		// Exhaust the collector bucket.
		for i := range 2 {
			if src, status, msg, _ := g.WriteKey(ctx, secret); status != 0 || src != "web" {
				t.Fatalf("write %d within the burst: %q %d %s", i, src, status, msg)
			}
		}
		src, status, msg, wait := g.WriteKey(ctx, secret)
		if src != "" || status != 429 || wait != 2*time.Second || !strings.Contains(msg, "rate limit") || !strings.Contains(msg, k.ID) {
			t.Fatalf("write past the burst: %q %d %q %v, want 429 after 2s naming the key", src, status, msg, wait)
		}
		// The GraphQL bucket is untouched: two requests, then 429.
		for i := range 2 {
			if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 {
				t.Fatalf("GraphQL %d after the collector bucket ran out: %d %s", i, a.status, a.raw)
			}
		}
		a := request(t, "POST", url+"/graphql", bearer(secret))
		wantRefused(t, "GraphQL past the burst", a, 429, "RATE_LIMITED", secret, "rate limit of 0.5 requests per second")
		if ra := a.header.Get("Retry-After"); ra != "2" {
			t.Errorf("Retry-After %q, want 2 (one token at 0.5 per second)", ra)
		}
		// Another key has buckets of its own; /metrics has one apart too.
		if a := request(t, "POST", url+"/graphql", bearer(otherSecret)); a.status != 200 {
			t.Fatalf("another key: %d %s", a.status, a.raw)
		}
		if a := request(t, "GET", url+"/metrics", bearer(secret)); a.status != 200 {
			t.Fatalf("/metrics with the key limited on GraphQL: %d %s", a.status, a.raw)
		}
		// A second later half a token has come back: still 429, one second to go.
		clk.Advance(time.Second)
		a = request(t, "POST", url+"/graphql", bearer(secret))
		if a.status != 429 || a.header.Get("Retry-After") != "1" {
			t.Fatalf("half a token later: %d Retry-After %q, want 429 and 1", a.status, a.header.Get("Retry-After"))
		}
		clk.Advance(time.Second)
		if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 {
			t.Fatalf("a token later: %d %s", a.status, a.raw)
		}
		if _, status, _, _ := g.WriteKey(ctx, secret); status != 0 {
			t.Fatalf("the collector bucket after 2 s: %d", status)
		}

		// Rate 0: no limit.
		free := newGuard(t, auth.Config{Store: ks, Required: true, Now: clk.Now})
		for i := range 300 {
			if _, status, msg, _ := free.WriteKey(ctx, secret); status != 0 {
				t.Fatalf("write %d without a limit: %d %s", i, status, msg)
			}
		}
	})
}

// /metrics needs metrics:read: 401 without a key, 403 FORBIDDEN naming the
// scope with another.
func TestRequireScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		g := newGuard(t, auth.Config{Store: ks, Now: newClock().Now})
		url := serve(t, g)
		reader, readerSecret := createKey(t, ks, "reader", []string{"profiles:read", "pii:read"}, "", time.Time{})
		scraper, scraperSecret := createKey(t, ks, "scraper", []string{"metrics:read"}, "", time.Time{})

		wantRefused(t, "no key", request(t, "GET", url+"/metrics", ""), 401, "UNAUTHENTICATED", "", "API key is required")
		a := request(t, "GET", url+"/metrics", bearer(readerSecret))
		wantRefused(t, "another scope", a, 403, "FORBIDDEN", readerSecret, "API key "+reader.ID+" lacks the scope metrics:read")
		if a.ext("scope") != "metrics:read" {
			t.Errorf("403 extensions.scope %q, want metrics:read", a.ext("scope"))
		}
		if a := request(t, "GET", url+"/metrics", bearer(scraperSecret)); a.status != 200 || a.body["keyId"] != scraper.ID {
			t.Fatalf("metrics:read: %d %s", a.status, a.raw)
		}
		// GraphQL leaves scopes to the fields: any usable key passes.
		if a := request(t, "POST", url+"/graphql", bearer(scraperSecret)); a.status != 200 {
			t.Fatalf("GraphQL with a metrics key: %d %s", a.status, a.raw)
		}
	})
}

// A key's last use is written on its first use, not again within the
// minute, and again after it; the collector's use counts too.
func TestTouchThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Required: true, Now: clk.Now})
		url := serve(t, g)
		_, secret := createKey(t, ks, "used", []string{"profiles:read", "events:write"}, "", time.Time{})

		use := func(overHTTP bool) {
			t.Helper()
			if overHTTP {
				if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 {
					t.Fatalf("request: %d %s", a.status, a.raw)
				}
			} else if _, status, msg, _ := g.WriteKey(context.Background(), secret); status != 0 {
				t.Fatalf("write key: %d %s", status, msg)
			}
			g.Wait()
		}
		if got := lastUsed(t, ks, secret); !got.IsZero() {
			t.Fatalf("a new key was last used at %s", got)
		}
		use(true)
		if got := lastUsed(t, ks, secret); !got.Equal(t0) {
			t.Fatalf("after the first use at %s, last used %s", t0, got)
		}
		clk.Advance(30 * time.Second)
		use(true)
		clk.Advance(29 * time.Second)
		use(false)
		if got := lastUsed(t, ks, secret); !got.Equal(t0) {
			t.Fatalf("uses within the minute rewrote last used: %s, want %s", got, t0)
		}
		clk.Advance(time.Second) // t0 + 60 s
		use(false)
		if want := t0.Add(time.Minute); !lastUsed(t, ks, secret).Equal(want) {
			t.Fatalf("a minute after the first use, last used %s, want %s", lastUsed(t, ks, secret), want)
		}
		// A new guard (another replica) trusts the stored time: no write
		// within the minute of it.
		clk.Advance(10 * time.Second)
		g2 := newGuard(t, auth.Config{Store: ks, Required: true, Now: clk.Now})
		if _, status, _, _ := g2.WriteKey(context.Background(), secret); status != 0 {
			t.Fatalf("write key on the second guard: %d", status)
		}
		g2.Wait()
		if want := t0.Add(time.Minute); !lastUsed(t, ks, secret).Equal(want) {
			t.Fatalf("a second guard rewrote last used within the minute: %s, want %s", lastUsed(t, ks, secret), want)
		}
	})
}

// After Close no touch starts: a key used then still authenticates, and
// its last use is not written (the store may be closing).
func TestNoTouchAfterClose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		g := newGuard(t, auth.Config{Store: ks, Required: true, Now: newClock().Now})
		url := serve(t, g)
		_, secret := createKey(t, ks, "late", []string{"profiles:read", "events:write"}, "", time.Time{})
		g.Close()
		if a := request(t, "POST", url+"/graphql", bearer(secret)); a.status != 200 {
			t.Fatalf("request after Close: %d %s", a.status, a.raw)
		}
		if _, status, msg, _ := g.WriteKey(context.Background(), secret); status != 0 {
			t.Fatalf("write key after Close: %d %s", status, msg)
		}
		g.Wait()
		if got := lastUsed(t, ks, secret); !got.IsZero() {
			t.Fatalf("a key used after Close was recorded as last used at %s", got)
		}
	})
}

// WriteKey: 401 for a malformed, unknown, revoked or expired key, 403
// without events:write, and the key's source, or its id without one.
func TestWriteKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, RateLimit: 10, Burst: 10, Now: clk.Now})
		ctx := context.Background()
		withSource, withSourceSecret := createKey(t, ks, "crm", []string{"events:write"}, "crm", time.Time{})
		noSource, noSourceSecret := createKey(t, ks, "web", []string{"events:write", "profiles:read"}, "", time.Time{})
		reader, readerSecret := createKey(t, ks, "reader", []string{"profiles:read"}, "", time.Time{})
		revoked, revokedSecret := createKey(t, ks, "gone", []string{"events:write"}, "gone", time.Time{})
		if _, _, err := ks.RevokeKey(ctx, revoked.ID, t0); err != nil {
			t.Fatal(err)
		}
		expired, expiredSecret := createKey(t, ks, "old", []string{"events:write"}, "old", t0.Add(-time.Minute))
		unknown := access.NewSecret()

		for _, c := range []struct {
			name, secret string
			status       int
			want         string
		}{
			{"malformed", "cdp_nope", 401, "malformed API key"},
			{"static-looking", "k1", 401, "malformed API key"},
			{"unknown", unknown, 401, "unknown API key"},
			{"revoked", revokedSecret, 401, "API key " + revoked.ID + " was revoked"},
			{"expired", expiredSecret, 401, "API key " + expired.ID + " expired at"},
			{"no events:write", readerSecret, 403, "API key " + reader.ID + " lacks the scope events:write"},
		} {
			src, status, msg, wait := g.WriteKey(ctx, c.secret)
			if src != "" || status != c.status || wait != 0 || !strings.Contains(msg, c.want) {
				t.Errorf("%s: %q %d %q %v, want %d %q", c.name, src, status, msg, wait, c.status, c.want)
			}
			if len(c.secret) > len(access.SecretPrefix) && strings.Contains(msg, c.secret[len(access.SecretPrefix):]) {
				t.Errorf("%s: the message echoes the secret: %q", c.name, msg)
			}
		}
		if src, status, msg, _ := g.WriteKey(ctx, withSourceSecret); src != "crm" || status != 0 || msg != "" {
			t.Errorf("key %s with source crm: %q %d %q", withSource.ID, src, status, msg)
		}
		if src, status, msg, _ := g.WriteKey(ctx, noSourceSecret); src != noSource.ID || status != 0 || msg != "" {
			t.Errorf("key without a source: %q %d %q, want its id %s", src, status, msg, noSource.ID)
		}
	})
}

// A store that cannot answer fails closed: the guard is enforced, and a key
// it cannot read gets 503 with Retry-After, never a pass. A request without
// a key gets 503 with Retry-After too, not 401: the server may well still
// be open, and a client drops what a 401 refused.
func TestStoreFailureFailsClosed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := keyStore(t, st)
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Now: clk.Now})
		url := serve(t, g)
		ctx := context.Background()
		if !g.Open(ctx) {
			t.Fatal("an empty store is not open")
		}
		if err := st.Close(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if g.Open(ctx) {
			t.Fatal("a store that cannot count its keys left the guard open")
		}
		for _, path := range []string{"/graphql", "/metrics"} {
			r := request(t, "POST", url+path, "")
			wantRefused(t, "no key, store down, "+path, r, 503, "UNAVAILABLE", "", "store is unavailable")
			if r.header.Get("Retry-After") != "1" {
				t.Errorf("%s: 503 Retry-After %q, want 1", path, r.header.Get("Retry-After"))
			}
		}
		secret := access.NewSecret()
		a := request(t, "POST", url+"/graphql", bearer(secret))
		wantRefused(t, "key, store down", a, 503, "UNAVAILABLE", secret, "store is unavailable")
		if a.header.Get("Retry-After") != "1" {
			t.Errorf("503 Retry-After %q, want 1", a.header.Get("Retry-After"))
		}
		if _, status, _, wait := g.WriteKey(ctx, secret); status != 503 || wait != time.Second {
			t.Errorf("WriteKey with the store down: %d after %v, want 503 after 1s", status, wait)
		}
	})
}

func TestNewRefusesBadConfig(t *testing.T) {
	st := storetest.OpenEmbedded(t)
	ks := keyStore(t, st)
	for _, c := range []struct {
		name string
		cfg  auth.Config
		want string
	}{
		{"no store", auth.Config{}, "a store is required"},
		{"negative rate", auth.Config{Store: ks, RateLimit: -1}, "rate limit -1"},
		{"negative burst", auth.Config{Store: ks, Burst: -1}, "burst -1"},
	} {
		if _, err := auth.New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// countFails is a key store whose CountKeys fails, counting its calls.
type countFails struct {
	access.Store
	calls atomic.Int64
}

func (c *countFails) CountKeys(ctx context.Context) (int, error) {
	c.calls.Add(1)
	return 0, graph.ErrUnavailable(errors.New("store down (test)"))
}

// A failed count of the keys is answered again for a second to the callers
// behind it, instead of each waiting for a read of its own in turn.
func TestFailedCountAnsweredForASecond(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ks := &countFails{Store: keyStore(t, st)}
		clk := newClock()
		g := newGuard(t, auth.Config{Store: ks, Now: clk.Now})
		ctx := context.Background()
		for range 3 {
			if enforced, err := g.Enforcement(ctx); !enforced || graph.ErrorCode(err) != graph.EUNAVAILABLE {
				t.Fatalf("Enforcement with the count failing: %v, %v; want enforced and UNAVAILABLE", enforced, err)
			}
		}
		if n := ks.calls.Load(); n != 1 {
			t.Fatalf("%d counts for three callers within a second, want 1", n)
		}
		clk.Advance(2 * time.Second)
		g.Enforcement(ctx)
		if n := ks.calls.Load(); n != 2 {
			t.Fatalf("%d counts after the second passed, want 2", n)
		}
	})
}
