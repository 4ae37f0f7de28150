package neo4jstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// TestCompiledTraitTieGoesToTheSmallerKey: two identifiers of a profile
// hold a trait from the same instant, received at the same instant; the
// compiled filter reads the value
// of the smaller key, as graph.FoldTraits does, whether that key holds the
// first value or the second, and whether one condition or several read
// the trait. Counts and pages are worked out by hand.
func TestCompiledTraitTieGoesToTheSmallerKey(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	// P1: email:p1@ex.com (the smaller key) says free, user_id:p1 says pro.
	// P2: email:p2@ex.com says pro, user_id:p2 says free.
	pids := map[string]string{}
	for _, c := range []struct{ who, emailPlan, userPlan string }{{"p1", "free", "pro"}, {"p2", "pro", "free"}} {
		email := graph.IdentifierRef{Type: "email", Value: c.who + "@ex.com"}
		user := graph.IdentifierRef{Type: "user_id", Value: c.who}
		a := event("tie/"+c.who+"/a", 0, email)
		a.Type, a.Name, a.Traits = "identify", "", map[string]any{"plan": c.emailPlan}
		b := event("tie/"+c.who+"/b", 0, user)
		b.Type, b.Name, b.Traits = "identify", "", map[string]any{"plan": c.userPlan}
		// Received at the same instant too: a tie of time and receipt.
		a.ReceivedAt, b.ReceivedAt = t0.Add(time.Hour), t0.Add(time.Hour)
		link := event("tie/"+c.who+"/link", 1, user, email)
		for _, ev := range []graph.Event{a, b, link} {
			if _, err := eng.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
		p, err := eng.ProfileByIdentifier(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		q, err := eng.ProfileByIdentifier(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != q.ID {
			t.Fatalf("%s: the link left two profiles %s and %s", c.who, p.ID, q.ID)
		}
		pids[c.who] = p.ID
	}
	plan := func(op audience.Op, v any) audience.Filter {
		return audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: op, Value: v}}
	}
	nick := audience.Filter{Trait: &audience.TraitCondition{Name: "nick", Op: audience.OpEQ, Value: "x"}}
	for _, c := range []struct {
		name string
		f    audience.Filter
		want []string
	}{
		{"plan = free", plan(audience.OpEQ, "free"), []string{"p1"}},
		{"plan = pro", plan(audience.OpEQ, "pro"), []string{"p2"}},
		{"plan = free and not plan = pro", audience.Filter{And: []audience.Filter{plan(audience.OpEQ, "free"),
			{Not: &audience.Filter{Trait: plan(audience.OpEQ, "pro").Trait}}}}, []string{"p1"}},
		{"nick = x or plan = pro", audience.Filter{Or: []audience.Filter{nick, plan(audience.OpEQ, "pro")}}, []string{"p2"}},
		{"plan NOT_EXISTS or nick NOT_EXISTS", audience.Filter{Or: []audience.Filter{plan(audience.OpNotExists, nil),
			{Trait: &audience.TraitCondition{Name: "nick", Op: audience.OpNotExists}}}}, []string{"p1", "p2"}},
		{"plan NOT_EXISTS", plan(audience.OpNotExists, nil), nil},
	} {
		var want []string
		for _, w := range c.want {
			want = append(want, pids[w])
		}
		slices.Sort(want)
		n, ids, err := s.CountFilter(ctx, audience.FilterQuery{Filter: &c.f, Now: t0.Add(time.Hour), Sample: 10})
		if err != nil {
			t.Fatalf("%s: CountFilter: %v", c.name, err)
		}
		if n != len(want) || !slices.Equal(ids, want) {
			t.Errorf("%s: counts %d %v, want %d %v", c.name, n, ids, len(want), want)
		}
		page, err := s.PageFilter(ctx, audience.FilterQuery{Filter: &c.f, Now: t0.Add(time.Hour)}, graph.PageQuery{Limit: 10})
		if err != nil {
			t.Fatalf("%s: PageFilter: %v", c.name, err)
		}
		if !slices.Equal(page, want) {
			t.Errorf("%s: pages %v, want %v", c.name, page, want)
		}
	}
}
