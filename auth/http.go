package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/internal/httpdrain"
)

// GraphQL guards the GraphQL endpoint. In enforced mode a request needs a
// usable key as "Authorization: Bearer cdp_..." (else 401 UNAUTHENTICATED),
// within the key's GraphQL rate limit (else 429 RATE_LIMITED); next then
// sees the key as the principal of the context, and checks each field's
// scope itself. In open mode next sees access.OpenPrincipal and any bearer
// is ignored. A CORS preflight (OPTIONS) passes without a key: it executes
// nothing.
func (g *Guard) GraphQL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if g.passOpen(w, r, next) {
			return
		}
		if isWebsocketUpgrade(r) && len(r.Header.Values("Authorization")) == 0 {
			// A browser cannot set the header: the key comes in the
			// connection_init message, which next checks (Authenticate)
			// before it runs anything.
			next.ServeHTTP(w, r)
			return
		}
		k, ref := g.bearerKey(r, kindGraphQL)
		if ref != nil {
			refuse(w, r, ref)
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), access.KeyPrincipal(k))))
	})
}

// isWebsocketUpgrade reports a GET asking to upgrade to a websocket.
func isWebsocketUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Authenticate checks authorization, the Authorization value a GraphQL
// websocket connection sends in its connection_init payload ("Bearer
// cdp_..."), as GraphQL checks a request's header, the key's GraphQL rate
// limit included, and returns the principal: access.OpenPrincipal in open
// mode. A refusal returns its code (UNAUTHENTICATED, RATE_LIMITED or
// UNAVAILABLE) and a message that never holds the secret; code is "" on
// success.
func (g *Guard) Authenticate(ctx context.Context, authorization string) (p access.Principal, code, msg string) {
	enforced, err := g.Enforcement(ctx)
	switch {
	case !enforced:
		return access.OpenPrincipal(), "", ""
	case err != nil && strings.TrimSpace(authorization) == "":
		return access.Principal{}, unavailable.code, unavailable.msg
	}
	secret, ref := bearerValue([]string{authorization})
	if ref == nil {
		var k access.Key
		if k, ref = g.authenticate(ctx, secret); ref == nil {
			if ref = g.authorize(k, kindGraphQL); ref == nil {
				g.touch(k)
				return access.KeyPrincipal(k), "", ""
			}
		}
	}
	return access.Principal{}, ref.code, ref.msg
}

// StillUsable reports whether k, which authenticated a long-lived
// connection (a GraphQL websocket), may still be used: it is stored, not
// revoked and not expired. It reads through the guard's cache, so a key
// revoked on another replica is seen within CacheTTL of the read, and
// takes no token of the key's rate limit. A store that cannot be read
// keeps the key until its expiry, which k holds (the connection was
// authenticated; a revocation is seen at the next check that reads).
func (g *Guard) StillUsable(ctx context.Context, k access.Key) bool {
	cur, ok, err := g.keyByHash(ctx, k.Hash)
	if err != nil {
		return k.Usable(g.now())
	}
	return ok && cur.ID == k.ID && cur.RevokedAt.IsZero() && cur.Usable(g.now())
}

// Require guards a plain endpoint such as /metrics: in enforced mode a
// request needs a usable bearer key (else 401) holding scope, unless scope
// is empty (else 403 FORBIDDEN naming it), within the key's rate limit for
// such endpoints (else 429). In open mode every request passes. next sees
// the principal in the context, as with GraphQL.
func (g *Guard) Require(scope access.Scope, next http.Handler) http.Handler {
	if scope == "" {
		return g.RequireAll(nil, next)
	}
	return g.RequireAll([]access.Scope{scope}, next)
}

// RequireAll is Require for an endpoint that needs every one of scopes,
// such as the store backup, which copies what each of them guards: a key
// lacking one is refused with 403 FORBIDDEN naming the first it lacks, in
// the order given.
func (g *Guard) RequireAll(scopes []access.Scope, next http.Handler) http.Handler {
	return g.RequireAllAudited(scopes, nil, next)
}

// Refused is told of a request refused because its key, otherwise usable,
// lacks scope, one the endpoint needs (the first it lacks), before the 403
// is sent: it may record the refusal (an audit entry). It runs on the
// request's goroutine and must not write the answer.
type Refused func(r *http.Request, k access.Key, scope access.Scope)

// RequireAudited is Require telling refused of each refusal for want of
// scope (RequireAllAudited).
func (g *Guard) RequireAudited(scope access.Scope, refused Refused, next http.Handler) http.Handler {
	return g.RequireAllAudited([]access.Scope{scope}, refused, next)
}

// RequireAllAudited is RequireAll telling refused, when not nil, of each
// request refused for want of one of scopes, and of no other refusal (no
// key, an unusable key, the rate limit). Such a refusal then takes a token
// of the key's bucket, as a request let through does, so that refusals
// cost their records no more than requests: past the key's rate limit the
// request is refused with 429 instead, and refused is not told.
func (g *Guard) RequireAllAudited(scopes []access.Scope, refused Refused, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.passOpen(w, r, next) {
			return
		}
		k, ref := g.bearerKey(r, kindOther, scopes...)
		if ref != nil {
			if ref.scope != "" && refused != nil {
				if limited := g.allow(k.ID, kindOther); limited != nil {
					refuse(w, r, limited)
					return
				}
				refused(r, k, ref.scope)
			}
			refuse(w, r, ref)
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), access.KeyPrincipal(k))))
	})
}

