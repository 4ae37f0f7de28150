package resolver

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
)

// nested returns a query whose deepest field is at depth n.
func nested(n int) string {
	var open []string
	for i := range n - 1 {
		switch {
		case i == 0:
			open = append(open, `profileByIdentifier(type: "user_id", value: "u1") {`)
		case i%2 == 1:
			open = append(open, "identifiers {")
		default:
			open = append(open, "profile {")
		}
	}
	leaf := "id"
	if (n-2)%2 == 1 {
		leaf = "key"
	}
	return "{ " + strings.Join(open, " ") + " " + leaf + strings.Repeat(" }", n-1) + " }"
}

func TestRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cs := newCountingStore(s)
		e := newEnv(t, cs, testConfig(), nil)
		seedPeople(e)

		// Depth: 12 is served, 30 refused before any read.
		e.query(`{ profileByIdentifier(type: "user_id", value: "u1") { journey(first: 1) { edges { node { identifiers {
		  profile { journey(first: 1) { edges { node { identifiers { profile { id } } } } } } } } } } } }`, nil, nil)
		cs.reset()
		r := e.refused(nested(30), nil, CodeDepthLimit, "depth 30", "limit of 12")
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("depth refusal status %d, want 422", r.Status)
		}
		if views, _ := cs.reset(); views != 0 {
			t.Errorf("a refused query read the store %d times", views)
		}

		// 300 aliases of a heavy field: one is fine, 300 are refused (1800
		// selections: under the selection limit, over the complexity limit).
		heavy := `profileByIdentifier(type: "user_id", value: "u1") { identityGraph { nodes { id } edges { from } } }`
		e.query("{ a0: "+heavy+" }", nil, nil)
		cs.reset()
		var b strings.Builder
		b.WriteString("{")
		for i := range 300 {
			fmt.Fprintf(&b, " a%d: %s", i, heavy)
		}
		b.WriteString(" }")
		e.refused(b.String(), nil, CodeComplexityLimit, "complexity", "limit of 20000")
		if views, _ := cs.reset(); views != 0 {
			t.Errorf("a refused query read the store %d times", views)
		}

		// Page sizes over the cap name the argument, literal or variable.
		e.refused(`{ profiles(first: 1000000000) { totalCount } }`, nil, CodeInvalidArgument, `"first"`, "Query.profiles", "500", "1000000000")
		e.refused(`query($n: Int) { profiles(last: $n) { totalCount } }`, map[string]any{"n": 1000000000}, CodeInvalidArgument, `"last"`, "500")
		e.refused(`{ profileByIdentifier(type: "user_id", value: "u1") { journey(first: 1000000000) { nodes { id } } } }`, nil, CodeInvalidArgument, `"first"`, "Profile.journey")
		e.refused(`{ profiles(first: -1) { totalCount } }`, nil, CodeInvalidArgument, `"first"`)

		// A 5 MB query: the body limit answers 413 without parsing it.
		big := mustJSON(t, map[string]any{"query": "{ profiles { totalCount } }\n#" + strings.Repeat("x", 5<<20)})
		r = e.postRaw(big)
		checkRefused(t, r, CodeTooLarge, "larger than the limit of 1048576 bytes")
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("5 MB query: status %d, want 413", r.Status)
		}

		// A JSON array of 1,000 operations.
		ops := make([]map[string]any, 1000)
		for i := range ops {
			ops[i] = map[string]any{"query": `{ profiles { totalCount } }`}
		}
		r = e.postRaw(mustJSON(t, ops))
		checkRefused(t, r, CodeBatching, "batched operations")
		if r.Status != http.StatusBadRequest {
			t.Errorf("batch: status %d, want 400", r.Status)
		}

		// Parser token limit: under the body limit, over 15000 tokens.
		r = e.post("{"+strings.Repeat(" __typename", 16000)+" }", nil)
		checkRefused(t, r, "GRAPHQL_PARSE_FAILED", "token limit")

		// Malformed requests get a clear 4xx that names the problem.
		checkRefused(t, e.postRaw([]byte(`{"query": "{ profiles { totalCount } }"`)), CodeBadRequest, "not valid JSON")
		checkRefused(t, e.postRaw([]byte(`{"variables": {}}`)), CodeBadRequest, `"query"`)
		checkRefused(t, e.postRaw([]byte(`{"query": "{ profiles { totalCount } }", "variables": [1]}`)), CodeBadRequest, `"variables"`)
		checkRefused(t, e.postRaw([]byte(`"just a string"`)), CodeBadRequest, "JSON object")
		deep := `{"query": "{ profiles { totalCount } }", "variables": {"x": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`
		checkRefused(t, e.postRaw([]byte(deep)), CodeBadRequest, "not valid JSON", "depth")
		resp, err := http.Post(e.srv.URL, "text/plain", strings.NewReader(`{ profiles { totalCount } }`))
		if err != nil {
			t.Fatal(err)
		}
		if r := decodeResponse(t, resp); r.Status != http.StatusUnsupportedMediaType || r.code() != CodeBadRequest {
			t.Errorf("text/plain: %d %+v", r.Status, r.Errors)
		}
		req, err := http.NewRequest(http.MethodPut, e.srv.URL, strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if r := decodeResponse(t, resp); r.Status != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
			t.Errorf("PUT: %d %+v", r.Status, r.Errors)
		}
		// A subscription over HTTP is refused before it runs, as a
		// request the transport cannot serve.
		r = e.post(`subscription { profileChanged(id: "p") { kind } }`, nil)
		checkRefused(t, r, CodeBadRequest, "WebSocket only")
		if r.Status != http.StatusBadRequest {
			t.Errorf("subscription over HTTP: status %d, want 400", r.Status)
		}
		// HEAD has no body to say why, so the status and Allow say it.
		resp, err = http.Head(e.srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST, OPTIONS" {
			t.Errorf("HEAD: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
		}
	})
}

