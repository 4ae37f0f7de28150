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

// emailRecord is a consent record for the purpose email on the identifier
// email:<n>@example.com.
func emailRecord(n string, st privacy.Status, at, expires time.Time) privacy.Record {
	return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: st, At: at, Source: "web",
		LegalBasis: privacy.BasisConsent, Identifier: "email:" + n + "@example.com", ReceivedAt: at, ExpiresAt: expires}
}

// purposeNames are the people of keptPurposeScene, in its order.
var purposeNames = []string{"ann", "bob", "cal", "dee"}

// keptPurposeScene stores ann, bob, cal and dee, each granting the purpose
// email an hour ago (cal's grant expired a minute ago, dee's expires in an
// hour), the audiences seg (purpose email) and all (no purpose), both of
// every user_id, and keeps the four as members of both a minute after
// their grants, all at once or (each) one entry each in that order. Then
// bob withdraws, and no keeper round runs. It returns the profile ids by
// name, and the time the scene calls now.
func keptPurposeScene(t *testing.T, s graph.Store, e *env, seg, all string, each bool) (map[string]string, time.Time) {
	t.Helper()
	ctx := context.Background()
	st := s.(audience.Store)
	pid := map[string]string{}
	for _, n := range purposeNames {
		e.apply(ev("m-"+n, t0, "identify", "user_id:"+n, "email:"+n+"@example.com"))
		pid[n] = e.profileID("user_id", n)
	}
	now := graph.Now()
	hourAgo := now.Add(-time.Hour)
	storetest.Must(t, s.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{
		emailRecord("ann", privacy.StatusGranted, hourAgo, time.Time{}),
		emailRecord("bob", privacy.StatusGranted, hourAgo, time.Time{}),
		emailRecord("cal", privacy.StatusGranted, hourAgo, now.Add(-time.Minute)),
		emailRecord("dee", privacy.StatusGranted, hourAgo, now.Add(time.Hour)),
	}))
	for _, a := range []audience.Audience{{ID: seg, Name: "newsletter", Purpose: "email"}, {ID: all, Name: "everyone"}} {
		a.Filter = audience.Filter{Identifier: &audience.IdentifierCondition{Type: "user_id"}}
		a.CreatedAt, a.UpdatedAt = now, now
		storetest.Must(t, st.PutAudience(ctx, a))
	}
	entered := graph.Clean(hourAgo.Add(time.Minute))
	for _, a := range []string{seg, all} {
		if !each {
			var ids []string
			for _, n := range purposeNames {
				ids = append(ids, pid[n])
			}
			storetest.Must(t, st.ApplyMembership(ctx, a, ids, nil, entered))
			continue
		}
		for _, n := range purposeNames {
			storetest.Must(t, st.ApplyMembership(ctx, a, []string{pid[n]}, nil, entered))
		}
	}
	storetest.Must(t, s.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{emailRecord("bob", privacy.StatusWithdrawn, now, time.Time{})}))
	return pid, now
}

// shownChange is an entry of Audience.changes as a test compares it.
type shownChange struct{ Kind, ProfileID, Profile string }

// audienceChangesOf pages through every entry Audience.changes lists of
// audience id, first at a time, and returns them in the order listed.
func (e *env) audienceChangesOf(id string, first int) []shownChange {
	e.t.Helper()
	var out []shownChange
	var after any
	for range 100 {
		var page struct {
			Audience struct{ Changes changesPageOut }
		}
		e.query(`query($id: ID!, $first: Int, $after: String) { audience(id: $id) { changes(first: $first, after: $after) {
			nodes { kind profileId profile { id } } pageInfo { hasNextPage endCursor } } } }`,
			map[string]any{"id": id, "first": first, "after": after}, &page)
		for _, n := range page.Audience.Changes.Nodes {
			c := shownChange{Kind: n.Kind, ProfileID: n.ProfileID}
			if n.Profile != nil {
				c.Profile = n.Profile.ID
			}
			out = append(out, c)
		}
		if !page.Audience.Changes.PageInfo.HasNextPage {
			return out
		}
		if page.Audience.Changes.PageInfo.EndCursor == nil {
			e.t.Fatalf("changes of %s: a next page without an end cursor", id)
		}
		after = *page.Audience.Changes.PageInfo.EndCursor
	}
	e.t.Fatalf("changes of %s: more than 100 pages", id)
	return nil
}

// profileAudienceIDs is the ids of Profile.audiences of profile pid, in
// the order listed.
func (e *env) profileAudienceIDs(pid string) []string {
	e.t.Helper()
	var out struct {
		Profile struct {
			Audiences []struct{ Audience struct{ ID string } }
		}
	}
	e.query(`query($id: ID!) { profile(id: $id) { audiences { audience { id } } } }`, map[string]any{"id": pid}, &out)
	ids := []string{}
	for _, m := range out.Profile.Audiences {
		ids = append(ids, m.Audience.ID)
	}
	return ids
}

