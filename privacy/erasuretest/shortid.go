package erasuretest

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/idgraph/cdp/privacy"
)

// A short erased value (under five characters) goes wherever it stands
// for a person: under a field named after an identifier. An identifier of
// a type the rules do not list (a CRM's id, sent in
// context.externalIds) is one too: erasing Ann's crm_id "4711" takes it
// from the event she shares with Bob and from the trait that event gave
// Bob, under "crm_id" and "crmId" (the names are folded), while a quantity
// of 4711 and the text "order 4711" stay, as for a short user id.
func testShortCustomID(t *testing.T, s Store) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	ann, bob := "ann-"+token(t), "bob-"+token(t)
	apply(t, e, event("c1", 1, ref("user_id", ann), ref("crm_id", "4711")))
	apply(t, e, identify("c2", 2, map[string]any{"plan": "silver"}, ref("user_id", bob)))
	// Two user ids: the link is refused, and the event is Bob's (his user
	// id is its highest-priority identifier) and Ann's at once.
	shared := identify("c3", 3, map[string]any{"crm_id": "4711", "plan": "pro"}, ref("user_id", bob), ref("crm_id", "4711"))
	shared.Properties = map[string]any{"crm_id": "4711", "crmId": json.Number("4711"), "quantity": json.Number("4711"), "note": "order 4711"}
	apply(t, e, shared)
	pa, err := e.ProfileByIdentifier(ctx, ref("user_id", ann))
	must(t, err)
	pb, err := e.ProfileByIdentifier(ctx, ref("user_id", bob))
	must(t, err)
	if pa.ID == pb.ID {
		t.Fatal("Ann and Bob share a profile: the two user ids were linked")
	}

	_, err = x.ForgetProfile(ctx, pa.ID, "request", privacy.Requester{}, nil)
	must(t, err)

	evs, err := e.Events(ctx, []string{"c3"})
	must(t, err)
	got := evs["c3"]
	if w := []string{"user_id:" + bob}; !reflect.DeepEqual(got.Keys, w) {
		t.Errorf("the shared event's keys = %v, want %v", got.Keys, w)
	}
	if g, w := asJSON(t, got.Properties), `{"note":"order 4711","quantity":4711}`; g != w {
		t.Errorf("the shared event's properties = %s, want %s", g, w)
	}
	if w := map[string]any{"plan": "pro"}; !reflect.DeepEqual(got.Traits, w) {
		t.Errorf("the shared event's traits = %#v, want %#v", got.Traits, w)
	}
	ms, err := e.Members(ctx, []string{pb.ID})
	must(t, err)
	traits := map[string]any{}
	for _, m := range ms[pb.ID] {
		for n, tv := range m.Traits {
			traits[n] = tv.Value
		}
	}
	if w := map[string]any{"plan": "pro"}; !reflect.DeepEqual(traits, w) {
		t.Errorf("Bob's traits = %#v, want %#v (the crm_id the shared identify gave him was Ann's)", traits, w)
	}
}

// asJSON is v as JSON (object keys sorted), so that numbers compare
// whatever Go type a store reads them back as.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}
