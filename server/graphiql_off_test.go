package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph/embedded"
)

// A server that does not serve GraphiQL (--graphiql=false, or auto with
// a key stored at start) answers GET /graphiql 404 saying so and naming
// the flag that turns it on, not "no such endpoint: GET /graphiql/... (the
// rest of the path is not repeated)", which speaks of a rest the path
// does not have. A path below it still keeps its rest to itself.
func TestGraphiQLOffSaysSo(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(t.Context()) })
	s := &Server{cfg: Config{Logger: zerolog.Nop(), ReadyTimeout: 1e9}, store: st}
	ts := httptest.NewServer(s.Handler(Routes{GraphQL: http.NotFoundHandler()}))
	t.Cleanup(ts.Close)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/graphiql"); code != 404 || !strings.Contains(body, "GraphiQL is not served") || !strings.Contains(body, "--graphiql") || strings.Contains(body, "rest of the path") {
		t.Errorf("GET /graphiql with GraphiQL off = %d %s; want 404 saying GraphiQL is not served and naming --graphiql", code, body)
	}
	if code, body := get("/graphiql/ann@example.com"); code != 404 || strings.Contains(body, "ann@example.com") || !strings.Contains(body, "the rest of the path is not repeated") {
		t.Errorf("GET /graphiql/... = %d %s; want 404 not repeating the rest of the path", code, body)
	}
}
