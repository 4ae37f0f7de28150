package resolver

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
)

// countingStore wraps a real store: it counts read transactions and the
// ReadTx calls made in them, and can be told to fail or panic.
type countingStore struct {
	graph.Store
	views atomic.Int64
	mu    sync.Mutex
	calls map[string]int
	fail  atomic.Pointer[error]
	panic atomic.Bool
}

func newCountingStore(s graph.Store) *countingStore {
	return &countingStore{Store: s, calls: map[string]int{}}
}

func (s *countingStore) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	s.views.Add(1)
	if p := s.fail.Load(); p != nil {
		return *p
	}
	if s.panic.Load() {
		panic("store exploded")
	}
	return s.Store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return fn(ctx, &countingTx{ReadTx: tx, s: s})
	})
}

// SuppressionKey passes on the secret of retired profile ids
// (graph.SecretKeeper).
func (s *countingStore) SuppressionKey(ctx context.Context) ([]byte, error) {
	return s.Store.(graph.SecretKeeper).SuppressionKey(ctx)
}

func (s *countingStore) count(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}

// reset zeroes the counters and returns what they held.
func (s *countingStore) reset() (views int64, calls map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls, s.calls = s.calls, map[string]int{}
	return s.views.Swap(0), calls
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// sameCost fails the test unless a page of small and one of large items
// cost the same read transactions and store calls.
func sameCost(t *testing.T, items string, small int, vSmall int64, cSmall map[string]int, large int, vLarge int64, cLarge map[string]int) {
	t.Helper()
	t.Logf("%d %s: %d reads, %s; %d %s: %d reads, %s", small, items, vSmall, describe(cSmall), large, items, vLarge, describe(cLarge))
	if vSmall != vLarge || total(cSmall) != total(cLarge) {
		t.Fatalf("store calls grow with the page: %d %s: %d reads (%s); %d %s: %d reads (%s)",
			small, items, vSmall, describe(cSmall), large, items, vLarge, describe(cLarge))
	}
}

func describe(calls map[string]int) string {
	var parts []string
	for m, c := range calls {
		parts = append(parts, fmt.Sprintf("%s=%d", m, c))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

type countingTx struct {
	graph.ReadTx
	s *countingStore
}

func (t *countingTx) Identifiers(ctx context.Context, keys []string) (map[string]graph.Identifier, error) {
	t.s.count("Identifiers")
	return t.ReadTx.Identifiers(ctx, keys)
}

func (t *countingTx) Profiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	t.s.count("Profiles")
	return t.ReadTx.Profiles(ctx, ids)
}

func (t *countingTx) Members(ctx context.Context, ids []string) (map[string][]graph.Identifier, error) {
	t.s.count("Members")
	return t.ReadTx.Members(ctx, ids)
}

func (t *countingTx) Links(ctx context.Context, keys []string) ([]graph.Link, error) {
	t.s.count("Links")
	return t.ReadTx.Links(ctx, keys)
}

func (t *countingTx) LinksBetween(ctx context.Context, pairs []graph.LinkKey) (map[graph.LinkKey]graph.Link, error) {
	t.s.count("LinksBetween")
	return t.ReadTx.LinksBetween(ctx, pairs)
}

func (t *countingTx) Rejected(ctx context.Context, keys []string) ([]graph.RejectedLink, error) {
	t.s.count("Rejected")
	return t.ReadTx.Rejected(ctx, keys)
}

func (t *countingTx) Journeys(ctx context.Context, ids []string, q graph.JourneyQuery) (map[string][]graph.Event, error) {
	t.s.count("Journeys")
	return t.ReadTx.Journeys(ctx, ids, q)
}

func (t *countingTx) Events(ctx context.Context, ids []string) (map[string]graph.Event, error) {
	t.s.count("Events")
	return t.ReadTx.Events(ctx, ids)
}

func (t *countingTx) ProfilesPage(ctx context.Context, q graph.PageQuery) ([]graph.Profile, error) {
	t.s.count("ProfilesPage")
	return t.ReadTx.ProfilesPage(ctx, q)
}

func (t *countingTx) CountProfiles(ctx context.Context) (int, error) {
	t.s.count("CountProfiles")
	return t.ReadTx.CountProfiles(ctx)
}

func (t *countingTx) Changes(ctx context.Context, ids []string) ([]graph.ProfileChange, error) {
	t.s.count("Changes")
	return t.ReadTx.Changes(ctx, ids)
}

func (t *countingTx) LookupProfiles(ctx context.Context, keys []string, withMembers bool) (map[string]graph.Identifier, map[string]graph.Profile, map[string][]graph.Identifier, error) {
	t.s.count("LookupProfiles")
	return t.ReadTx.LookupProfiles(ctx, keys, withMembers)
}

// TestNoNPlusOne: one query for N profiles, each with its identifiers (and
// their profile), traits, history and last 10 events (and the events'
// identifiers), costs the same number of store calls for 10 as for 100.
func TestNoNPlusOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cs := newCountingStore(s)
		e := newEnv(t, cs, testConfig(), nil)
		var evs []graph.Event
		for i := range 100 {
			user, anon := fmt.Sprintf("user_id:n%03d", i), fmt.Sprintf("anonymous_id:a%03d", i)
			for j := range 12 {
				evs = append(evs, ev(fmt.Sprintf("n%03d-%02d", i, j), t0.Add(time.Duration(j)*time.Minute), "track", user, anon))
			}
		}
		e.apply(evs...)

		const q = `query($n: Int!) {
		  profiles(first: $n) {
		    totalCount
		    edges { cursor node {
		      id traits history(first: 5) { kind }
		      identifiers(first: 10) { type value profile { id } }
		      journey(first: 10) { edges { node { id type identifiers { key } } } }
		    } }
		  }
		}`
		type result struct {
			Profiles struct {
				Edges []struct {
					Node struct {
						ID          string
						Identifiers []struct{ Profile struct{ ID string } }
						Journey     struct {
							Edges []struct {
								Node struct{ Identifiers []struct{ Key string } }
							}
						}
					}
				}
			}
		}
		cost := func(n int) (int64, map[string]int) {
			var out result
			cs.reset()
			e.query(q, map[string]any{"n": n}, &out)
			views, calls := cs.reset()
			if len(out.Profiles.Edges) != n {
				t.Fatalf("asked %d profiles, got %d", n, len(out.Profiles.Edges))
			}
			for _, ed := range out.Profiles.Edges {
				if len(ed.Node.Identifiers) != 2 || ed.Node.Identifiers[0].Profile.ID != ed.Node.ID || len(ed.Node.Journey.Edges) != 10 ||
					len(ed.Node.Journey.Edges[0].Node.Identifiers) != 2 {
					t.Fatalf("profile %s: %+v", ed.Node.ID, ed.Node)
				}
			}
			return views, calls
		}
		v10, c10 := cost(10)
		v100, c100 := cost(100)
		sameCost(t, "profiles", 10, v10, c10, 100, v100, c100)
		// Page + count, members, history, journeys, event identifiers.
		if v100 > 5 {
			t.Fatalf("%d read transactions for one query, want at most 5 (%s)", v100, describe(c100))
		}
	})
}

