package app_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Messages of one request (a /v1/batch, or a call of the ingest mutation)
// that carry no time of their own keep the request's order: a later identify's trait wins over an earlier one's,
// whichever of the person's identifiers each came with, on both stores, in
// the profile's traits and in an audience filter. They were all dated when
// the request arrived, and the tie went to the identifier that sorts first
// ("anonymous_id:..." before "user_id:..."), so the earlier plan stood.
func TestTraitsOfOneRequestKeepItsOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		for i, c := range []struct {
			first, second string // plans, in the request's order
			graphql       bool   // sent through the ingest mutation, else /v1/batch
		}{{"free-0", "pro-0", false}, {"pro-1", "free-1", false}, {"free-2", "pro-2", true}, {"pro-3", "free-3", true}} {
			anon, user := fmt.Sprintf("anon-%d", i), fmt.Sprintf("u-%d", i)
			if c.graphql {
				var r struct {
					I struct {
						Accepted int `json:"accepted"`
					} `json:"ingest"`
				}
				gqlData(t, dial, "", fmt.Sprintf(`mutation { ingest(events: [
					{type: "identify", messageId: "a%[1]d", anonymousId: %[2]q, traits: {plan: %[4]q}},
					{type: "identify", messageId: "b%[1]d", anonymousId: %[2]q, userId: %[3]q, traits: {plan: %[5]q}}]) { accepted } }`,
					i, anon, user, c.first, c.second), &r)
				if r.I.Accepted != 2 {
					t.Fatalf("ingest: %d accepted, want 2", r.I.Accepted)
				}
			} else {
				body := fmt.Sprintf(`{"batch": [
					{"type": "identify", "messageId": "a%[1]d", "anonymousId": %[2]q, "traits": {"plan": %[4]q}},
					{"type": "identify", "messageId": "b%[1]d", "anonymousId": %[2]q, "userId": %[3]q, "traits": {"plan": %[5]q}}]}`,
					i, anon, user, c.first, c.second)
				if code, b := post(t, "http://"+dial+"/v1/batch", "", body); code != http.StatusOK {
					t.Fatalf("batch: %d %s", code, b)
				}
			}
			var d struct {
				P struct {
					Traits map[string]any `json:"traits"`
				} `json:"profileByIdentifier"`
				Pre struct {
					Count int `json:"count"`
				} `json:"previewAudience"`
			}
			gqlData(t, dial, "", fmt.Sprintf(`{ profileByIdentifier(type: "user_id", value: %q) { traits }
				previewAudience(filter: {trait: {name: "plan", op: EQ, value: %q}}) { count } }`,
				user, c.second), &d)
			if got := d.P.Traits["plan"]; got != c.second {
				t.Errorf("plans %s then %s in one request: the profile's plan is %v, want %s (the later)", c.first, c.second, got, c.second)
			}
			if d.Pre.Count != 1 {
				t.Errorf("plans %s then %s in one request: an audience of plan = %s holds %d, want 1", c.first, c.second, c.second, d.Pre.Count)
			}
		}
	})
}
