package erasuretest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// An event the erased email shares with a user id that stays keeps its
// name, channel and campaign, scrubbed: the email found inside them is
// replaced by [erased], and a field that is the email as a whole, however
// spelt, becomes [erased]. Its id, message id, type, source and times stay
// as they were, and no copy of the email is left in the store.
func testSharedEventText(t *testing.T, s Store, scan func(*testing.T, graph.Store) string) {
	ctx := context.Background()
	e, x := newEraser(t, s)
	tok := token(t)
	em, keep := "inv."+tok+"@example.com", "u-keep-"+token(t)
	// The event's id is not the email's: it stays, and so does the id.
	mid := "inv-" + token(t)
	ev := graph.Event{ID: "test/" + mid, MessageID: mid, Type: "track", Source: "test",
		Name:      "Invited " + em + " (2nd)",
		Channel:   "  " + strings.ToUpper(em) + " ",
		Campaign:  "winback  " + strings.ToUpper(em),
		Timestamp: at(1), ReceivedAt: at(2),
		Properties:  map[string]any{"invitee": em, "plan": "pro"},
		Identifiers: []graph.IdentifierRef{ref("user_id", keep), ref("email", em)}}
	apply(t, e, ev)
	if !strings.Contains(strings.ToLower(scan(t, s)), tok) {
		t.Fatal("the raw scan does not find the email before the erasure: it cannot tell whether the erasure worked")
	}

	rc, ps, err := x.ForgetIdentifier(ctx, ref("email", em), "asked by mail", privacy.Requester{}, nil)
	must(t, err)
	// One identifier, no event of its own, the one event scrubbed, no
	// trait, no consent record, one hash.
	want := privacy.ErasureReceipt{ID: rc.ID, At: rc.At, Kind: privacy.ErasureIdentifier, Reason: "asked by mail",
		Identifiers: 1, Events: 0, ScrubbedEvents: 1, Traits: 0, ConsentRecords: 0, SuppressedHashes: 1}
	if rc != want {
		t.Fatalf("receipt = %+v\nwant %+v", rc, want)
	}
	if len(ps) != 1 {
		t.Fatalf("the profile left %d profiles, want the user id's one", len(ps))
	}

	wantEv := graph.Event{ID: ev.ID, MessageID: ev.MessageID, Type: "track", Source: "test",
		Name: "Invited [erased] (2nd)", Channel: "[erased]", Campaign: "winback  [erased]",
		Timestamp: at(1), ReceivedAt: at(2),
		Properties: map[string]any{"plan": "pro"},
		Keys:       []string{"user_id:" + keep}}
	evs, err := e.Events(ctx, []string{ev.ID})
	must(t, err)
	got, ok := evs[ev.ID]
	if !ok {
		t.Fatalf("the shared event is gone; it must stay for %s", keep)
	}
	if !reflect.DeepEqual(got, wantEv) {
		t.Errorf("the shared event after the erasure =\n%+v\nwant\n%+v", got, wantEv)
	}
	// The kept profile's journey shows it so too.
	p, err := e.ProfileByIdentifier(ctx, ref("user_id", keep))
	must(t, err)
	js, err := e.Journeys(ctx, []string{p.ID}, graph.JourneyQuery{Limit: 10})
	must(t, err)
	if j := js[p.ID]; len(j) != 1 || j[0].ID != ev.ID || j[0].Name != wantEv.Name || j[0].Campaign != wantEv.Campaign || j[0].Channel != wantEv.Channel {
		t.Errorf("the user id's journey = %+v, want the one event named %q, channel %q, campaign %q", j, wantEv.Name, wantEv.Channel, wantEv.Campaign)
	}

	raw := strings.ToLower(scan(t, s))
	if i := strings.Index(raw, tok); i >= 0 {
		t.Errorf("the raw scan still finds the erased email: …%s…", raw[max(0, i-80):min(len(raw), i+80)])
	}
	for _, n := range []string{keep, "invited [erased] (2nd)", "winback  [erased]"} {
		if !strings.Contains(raw, n) {
			t.Errorf("the raw scan no longer finds %q, which stays", n)
		}
	}
}