// TestLookupOneRead: the front-end lookup, a profile by identifier with its
// identifiers and traits, costs one read transaction, and answers as the
// same profile read by id (through the members loader) does. So does an
// identifier with its profile; misses and a bare identifier stay cheap.
func TestLookupOneRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cs := newCountingStore(s)
		e := newEnv(t, cs, testConfig(), nil)
		e.apply(
			withTraits(ev("l1", t0, "identify", "user_id:u1", "email:ann@example.com"), map[string]any{"name": "Ann", "plan": "free"}),
			withTraits(ev("l2", t0.Add(time.Minute), "identify", "anonymous_id:a1", "email:ann@example.com"), map[string]any{"plan": "pro"}),
			ev("l3", t0, "page", "user_id:u2"),
		)

		type profile struct {
			ID          string
			Identifiers []struct{ Type, Value string }
			Traits      map[string]any
		}
		cost := func(q string, vars map[string]any, out any) (int64, map[string]int) {
			t.Helper()
			cs.reset()
			e.query(q, vars, out)
			return cs.reset()
		}

		var got struct {
			P *profile `json:"profileByIdentifier"`
		}
		views, calls := cost(`query($t:String!,$v:String!){profileByIdentifier(type:$t,value:$v){id identifiers{type value} traits}}`,
			map[string]any{"t": "email", "v": "Ann@Example.com"}, &got)
		if views != 1 || total(calls) != 1 || calls["LookupProfiles"] != 1 {
			t.Fatalf("profileByIdentifier: %d read transactions (%s), want 1 with one LookupProfiles", views, describe(calls))
		}
		if got.P == nil {
			t.Fatal("profileByIdentifier: no profile")
		}
		var want struct {
			P *profile `json:"profile"`
		}
		e.query(`query($id:ID!){profile(id:$id){id identifiers{type value} traits}}`, map[string]any{"id": got.P.ID}, &want)
		if fmt.Sprint(got.P) != fmt.Sprint(want.P) {
			t.Fatalf("profileByIdentifier answers %+v, profile(id) answers %+v", got.P, want.P)
		}
		if len(got.P.Identifiers) != 3 || got.P.Traits["plan"] != "pro" || got.P.Traits["name"] != "Ann" {
			t.Fatalf("profileByIdentifier: %+v", got.P)
		}

		// An identifier with its profile's fields: one read too.
		var id struct {
			I *struct {
				Key     string
				Traits  []struct{ Name string }
				Profile profile
			} `json:"identifier"`
		}
		views, calls = cost(`query($t:String!,$v:String!){identifier(type:$t,value:$v){key traits{name} profile{id identifiers{type value} traits}}}`,
			map[string]any{"t": "user_id", "v": "u1"}, &id)
		if views != 1 {
			t.Fatalf("identifier with profile: %d read transactions (%s), want 1", views, describe(calls))
		}
		if id.I == nil || id.I.Key != "user_id:u1" || len(id.I.Traits) != 2 || fmt.Sprint(id.I.Profile) != fmt.Sprint(*want.P) {
			t.Fatalf("identifier with profile: %+v, want profile %+v", id.I, want.P)
		}

		// A bare identifier reads only the identifier, as before.
		views, calls = cost(`{identifier(type:"user_id",value:"u2"){key}}`, nil, nil)
		if views != 1 || calls["Members"] != 0 || calls["Profiles"] != 0 {
			t.Fatalf("bare identifier: %d read transactions (%s), want 1 reading identifiers only", views, describe(calls))
		}

		// Misses answer null.
		var miss struct {
			P *profile              `json:"profileByIdentifier"`
			I *struct{ Key string } `json:"identifier"`
		}
		views, calls = cost(`{profileByIdentifier(type:"email",value:"nobody@example.com"){id traits} identifier(type:"email",value:"nobody@example.com"){key profile{id}}}`, nil, &miss)
		if miss.P != nil || miss.I != nil {
			t.Fatalf("misses: %+v", miss)
		}
		// profileByIdentifier's lookup, identifier's lookup and its fallback read.
		if views > 3 {
			t.Fatalf("misses: %d read transactions (%s), want at most 3", views, describe(calls))
		}
	})
}