func TestIntrospectionAndSuggestionsSwitch(t *testing.T) {
	s := storetest.Embedded(t)
	on := newEnv(t, s, Config{Introspection: true, Suggestions: true}, nil)
	off := newEnv(t, s, Config{}, nil)

	on.query(`{ __schema { queryType { name } } }`, nil, nil)
	r := off.post(`{ __schema { queryType { name } } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "introspection disabled") {
		t.Fatalf("introspection off: %s %+v", r.Data, r.Errors)
	}
	typo := `{ profiles { totalCont } }`
	if r := on.post(typo, nil); len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "Did you mean") {
		t.Fatalf("suggestions on: %+v", r.Errors)
	}
	typoArg := `{ profiles(frist: 2) { totalCount } }`
	for _, q := range []string{typo, typoArg} {
		r := off.post(q, nil)
		if len(r.Errors) == 0 || strings.Contains(r.Errors[0].Message, "Did you mean") || r.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("suggestions off, %s: %+v", q, r.Errors)
		}
	}
}

// withRequestLogger puts a logger carrying a request id in each request's
// context, as the server does.
func withRequestLogger(logs *testlog.Buffer, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := zerolog.New(logs).With().Str("request_id", "req-42").Logger()
		h.ServeHTTP(w, r.WithContext(l.WithContext(r.Context())))
	})
}

func TestInternalErrorsAndPanics(t *testing.T) {
	cs := newCountingStore(storetest.Embedded(t))
	engine := graph.NewEngine(cs, nil)
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(withRequestLogger(logs, asOpen(NewHandler(engine, nil, Config{}))))
	t.Cleanup(srv.Close)
	e := &env{t: t, engine: engine, srv: srv, logs: logs}
	seedPeople(e)
	const q = `{ profileByIdentifier(type: "user_id", value: "u1") { id } }`

	secret := errors.New("bolt: page 7 checksum mismatch for alice@example.com")
	cs.fail.Store(&secret)
	r := e.refused(q, nil, CodeInternal)
	if r.Errors[0].Message != "internal error" {
		t.Fatalf("internal error shown as %q", r.Errors[0].Message)
	}
	if !strings.Contains(logs.String(), "checksum mismatch") || !strings.Contains(logs.String(), "req-42") {
		t.Fatalf("the log lacks the full error or the request id: %s", logs.String())
	}

	down := graph.ErrUnavailable(errors.New("dial tcp 10.0.0.9:7687: connection refused"))
	cs.fail.Store(&down)
	r = e.refused(q, nil, CodeUnavailable, "store unavailable")
	if strings.Contains(r.Errors[0].Message, "10.0.0.9") {
		t.Fatalf("unavailable error leaks its cause: %q", r.Errors[0].Message)
	}
	cs.fail.Store(nil)

	cs.panic.Store(true)
	r = e.refused(q, nil, CodeInternal)
	if r.Errors[0].Message != "internal error" || !strings.Contains(logs.String(), "store exploded") {
		t.Fatalf("panic: %+v; log %s", r.Errors, logs.String())
	}
	cs.panic.Store(false)
	e.query(q, nil, nil) // still serving

	// The request's data never reaches the log at info level.
	if bytes.Contains([]byte(logs.String()), []byte(`"level":"info"`)) {
		t.Fatalf("info-level log lines: %s", logs.String())
	}
}
