package resolver

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// An inAudience condition holds the named audience's purpose at the time
// of the read, as Audience.members does. The scene, hand-worked: ann, bob,
// cal and dee grant the purpose email an hour ago (cal's grant expired a
// minute ago, dee's expires in an hour). The audiences seg (purpose email)
// and all (no purpose) hold every user_id. The keeper evaluated them
// 58 minutes ago, when all four granted: all four are kept members of
// both, with their facts. Since, bob has withdrawn (straight into the
// ledger: no keeper round follows) and cal's grant has expired. Then:
//   - previewAudience, profiles(filter:) (nodes and totalCount) and a
//     funnel's filter (the profiles it evaluates, each with its one
//     identify event at t0) of
//     {inAudience: seg} give ann and dee only; of {not: {inAudience:
//     seg}} bob and cal; of {inAudience: all} all four;
//   - an audience B = {inAudience: seg}, evaluated by the keeper now, keeps
//     ann and dee only;
//   - once all's purpose becomes email (updateAudience, before any
//     keeper round), {inAudience: all} gives ann and dee, and B's filter
//     reads back as it was saved.
func TestInAudienceHoldsTheNamedAudiencePurposeWhenRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		st := s.(audience.Store)
		cs := s.(privacy.ConsentStore)
		e := newEnv(t, s, testConfig(), nil)
		const seg, all, b = "seg_000000000000000000000000000000d1", "seg_000000000000000000000000000000d2", "seg_000000000000000000000000000000d3"

		pid := map[string]string{}
		for _, n := range purposeNames {
			e.apply(ev("m-"+n, t0, "identify", "user_id:"+n, "email:"+n+"@example.com"))
			pid[n] = e.profileID("user_id", n)
		}
		now := graph.Now()
		hourAgo := now.Add(-time.Hour)
		storetest.Must(t, cs.PutConsent(ctx, []privacy.Record{
			emailRecord("ann", privacy.StatusGranted, hourAgo, time.Time{}),
			emailRecord("bob", privacy.StatusGranted, hourAgo, time.Time{}),
			emailRecord("cal", privacy.StatusGranted, hourAgo, now.Add(-time.Minute)),
			emailRecord("dee", privacy.StatusGranted, hourAgo, now.Add(time.Hour)),
		}))
		users := audience.Filter{Identifier: &audience.IdentifierCondition{Type: "user_id"}}
		defined := graph.Clean(hourAgo)
		for _, a := range []audience.Audience{{ID: seg, Name: "newsletter", Purpose: "email"}, {ID: all, Name: "everyone"}} {
			a.Filter, a.CreatedAt, a.UpdatedAt = users, defined, defined
			storetest.Must(t, st.PutAudience(ctx, a))
		}
		then := graph.Clean(hourAgo.Add(2 * time.Minute))
		storetest.Must(t, keep.New(e.engine, st, cs, func() time.Time { return then }).RefreshAll(ctx))
		ids := func(ns ...string) []string {
			out := []string{}
			for _, n := range ns {
				out = append(out, pid[n])
			}
			slices.Sort(out)
			return out
		}
		for _, a := range []string{seg, all} {
			if got := memberIDs(t, st, a); !slices.Equal(got, ids(purposeNames...)) {
				t.Fatalf("kept members of %s as the scene starts: %v, want all four %v", a, got, ids(purposeNames...))
			}
		}
		storetest.Must(t, cs.PutConsent(ctx, []privacy.Record{emailRecord("bob", privacy.StatusWithdrawn, now, time.Time{})}))

		inSeg := map[string]any{"inAudience": seg}
		cases := []struct {
			name   string
			filter map[string]any
			want   []string
		}{
			{"in the audience for email", inSeg, ids("ann", "dee")},
			{"not in the audience for email", map[string]any{"not": inSeg}, ids("bob", "cal")},
			{"in the audience for email, nested", map[string]any{"and": []any{map[string]any{"identifier": map[string]any{"type": "email"}}, map[string]any{"or": []any{inSeg, map[string]any{"trait": map[string]any{"name": "plan", "op": "EQ", "value": "x"}}}}}}, ids("ann", "dee")},
			{"in the audience without a purpose", map[string]any{"inAudience": all}, ids(purposeNames...)},
		}
		check := func(name string, filter map[string]any, want []string) {
			t.Helper()
			if p := preview(e, filter, nil, 10); p.Count != len(want) || !slices.Equal(p.ids(), want) {
				t.Errorf("%s: previewAudience counts %d, samples %v; want %d, %v", name, p.Count, p.ids(), len(want), want)
			}
			var out struct {
				Profiles struct {
					TotalCount int
					Nodes      []struct{ ID string }
				}
			}
			e.query(`query($f: AudienceFilter) { profiles(filter: $f, first: 10) { totalCount nodes { id } } }`, map[string]any{"f": filter}, &out)
			got := []string{}
			for _, n := range out.Profiles.Nodes {
				got = append(got, n.ID)
			}
			if out.Profiles.TotalCount != len(want) || !slices.Equal(got, want) {
				t.Errorf("%s: profiles(filter:) lists %v, totalCount %d; want %v, %d", name, got, out.Profiles.TotalCount, want, len(want))
			}
			// Each person has one identify event, at t0.
			var fn struct {
				Funnel struct {
					Profiles int
					Steps    []struct{ Count int }
				}
			}
			e.query(`query($f: AudienceFilter) { funnel(steps: [{type: "identify"}], within: "P1D", from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z", filter: $f) { profiles steps { count } } }`,
				map[string]any{"f": filter}, &fn)
			if fn.Funnel.Profiles != len(want) || len(fn.Funnel.Steps) != 1 || fn.Funnel.Steps[0].Count != len(want) {
				t.Errorf("%s: funnel(filter:) evaluates %d profiles, steps %+v; want %d and one step of %d", name, fn.Funnel.Profiles, fn.Funnel.Steps, len(want), len(want))
			}
		}
		for _, c := range cases {
			check(c.name, c.filter, c.want)
		}

		// The keeper evaluates B, which names seg, now.
		segID := seg
		storetest.Must(t, st.PutAudience(ctx, audience.Audience{ID: b, Name: "named", Filter: audience.Filter{InAudience: &segID}, CreatedAt: graph.Clean(now), UpdatedAt: graph.Clean(now)}))
		storetest.Must(t, keep.New(e.engine, st, cs, nil).Refresh(ctx, ids(purposeNames...)))
		if got := memberIDs(t, st, b); !slices.Equal(got, ids("ann", "dee")) {
			t.Errorf("kept members of an audience naming the audience for email: %v, want ann and dee %v", got, ids("ann", "dee"))
		}

		// all takes the purpose email; no keeper round runs.
		var upd struct {
			UpdateAudience struct{ Purpose *string }
		}
		e.query(`mutation($id: ID!) { updateAudience(id: $id, input: {name: "everyone", filter: {identifier: {type: "user_id"}}, purpose: "email"}) { purpose } }`, map[string]any{"id": all}, &upd)
		if upd.UpdateAudience.Purpose == nil || *upd.UpdateAudience.Purpose != "email" {
			t.Fatalf("updateAudience gave purpose %v, want email", upd.UpdateAudience.Purpose)
		}
		check("in the audience that took the purpose email", map[string]any{"inAudience": all}, ids("ann", "dee"))
		var shown struct {
			Audience struct{ Filter json.RawMessage }
		}
		e.query(`query($id: ID!) { audience(id: $id) { filter } }`, map[string]any{"id": b}, &shown)
		var back map[string]any
		if err := json.Unmarshal(shown.Audience.Filter, &back); err != nil {
			t.Fatalf("filter of B %s: %v", shown.Audience.Filter, err)
		}
		if want := map[string]any{"inAudience": seg}; !reflect.DeepEqual(back, want) {
			t.Errorf("filter of B reads back %s, want %v as saved", shown.Audience.Filter, want)
		}
	})
}

// memberIDs returns the kept members of audience id, sorted.
func memberIDs(t *testing.T, st audience.Store, id string) []string {
	t.Helper()
	ms, err := st.Members(context.Background(), id, audience.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ProfileID)
	}
	slices.Sort(out)
	return out
}
