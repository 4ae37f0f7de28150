package resolver

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// countingAudiences wraps a real audience store: it counts the reads the
// resolvers make, and can run a write right after the next AudiencePage
// (what another request commits while this one reads).
type countingAudiences struct {
	audience.Store
	mu        sync.Mutex
	calls     map[string]int
	afterPage func()
}

func newCountingAudiences(s audience.Store) *countingAudiences {
	return &countingAudiences{Store: s, calls: map[string]int{}}
}

func (s *countingAudiences) count(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}

// reset zeroes the counters and returns what they held.
func (s *countingAudiences) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = map[string]int{}
	return calls
}

func (s *countingAudiences) Audiences(ctx context.Context, ids []string) (map[string]audience.Audience, error) {
	s.count("Audiences")
	return s.Store.Audiences(ctx, ids)
}

func (s *countingAudiences) AudiencePage(ctx context.Context, p audience.Page) ([]audience.Audience, error) {
	s.count("AudiencePage")
	out, err := s.Store.AudiencePage(ctx, p)
	s.mu.Lock()
	f := s.afterPage
	s.afterPage = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return out, err
}

func (s *countingAudiences) Members(ctx context.Context, id string, p audience.Page) ([]audience.Membership, error) {
	s.count("Members")
	return s.Store.Members(ctx, id, p)
}

func (s *countingAudiences) Changes(ctx context.Context, id string, p audience.ChangePage) ([]audience.Change, error) {
	s.count("Changes")
	return s.Store.Changes(ctx, id, p)
}

func (s *countingAudiences) MembersOfAudiences(ctx context.Context, ids []string, p audience.Page) (map[string][]audience.Membership, error) {
	s.count("MembersOfAudiences")
	return s.Store.MembersOfAudiences(ctx, ids, p)
}

func (s *countingAudiences) ChangesOfAudiences(ctx context.Context, ids []string, p audience.ChangePage) (map[string][]audience.Change, error) {
	s.count("ChangesOfAudiences")
	return s.Store.ChangesOfAudiences(ctx, ids, p)
}

func (s *countingAudiences) MembershipsOf(ctx context.Context, pids []string) (map[string][]audience.Membership, error) {
	s.count("MembershipsOf")
	return s.Store.MembershipsOf(ctx, pids)
}

func (s *countingAudiences) ComputedTraits(ctx context.Context) ([]audience.ComputedTrait, error) {
	s.count("ComputedTraits")
	return s.Store.ComputedTraits(ctx)
}

// segID is the audience id ending in n.
func segID(n int) string { return fmt.Sprintf("seg_%032x", n) }

// putUsersAudience stores an audience of profiles with a user id, named
// after n, with the id segID(n).
func putUsersAudience(t *testing.T, st audience.Store, n int) string {
	t.Helper()
	now := graph.Now()
	id := segID(n)
	storetest.Must(t, st.PutAudience(context.Background(), audience.Audience{ID: id, Name: fmt.Sprintf("users %d", n),
		Filter: audience.Filter{Identifier: &audience.IdentifierCondition{Type: "user_id"}}, CreatedAt: now, UpdatedAt: now}))
	return id
}

