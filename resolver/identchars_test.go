package resolver

import (
	"net/http"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestIngestLookAlikeIdentifiers: the ingest mutation, with the collector's
// parser as cdp serve wires it, refuses look-alike identifiers per message
// like the collector does. An unpaired surrogate escape, which the GraphQL
// and JSON decoders would turn into U+FFFD, gets the whole request refused
// before anything is decoded, over POST (variables or document) and GET.
func TestIngestLookAlikeIdentifiers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cfg := testConfig()
		cfg.Parse = ingest.ParseMessage
		e := newEnv(t, s, cfg, nil)
		var out ingestResult
		e.query(ingestMutation, map[string]any{"events": []map[string]any{
			{"type": "identify", "messageId": "g-0", "userId": "u\u200bx"},
			{"type": "identify", "messageId": "g-1", "userId": "u\u202ex"},
			{"type": "identify", "messageId": "g-2", "userId": "u\nx"},
			{"type": "identify", "messageId": "g-3", "userId": "u\x00x"},
			{"type": "identify", "messageId": "g-4", "userId": "Jose\u0301", "anonymousId": "ga-1"},
			{"type": "identify", "messageId": "g-5", "userId": "Jos\u00e9", "anonymousId": "ga-2"},
		}}, &out)
		r := out.Ingest
		if r.Accepted != 2 || r.Rejected != 4 {
			t.Fatalf("ingest: %+v", r)
		}
		for i, want := range []string{"format_character", "format_character", "control_character", "control_character"} {
			if res := r.Results[i]; res.Status != "REJECTED" || res.Reason == nil || !strings.Contains(*res.Reason, "user_id "+want) {
				t.Errorf("result %d: %+v, want REJECTED naming %s", i, res, want)
			}
		}
		if a, b := e.profileID("anonymous_id", "ga-1"), e.profileID("anonymous_id", "ga-2"); a != b {
			t.Errorf("the two NFC forms of one user id gave profiles %s and %s", a, b)
		}

		for name, body := range map[string]string{
			"variables": `{"query":"mutation($e:[EventInput!]!){ingest(events:$e){accepted}}","variables":{"e":[{"type":"identify","userId":"\ud800","anonymousId":"gb-1"}]}}`,
			"document":  `{"query":"mutation{ingest(events:[{type:\"identify\",userId:\"\\udc00\",anonymousId:\"gb-2\"}]){accepted}}"}`,
		} {
			r := e.postRaw([]byte(body))
			checkRefused(t, r, CodeBadRequest, "unpaired UTF-16 surrogate")
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", name, r.Status)
			}
		}
		resp, err := http.Get(e.srv.URL + "?query=" + urlQuery(`{profileByIdentifier(type:"user_id",value:"\ud800"){id}}`))
		if err != nil {
			t.Fatal(err)
		}
		r2 := decodeResponse(t, resp)
		checkRefused(t, r2, CodeBadRequest, "unpaired UTF-16 surrogate")
		// Nothing of the refused requests was stored, and a pair is fine.
		for _, anon := range []string{"gb-1", "gb-2"} {
			var p struct {
				P *struct{ ID string } `json:"profileByIdentifier"`
			}
			e.query(`query($v:String!){profileByIdentifier(type:"anonymous_id",value:$v){id}}`, map[string]any{"v": anon}, &p)
			if p.P != nil {
				t.Errorf("%s was stored by a refused request", anon)
			}
		}
		if r := e.postRaw([]byte(`{"query":"{profileByIdentifier(type:\"user_id\",value:\"\ud83d\ude00\"){id}}"}`)); len(r.Errors) > 0 {
			t.Errorf("a surrogate pair was refused: %+v", r.Errors)
		}
	})
}
