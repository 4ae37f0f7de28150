package resolver

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// Audience.members holds an audience's purpose at the time of the
// request, as its export does: the keeper last kept ann, bob, cal and dee
// as members of seg (purpose email), all granting then. Since, bob has
// withdrawn and cal's grant has expired, and no keeper round has run yet:
// members lists ann and dee only. An audience without a purpose (all)
// lists its kept members whatever their consent.
func TestAudienceMembersHoldTheAudiencePurposeWhenRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		st := s.(audience.Store)
		e := newEnv(t, s, testConfig(), nil)
		names := []string{"ann", "bob", "cal", "dee"}
		for _, n := range names {
			e.apply(ev("m-"+n, t0, "identify", "user_id:"+n, "email:"+n+"@example.com"))
		}
		pid := map[string]string{}
		for _, n := range names {
			pid[n] = e.profileID("user_id", n)
		}
		now := graph.Now()
		rec := func(n string, st privacy.Status, at, expires time.Time) privacy.Record {
			return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: st, At: at, Source: "web",
				LegalBasis: privacy.BasisConsent, Identifier: "email:" + n + "@example.com", ReceivedAt: at, ExpiresAt: expires}
		}
		hourAgo := now.Add(-time.Hour)
		storetest.Must(t, s.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{
			rec("ann", privacy.StatusGranted, hourAgo, time.Time{}),
			rec("bob", privacy.StatusGranted, hourAgo, time.Time{}),
			rec("cal", privacy.StatusGranted, hourAgo, now.Add(-time.Minute)),
			rec("dee", privacy.StatusGranted, hourAgo, now.Add(time.Hour)),
		}))
		const seg, all = "seg_000000000000000000000000000000e1", "seg_000000000000000000000000000000e2"
		for _, a := range []audience.Audience{{ID: seg, Name: "newsletter", Purpose: "email"}, {ID: all, Name: "everyone"}} {
			a.Filter = audience.Filter{Identifier: &audience.IdentifierCondition{Type: "user_id"}}
			a.CreatedAt, a.UpdatedAt = now, now
			storetest.Must(t, st.PutAudience(ctx, a))
		}
		var ids []string
		for _, n := range names {
			ids = append(ids, pid[n])
		}
		for _, a := range []string{seg, all} {
			storetest.Must(t, st.ApplyMembership(ctx, a, ids, nil, graph.Clean(hourAgo.Add(time.Minute))))
		}
		// bob withdraws; the keeper has not run since.
		storetest.Must(t, s.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{rec("bob", privacy.StatusWithdrawn, now, time.Time{})}))

		var out struct {
			Audience struct {
				Members struct{ Nodes []struct{ ID string } }
			}
		}
		members := func(id string) []string {
			t.Helper()
			e.query(`query($id: ID!) { audience(id: $id) { members(first: 10) { nodes { id } } } }`, map[string]any{"id": id}, &out)
			var got []string
			for _, n := range out.Audience.Members.Nodes {
				got = append(got, n.ID)
			}
			slices.Sort(got)
			return got
		}
		want := []string{pid["ann"], pid["dee"]}
		slices.Sort(want)
		if got := members(seg); !slices.Equal(got, want) {
			t.Errorf("members of the audience for email: %v, want ann and dee %v", got, want)
		}
		slices.Sort(ids)
		if got := members(all); !slices.Equal(got, ids) {
			t.Errorf("members of the audience without a purpose: %v, want all four %v", got, ids)
		}
	})
}
