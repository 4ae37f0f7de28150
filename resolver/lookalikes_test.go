package resolver

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

const createLookalikeOp = `mutation($a: ID!, $n: Int!, $name: String!, $p: String) {
  createLookalikeAudience(audienceId: $a, size: $n, name: $name, purpose: $p) {
    id name description static filter purpose size
    members(first: 100) { totalCount nodes { id } }
    changes(first: 100) { nodes { kind profileId } } } }`

type staticOut struct {
	ID, Name    string
	Description *string
	Static      bool
	Filter      any
	Purpose     *string
	Size        int
	Members     struct {
		TotalCount int
		Nodes      []struct{ ID string }
	}
	Changes struct {
		Nodes []struct{ Kind, ProfileID string }
	}
}

func (a staticOut) memberIDs() []string {
	out := []string{}
	for _, n := range a.Members.Nodes {
		out = append(out, n.ID)
	}
	return out
}

func readStatic(e *env, id string) staticOut {
	e.t.Helper()
	var out struct{ Audience *staticOut }
	e.query(`query($id: ID!) { audience(id: $id) { id name description static filter purpose size
  members(first: 100) { totalCount nodes { id } } changes(first: 100) { nodes { kind profileId } } } }`, map[string]any{"id": id}, &out)
	if out.Audience == nil {
		e.t.Fatalf("audience %s is not stored", id)
	}
	return *out.Audience
}

