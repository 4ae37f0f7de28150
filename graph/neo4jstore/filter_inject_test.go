package neo4jstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// hostile is a name and a value that would break out of a Cypher string,
// identifier or comment and delete every node, were it ever put in a
// statement's text.
const hostile = "x`}) DETACH DELETE n WITH 1 AS y MATCH (z) //'\" $p1 {{Profile}}"

// Every name, path, value, purpose and audience id of a filter reaches
// Neo4j as a parameter: filters made of hostile text run, match exactly
// the profile that holds that text (worked out by hand: the one profile
// stored, or none), and leave every node in place.
func TestCompiledFilterTakesHostileTextAsData(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	email := graph.IdentifierRef{Type: "email", Value: "ann@ex.com"}
	identify := event("test/1", 0, email)
	identify.Type, identify.Name, identify.Traits = "identify", "", map[string]any{hostile: hostile}
	order := event("test/2", 1, email)
	order.Name, order.Properties = hostile, map[string]any{hostile: hostile}
	if _, err := eng.ApplyBatch(ctx, []graph.Event{identify, order}); err != nil {
		t.Fatal(err)
	}
	p, err := eng.ProfileByIdentifier(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	sess := rawSession(t)
	nodes := func() int64 {
		n, _ := single(t, sess, "MATCH (n) RETURN count(n)", nil).(int64)
		return n
	}
	before := nodes()
	if before == 0 {
		t.Fatal("no node stored")
	}
	str := func(v string) *string { return &v }
	where := []audience.PropertyFilter{{Path: hostile, Op: audience.OpEQ, Value: hostile}}
	defs := map[string]audience.ComputedTrait{"orders": {Name: "orders", Aggregate: audience.AggCount, Event: hostile, Where: where}}
	cases := []struct {
		name string
		f    audience.Filter
		want int
	}{
		{"trait EQ", audience.Filter{Trait: &audience.TraitCondition{Name: hostile, Op: audience.OpEQ, Value: hostile}}, 1},
		{"trait IN", audience.Filter{Trait: &audience.TraitCondition{Name: hostile, Op: audience.OpIN, Value: []any{"a", hostile}}}, 1},
		{"trait CONTAINS other", audience.Filter{Trait: &audience.TraitCondition{Name: hostile, Op: audience.OpContains, Value: hostile + "'"}}, 0},
		{"event with where", audience.Filter{Event: &audience.EventCondition{Name: hostile, Where: where}}, 1},
		{"event type", audience.Filter{Event: &audience.EventCondition{Type: hostile}}, 0},
		{"event count", audience.Filter{And: []audience.Filter{
			{Trait: &audience.TraitCondition{Name: hostile, Op: audience.OpExists}},
			{Event: &audience.EventCondition{Name: hostile, Count: &audience.CountCondition{Op: audience.OpEQ, Value: 1}}},
		}}, 1},
		{"identifier type", audience.Filter{Not: &audience.Filter{Identifier: &audience.IdentifierCondition{Type: hostile}}}, 1},
		{"consent purpose", audience.Filter{Consent: &audience.ConsentCondition{Purpose: hostile, Status: privacy.StateGranted}}, 0},
		{"in audience", audience.Filter{Not: &audience.Filter{InAudience: str(hostile)}}, 1},
		{"computed", audience.Filter{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpEQ, Value: 1.0}}, 1},
	}
	for _, c := range cases {
		n, ids, err := s.CountFilter(ctx, audience.FilterQuery{Filter: &c.f, Now: t0.Add(time.Hour), Sample: 5, Computed: defs})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		wantIDs := []string{p.ID}[:c.want]
		if n != c.want || fmt.Sprint(ids) != fmt.Sprint(wantIDs) {
			t.Errorf("%s: counts %d %v, want %d %v", c.name, n, ids, c.want, wantIDs)
		}
	}
	if after := nodes(); after != before {
		t.Fatalf("%d nodes after the filters, %d before", after, before)
	}
}
