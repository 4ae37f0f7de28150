package resolver

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestOperationNameErrors: a document of several operations sent without
// operationName, or with one that names none of them, is refused with
// 422 and a message that says what to send, and never repeats the name
// given (request errors never echo the body).
func TestOperationNameErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		doc := `query A { __typename } query B { __typename }`
		for _, c := range []struct {
			name  string
			body  map[string]any
			parts []string
		}{
			{"no operationName", map[string]any{"query": doc}, []string{"2 operations", "operationName"}},
			{"unknown operationName", map[string]any{"query": doc, "operationName": "ann@example.com"}, []string{"operationName", "names no operation"}},
		} {
			r := e.postRaw(mustJSON(t, c.body))
			if r.Status != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d, want 422", c.name, r.Status)
			}
			checkRefused(t, r, "GRAPHQL_VALIDATION_FAILED", c.parts...)
			if strings.Contains(r.Errors[0].Message, "ann@example.com") {
				t.Errorf("%s: the message repeats the operation name: %q", c.name, r.Errors[0].Message)
			}
		}
		// The same over GET.
		resp, err := http.Get(e.srv.URL + "?query=" + urlQuery(doc) + "&operationName=" + urlQuery("ann@example.com"))
		if err != nil {
			t.Fatal(err)
		}
		r := decodeResponse(t, resp)
		checkRefused(t, r, "GRAPHQL_VALIDATION_FAILED", "operationName", "names no operation")
		if strings.Contains(r.Errors[0].Message, "ann@example.com") {
			t.Errorf("GET: the message repeats the operation name: %q", r.Errors[0].Message)
		}
		// A name that is there runs its operation.
		r = e.postRaw(mustJSON(t, map[string]any{"query": doc, "operationName": "B"}))
		if len(r.Errors) > 0 || r.Status != http.StatusOK || string(r.Data) != `{"__typename":"Query"}` {
			t.Fatalf("operationName B: status %d, data %s, errors %+v", r.Status, r.Data, r.Errors)
		}
	})
}