// createLookalikeAudience saves, as a static audience, the profiles the
// lookalike query gives (asked separately, before): each entered it, in
// its log and in the change feed. The keeper never evaluates it: events
// that change the seed's filter audience leave it as it is, and a
// member merged into a non-member is replaced by the survivor. It can be
// renamed but given no filter.
func TestCreateLookalikeAudience(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedID, seed := lookalikeData(e)
		ctx := context.Background()
		st := s.(audience.Store)
		k := keep.New(e.engine, st, s.(privacy.ConsentStore), nil)

		var q struct {
			Lookalike []struct{ Profile struct{ ID string } }
		}
		e.query(`query($a: ID!) { lookalike(audienceId: $a, size: 15) { profile { id } } }`, map[string]any{"a": seedID}, &q)
		want := []string{}
		for _, m := range q.Lookalike {
			want = append(want, m.Profile.ID)
		}
		slices.Sort(want)
		if len(want) != 15 {
			t.Fatalf("the lookalike query gave %d profiles, want 15", len(want))
		}
		head, err := s.(graph.FeedStore).FeedHead(ctx)
		storetest.Must(t, err)

		var out struct{ CreateLookalikeAudience staticOut }
		e.query(createLookalikeOp, map[string]any{"a": seedID, "n": 15, "name": "Campers lookalike"}, &out)
		a := out.CreateLookalikeAudience
		if !a.Static || a.Filter != nil || a.Purpose != nil || a.Name != "Campers lookalike" || a.Size != 15 || a.Members.TotalCount != 15 ||
			a.Description == nil || *a.Description == "" {
			t.Fatalf("saved lookalike: %+v", a)
		}
		if got := a.memberIDs(); !slices.Equal(got, want) {
			t.Fatalf("saved members %v, want the lookalike query's %v", got, want)
		}
		var entered []string
		for _, c := range a.Changes.Nodes {
			if c.Kind != "ENTERED" {
				t.Fatalf("change %+v, want only entries", c)
			}
			entered = append(entered, c.ProfileID)
		}
		slices.Sort(entered)
		if !slices.Equal(entered, want) {
			t.Fatalf("entries %v, want %v", entered, want)
		}
		es, err := s.(graph.FeedStore).Feed(ctx, head, nil, 100)
		storetest.Must(t, err)
		var fed []string
		for _, x := range es {
			if x.AudienceID == a.ID {
				if x.Kind != graph.FeedAudienceEntered {
					t.Fatalf("feed entry %+v, want AUDIENCE_ENTERED", x)
				}
				fed = append(fed, x.ProfileID)
			}
		}
		slices.Sort(fed)
		if !slices.Equal(fed, want) {
			t.Fatalf("AUDIENCE_ENTERED in the feed for %v, want %v", fed, want)
		}
		if got := auditOutcomes(t, s, "createLookalikeAudience"); !reflect.DeepEqual(got, []string{"ok"}) {
			t.Fatalf("audit outcomes %v, want one ok", got)
		}

		// u40 takes up camping: the seed's filter audience (interest
		// outdoor, kept as 15 hand-picked members) gains every camper on
		// the next pass; the saved lookalike does not move.
		now := time.Now().UTC()
		e.apply(withTraits(ev("u40-camps", now, "identify", "user_id:u40"), map[string]any{"interest": "outdoor"}))
		storetest.Must(t, k.RefreshAll(ctx))
		ms, err := st.Members(ctx, seedID, audience.Page{Limit: 100})
		storetest.Must(t, err)
		u40 := e.profileID("user_id", "u40")
		if len(ms) != 31 || !slices.ContainsFunc(ms, func(m audience.Membership) bool { return m.ProfileID == u40 }) {
			t.Fatalf("the seed audience after the pass has %d members, want u0..u29 and u40", len(ms))
		}
		after := readStatic(e, a.ID)
		if got := after.memberIDs(); !slices.Equal(got, want) || after.Size != 15 || len(after.Changes.Nodes) != 15 {
			t.Fatalf("the saved lookalike after the pass: %d members %v, %d changes; want %v unchanged", after.Size, got, len(after.Changes.Nodes), want)
		}

		// A member merges into a non-member with more identifiers: the
		// survivor takes its place.
		member := want[0]
		e.apply(ev("z-1", now, "identify", "anonymous_id:z-anon", "device_id:z-dev", "email:z@example.com"))
		z := e.profileID("email", "z@example.com")
		if slices.Contains(want, z) || slices.Contains(seed, z) {
			t.Fatal("the newcomer is already a member")
		}
		var mp struct {
			Profile struct {
				Identifiers []struct{ Type, Value string }
			}
		}
		e.query(`query($id: ID!) { profile(id: $id) { identifiers { type value } } }`, map[string]any{"id": member}, &mp)
		if len(mp.Profile.Identifiers) != 1 {
			t.Fatalf("member %s has identifiers %+v, want one", member, mp.Profile.Identifiers)
		}
		id := mp.Profile.Identifiers[0]
		e.apply(ev("z-2", now, "track", id.Type+":"+id.Value, "email:z@example.com"))
		if got := e.profileID(id.Type, id.Value); got != z {
			t.Fatalf("the member was merged into %s, want the newcomer's %s", got, z)
		}
		storetest.Must(t, k.Refresh(ctx, []string{member, z}))
		wantAfter := append(slices.DeleteFunc(slices.Clone(want), func(p string) bool { return p == member }), z)
		slices.Sort(wantAfter)
		after = readStatic(e, a.ID)
		if got := after.memberIDs(); !slices.Equal(got, wantAfter) || after.Size != 15 {
			t.Fatalf("after the merge: members %v, want %v", got, wantAfter)
		}
		if c := after.Changes.Nodes; len(c) != 17 || !slices.ContainsFunc(c[:2], func(x struct{ Kind, ProfileID string }) bool { return x.Kind == "EXITED" && x.ProfileID == member }) ||
			!slices.ContainsFunc(c[:2], func(x struct{ Kind, ProfileID string }) bool { return x.Kind == "ENTERED" && x.ProfileID == z }) {
			t.Fatalf("changes after the merge: %+v, want the member's exit and the survivor's entry newest", c[:min(len(c), 3)])
		}

		// Renamed, with a purpose: its members stay; a filter is refused.
		var up struct{ UpdateAudience staticOut }
		e.query(`mutation($id: ID!) { updateAudience(id: $id, input: {name: "Campers, saved", purpose: "email"}) { id name static filter purpose size } }`,
			map[string]any{"id": a.ID}, &up)
		if u := up.UpdateAudience; u.Name != "Campers, saved" || !u.Static || u.Filter != nil || u.Purpose == nil || *u.Purpose != "email" || u.Size != 15 {
			t.Fatalf("renamed: %+v", u)
		}
		e.refused(`mutation($id: ID!) { updateAudience(id: $id, input: {name: "x", filter: {trait: {name: "plan", op: EXISTS}}}) { id } }`,
			map[string]any{"id": a.ID}, CodeInvalidArgument, `argument "input.filter" must be left out`, "static")
		e.refused(`mutation { createAudience(input: {name: "no filter"}) { id } }`, nil, CodeInvalidArgument, `argument "input.filter" is required`)
		// It keeps its 15 members until the keeper evaluates it again, but
		// members shows only those who grant email now: those of u15, u16
		// and u17 (lookalikeData) among them.
		granting := []string{}
		for _, u := range []string{"u15", "u16", "u17"} {
			if p := e.profileID("user_id", u); slices.Contains(wantAfter, p) {
				granting = append(granting, p)
			}
		}
		slices.Sort(granting)
		if got := readStatic(e, a.ID); got.Name != "Campers, saved" || got.Size != 15 || !slices.Equal(got.memberIDs(), granting) {
			t.Fatalf("after the refused update: %+v, want the members %v", got, granting)
		}
	})
}