// passOpen serves r with next as the open principal in open mode, or
// refuses it with 503 when the store cannot say whether keys are needed
// and r carries none; it reports whether it answered r.
func (g *Guard) passOpen(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	enforced, err := g.Enforcement(r.Context())
	switch {
	case !enforced:
		next.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), access.OpenPrincipal())))
		return true
	case err != nil && len(r.Header.Values("Authorization")) == 0:
		refuse(w, r, unavailable)
		return true
	}
	return false
}

// WriteKey implements ingest.KeyChecker: it checks secret, sent to the
// collector as a write key, and returns the source that labels its events:
// the key's Source, or its ID when it has none. A refusal returns no
// source and the status: 401 for a malformed, unknown, revoked or expired
// key; 403 for a key without events:write; 429, with retryAfter, past the
// key's collector bucket (apart from its GraphQL one); 503, with
// retryAfter, when the store cannot be read. status is 0 on success. msg
// never holds the secret.
func (g *Guard) WriteKey(ctx context.Context, secret string) (source string, status int, msg string, retryAfter time.Duration) {
	k, ref := g.authenticate(ctx, secret)
	if ref == nil {
		ref = g.authorize(k, kindCollector, access.ScopeEventsWrite)
	}
	if ref != nil {
		return "", ref.status, ref.msg, ref.retryAfter
	}
	g.touch(k)
	if k.Source != "" {
		return k.Source, 0, "", 0
	}
	return k.ID, 0, "", 0
}

// bearerKey authenticates the bearer key of r, checks it holds every one
// of scopes and takes a token from its bucket of kind k. A key refused for
// want of a scope (the refusal names it) is returned with the refusal;
// on any other refusal the key is the zero Key.
func (g *Guard) bearerKey(r *http.Request, k kind, scopes ...access.Scope) (access.Key, *refusal) {
	secret, ref := bearer(r)
	if ref != nil {
		return access.Key{}, ref
	}
	key, ref := g.authenticate(r.Context(), secret)
	if ref != nil {
		return access.Key{}, ref
	}
	if ref = g.authorize(key, k, scopes...); ref != nil {
		if ref.scope != "" {
			return key, ref
		}
		return access.Key{}, ref
	}
	g.touch(key)
	return key, nil
}

// authorize checks that key holds every one of scopes, then its rate
// limit of kind k.
func (g *Guard) authorize(key access.Key, k kind, scopes ...access.Scope) *refusal {
	for _, scope := range scopes {
		if !key.HasScope(scope) {
			return &refusal{
				status: http.StatusForbidden, code: CodeForbidden, scope: scope,
				msg: fmt.Sprintf("API key %s lacks the scope %s", key.ID, scope),
			}
		}
	}
	return g.allow(key.ID, k)
}

// bearer returns the secret of r's "Authorization: Bearer" header.
func bearer(r *http.Request) (string, *refusal) {
	return bearerValue(r.Header.Values("Authorization"))
}

// bearerValue returns the secret of the Authorization values hs.
func bearerValue(hs []string) (string, *refusal) {
	const how = `send it as "Authorization: Bearer cdp_..."`
	switch {
	case len(hs) == 0 || strings.TrimSpace(hs[0]) == "":
		return "", unauthenticated("an API key is required: %s", how)
	case len(hs) > 1:
		return "", unauthenticated("more than one Authorization header: %s, once", how)
	}
	scheme, secret, _ := strings.Cut(strings.TrimSpace(hs[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", unauthenticated("the Authorization header is not a Bearer API key: %s", how)
	}
	if secret = strings.TrimSpace(secret); secret == "" {
		return "", unauthenticated("the Authorization header has no API key after Bearer: %s", how)
	}
	return secret, nil
}

// refuse answers r with ref once what is left of r's body is read (within
// httpdrain's bounds): the refusal is decided from the headers, and a
// client still sending a large body would otherwise see its connection
// reset instead of the 401, 403, 429 or 503 (and the 429's Retry-After).
func refuse(w http.ResponseWriter, r *http.Request, ref *refusal) {
	httpdrain.Body(w, r)
	writeRefusal(w, ref)
}

// writeRefusal answers ref as a GraphQL error response, which suits every
// client of the guarded endpoints: {"errors":[{"message", "extensions":
// {"code"}}]}.
func writeRefusal(w http.ResponseWriter, ref *refusal) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if ref.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Bearer")
	}
	if ref.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(ref.retryAfter/time.Second), 10))
	}
	ext := map[string]any{"code": ref.code}
	if ref.scope != "" {
		ext["scope"] = string(ref.scope)
	}
	w.WriteHeader(ref.status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": ref.msg, "extensions": ext}},
	})
}