type audiencePageOut struct {
	Audiences struct {
		Nodes []struct {
			ID      string
			Members struct {
				Nodes []struct {
					ID     string
					Traits map[string]any
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
			Changes changesPageOut
		}
	}
}

// changesPageOut is a page of Audience.changes: each entry's kind,
// profileId and profile { id }.
type changesPageOut struct {
	Nodes []struct {
		Kind      string
		ProfileID string
		Profile   *struct{ ID string }
	}
	PageInfo pageInfo
}

// TestAudienceMembersAndChangesOfAPage: a page of audiences, each with a
// page of its members (and their traits) and of its log (and the profile
// each entry names), costs the same store calls for 5 audiences as for
// 50: one read of the members of them all, one of their logs, and one of
// their members' profiles. Each audience gets its own pages.
func TestAudienceMembersAndChangesOfAPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		cs := newCountingStore(s)
		st := s.(audience.Store)
		ca := newCountingAudiences(st)
		cfg := testConfig()
		cfg.Audiences = ca
		e := newEnv(t, cs, cfg, nil)
		var evs []graph.Event
		for i := range 52 {
			evs = append(evs, withTraits(ev(fmt.Sprintf("b%02d", i), t0, "identify", fmt.Sprintf("user_id:b%02d", i)), map[string]any{"n": i}))
		}
		e.apply(evs...)
		pids := make([]string, 52)
		for i := range pids {
			pids[i] = e.profileID("user_id", fmt.Sprintf("b%02d", i))
		}
		// Audience i+1 has had b[i], b[i+1] and b[i+2]; b[i] left.
		t1, t2 := graph.Clean(t0.Add(time.Hour)), graph.Clean(t0.Add(2*time.Hour))
		for i := range 50 {
			id := putUsersAudience(t, st, i+1)
			storetest.Must(t, st.ApplyMembership(ctx, id, []string{pids[i], pids[i+1], pids[i+2]}, nil, t1))
			storetest.Must(t, st.ApplyMembership(ctx, id, nil, []string{pids[i]}, t2))
		}

		const q = `query($n: Int!) { audiences(first: $n) { nodes { id
		  members(first: 2) { nodes { id traits } pageInfo { hasNextPage } }
		  changes(first: 2) { nodes { kind profileId profile { id } } pageInfo { hasNextPage } }
		} } }`
		cost := func(n int) (int64, map[string]int, map[string]int) {
			var out audiencePageOut
			cs.reset()
			ca.reset()
			e.query(q, map[string]any{"n": n}, &out)
			views, calls := cs.reset()
			acalls := ca.reset()
			if len(out.Audiences.Nodes) != n {
				t.Fatalf("asked %d audiences, got %d", n, len(out.Audiences.Nodes))
			}
			for i, a := range out.Audiences.Nodes {
				if a.ID != segID(i+1) {
					t.Fatalf("audience %d is %s, want %s", i, a.ID, segID(i+1))
				}
				want := []string{pids[i+1], pids[i+2]}
				sort.Strings(want)
				var got []string
				for _, m := range a.Members.Nodes {
					got = append(got, m.ID)
					if k := m.Traits["n"]; k != float64(i+1) && k != float64(i+2) {
						t.Fatalf("audience %d: member %s has traits %v", i+1, m.ID, m.Traits)
					}
				}
				if !reflect.DeepEqual(got, want) || a.Members.PageInfo.HasNextPage {
					t.Fatalf("audience %d: members %v (more %v), want %v and no more", i+1, got, a.Members.PageInfo.HasNextPage, want)
				}
				var log []string
				for _, c := range a.Changes.Nodes {
					if c.Profile == nil || c.Profile.ID != c.ProfileID {
						t.Fatalf("audience %d: change %+v has profile %+v", i+1, c, c.Profile)
					}
					log = append(log, c.Kind+" "+c.ProfileID)
				}
				wantLog := []string{"EXITED " + pids[i], "ENTERED " + pids[i+2]}
				if !reflect.DeepEqual(log, wantLog) || !a.Changes.PageInfo.HasNextPage {
					t.Fatalf("audience %d: changes %v (more %v), want %v and more", i+1, log, a.Changes.PageInfo.HasNextPage, wantLog)
				}
			}
			return views, calls, acalls
		}
		v5, c5, a5 := cost(5)
		v50, c50, a50 := cost(50)
		t.Logf("5 audiences: %d reads, %s, audiences %s; 50 audiences: %d reads, %s, audiences %s",
			v5, describe(c5), describe(a5), v50, describe(c50), describe(a50))
		if v5 != v50 || total(c5) != total(c50) || total(a5) != total(a50) {
			t.Fatalf("store calls grow with the page: 5 audiences: %d reads (%s), audiences %s; 50 audiences: %d reads (%s), audiences %s",
				v5, describe(c5), describe(a5), v50, describe(c50), describe(a50))
		}
		want := map[string]int{"AudiencePage": 1, "MembersOfAudiences": 1, "ChangesOfAudiences": 1}
		if !reflect.DeepEqual(a50, want) {
			t.Fatalf("audience store calls for 50 audiences: %s, want %s", describe(a50), describe(want))
		}
	})
}

