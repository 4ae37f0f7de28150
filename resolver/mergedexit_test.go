package resolver

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// An AudienceChange's profile is the profile now, the survivor of a
// merge; for the exit of a profile merged into a member of the audience,
// that survivor is still in it, and showing it under EXITED (in the log
// and in audienceChanged, which share the field) says the person left.
// Ann's two profiles are both in seg; merged, the keeper writes the exit
// of the merged-away one, whose profile reads null. Cy's device, in
// other, merges into his email's profile, which is not in other: that
// exit shows cy, who left.
func TestExitOfAProfileMergedIntoAMemberShowsNoProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		ctx := context.Background()
		st := s.(audience.Store)
		const seg, other = "seg_00000000000000000000000000000031", "seg_00000000000000000000000000000032"
		now := time.Now().UTC()
		for _, a := range []audience.Audience{{ID: seg, Name: "vip"}, {ID: other, Name: "visitors"}} {
			a.Static, a.CreatedAt, a.UpdatedAt = true, now, now
			storetest.Must(t, st.PutAudience(ctx, a))
		}
		e.apply(ev("m1", now, "identify", "user_id:ann", "email:ann@example.com"), ev("m2", now, "identify", "phone:+14155550100"),
			ev("m3", now, "identify", "email:cy@example.com", "user_id:cy"), ev("m4", now, "identify", "anonymous_id:cy-device"))
		ann, annP := e.profileID("user_id", "ann"), e.profileID("phone", "+14155550100")
		cy, cyD := e.profileID("user_id", "cy"), e.profileID("anonymous_id", "cy-device")
		storetest.Must(t, st.ApplyMembership(ctx, seg, []string{ann, annP}, nil, now))
		storetest.Must(t, st.ApplyMembership(ctx, other, []string{cyD}, nil, now))
		e.apply(ev("m5", now, "track", "user_id:ann", "phone:+14155550100"), ev("m6", now, "track", "email:cy@example.com", "anonymous_id:cy-device"))
		if e.profileID("phone", "+14155550100") != ann || e.profileID("anonymous_id", "cy-device") != cy {
			t.Fatal("the merges kept other survivors")
		}
		k := keep.New(e.engine, st, s.(privacy.ConsentStore), func() time.Time { return now.Add(time.Second) })
		storetest.Must(t, k.Refresh(ctx, []string{ann, annP}))
		storetest.Must(t, st.ApplyMembership(ctx, other, nil, []string{cyD}, now.Add(2*time.Second)))

		read := func(id string) []string {
			t.Helper()
			var out struct {
				Audience struct {
					Changes struct {
						Nodes []struct {
							Kind, ProfileID string
							Profile         *struct{ ID string }
						}
					}
				}
			}
			e.query(`query($id: ID!) { audience(id: $id) { changes(first: 10) { nodes { kind profileId profile { id } } } } }`, map[string]any{"id": id}, &out)
			var got []string
			for _, n := range out.Audience.Changes.Nodes {
				p := "null"
				if n.Profile != nil {
					p = n.Profile.ID
				}
				got = append(got, n.Kind+" "+n.ProfileID+" "+p)
			}
			return got
		}
		// Newest first.
		if got, want := read(seg), []string{"EXITED " + annP + " null", "ENTERED " + ann + " " + ann, "ENTERED " + annP + " " + ann}; !slices.Equal(got[:1], want[:1]) || !slices.Equal(sorted(got[1:]), sorted(want[1:])) {
			t.Errorf("the log of %s reads %q, want %q", seg, got, want)
		}
		if got, want := read(other), []string{"EXITED " + cyD + " " + cy, "ENTERED " + cyD + " " + cy}; !slices.Equal(got, want) {
			t.Errorf("the log of %s reads %q, want %q", other, got, want)
		}
	})
}
