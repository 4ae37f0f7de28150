package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/testlog"
)

// env is a GraphQL server over a real engine and store, reached over HTTP.
type env struct {
	t      *testing.T
	engine *graph.Engine
	srv    *httptest.Server
	logs   *testlog.Buffer
	// handler is the endpoint newEnv serves.
	handler *httpHandler
}

func testConfig() Config {
	return Config{Introspection: true, Suggestions: true}
}

func newEnv(t *testing.T, s graph.Store, cfg Config, ing Ingester) *env {
	t.Helper()
	e := &env{t: t, engine: graph.NewEngine(s, nil), logs: &testlog.Buffer{}}
	cfg.Logger = zerolog.New(e.logs)
	if cfg.Keys == nil {
		cfg.Keys = accessStore(s)
	}
	e.handler = NewHandler(e.engine, ing, cfg).(*httpHandler)
	e.srv = httptest.NewServer(asOpen(e.handler))
	t.Cleanup(e.srv.Close)
	return e
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (r gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends one operation.
func (e *env) post(query string, vars map[string]any) gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.postRaw(body)
}

func (e *env) postRaw(body []byte) gqlResponse {
	e.t.Helper()
	resp, err := http.Post(e.srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("POST: %v", err)
	}
	return decodeResponse(e.t, resp)
}

func decodeResponse(t *testing.T, resp *http.Response) gqlResponse {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response (status %d) is not JSON: %v: %.300s", resp.StatusCode, err, raw)
	}
	out.Status = resp.StatusCode
	return out
}

// query runs an operation that must succeed and decodes its data into out.
func (e *env) query(query string, vars map[string]any, out any) {
	e.t.Helper()
	r := e.post(query, vars)
	if len(r.Errors) > 0 {
		e.t.Fatalf("unexpected errors: %+v\nquery: %s", r.Errors, query)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			e.t.Fatalf("decode data: %v: %s", err, r.Data)
		}
	}
}

// refused runs an operation that must fail with code, its first error
// message containing every one of parts.
func (e *env) refused(query string, vars map[string]any, code string, parts ...string) gqlResponse {
	e.t.Helper()
	r := e.post(query, vars)
	checkRefused(e.t, r, code, parts...)
	return r
}

func checkRefused(t *testing.T, r gqlResponse, code string, parts ...string) {
	t.Helper()
	if len(r.Errors) == 0 {
		t.Fatalf("want error %s, got data %s", code, r.Data)
	}
	if r.code() != code {
		t.Fatalf("want code %s, got %+v", code, r.Errors)
	}
	for _, p := range parts {
		if !strings.Contains(r.Errors[0].Message, p) {
			t.Fatalf("error message %q does not mention %q", r.Errors[0].Message, p)
		}
	}
}

// apply stores events through the engine.
func (e *env) apply(evs ...graph.Event) graph.BatchResult {
	e.t.Helper()
	res, err := e.engine.ApplyBatch(context.Background(), evs)
	if err != nil {
		e.t.Fatalf("ApplyBatch: %v", err)
	}
	for _, r := range res.Results {
		if r.Status == graph.StatusRejected {
			e.t.Fatalf("event %s rejected: %s", r.ID, r.Reason)
		}
	}
	return res
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// ev builds an event carrying identifiers written "type:value".
func ev(id string, at time.Time, typ string, ids ...string) graph.Event {
	e := graph.Event{ID: id, Type: typ, Timestamp: at, Channel: "web", Source: "test", Properties: map[string]any{"n": id}}
	for _, k := range ids {
		e.Identifiers = append(e.Identifiers, graph.SplitKey(k))
	}
	return e
}

func withTraits(e graph.Event, traits map[string]any) graph.Event {
	e.Traits = traits
	return e
}

func withChannel(e graph.Event, ch string) graph.Event {
	e.Channel = ch
	return e
}

// profileID returns the id of the profile holding an identifier.
func (e *env) profileID(typ, value string) string {
	e.t.Helper()
	var out struct {
		P *struct{ ID string } `json:"profileByIdentifier"`
	}
	e.query(`query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){id}}`, map[string]any{"t": typ, "v": value}, &out)
	if out.P == nil {
		e.t.Fatalf("no profile holds %s:%s", typ, value)
	}
	return out.P.ID
}

func urlQuery(q string) string { return url.QueryEscape(q) }

// accessStore returns the access side of a real store, unwrapping the
// test wrappers.
func accessStore(s graph.Store) access.Store {
	switch w := s.(type) {
	case *countingStore:
		s = w.Store
	case *failingStore:
		s = w.Store
	}
	as, _ := s.(access.Store)
	return as
}

// asOpen serves h as a server in open mode does: every caller holds every
// scope.
func asOpen(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(access.WithPrincipal(r.Context(), access.OpenPrincipal())))
	})
}