// TestAudiencePageMembersAndChanges works out by hand the members and log
// pages of a page of audiences, read together: the first pages, the pages
// after a cursor (the same cursor for every audience of the list), an
// audience deleted after the page of audiences was read (no member, no
// log, no error) and one with none.
func TestAudiencePageMembersAndChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		st := s.(audience.Store)
		ca := newCountingAudiences(st)
		cfg := testConfig()
		cfg.Audiences = ca
		e := newEnv(t, s, cfg, nil)
		var evs []graph.Event
		for i := range 5 {
			evs = append(evs, ev(fmt.Sprintf("h%d", i), t0, "identify", fmt.Sprintf("user_id:h%d", i)))
		}
		e.apply(evs...)
		// p[0] < p[1] < ... < p[4]: the profiles in id order, the order
		// members are listed in.
		var p []string
		for i := range 5 {
			p = append(p, e.profileID("user_id", fmt.Sprintf("h%d", i)))
		}
		sort.Strings(p)
		a1, a2, a3, a4 := putUsersAudience(t, st, 1), putUsersAudience(t, st, 2), putUsersAudience(t, st, 3), putUsersAudience(t, st, 4)
		tA, tB, tC := graph.Clean(t0.Add(-time.Hour)), graph.Clean(t0.Add(time.Hour)), graph.Clean(t0.Add(2*time.Hour))
		// a1: p0..p3 enter at tB (logged in that order), p1 exits at tC.
		// a2: p4 then p1 enter at tA. a3: p0 enters at tB; deleted while
		// the request reads. a4: nobody.
		storetest.Must(t, st.ApplyMembership(ctx, a1, []string{p[0], p[1], p[2], p[3]}, nil, tB))
		storetest.Must(t, st.ApplyMembership(ctx, a1, nil, []string{p[1]}, tC))
		storetest.Must(t, st.ApplyMembership(ctx, a2, []string{p[4], p[1]}, nil, tA))
		storetest.Must(t, st.ApplyMembership(ctx, a3, []string{p[0]}, nil, tB))

		type pages struct {
			members     []string
			moreMembers bool
			log         []string
			moreLog     bool
		}
		read := func(vars map[string]any) (map[string]pages, audiencePageOut) {
			t.Helper()
			var out audiencePageOut
			e.query(`query($m: String, $c: String) { audiences(first: 10) { nodes { id
			  members(first: 2, after: $m) { nodes { id } pageInfo { hasNextPage endCursor } }
			  changes(first: 2, after: $c) { nodes { kind profileId profile { id } } pageInfo { hasNextPage endCursor } }
			} } }`, vars, &out)
			got := map[string]pages{}
			for _, a := range out.Audiences.Nodes {
				var pg pages
				for _, m := range a.Members.Nodes {
					pg.members = append(pg.members, m.ID)
				}
				for _, c := range a.Changes.Nodes {
					if c.Profile == nil || c.Profile.ID != c.ProfileID {
						t.Fatalf("audience %s: change %+v has profile %+v", a.ID, c, c.Profile)
					}
					pg.log = append(pg.log, c.Kind+" "+c.ProfileID)
				}
				pg.moreMembers, pg.moreLog = a.Members.PageInfo.HasNextPage, a.Changes.PageInfo.HasNextPage
				got[a.ID] = pg
			}
			return got, out
		}
		check := func(what string, got, want map[string]pages) {
			t.Helper()
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
			}
		}

		// The first pages; a3 is deleted once the page of audiences is read.
		ca.mu.Lock()
		ca.afterPage = func() {
			if _, err := st.DeleteAudience(ctx, a3); err != nil {
				t.Errorf("delete %s: %v", a3, err)
			}
		}
		ca.mu.Unlock()
		ca.reset()
		got, out := read(nil)
		check("first pages", got, map[string]pages{
			a1: {members: []string{p[0], p[2]}, moreMembers: true, log: []string{"EXITED " + p[1], "ENTERED " + p[3]}, moreLog: true},
			a2: {members: []string{p[1], p[4]}, log: []string{"ENTERED " + p[1], "ENTERED " + p[4]}},
			a3: {},
			a4: {},
		})
		if calls := ca.reset(); calls["MembersOfAudiences"] != 1 || calls["ChangesOfAudiences"] != 1 || calls["Members"]+calls["Changes"] != 0 {
			t.Fatalf("audience store calls %s, want one read of the members and one of the logs", describe(calls))
		}

		// After a1's cursors: members after p2, log entries older than
		// "ENTERED p3" at tB, in every audience.
		m := *out.Audiences.Nodes[0].Members.PageInfo.EndCursor
		c := *out.Audiences.Nodes[0].Changes.PageInfo.EndCursor
		got, out = read(map[string]any{"m": m, "c": c})
		check("after a1's cursors", got, map[string]pages{
			a1: {members: []string{p[3]}, log: []string{"ENTERED " + p[2], "ENTERED " + p[1]}, moreLog: true},
			a2: {members: []string{p[4]}, log: []string{"ENTERED " + p[1], "ENTERED " + p[4]}},
			a4: {},
		})
		// And on to a1's last log entry.
		c = *out.Audiences.Nodes[0].Changes.PageInfo.EndCursor
		got, _ = read(map[string]any{"c": c})
		check("after a1's second log page", got, map[string]pages{
			a1: {members: []string{p[0], p[2]}, moreMembers: true, log: []string{"ENTERED " + p[0]}},
			a2: {members: []string{p[1], p[4]}, log: []string{"ENTERED " + p[1], "ENTERED " + p[4]}},
			a4: {},
		})
	})
}

