package resolver

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The profile an ingested message joined is profiles:read data: with it a
// write key, which web pages carry in the clear, would tell which of two
// identifiers belong to one person and, profile ids being hashes of the
// identifier that seeded them, confirm a guessed email. Without
// profiles:read, ingest stores the messages and answers each result's
// profileId null with FORBIDDEN naming the scope; with it, the id of the
// profile that holds the message's identifier.
func TestIngestProfileIDNeedsProfilesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		web, _ := e.key("web", "web", access.ScopeEventsWrite)
		backend, _ := e.key("backend", "crm", access.ScopeEventsWrite, access.ScopeProfilesRead)
		const m = `mutation { ingest(events: [
			{type: "identify", userId: "u1", traits: {email: "ann@example.com"}, messageId: "a1"},
			{type: "track", event: "Viewed", anonymousId: "anon-1", messageId: "a2"}]) {
			accepted results { index status profileId } } }`

		r := e.as(web, m, nil)
		var out struct {
			Ingest struct {
				Accepted int
				Results  []struct {
					Index     int
					Status    string
					ProfileID *string
				}
			}
		}
		if err := json.Unmarshal(r.Data, &out); err != nil {
			t.Fatalf("decode %s: %v", r.Data, err)
		}
		if out.Ingest.Accepted != 2 || len(out.Ingest.Results) != 2 {
			t.Fatalf("ingest without profiles:read: %s %+v", r.Data, r.Errors)
		}
		for i, res := range out.Ingest.Results {
			if res.Status != "STORED" || res.ProfileID != nil {
				t.Errorf("result %d without profiles:read: %+v, want STORED with no profileId", i, res)
			}
		}
		if len(r.Errors) != 2 {
			t.Fatalf("errors %+v, want one FORBIDDEN per result", r.Errors)
		}
		paths := map[string]bool{}
		for _, er := range r.Errors {
			if er.Extensions["code"] != CodeForbidden || er.Extensions["scope"] != string(access.ScopeProfilesRead) {
				t.Errorf("error %+v, want FORBIDDEN naming profiles:read", er)
			}
			paths[fmt.Sprint(er.Path)] = true
		}
		// The results resolve concurrently: their errors come in any order.
		if !paths["[ingest results 0 profileId]"] || !paths["[ingest results 1 profileId]"] {
			t.Errorf("error paths %v, want ingest.results[0].profileId and ingest.results[1].profileId", paths)
		}
		// Stored all the same, under the key's source.
		evs, err := e.engine.Events(t.Context(), []string{"web/a1", "web/a2"})
		if err != nil || len(evs) != 2 {
			t.Fatalf("events stored: %v, %v", evs, err)
		}

		out.Ingest.Results = nil
		e.ok(backend, `mutation { ingest(events: [{type: "track", event: "Bought", userId: "u1", messageId: "b1"}]) {
			accepted results { index status profileId } } }`, nil, &out)
		p, err := e.engine.ProfileByIdentifier(t.Context(), graph.IdentifierRef{Type: "user_id", Value: "u1"})
		if err != nil {
			t.Fatal(err)
		}
		if want := p.ID; len(out.Ingest.Results) != 1 || out.Ingest.Results[0].ProfileID == nil || *out.Ingest.Results[0].ProfileID != want {
			t.Errorf("with profiles:read: %+v, want profileId %s", out.Ingest.Results, want)
		}
	})
}
