package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
)

// While the store cannot serve, a GraphQL answer carrying UNAVAILABLE is a
// 503 with Retry-After, so that clients and load balancers retry it
// instead of taking it as final; any other answer keeps its status. The
// store is the embedded one, closed: it then fails every call as
// unavailable, as Neo4j does while down (cmd/cdp's TestNeo4jOutage covers
// that end to end).
func TestUnavailableIs503WithRetryAfter(t *testing.T) {
	s := storetest.OpenEmbedded(t)
	e := newEnv(t, s, testConfig(), nil)
	post := func(query string) (int, string, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query})
		resp, err := http.Post(e.srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r gqlResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Retry-After"), r.code()
	}
	const read = `{ profileByIdentifier(type: "user_id", value: "u1") { id } }`
	const write = `mutation { ingest(events: [{type: "track", event: "E", messageId: "m1", userId: "u1"}]) { accepted } }`
	if st, ra, code := post(read); st != http.StatusOK || ra != "" || code != "" {
		t.Fatalf("store open: %d, Retry-After %q, code %q; want 200, none, none", st, ra, code)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{read, write} {
		if st, ra, code := post(q); st != http.StatusServiceUnavailable || ra != "1" || code != CodeUnavailable {
			t.Fatalf("store closed, %s: %d, Retry-After %q, code %q; want 503, 1, %s", q, st, ra, code, CodeUnavailable)
		}
	}
	// Refusals that are not about the store keep their status.
	if st, ra, _ := post(`{ profileByIdentifier(type: "user_id") { id } }`); st == http.StatusServiceUnavailable || ra != "" {
		t.Fatalf("invalid query with the store closed: %d, Retry-After %q; want its own status, no Retry-After", st, ra)
	}
}