// TestAudiencePagesAfterAWriteInTheRequest: a mutation's write is seen by
// the fields read after it in the same request, though they ask the same
// pages as fields read before it.
func TestAudiencePagesAfterAWriteInTheRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		st := s.(audience.Store)
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("w1", t0, "identify", "user_id:w1"), ev("w2", t0, "identify", "user_id:w2"))
		w1, w2 := e.profileID("user_id", "w1"), e.profileID("user_id", "w2")
		id := putUsersAudience(t, st, 7)
		storetest.Must(t, st.ApplyMembership(ctx, id, []string{w1, w2}, nil, graph.Clean(t0.Add(time.Hour))))
		type side struct {
			Members struct{ Nodes []struct{ ID string } }
			Changes struct{ Nodes []struct{ ProfileID string } }
		}
		var out struct{ Before, After side }
		const fields = `{ members(first: 10) { nodes { id } } changes(first: 10) { nodes { profileId } } }`
		e.query(`mutation($id: ID!, $p: ID!, $in: AudienceInput!) {
		  before: updateAudience(id: $id, input: $in) `+fields+`
		  forgetProfile(id: $p, reason: "asked") { id }
		  after: updateAudience(id: $id, input: $in) `+fields+`
		}`, map[string]any{"id": id, "p": w1, "in": map[string]any{"name": "users", "filter": map[string]any{"identifier": map[string]any{"type": "user_id"}}}}, &out)
		ids := func(sd side) (ms, cs []string) {
			for _, n := range sd.Members.Nodes {
				ms = append(ms, n.ID)
			}
			for _, n := range sd.Changes.Nodes {
				cs = append(cs, n.ProfileID)
			}
			sort.Strings(ms)
			sort.Strings(cs)
			return ms, cs
		}
		both := []string{w1, w2}
		sort.Strings(both)
		if ms, cs := ids(out.Before); !reflect.DeepEqual(ms, both) || !reflect.DeepEqual(cs, both) {
			t.Fatalf("before the erasure: members %v, log %v, want %v", ms, cs, both)
		}
		if ms, cs := ids(out.After); !reflect.DeepEqual(ms, []string{w2}) || !reflect.DeepEqual(cs, []string{w2}) {
			t.Fatalf("after the erasure, in the same request: members %v, log %v, want [%s]", ms, cs, w2)
		}
	})
}
