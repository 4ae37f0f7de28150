package erasuretest

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Forgetting one identifier takes its value out of every event of its
// profile, also those its other identifiers carried without it (a track
// sent with the user id whose properties hold the email), and out of an
// event such an identifier shared with someone else, whose traits lose it
// too. An event of the profile that never held the value is not touched.
func testProfileEvents(t *testing.T, s Store, scan func(*testing.T, graph.Store) string) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	tok, emTok := token(t), token(t)
	u, em, a, bob := "u-"+tok, "e."+emTok+"@example.com", "dev-"+tok, "aa-bob-"+tok
	apply(t, e, event("p0-"+tok, 0, ref("email", em)))
	apply(t, e, identify("p1-"+tok, 1, map[string]any{"plan": "gold", "email": em}, ref("user_id", u), ref("email", em)))
	p2 := event("p2-"+tok, 2, ref("user_id", u), ref("anonymous_id", a))
	p2.Name = "Invited " + em
	p2.Properties = map[string]any{"contact": " " + strings.ToUpper(em) + " ", "sku": "X-1",
		"nested": map[string]any{"list": []any{em, "keep"}}}
	p3 := event("p3-"+tok, 3, ref("user_id", u))
	p3.Properties = map[string]any{"note": "write to " + em + " soon", "qty": 2}
	p4 := event("p4-"+tok, 4, ref("user_id", u))
	p4.Properties = map[string]any{"sku": "X-2"}
	apply(t, e, p2, p3, p4)
	// Bob's user id cannot join Ann's profile (one user id per profile):
	// the identify is shared, and its traits land on Bob's user id.
	apply(t, e, identify("s1-"+tok, 5, map[string]any{"email": em, "company": "Acme"}, ref("user_id", bob), ref("anonymous_id", a)))

	pa, err := e.ProfileByIdentifier(ctx, ref("user_id", u))
	must(t, err)
	pb, err := e.ProfileByIdentifier(ctx, ref("user_id", bob))
	must(t, err)
	if pa.ID == pb.ID {
		t.Fatal("Ann and Bob share a profile; the test needs them apart")
	}
	if pa.Size != 3 {
		t.Fatalf("Ann's profile holds %d identifiers, want 3 (user id, email, device)", pa.Size)
	}
	if !strings.Contains(strings.ToLower(scan(t, s)), emTok) {
		t.Fatal("the raw scan does not find the email before the erasure: it cannot tell whether the erasure worked")
	}

	rc, ps, err := x.ForgetIdentifier(ctx, ref("email", em), "asked by mail", privacy.Requester{}, nil)
	must(t, err)
	// One identifier; p0 deleted; p1 (shared with the user id), p2, p3
	// and s1 scrubbed, p4 not touched; the email trait of Ann's user id
	// and of Bob's; one hash.
	want := privacy.ErasureReceipt{ID: rc.ID, At: rc.At, Kind: privacy.ErasureIdentifier, Reason: "asked by mail",
		Identifiers: 1, Events: 1, ScrubbedEvents: 4, Traits: 2, ConsentRecords: 0, SuppressedHashes: 1}
	if rc != want {
		t.Errorf("receipt = %+v\nwant %+v", rc, want)
	}
	if len(ps) != 1 || ps[0].ID != pa.ID {
		t.Errorf("profiles left = %+v, want Ann's %s alone (the email bridged nothing)", ps, pa.ID)
	}

	ids := []string{"p0-" + tok, "p1-" + tok, "p2-" + tok, "p3-" + tok, "p4-" + tok, "s1-" + tok}
	evs, err := e.Events(ctx, ids)
	must(t, err)
	if _, ok := evs["p0-"+tok]; ok || len(evs) != 5 {
		t.Fatalf("%d events left, want 5: p0 (the email's alone) deleted", len(evs))
	}
	wants := map[string]struct {
		name          string
		props, traits map[string]any
		keys          []string
	}{
		"p1-" + tok: {"", nil, map[string]any{"plan": "gold"}, []string{"user_id:" + u}},
		"p2-" + tok: {"Invited [erased]", map[string]any{"sku": "X-1", "nested": map[string]any{"list": []any{"keep"}}}, nil,
			[]string{"anonymous_id:" + a, "user_id:" + u}},
		"p3-" + tok: {"Viewed", map[string]any{"note": "write to [erased] soon", "qty": 2}, nil, []string{"user_id:" + u}},
		"p4-" + tok: {"Viewed", map[string]any{"sku": "X-2"}, nil, []string{"user_id:" + u}},
		"s1-" + tok: {"", nil, map[string]any{"company": "Acme"}, []string{"anonymous_id:" + a, "user_id:" + bob}},
	}
	for id, w := range wants {
		got := evs[id]
		if got.Name != w.name || !sameJSON(t, got.Properties, w.props) || !sameJSON(t, got.Traits, w.traits) || !slices.Equal(slices.Sorted(slices.Values(got.Keys)), w.keys) {
			t.Errorf("event %s after the erasure: name %q properties %#v traits %#v keys %v\nwant name %q properties %#v traits %#v keys %v",
				strings.TrimSuffix(id, "-"+tok), got.Name, got.Properties, got.Traits, got.Keys, w.name, w.props, w.traits, w.keys)
		}
	}

	got, err := e.Identifiers(ctx, []string{"user_id:" + u, "user_id:" + bob})
	must(t, err)
	for k, w := range map[string]map[string]any{"user_id:" + u: {"plan": "gold"}, "user_id:" + bob: {"company": "Acme"}} {
		tr := map[string]any{}
		for n, tv := range got[k].Traits {
			tr[n] = tv.Value
		}
		if !reflect.DeepEqual(tr, w) {
			t.Errorf("traits of %s = %v, want %v", strings.TrimSuffix(k, tok), tr, w)
		}
	}
	// Bob's payload changed: his profile is touched, as for any event
	// an erasure scrubs.
	after, err := e.ProfileByIdentifier(ctx, ref("user_id", bob))
	must(t, err)
	if after.ID != pb.ID || !after.UpdatedAt.After(pb.UpdatedAt) {
		t.Errorf("Bob's profile after the erasure: %s updated %v; before: %s updated %v; want the same id, updated later",
			after.ID, after.UpdatedAt, pb.ID, pb.UpdatedAt)
	}

	raw := strings.ToLower(scan(t, s))
	if i := strings.Index(raw, emTok); i >= 0 {
		t.Errorf("the raw scan still finds the erased email: …%s…", raw[max(0, i-80):min(len(raw), i+80)])
	}
	for _, n := range []string{"write to [erased] soon", "x-2", "acme"} {
		if !strings.Contains(raw, n) {
			t.Errorf("the raw scan no longer finds %q, which stays", n)
		}
	}
}

// sameJSON compares two JSON objects as JSON (see asJSON), an empty one
// equal to nil.
func sameJSON(t *testing.T, got, want map[string]any) bool {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return true
	}
	return asJSON(t, got) == asJSON(t, want)
}
