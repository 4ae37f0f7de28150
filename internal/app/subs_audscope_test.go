package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// audChange is a ChangeEvent with its audienceId, as the wire carries it.
type audChange struct {
	Kind       string  `json:"kind"`
	ProfileID  *string `json:"profileId"`
	AudienceID *string `json:"audienceId"`
}

func (c audChange) String() string {
	s := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	return c.Kind + " " + s(c.ProfileID) + " " + s(c.AudienceID)
}

// nextAud reads the next change of subscription id, whose field is field.
func (w *wsClient) nextAud(id, field string) string {
	w.t.Helper()
	m, code, reason := w.readFor(id)
	var p struct {
		Data   map[string]audChange `json:"data"`
		Errors []any                `json:"errors"`
	}
	if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil || len(p.Errors) > 0 {
		w.t.Fatalf("want a change on %s, got %s %s %s (close %d %s)", id, m.Type, m.ID, m.Payload, code, reason)
	}
	return p.Data[field].String()
}

// Audience memberships are read with audiences:read, in the feed as
// through audienceChanged, on both stores. A key with profiles:read alone
// gets changes and profileChanged without AUDIENCE_ENTERED and
// AUDIENCE_EXITED, and asking for those kinds is refused with FORBIDDEN
// naming audiences:read; a key with both scopes gets them, audience id
// included.
func TestAudienceChangesNeedAudiencesRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		_, writer := addKey(t, st, "events:write")
		_, reader := addKey(t, st, "profiles:read")
		_, both := addKey(t, st, "profiles:read", "audiences:read")
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		if code, b := post(t, "http://"+dial+"/v1/track", writer, `{"messageId":"m1","anonymousId":"anon-a","event":"Viewed"}`); code != http.StatusOK {
			t.Fatalf("track: %d %s", code, b)
		}
		var d struct {
			P struct {
				ID string `json:"id"`
			} `json:"profileByIdentifier"`
		}
		gqlData(t, dial, reader, `{ profileByIdentifier(type: "anonymous_id", value: "anon-a") { id } }`, &d)
		p := d.P.ID
		const fields = `kind profileId audienceId`
		bearer := func(secret string) map[string]any { return map[string]any{"Authorization": "Bearer " + secret} }

		r, _ := dialWS(t, dial, nil)
		r.mustInit(bearer(reader))
		refused := map[string]string{
			"ck": `changes(kinds: [EVENT_ADDED, AUDIENCE_ENTERED])`,
			"pk": fmt.Sprintf(`profileChanged(id: %q, kinds: [AUDIENCE_EXITED])`, p),
		}
		for id, q := range refused {
			r.subscribe(id, `subscription { `+q+` { `+fields+` } }`)
		}
		r.subscribe("c", `subscription { changes { `+fields+` } }`)
		r.subscribe("p", fmt.Sprintf(`subscription { profileChanged(id: %q) { %s } }`, p, fields))
		b, _ := dialWS(t, dial, nil)
		b.mustInit(bearer(both))
		b.subscribe("c", `subscription { changes { `+fields+` } }`)
		b.subscribe("p", fmt.Sprintf(`subscription { profileChanged(id: %q) { %s } }`, p, fields))
		b.subscribe("k", `subscription { changes(kinds: [AUDIENCE_ENTERED, AUDIENCE_EXITED]) { `+fields+` } }`)
		// Five open (seven had ck and pk been let through): each has read
		// the head it starts from.
		deadline := time.Now().Add(wsLimit)
		for svc.Feed.Stats().Active < 5 {
			if time.Now().After(deadline) {
				t.Fatalf("%d subscriptions active, want 5", svc.Feed.Stats().Active)
			}
			time.Sleep(5 * time.Millisecond)
		}

		const seg = "seg_0123456789abcdef0123456789abcdef"
		appendNow(t, st,
			graph.FeedEntry{Kind: graph.FeedAudienceEntered, ProfileID: p, AudienceID: seg},
			graph.FeedEntry{Kind: graph.FeedComputedChanged, ProfileID: p},
			graph.FeedEntry{Kind: graph.FeedAudienceExited, ProfileID: p, AudienceID: seg},
			graph.FeedEntry{Kind: graph.FeedTraitsChanged, ProfileID: p},
		)
		svc.Feed.Wake()

		for id, q := range refused {
			e := r.endedWith(id)
			if e.Extensions["code"] != "FORBIDDEN" || e.Extensions["scope"] != "audiences:read" || !strings.Contains(e.Message, `"kinds"`) {
				t.Fatalf("%s without audiences:read: %+v, want FORBIDDEN naming audiences:read and kinds", q, e)
			}
		}
		all := []string{"AUDIENCE_ENTERED P " + seg, "COMPUTED_CHANGED P -", "AUDIENCE_EXITED P " + seg, "TRAITS_CHANGED P -"}
		for _, c := range []struct {
			w     *wsClient
			who   string
			id    string
			field string
			want  []string
		}{
			{r, "profiles:read", "c", "changes", []string{"COMPUTED_CHANGED P -", "TRAITS_CHANGED P -"}},
			{r, "profiles:read", "p", "profileChanged", []string{"COMPUTED_CHANGED P -", "TRAITS_CHANGED P -"}},
			{b, "both", "c", "changes", all},
			{b, "both", "p", "profileChanged", all},
			{b, "both", "k", "changes", []string{"AUDIENCE_ENTERED P " + seg, "AUDIENCE_EXITED P " + seg}},
		} {
			for _, want := range c.want {
				if got := strings.ReplaceAll(c.w.nextAud(c.id, c.field), p, "P"); got != want {
					t.Fatalf("%s of the key with %s: %s, want %s", c.id, c.who, got, want)
				}
			}
		}
	})
}