// TestIdentityGraphsOfAPage: identityGraph and explainLink on every profile
// of a page cost the same store calls for 5 profiles as for 50, and each
// profile gets its own graph (worked out by hand for seedPeople: c1 named
// u2 with Alice's email, a link refused as it would give one profile two
// user ids).
func TestIdentityGraphsOfAPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		cs := newCountingStore(s)
		e := newEnv(t, cs, testConfig(), nil)
		seedPeople(e)
		const gq = `{ profiles(first: 10) { nodes { identityGraph { nodes(first: 10) { id inProfile } edges(first: 10) { from to rejected } } } } }`
		var out struct {
			Profiles struct {
				Nodes []struct {
					IdentityGraph struct {
						Nodes []struct {
							ID        string
							InProfile bool
						}
						Edges []struct {
							From, To string
							Rejected bool
						}
					}
				}
			}
		}
		e.query(gq, nil, &out)
		got := map[string]string{}
		for _, p := range out.Profiles.Nodes {
			var nodes, edges []string
			for _, n := range p.IdentityGraph.Nodes {
				if n.InProfile {
					nodes = append(nodes, n.ID)
				} else {
					nodes = append(nodes, "("+n.ID+")")
				}
			}
			for _, ed := range p.IdentityGraph.Edges {
				ends := []string{ed.From, ed.To}
				sort.Strings(ends)
				s := ends[0] + " - " + ends[1]
				if ed.Rejected {
					s += " refused"
				}
				edges = append(edges, s)
			}
			sort.Strings(edges)
			got[nodes[len(nodes)-1]] = strings.Join(nodes, " ") + " | " + strings.Join(edges, ", ")
		}
		want := map[string]string{
			"(user_id:u2)": "anonymous_id:a1 email:alice@example.com user_id:u1 (user_id:u2) | " +
				"anonymous_id:a1 - email:alice@example.com, email:alice@example.com - user_id:u1, email:alice@example.com - user_id:u2 refused",
			"(email:alice@example.com)": "email:bob@example.com user_id:u2 (email:alice@example.com) | " +
				"email:alice@example.com - user_id:u2 refused, email:bob@example.com - user_id:u2",
		}
		if len(got) != len(want) {
			t.Fatalf("graphs %v, want %v", got, want)
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("graph ending in %s:\n got %s\nwant %s", k, got[k], w)
			}
		}

		// 100 more profiles, each with a refused link (a second user id
		// for hNN's profile), so that every page holds refusals.
		var evs []graph.Event
		for i := range 50 {
			evs = append(evs, ev(fmt.Sprintf("g%02d", i), t0, "identify", fmt.Sprintf("user_id:g%02d", i), fmt.Sprintf("anonymous_id:h%02d", i)))
		}
		e.apply(evs...)
		evs = nil
		for i := range 50 {
			evs = append(evs, ev(fmt.Sprintf("x%02d", i), t0.Add(time.Minute), "identify", fmt.Sprintf("anonymous_id:h%02d", i), fmt.Sprintf("user_id:x%02d", i)))
		}
		e.apply(evs...)
		const q = `query($n: Int!) { profiles(first: $n) { nodes { id
		  identityGraph { nodes(first: 2) { id } edges(first: 2) { from to } }
		  explainLink(a: {type: "user_id", value: "u1"}, b: {type: "anonymous_id", value: "a1"}) { linked }
		} } }`
		cost := func(n int) (int64, map[string]int) {
			var out struct {
				Profiles struct {
					Nodes []struct {
						IdentityGraph struct {
							Nodes []struct{ ID string }
							Edges []struct{ From string }
						}
						ExplainLink struct{ Linked bool }
					}
				}
			}
			cs.reset()
			e.query(q, map[string]any{"n": n}, &out)
			views, calls := cs.reset()
			if len(out.Profiles.Nodes) != n {
				t.Fatalf("asked %d profiles, got %d", n, len(out.Profiles.Nodes))
			}
			for _, p := range out.Profiles.Nodes {
				if len(p.IdentityGraph.Nodes) < 2 || len(p.IdentityGraph.Edges) == 0 || !p.ExplainLink.Linked {
					t.Fatalf("profile %+v: want its graph and u1, a1 linked", p)
				}
			}
			return views, calls
		}
		v5, c5 := cost(5)
		v50, c50 := cost(50)
		sameCost(t, "profiles", 5, v5, c5, 50, v50, c50)
	})
}