// createLookalikeAudience refuses what lookalike refuses, and an empty
// name, saving nothing; each refusal is audited.
func TestCreateLookalikeAudienceRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedID, seed := lookalikeData(e)
		small := createAudience(e, map[string]any{"name": "Few", "filter": jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)})
		storetest.Must(t, s.(audience.Store).ApplyMembership(context.Background(), small.ID, seed[:9], nil, graph.Now()))
		vars := func(a string, n int, name string) map[string]any { return map[string]any{"a": a, "n": n, "name": name} }
		e.refused(createLookalikeOp, vars("seg_00000000000000000000000000000000", 5, "x"), CodeNotFound, `"audienceId" names no stored audience`)
		e.refused(createLookalikeOp, vars("nope", 5, "x"), CodeInvalidArgument, `argument "audienceId"`)
		e.refused(createLookalikeOp, vars(seedID, 10001, "x"), CodeInvalidArgument, `argument "size" must be 1 to 10000, got 10001`)
		e.refused(createLookalikeOp, vars(seedID, 0, "x"), CodeInvalidArgument, `argument "size" must be 1 to 10000, got 0`)
		e.refused(createLookalikeOp, vars(small.ID, 5, "x"), CodeInvalidArgument, "audienceId: the audience has 9 members; at least 10")
		e.refused(createLookalikeOp, vars(seedID, 5, ""), CodeInvalidArgument, `argument "name" must not be empty`)
		e.refused(createLookalikeOp, map[string]any{"a": seedID, "n": 5, "name": "x", "p": "nope"}, CodeInvalidArgument, `argument "purpose"`)
		page, err := s.(audience.Store).AudiencePage(context.Background(), audience.Page{Limit: 10})
		storetest.Must(t, err)
		if len(page) != 2 {
			t.Fatalf("%d audiences stored after the refusals, want the 2 made here", len(page))
		}
		got := auditOutcomes(t, s, "createLookalikeAudience")
		want := []string{CodeInvalidArgument, CodeInvalidArgument, CodeInvalidArgument, CodeInvalidArgument, CodeInvalidArgument, CodeInvalidArgument, CodeNotFound}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("audit outcomes %v, want %v", got, want)
		}

		// It needs audiences:write.
		k := newKeyEnv(t, s, testConfig(), nil)
		reader, _ := k.key("reader", "", access.ScopeAudiencesRead, access.ScopeProfilesRead)
		r := k.as(reader, createLookalikeOp, vars(seedID, 5, "x"))
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != CodeForbidden || r.Errors[0].Extensions["scope"] != "audiences:write" {
			t.Fatalf("without audiences:write: %+v", r.Errors)
		}
	})
}

// An audienceId that is not an audience's id (an email pasted into it) is
// refused, and the refusal's audit entry does not repeat it: the log holds
// no personal value of its own, and names an audience only by an id.
func TestCreateLookalikeAudienceAuditsNoMalformedID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		lookalikeData(e)
		vars := func(a string) map[string]any { return map[string]any{"a": a, "n": 5, "name": "x"} }
		e.refused(createLookalikeOp, vars("zora.quill@example.org"), CodeInvalidArgument, `argument "audienceId"`)
		e.refused(createLookalikeOp, vars("seg_00000000000000000000000000000000"), CodeNotFound, `"audienceId" names no stored audience`)
		es, err := accessStore(s).Audit(context.Background(), access.AuditQuery{Action: "createLookalikeAudience", Limit: 10})
		storetest.Must(t, err)
		if len(es) != 2 {
			t.Fatalf("%d audit entries, want one per refusal", len(es))
		}
		for _, en := range es {
			if strings.Contains(en.Reason, "zora") || strings.Contains(en.Reason, "@") {
				t.Errorf("the audit entry of a refusal (%s) repeats the argument: %q", en.Outcome, en.Reason)
			}
			if en.Outcome == CodeNotFound && !strings.HasSuffix(en.Reason, "the lookalike of audience seg_00000000000000000000000000000000") {
				t.Errorf("the audit entry of an unknown audience's refusal reads %q; want it to name that audience id", en.Reason)
			}
		}
	})
}
