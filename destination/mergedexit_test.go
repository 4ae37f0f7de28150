package destination_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A member merged into another member leaves the audience under its old
// id, but the person stays in it: the exit must not carry the survivor's
// identifiers, or a receiver that keys its list on them (an email tool,
// an ad platform's customer match) drops a person who is still a member.
// Ann's two profiles (her email and user id; her phone) are both in
// audience seg; an event links them, and the keeper writes the exit of
// the merged-away id. The destination gets that exit with no profile.
// Where the survivor is not a member (Cy's device, in other, merged into
// his email's profile, which is not), the exit says that this person
// left, with the survivor's identifiers, as before.
func TestExitOfAProfileMergedIntoAMemberCarriesNoProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		const seg, other = "seg_00000000000000000000000000000021", "seg_00000000000000000000000000000022"
		now := time.Now().UTC()
		for _, a := range []audience.Audience{{ID: seg, Name: "vip"}, {ID: other, Name: "visitors"}} {
			a.Static, a.CreatedAt, a.UpdatedAt = true, now, now
			storetest.Must(t, s.PutAudience(ctx, a))
		}
		ident := func(id string, refs ...graph.IdentifierRef) graph.Event {
			return graph.Event{ID: "web/" + id, Type: "identify", Source: "web", Timestamp: tEv, ReceivedAt: tEv, Identifiers: refs}
		}
		annUser := graph.IdentifierRef{Type: graph.TypeUserID, Value: "ann"}
		annEmail := graph.IdentifierRef{Type: graph.TypeEmail, Value: "ann@example.com"}
		annPhone := graph.IdentifierRef{Type: graph.TypePhone, Value: "+14155550100"}
		cyEmail := graph.IdentifierRef{Type: graph.TypeEmail, Value: "cy@example.com"}
		cyUser := graph.IdentifierRef{Type: graph.TypeUserID, Value: "cy"}
		cyDevice := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "cy-device"}
		res, err := e.ApplyBatch(ctx, []graph.Event{
			ident("m1", annUser, annEmail), ident("m2", annPhone),
			ident("m3", cyEmail, cyUser), ident("m4", cyDevice),
		})
		storetest.Must(t, err)
		ann, annP, cy, cyD := res.Results[0].ProfileID, res.Results[1].ProfileID, res.Results[2].ProfileID, res.Results[3].ProfileID
		storetest.Must(t, s.ApplyMembership(ctx, seg, []string{ann, annP}, nil, now))
		storetest.Must(t, s.ApplyMembership(ctx, other, []string{cyD}, nil, now))

		rcv := newReceiver(t, func(int) int { return 200 })
		create(t, s, rcv.srv.URL, func(d *destination.Destination) {
			d.Kinds = []graph.FeedKind{graph.FeedAudienceEntered, graph.FeedAudienceExited}
			d.AudienceIDs, d.IncludePII = []string{seg, other}, true
		})
		// The links: the phone's profile and the device's merge into the
		// larger ones.
		res, err = e.ApplyBatch(ctx, []graph.Event{ident("m5", annUser, annPhone), ident("m6", cyEmail, cyDevice)})
		storetest.Must(t, err)
		if res.Results[0].ProfileID != ann || res.Results[1].ProfileID != cy {
			t.Fatalf("the merges kept %s and %s, want %s and %s", res.Results[0].ProfileID, res.Results[1].ProfileID, ann, cy)
		}
		// The keeper replaces ann's merged-away id by ann, a member
		// already: one exit.
		k := keep.New(e, s, s, func() time.Time { return now.Add(time.Second) })
		storetest.Must(t, k.Refresh(ctx, []string{ann, annP}))
		// cy's device leaves other, whose filter (say) cy does not match.
		storetest.Must(t, s.ApplyMembership(ctx, other, nil, []string{cyD}, now.Add(2*time.Second)))

		startWorker(t, s, e, true)
		type sent struct {
			kind, profileID, audienceID string
			profile                     *destination.PayloadProfile
		}
		var got []sent
		seen := func() []sent {
			got = nil
			for _, r := range rcv.requests() {
				for _, en := range decode(t, r.body).Entries {
					got = append(got, sent{en.Kind, en.ProfileID, en.AudienceID, en.Profile})
				}
			}
			return got
		}
		waitFor(t, "both exits", func() bool {
			n := 0
			for _, x := range seen() {
				if x.kind == string(graph.FeedAudienceExited) {
					n++
				}
			}
			return n == 2
		})
		for _, x := range got {
			switch {
			case x.kind == string(graph.FeedAudienceExited) && x.profileID == annP:
				if x.profile != nil {
					t.Errorf("the exit of %s, merged into %s, a member of %s, carries the profile %s with %v: a receiver keyed on them drops ann",
						annP, ann, seg, x.profile.ID, x.profile.Identifiers)
				}
			case x.kind == string(graph.FeedAudienceExited) && x.profileID == cyD:
				if x.profile == nil || x.profile.ID != cy || !slices.ContainsFunc(x.profile.Identifiers, func(i destination.PayloadIdentifier) bool {
					return i.Value == "cy@example.com"
				}) {
					t.Errorf("the exit of %s, merged into %s, not a member of %s, carries %+v; want cy's profile", cyD, cy, other, x.profile)
				}
			default:
				t.Errorf("unexpected entry %s %s %s", x.kind, x.profileID, x.audienceID)
			}
		}
	})
}
