package graph_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// tornStore is a real store whose reads of the links of more than two
// identifiers always look torn: they hold a link leaving the identifiers
// asked about, as when a merge commits between two statements.
type tornStore struct{ graph.Store }

func (s tornStore) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	return s.Store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return fn(ctx, tornTx{tx})
	})
}

type tornTx struct{ graph.ReadTx }

func (t tornTx) Links(ctx context.Context, keys []string) ([]graph.Link, error) {
	ls, err := t.ReadTx.Links(ctx, keys)
	if err == nil && len(keys) > 2 {
		ls = append(ls, graph.Link{A: keys[0], B: "user_id:zz-elsewhere", Count: 1})
	}
	return ls, err
}

// TestIdentityGraphsReadAloneWhenTogetherKeepsMeetingWrites: when the read
// of many profiles' graphs meets a write on every attempt, each profile is
// read on its own, and gets its own graph; a profile whose own read keeps
// meeting writes is ECONFLICT.
func TestIdentityGraphsReadAloneWhenTogetherKeepsMeetingWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		var evs []graph.Event
		var ids []string
		for i := range 3 {
			evs = append(evs, graph.Event{ID: fmt.Sprintf("m%d", i), Type: "track", Name: "Viewed", Source: "web", Timestamp: tHook,
				Identifiers: []graph.IdentifierRef{{Type: graph.TypeUserID, Value: fmt.Sprintf("u%d", i)}, {Type: graph.TypeAnonymousID, Value: fmt.Sprintf("a%d", i)}}})
		}
		if _, err := standingEngine(s).ApplyBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		e := graph.NewEngine(tornStore{s}, nil)
		for i := range 3 {
			p, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: fmt.Sprintf("u%d", i)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		gs, err := e.IdentityGraphs(ctx, ids)
		if err != nil {
			t.Fatalf("IdentityGraphs: %v", err)
		}
		for i, id := range ids {
			g := gs[id]
			want := fmt.Sprintf("anonymous_id:a%d user_id:u%d | anonymous_id:a%d-user_id:u%d", i, i, i, i)
			got := ""
			for j, n := range g.Nodes {
				if j > 0 {
					got += " "
				}
				got += n.Key
			}
			got += " |"
			for _, l := range g.Links {
				got += " " + l.A + "-" + l.B
			}
			if g.ProfileID != id || got != want {
				t.Errorf("graph of %s: %s %q, want %q", id, g.ProfileID, got, want)
			}
		}
		// Three identifiers in one profile: its own read looks torn too.
		if _, err := standingEngine(s).ApplyBatch(ctx, []graph.Event{{ID: "m9", Type: "track", Name: "Viewed", Source: "web", Timestamp: tHook,
			Identifiers: []graph.IdentifierRef{{Type: graph.TypeUserID, Value: "u0"}, {Type: graph.TypeEmail, Value: "u0@example.com"}}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.IdentityGraphs(ctx, ids); graph.ErrorCode(err) != graph.ECONFLICT {
			t.Errorf("IdentityGraphs with a profile whose own read keeps meeting writes: %v, want ECONFLICT", err)
		}
	})
}

// tornMerge is a store whose first read of the members of both x and y
// (then of their links) sees a merge of x (one identifier, k) into y
// (which holds b) commit in the middle: x's members as before it, y's and
// the links as after it. Neo4j reads are read committed, which is why the
// engine checks its reads fit together (viewSettled).
type tornMerge struct {
	graph.Store
	x, y, k, b string
	members    bool // the torn members read is still to come
	links      bool // the torn links read is still to come
}

func (s *tornMerge) View(ctx context.Context, fn func(ctx context.Context, tx graph.ReadTx) error) error {
	return s.Store.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return fn(ctx, &mergeTornTx{ReadTx: tx, s: s})
	})
}

type mergeTornTx struct {
	graph.ReadTx
	s *tornMerge
}

