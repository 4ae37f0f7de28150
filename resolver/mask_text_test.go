package resolver

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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

// A person's email or phone inside a profile's other texts (a trait's
// note, a computed trait's last page url) is masked as inside an event's:
// traits, traitValues, traitSources, an identifier's traits, computed and
// computedTrait. With pii:read they are as stored, and the read audited.
func TestMaskingFindsPersonalValuesInsideProfileTexts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		id := withTraits(ev("m1", t0, "identify", "email:ann@example.com", "phone:+14155550167", "user_id:u1"),
			map[string]any{"email": "ann@example.com", "plan": "pro",
				"website": "https://blog.example/?author=ann%40example.com",
				"notes":   []any{"reach me at +14155550167", "Ann@Example.com only"}})
		pg := ev("m2", t0.Add(time.Minute), "page", "user_id:u1")
		pg.Properties = map[string]any{"url": "https://shop.example/?email=ann%40example.com"}
		e.apply(id, pg)
		admin, _ := e.key("admin", "", access.AllScopes()...)
		e.ok(admin, `mutation { defineComputedTrait(input: {name: "last_url", aggregate: LAST, eventType: "page", property: "url"}) { name } }`, nil, nil)

		wantTraits := map[string]any{"email": "a***@example.com", "plan": "pro",
			"website": "https://blog.example/?author=***", "notes": []any{"reach me at ***", "*** only"}}
		const op = `{ profileByIdentifier(type: "user_id", value: "u1") {
		  traits traitValues(first: 10) { name value } traitSources(first: 10) { name value } identifiers(types: ["user_id"], first: 1) { traits(first: 10) { name value } }
		  computed computedTrait(name: "last_url") } }`
		type tv struct {
			Name  string
			Value any
		}
		type answer struct {
			ProfileByIdentifier struct {
				Traits        map[string]any
				TraitValues   []tv
				TraitSources  []tv
				Identifiers   []struct{ Traits []tv }
				Computed      map[string]any
				ComputedTrait any
			}
		}
		byName := func(list []tv) map[string]any {
			m := map[string]any{}
			for _, v := range list {
				m[v.Name] = v.Value
			}
			return m
		}
		reader, _ := e.key("analyst", "", access.ScopeProfilesRead)
		var got answer
		r := e.ok(reader, op, nil, &got)
		p := got.ProfileByIdentifier
		if !reflect.DeepEqual(p.Traits, wantTraits) {
			t.Errorf("traits\n got %v\nwant %v", p.Traits, wantTraits)
		}
		if m := byName(p.TraitValues); !reflect.DeepEqual(m, wantTraits) {
			t.Errorf("traitValues\n got %v\nwant %v", m, wantTraits)
		}
		if m := byName(p.TraitSources); !reflect.DeepEqual(m, wantTraits) {
			t.Errorf("traitSources\n got %v\nwant %v", m, wantTraits)
		}
		if len(p.Identifiers) != 1 || !reflect.DeepEqual(byName(p.Identifiers[0].Traits), wantTraits) {
			t.Errorf("the user id's traits %+v, want %v", p.Identifiers, wantTraits)
		}
		if want := "https://shop.example/?email=***"; !reflect.DeepEqual(p.Computed, map[string]any{"last_url": want}) || p.ComputedTrait != want {
			t.Errorf("computed %v, computedTrait %v, want last_url %s", p.Computed, p.ComputedTrait, want)
		}
		for _, v := range []string{"ann@", "Ann@", "ann%40", "4155550167"} {
			if bytes.Contains(r.Raw, []byte(v)) {
				t.Errorf("answer without pii:read holds %q: %s", v, r.Raw)
			}
		}
		if got := e.audit("profileByIdentifier"); len(got) != 0 {
			t.Errorf("masked answers audited: %+v", got)
		}

		support, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
		var full answer
		e.ok(support, `{ profileByIdentifier(type: "user_id", value: "u1") { computedTrait(name: "last_url") } }`, nil, &full)
		if want := pg.Properties["url"]; full.ProfileByIdentifier.ComputedTrait != want {
			t.Errorf("computedTrait with pii:read %v, want %v", full.ProfileByIdentifier.ComputedTrait, want)
		}
		if got := e.audit("profileByIdentifier"); len(got) != 1 {
			t.Errorf("an unmasked computed read appended %d entries, want 1: %+v", len(got), got)
		}
	})
}

// A lookalike reason naming a trait whose value holds the person's own
// email (a note shared by a household) is masked as the trait is.
func TestLookalikeReasonsFindPersonalValuesInsideTraits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		aid, admin := lookalikeHousehold(e, map[string]any{"email": "family@kowalczyk.example", "contact": "write to family@kowalczyk.example"})
		const op = `query($a: ID!) { lookalike(audienceId: $a, size: 10) { reasons } }`
		reasons := func(secret string) []string {
			var a struct{ Lookalike []struct{ Reasons []string } }
			e.ok(secret, op, map[string]any{"a": aid}, &a)
			var all []string
			for _, m := range a.Lookalike {
				all = append(all, m.Reasons...)
			}
			return all
		}
		masked, _ := e.key("masked", "", access.ScopeProfilesRead, access.ScopeAudiencesRead)
		got := reasons(masked)
		if !slices.Contains(got, "trait contact=write to ***") {
			t.Errorf("reasons without pii:read %q, want trait contact=write to ***", got)
		}
		for _, r := range got {
			if strings.Contains(r, "family@") {
				t.Errorf("reason without pii:read %q holds the email", r)
			}
		}
		if !slices.Contains(reasons(admin), "trait contact=write to family@kowalczyk.example") {
			t.Errorf("reasons with pii:read lack the contact as stored")
		}
	})
}
