package resolver

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestMalformedProfileIDIsInvalidArgument: every field that takes a
// profile id refuses one not of a profile id's shape (an email pasted by
// mistake, an id in capitals, an empty one) as the caller's error:
// INVALID_ARGUMENT naming the argument and the shape, never repeating the
// value. A well-formed id of no profile stays what it was: null from
// profile(id), NOT_FOUND from the mutations, the export and the
// subscription.
func TestMalformedProfileIDIsInvalidArgument(t *testing.T) {
	const shape = "is not a profile id (p_ followed by lowercase letters and digits, at most 64 bytes)"
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "user_id:u1"))
		p1 := e.profileID("user_id", "u1")
		long := "p_" + strings.Repeat("a", 63) // 65 bytes
		for _, bad := range []string{"ann.secret@example.com", "P_ABC", "not-an-id", "", "p_", long} {
			for name, c := range map[string]struct {
				q, arg string
				vars   map[string]any
			}{
				"profile":       {`query($id:ID!){ profile(id:$id){ id } }`, "id", map[string]any{"id": bad}},
				"mergeProfiles": {`mutation($ids:[ID!]!){ mergeProfiles(ids:$ids, reason:"r"){ id } }`, "ids[1]", map[string]any{"ids": []string{p1, bad}}},
				"forgetProfile": {`mutation($id:ID!){ forgetProfile(id:$id, reason:"r"){ id } }`, "id", map[string]any{"id": bad}},
				"dataExport":    {`query($id:ID!){ dataExport(profileId:$id) }`, "profileId", map[string]any{"id": bad}},
				"auditLog":      {`query($id:ID){ auditLog(filter:{profileId:$id}){ nodes { action } } }`, "filter.profileId", map[string]any{"id": bad}},
			} {
				r := e.post(c.q, c.vars)
				if len(r.Errors) != 1 || r.code() != CodeInvalidArgument {
					t.Errorf("%s(%q): errors %+v, data %s; want one INVALID_ARGUMENT", name, bad, r.Errors, r.Data)
					continue
				}
				if want := `argument "` + c.arg + `" ` + shape; r.Errors[0].Message != want {
					t.Errorf("%s(%q): message %q, want %q", name, bad, r.Errors[0].Message, want)
				}
				if len(bad) > 3 && strings.Contains(r.Errors[0].Message, bad) {
					t.Errorf("%s(%q): the message repeats the value", name, bad)
				}
			}
		}
		// The profile merged nothing: the ids are checked before anything ran.
		var got struct{ Profile *struct{ ID string } }
		e.query(`query($id:ID!){ profile(id:$id){ id } }`, map[string]any{"id": p1}, &got)
		if got.Profile == nil || got.Profile.ID != p1 {
			t.Errorf("profile(%s) = %+v, want itself", p1, got.Profile)
		}
		// Well-formed ids of nothing.
		e.query(`{ profile(id: "p_nobody"){ id } }`, nil, &got)
		if got.Profile != nil {
			t.Errorf("profile(p_nobody) = %+v, want null", got.Profile)
		}
		e.refused(`mutation { mergeProfiles(ids: ["`+p1+`", "p_nobody"], reason: "r"){ id } }`, nil, CodeNotFound, `"p_nobody"`)
		e.refused(`mutation { forgetProfile(id: "p_nobody", reason: "r"){ id } }`, nil, CodeNotFound, `"p_nobody"`)
		e.refused(`{ dataExport(profileId: "p_nobody") }`, nil, CodeNotFound)

		// The subscription, over a websocket.
		_, _, h := openWSHandlerOn(t, s, s.(graph.FeedStore))
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		send, recv := dialGraphQLWS(t, ctx, srv.URL)
		next := withoutPings(recv)
		errorOf := func(op, id string) (code, msg string) {
			b, _ := json.Marshal(map[string]any{"type": "subscribe", "id": op, "payload": map[string]any{
				"query": `subscription($id:ID){ profileChanged(id:$id){ kind } }`, "variables": map[string]any{"id": id}}})
			send(string(b))
			for {
				m := next()
				if m["id"] != op {
					continue
				}
				var errs []gqlError
				switch m["type"] {
				case "error":
					b, _ := json.Marshal(m["payload"])
					_ = json.Unmarshal(b, &errs)
				case "next":
					var p gqlResponse
					b, _ := json.Marshal(m["payload"])
					_ = json.Unmarshal(b, &p)
					errs = p.Errors
				default:
					t.Fatalf("profileChanged(%q): got %v, want an error", id, m)
				}
				if len(errs) != 1 {
					t.Fatalf("profileChanged(%q): got %v, want one error", id, m)
				}
				c, _ := errs[0].Extensions["code"].(string)
				return c, errs[0].Message
			}
		}
		for i, bad := range []string{"ann.secret@example.com", "P_ABC", long} {
			code, msg := errorOf("bad"+string(rune('0'+i)), bad)
			if want := `argument "id" ` + shape; code != CodeInvalidArgument || msg != want {
				t.Errorf("profileChanged(%q): %s %q, want %s %q", bad, code, msg, CodeInvalidArgument, want)
			}
		}
		if code, _ := errorOf("nobody", "p_nobody"); code != CodeNotFound {
			t.Errorf("profileChanged(p_nobody): %s, want %s", code, CodeNotFound)
		}
	})
}