// panicsInRejected is a real store whose Rejected panics, as a read that
// hits a bug would.
type panicsInRejected struct{ graph.Store }

func (s panicsInRejected) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	return s.Store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return fn(ctx, panicsInRejectedTx{tx})
	})
}

type panicsInRejectedTx struct{ graph.ReadTx }

func (panicsInRejectedTx) Rejected(context.Context, []string) ([]graph.RejectedLink, error) {
	panic("read exploded")
}

// TestSharedReadPanicFailsEverySibling: when the read a page's fields
// share panics, the field that ran it fails with INTERNAL, and so does
// every sibling waiting on it (not NOT_FOUND, nor an empty answer).
func TestSharedReadPanicFailsEverySibling(t *testing.T) {
	s := storetest.Embedded(t)
	seeder := newEnv(t, s, testConfig(), nil)
	seedPeople(seeder)
	engine := graph.NewEngine(panicsInRejected{s}, nil)
	srv := httptest.NewServer(asOpen(NewHandler(engine, nil, testConfig())))
	t.Cleanup(srv.Close)
	e := &env{t: t, engine: engine, srv: srv, logs: &testlog.Buffer{}}
	r := e.post(`{ profiles(first: 10) { nodes { id
	  identityGraph { nodes(first: 2) { id } }
	  explainLink(a: {type: "user_id", value: "u1"}, b: {type: "user_id", value: "u2"}) { linked } } } }`, nil)
	var fields = map[string]int{}
	for _, er := range r.Errors {
		if len(er.Path) == 0 {
			t.Fatalf("error without a path: %+v", er)
		}
		field, _ := er.Path[len(er.Path)-1].(string)
		if code, _ := er.Extensions["code"].(string); code != CodeInternal {
			t.Errorf("%s: %s (%s), want INTERNAL", field, code, er.Message)
		}
		fields[field]++
	}
	// seedPeople makes two profiles; each field of each fails.
	if fields["identityGraph"] != 2 || fields["explainLink"] != 2 {
		t.Errorf("errors by field %v, want identityGraph and explainLink failed on both profiles: %+v", fields, r.Errors)
	}
}
