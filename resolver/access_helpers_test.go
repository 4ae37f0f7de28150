package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/reqid"
	"github.com/idgraph/cdp/internal/testlog"
)

// keyEnv is a GraphQL server whose callers authenticate with real keys,
// created in the real store: a test middleware does what package auth does
// in production (Bearer secret → KeyByHash → principal), and takes the
// request id from X-Request-Id.
type keyEnv struct {
	*env
	keys access.Store
}

func newKeyEnv(t *testing.T, s graph.Store, cfg Config, ing Ingester) *keyEnv {
	t.Helper()
	as := accessStore(s)
	if as == nil {
		t.Fatalf("store %T holds no keys", s)
	}
	if cfg.Keys == nil {
		cfg.Keys = as
	}
	e := &env{t: t, engine: graph.NewEngine(s, nil), logs: &testlog.Buffer{}}
	cfg.Logger = zerolog.New(e.logs)
	e.srv = httptest.NewServer(withKeys(as, NewHandler(e.engine, ing, cfg)))
	t.Cleanup(e.srv.Close)
	return &keyEnv{env: e, keys: as}
}

// withKeys authenticates a Bearer key against the store. A request without
// one carries no principal, and so holds no scope.
func withKeys(keys access.Store, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if id := r.Header.Get("X-Request-Id"); id != "" {
			ctx = reqid.With(ctx, id)
		}
		if secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if access.CheckSecret(secret) != nil {
				refuse(w, http.StatusUnauthorized, "UNAUTHENTICATED", "malformed key")
				return
			}
			k, found, err := keys.KeyByHash(ctx, access.HashSecret(secret))
			if err != nil || !found || !k.Usable(graph.Now()) || !k.Matches(secret) {
				refuse(w, http.StatusUnauthorized, "UNAUTHENTICATED", "unknown, revoked or expired key")
				return
			}
			ctx = access.WithPrincipal(ctx, access.KeyPrincipal(k))
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// key creates a key in the store with the given scopes and returns its
// secret and record.
func (e *keyEnv) key(name, source string, scopes ...access.Scope) (string, access.Key) {
	e.t.Helper()
	k, secret, err := access.NewKey(name, access.ScopeNames(scopes), source, time.Time{}, graph.Now())
	if err != nil {
		e.t.Fatalf("NewKey: %v", err)
	}
	if err := e.keys.CreateKey(context.Background(), k); err != nil {
		e.t.Fatalf("CreateKey: %v", err)
	}
	return secret, k
}

// allBut returns every scope except the ones given.
func allBut(except ...access.Scope) []access.Scope {
	var out []access.Scope
	for _, s := range access.AllScopes() {
		keep := true
		for _, x := range except {
			keep = keep && s != x
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

// keyResponse is a response with its raw body.
type keyResponse struct {
	gqlResponse
	Raw []byte
}

// as sends one operation with the key secret ("" for none), returning the
// decoded response and the raw body.
func (e *keyEnv) as(secret, query string, vars map[string]any, headers ...string) keyResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	var out keyResponse
	out.Raw = raw
	if err := json.Unmarshal(raw, &out.gqlResponse); err != nil {
		e.t.Fatalf("response (status %d) is not JSON: %v: %.300s", resp.StatusCode, err, raw)
	}
	out.Status = resp.StatusCode
	return out
}

// ok sends an operation that must succeed and decodes its data into out.
func (e *keyEnv) ok(secret, query string, vars map[string]any, out any, headers ...string) keyResponse {
	e.t.Helper()
	r := e.as(secret, query, vars, headers...)
	if len(r.Errors) > 0 {
		e.t.Fatalf("unexpected errors: %+v\nquery: %s", r.Errors, query)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			e.t.Fatalf("decode data: %v: %s", err, r.Data)
		}
	}
	return r
}

// audit returns every entry of the log whose action is action ("" for
// all), newest first, read from the store directly.
func (e *keyEnv) audit(action string) []access.AuditEntry {
	e.t.Helper()
	es, err := e.keys.Audit(context.Background(), access.AuditQuery{Action: action, Limit: access.MaxPage})
	if err != nil {
		e.t.Fatalf("Audit: %v", err)
	}
	return es
}

// failingStore wraps a real store: while fail is set, Update runs the
// transaction's function (the whole mutation, its audit hook included) and
// then fails instead of committing, so the transaction rolls back after
// every check passed.
type failingStore struct {
	graph.Store
	fail atomic.Bool
}

var errInjected = graph.Errorf(graph.ECONFLICT, "injected failure after the checks")

func (s *failingStore) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if s.fail.Load() {
			return errInjected
		}
		return nil
	})
}