// Profile.audiences and Audience.changes hold an audience's purpose at the
// time of the request, as Audience.members and the export do. The keeper
// last kept ann, bob, cal and dee as members of seg (purpose email) and of
// all (no purpose), all granting then. Since, bob has withdrawn and cal's
// grant has expired, and no keeper round has run yet:
//   - Profile.audiences lists seg and all for ann and dee, all alone for
//     bob and cal;
//   - seg's changes list the ENTERED of ann and dee only, whatever the page
//     size; all's list all four.
//
// Once bob's exit is kept, seg's changes list it (with bob's profile: he
// is not in seg), and still not his entry.
func TestAudiencePurposeHoldsForProfileAudiencesAndChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		st := s.(audience.Store)
		e := newEnv(t, s, testConfig(), nil)
		// seg sorts before all, as Profile.audiences orders them.
		const seg, all = "seg_000000000000000000000000000000f1", "seg_000000000000000000000000000000f2"
		pid, now := keptPurposeScene(t, s, e, seg, all, true)
		names := purposeNames

		wantAud := map[string][]string{"ann": {seg, all}, "bob": {all}, "cal": {all}, "dee": {seg, all}}
		for _, n := range names {
			if got := e.profileAudienceIDs(pid[n]); !slices.Equal(got, wantAud[n]) {
				t.Errorf("audiences of %s: %v, want %v", n, got, wantAud[n])
			}
		}

		enteredBy := func(ns ...string) []shownChange {
			var out []shownChange
			for _, n := range ns {
				out = append(out, shownChange{Kind: audience.Entered, ProfileID: pid[n], Profile: pid[n]})
			}
			return out
		}
		// Newest first: the entries of one time in the reverse of their
		// writing.
		for _, first := range []int{1, 2, 50} {
			if got, want := e.audienceChangesOf(seg, first), enteredBy("dee", "ann"); !slices.Equal(got, want) {
				t.Errorf("changes of the audience for email, %d a page: %+v, want dee's and ann's entries %+v", first, got, want)
			}
			if got, want := e.audienceChangesOf(all, first), enteredBy("dee", "cal", "bob", "ann"); !slices.Equal(got, want) {
				t.Errorf("changes of the audience without a purpose, %d a page: %+v, want all four entries %+v", first, got, want)
			}
		}

		// The keeper's round: bob exits seg.
		storetest.Must(t, st.ApplyMembership(ctx, seg, nil, []string{pid["bob"]}, graph.Clean(now)))
		want := append([]shownChange{{Kind: audience.Exited, ProfileID: pid["bob"], Profile: pid["bob"]}}, enteredBy("dee", "ann")...)
		for _, first := range []int{1, 50} {
			if got := e.audienceChangesOf(seg, first); !slices.Equal(got, want) {
				t.Errorf("changes of the audience for email after bob's exit, %d a page: %+v, want %+v", first, got, want)
			}
		}
	})
}

// A static audience's member merged into a profile that does not grant
// its purpose: the keeper puts the survivor in the member's place (the
// merged-away id EXITED, the survivor ENTERED) before it checks the
// purpose, which the survivor's exit follows. In between, no read shows
// the survivor as a member: not Audience.members, not Profile.audiences,
// and not an ENTERED in Audience.changes. Hand-worked: ann (granting) is
// the static audience's one member; bob withdrew after ann's grant, so
// their merged profile (bob's id: he has more identifiers) is WITHDRAWN.
// The log then reads one EXITED of ann's id, its profile bob's (the
// person is not in the audience), and nothing else.
func TestStaticAudienceSurvivorWithoutGrantIsNotShownBeforeItsExit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		st := s.(audience.Store)
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("m-ann", t0, "identify", "anonymous_id:a-ann", "email:ann@example.com"))
		e.apply(ev("m-bob", t0, "identify", "user_id:bob", "email:bob@example.com", "anonymous_id:a-bob"))
		ann, bob := e.profileID("email", "ann@example.com"), e.profileID("user_id", "bob")
		now := graph.Now()
		storetest.Must(t, s.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{
			emailRecord("ann", privacy.StatusGranted, now.Add(-time.Hour), time.Time{}),
			emailRecord("bob", privacy.StatusWithdrawn, now.Add(-30*time.Minute), time.Time{}),
		}))
		const seg = "seg_000000000000000000000000000000f3"
		storetest.Must(t, st.PutAudience(ctx, audience.Audience{ID: seg, Name: "saved list", Static: true, Purpose: "email", CreatedAt: now, UpdatedAt: now}))
		storetest.Must(t, st.ApplyMembership(ctx, seg, []string{ann}, nil, graph.Clean(now.Add(-20*time.Minute))))

		var merged struct{ MergeProfiles struct{ ID string } }
		e.query(`mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "same person") { id } }`, map[string]any{"ids": []string{ann, bob}}, &merged)
		if merged.MergeProfiles.ID != bob {
			t.Fatalf("merge survivor %s, want bob's profile %s", merged.MergeProfiles.ID, bob)
		}
		// The keeper's replacement, as it writes it before the purpose check.
		storetest.Must(t, st.ApplyMembership(ctx, seg, []string{bob}, []string{ann}, graph.Clean(now)))

		var out struct {
			Audience struct {
				Members struct{ Nodes []struct{ ID string } }
			}
		}
		e.query(`query($id: ID!) { audience(id: $id) { members { nodes { id } } } }`, map[string]any{"id": seg}, &out)
		if len(out.Audience.Members.Nodes) != 0 {
			t.Errorf("members of the static audience: %+v, want none", out.Audience.Members.Nodes)
		}
		if got := e.profileAudienceIDs(bob); len(got) != 0 {
			t.Errorf("audiences of the survivor: %v, want none", got)
		}
		want := []shownChange{{Kind: audience.Exited, ProfileID: ann, Profile: bob}}
		for _, first := range []int{1, 50} {
			if got := e.audienceChangesOf(seg, first); !slices.Equal(got, want) {
				t.Errorf("changes of the static audience, %d a page: %+v, want %+v", first, got, want)
			}
		}
	})
}
