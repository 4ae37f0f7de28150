package graph_test

import (
	"context"
	"fmt"
	"testing"

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
