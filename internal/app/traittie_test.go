package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

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

// Messages that carry the same explicit time (the rows of an export, all
// stamped with its time) for different identifiers of one person: the
// trait the later received sets wins, in the profile's traits (and
// traitValues names the identifier it came with, traitSources lists it
// first) and in an audience filter, on both stores, whichever identifier's
// key sorts first, in one request or two. The tie went to the identifier that sorts
// first ("email:..." before "user_id:..."), however the messages arrived.
// The earlier message sent again (the same messageId) changes nothing.
func TestTraitTieOnOneTimeGoesToTheLaterReceived(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, dial := startSubs(t, st, app.FeedConfig{}, nil)
		at := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
		for i, c := range []struct {
			first, second string // plans, in the order received
			emailFirst    bool   // the first message's trait is on the email, else on the user_id
			oneRequest    bool   // both in one /v1/batch, else one /v1/identify each
		}{
			{"free-0", "pro-0", true, true}, {"pro-1", "free-1", false, true},
			{"free-2", "pro-2", true, false}, {"pro-3", "free-3", false, false},
		} {
			email, user := fmt.Sprintf("p%d@example.com", i), fmt.Sprintf("u-%d", i)
			// The message with a userId stores its traits on the user_id
			// (the identifier of highest priority) and links the two.
			onEmail := func(id, plan string) string {
				return fmt.Sprintf(`{"type": "identify", "messageId": %q, "timestamp": %q, "traits": {"email": %q, "plan": %q}}`, id, at, email, plan)
			}
			onUser := func(id, plan string) string {
				return fmt.Sprintf(`{"type": "identify", "messageId": %q, "timestamp": %q, "userId": %q, "traits": {"email": %q, "plan": %q}}`, id, at, user, email, plan)
			}
			first, second, secondOn := onUser(fmt.Sprintf("a%d", i), c.first), onEmail(fmt.Sprintf("b%d", i), c.second), "email"
			if c.emailFirst {
				first, second, secondOn = onEmail(fmt.Sprintf("a%d", i), c.first), onUser(fmt.Sprintf("b%d", i), c.second), "user_id"
			}
			send := func(what string, msgs ...string) {
				t.Helper()
				body := `{"batch": [` + strings.Join(msgs, ",") + `]}`
				if code, b := post(t, "http://"+dial+"/v1/batch", "", body); code != http.StatusOK {
					t.Fatalf("%s: %d %s", what, code, b)
				}
			}
			if c.oneRequest {
				send("batch", first, second)
			} else {
				send("first", first)
				send("second", second)
			}
			check := func(when string) {
				t.Helper()
				var d struct {
					P struct {
						Traits map[string]any `json:"traits"`
						Values []struct {
							Name       string
							Identifier struct{ Type string }
						} `json:"traitValues"`
						Sources []struct{ Value any } `json:"traitSources"`
					} `json:"profileByIdentifier"`
					Later struct {
						Count int `json:"count"`
					} `json:"later"`
					Earlier struct {
						Count int `json:"count"`
					} `json:"earlier"`
				}
				gqlData(t, dial, "", fmt.Sprintf(`{ profileByIdentifier(type: "email", value: %q) { traits
						traitValues { name identifier { type } } traitSources(name: "plan") { value } }
					later: previewAudience(filter: {trait: {name: "plan", op: EQ, value: %q}}) { count }
					earlier: previewAudience(filter: {trait: {name: "plan", op: EQ, value: %q}}) { count } }`,
					email, c.second, c.first), &d)
				if got := d.P.Traits["plan"]; got != c.second {
					t.Errorf("%s: plans %s then %s at one time: the profile's plan is %v, want %s (received later)", when, c.first, c.second, got, c.second)
				}
				for _, v := range d.P.Values {
					if v.Name == "plan" && v.Identifier.Type != secondOn {
						t.Errorf("%s: plans %s then %s at one time: traitValues says the plan came with the %s, want the %s", when, c.first, c.second, v.Identifier.Type, secondOn)
					}
				}
				if len(d.P.Sources) != 2 || d.P.Sources[0].Value != c.second || d.P.Sources[1].Value != c.first {
					t.Errorf("%s: plans %s then %s at one time: traitSources lists %v, want %s then %s (newest first)", when, c.first, c.second, d.P.Sources, c.second, c.first)
				}
				if d.Later.Count != 1 || d.Earlier.Count != 0 {
					t.Errorf("%s: plans %s then %s at one time: audiences of plan = %s and = %s hold %d and %d, want 1 and 0",
						when, c.first, c.second, c.second, c.first, d.Later.Count, d.Earlier.Count)
				}
			}
			check("sent")
			send("the first again", first)
			check("the first sent again")
		}
	})
}