func (t *mergeTornTx) Members(ctx context.Context, ids []string) (map[string][]graph.Identifier, error) {
	ms, err := t.ReadTx.Members(ctx, ids)
	if err != nil || !t.s.members || !slices.Contains(ids, t.s.x) || !slices.Contains(ids, t.s.y) {
		return ms, err
	}
	t.s.members, t.s.links = false, true
	var moved graph.Identifier
	for _, n := range ms[t.s.x] {
		if n.Key == t.s.k {
			moved = n
		}
	}
	moved.ProfileID = t.s.y
	ys := append(slices.Clone(ms[t.s.y]), moved)
	slices.SortFunc(ys, func(a, b graph.Identifier) int { return strings.Compare(a.Key, b.Key) })
	ms[t.s.y] = ys
	return ms, nil
}

func (t *mergeTornTx) Links(ctx context.Context, keys []string) ([]graph.Link, error) {
	ls, err := t.ReadTx.Links(ctx, keys)
	if err != nil || !t.s.links {
		return ls, err
	}
	t.s.links = false
	a, b := min(t.s.b, t.s.k), max(t.s.b, t.s.k)
	ls = append(ls, graph.Link{A: a, B: b, Source: "web", Evidence: "event m9", FirstSeen: tHook, LastSeen: tHook, Count: 1})
	slices.SortFunc(ls, func(x, y graph.Link) int {
		if c := strings.Compare(x.A, y.A); c != 0 {
			return c
		}
		return strings.Compare(x.B, y.B)
	})
	return ls, nil
}

// TestIdentityGraphsCatchAMergeBetweenReads: IdentityGraph read x's graph
// on its own and saw that x's member k had a link leaving x (a torn read:
// retry). IdentityGraphs reads x and y together and gives each member one
// owner, so the same torn read goes through: k is shown in both graphs,
// and x, merged away by then, keeps a graph of its own.
func TestIdentityGraphsCatchAMergeBetweenReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, nil)
		ev := viewedEvent
		u1 := graph.IdentifierRef{Type: graph.TypeUserID, Value: "u1"}
		em := graph.IdentifierRef{Type: graph.TypeEmail, Value: "ann@example.com"}
		if _, err := e.ApplyBatch(ctx, []graph.Event{ev("m1", u1, em)}); err != nil {
			t.Fatal(err)
		}
		py, err := e.ProfileByIdentifier(ctx, u1)
		if err != nil {
			t.Fatal(err)
		}
		// An anonymous id whose profile sorts before y's: the members are
		// read in id order, x's before the merge and y's after it.
		var anon graph.IdentifierRef
		var px graph.Profile
		for i := 0; ; i++ {
			anon = graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: fmt.Sprintf("a%d", i)}
			if graph.ProfileIDFor("anonymous_id:"+anon.Value, 0) < py.ID {
				break
			}
		}
		if _, err := e.ApplyBatch(ctx, []graph.Event{ev("m2", anon)}); err != nil {
			t.Fatal(err)
		}
		if px, err = e.ProfileByIdentifier(ctx, anon); err != nil {
			t.Fatal(err)
		}
		if !(px.ID < py.ID) {
			t.Fatalf("x %s does not sort before y %s", px.ID, py.ID)
		}
		torn := &tornMerge{Store: s, x: px.ID, y: py.ID, k: "anonymous_id:" + anon.Value, b: "user_id:u1", members: true}
		te := graph.NewEngine(torn, nil)
		te.Now = func() time.Time { return tHook }
		gs, err := te.IdentityGraphs(ctx, []string{px.ID, py.ID})
		if err != nil {
			t.Fatal(err)
		}
		if torn.members || torn.links {
			t.Fatal("the torn reads did not happen")
		}
		in := map[string][]string{}
		for _, id := range []string{px.ID, py.ID} {
			for _, n := range gs[id].Nodes {
				if n.ProfileID == id {
					in[n.Key] = append(in[n.Key], id)
				}
			}
		}
		for k, ps := range in {
			if len(ps) > 1 {
				t.Errorf("%s is a member of %d graphs %v: a merge landed between the reads and was not caught (x = %+v, y = %+v)", k, len(ps), ps, gs[px.ID], gs[py.ID])
			}
		}
	})
}
