package resolver

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A person's email or phone inside another text of their event (a page's
// url or search, a track's name, a campaign, a note) is masked as it is
// under a personal name: masking by name alone left it whole. The text is
// searched as an erasure searches it: in any case, percent-encoded, a
// phone inside a sentence. A user id, which is not personal, stays. With
// pii:read the texts are as stored, and the read is audited.
func TestMaskingFindsPersonalValuesInsideEventTexts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		m := ev("m1", t0, "page", "email:ann@example.com", "phone:+14155550167", "user_id:u1")
		m.Name = "Invited ANN@example.com"
		m.Campaign = "spring-ann@example.com"
		m.Properties = map[string]any{
			"url":      "https://shop.example/landing?email=ann%40example.com&uid=u1",
			"search":   "?email=ann@example.com&uid=u1",
			"referrer": "https://mail.example/?to=ann%2540example.com",
			"contact":  "tel:%2B1%20415%20555%200167",
			"items":    []any{map[string]any{"note": "call +14155550167 now", "sku": "A-1"}, "ann@example.com"},
			"title":    "Spring sale",
		}
		m.Traits = map[string]any{"plan": "pro", "signup_note": "came via ann@example.com"}
		e.apply(m)

		want := map[string]any{
			"name":     "Invited ***",
			"campaign": "spring-***",
			"properties": map[string]any{
				"url":      "https://shop.example/landing?email=***&uid=u1",
				"search":   "?email=***&uid=u1",
				"referrer": "https://mail.example/?to=***",
				"contact":  "tel:***",
				"items":    []any{map[string]any{"note": "call *** now", "sku": "A-1"}, "***"},
				"title":    "Spring sale",
			},
			"traits": map[string]any{"plan": "pro", "signup_note": "came via ***"},
		}
		const op = `{ event(id: "m1") { name campaign properties traits }
		  profileByIdentifier(type: "user_id", value: "u1") { journey { nodes { name campaign properties traits } } } }`
		type answer struct {
			Event               map[string]any
			ProfileByIdentifier struct {
				Journey struct{ Nodes []map[string]any }
			}
		}
		reader, _ := e.key("analyst", "", access.ScopeProfilesRead)
		var got answer
		r := e.ok(reader, op, nil, &got)
		if !reflect.DeepEqual(got.Event, want) {
			t.Errorf("event(m1) without pii:read\n got %v\nwant %v", got.Event, want)
		}
		if n := got.ProfileByIdentifier.Journey.Nodes; len(n) != 1 || !reflect.DeepEqual(n[0], want) {
			t.Errorf("journey without pii:read\n got %v\nwant [%v]", n, want)
		}
		for _, v := range []string{"ann@", "ANN@", "ann%40", "ann%2540", "4155550167", "415%20555"} {
			if bytes.Contains(r.Raw, []byte(v)) {
				t.Errorf("answer without pii:read holds %q: %s", v, r.Raw)
			}
		}
		if got := e.audit(""); len(got) != 0 {
			t.Errorf("masked answers audited: %+v", got)
		}

		support, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
		var full answer
		e.ok(support, `{ event(id: "m1") { name campaign properties traits } }`, nil, &full)
		stored := map[string]any{"name": m.Name, "campaign": m.Campaign, "properties": m.Properties, "traits": m.Traits}
		if !reflect.DeepEqual(full.Event, stored) {
			t.Errorf("event(m1) with pii:read\n got %v\nwant %v", full.Event, stored)
		}
		if got := e.audit("event"); len(got) != 1 {
			t.Errorf("an unmasked event read appended %d entries, want 1: %+v", len(got), got)
		}
	})
}
