package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/idgraph/cdp/graph"
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

// overloadedIngester refuses every submission as the collector does while
// its queue is full.
type overloadedIngester struct{}

func (overloadedIngester) Submit(context.Context, []graph.Event) ([]graph.EventResult, error) {
	return nil, graph.Errorf(graph.EUNAVAILABLE, "ingest queue full")
}

// A mutation operation one of whose root fields committed is no 503,
// whichever order its fields ran in: a 503 says nothing was committed and
// to retry, which would run the committed one again. The UNAVAILABLE
// field's error is in the body. An operation none of whose mutations ran
// is still a 503 with Retry-After.
func TestUnavailableMutationAfterACommitIsNo503(t *testing.T) {
	s := storetest.OpenEmbedded(t)
	e := newEnv(t, s, testConfig(), overloadedIngester{})
	const ingest = `ingest(events: [{type: "track", userId: "u3", event: "E"}]) { accepted }`
	post := func(query string, vars map[string]any) (*http.Response, gqlResponse) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		resp, err := http.Post(e.srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp, decodeResponse(t, resp)
	}
	for i, order := range []string{
		`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person") { id size } ` + ingest + ` }`,
		`mutation($ids: [ID!]!) { ` + ingest + ` mergeProfiles(ids: $ids, reason: "same person") { id size } }`,
	} {
		u, a := fmt.Sprintf("u%d", i), fmt.Sprintf("a%d", i)
		e.apply(ev("m"+u, t0, "identify", "user_id:"+u), ev("m"+a, t0, "identify", "anonymous_id:"+a))
		resp, r := post(order, map[string]any{"ids": []string{e.profileID("user_id", u), e.profileID("anonymous_id", a)}})
		if e.profileID("user_id", u) != e.profileID("anonymous_id", a) {
			t.Fatalf("order %d: mergeProfiles did not commit: %s %+v", i, r.Data, r.Errors)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Retry-After") != "" {
			t.Errorf("order %d: the merge committed, yet the answer is %d with Retry-After %q", i, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != CodeUnavailable || len(r.Errors[0].Path) != 1 || r.Errors[0].Path[0] != "ingest" {
			t.Errorf("order %d: errors %+v, want ingest's UNAVAILABLE", i, r.Errors)
		}
	}
	// Nothing committed: 503.
	resp, r := post(`mutation { a: `+ingest+` b: `+ingest+` }`, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || r.code() != CodeUnavailable {
		t.Errorf("no mutation ran: %d, Retry-After %q, code %q; want 503, 1, UNAVAILABLE", resp.StatusCode, resp.Header.Get("Retry-After"), r.code())
	}
}
