package neo4jstore_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// Data stored before slots existed gets them from Migrate, once: until
// then compiled filters cannot see it, after they find it.
func TestMigrateBackfillsSlots(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	email := graph.IdentifierRef{Type: "email", Value: "ann@ex.com"}
	identify := event("test/1", 0, email)
	identify.Type, identify.Name, identify.Traits = "identify", "", map[string]any{"plan": "pro"}
	order := event("test/2", 1, email)
	order.Name, order.Properties = "Order", map[string]any{"order": map[string]any{"total": 30}}
	if _, err := eng.ApplyBatch(ctx, []graph.Event{identify, order}); err != nil {
		t.Fatal(err)
	}
	p, err := eng.ProfileByIdentifier(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	filters := []audience.Filter{
		{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}},
		{Event: &audience.EventCondition{Name: "Order", Where: []audience.PropertyFilter{{Path: "order.total", Op: audience.OpGT, Value: 20.0}}}},
	}
	count := func(want int) {
		t.Helper()
		for _, f := range filters {
			n, ids, err := s.CountFilter(ctx, audience.FilterQuery{Filter: &f, Now: t0, Sample: 5})
			if err != nil {
				t.Fatalf("CountFilter: %v", err)
			}
			wantIDs := []string{p.ID}[:want]
			if n != want || !reflect.DeepEqual(append([]string{}, ids...), wantIDs) {
				t.Fatalf("filter %+v counts %d %v, want %d %v", f, n, ids, want, wantIDs)
			}
		}
	}
	count(1)

	// As data written before slots: no slots, and no migration mark.
	sess := rawSession(t)
	for _, q := range []string{
		"MATCH (n) WHERE n:Identifier OR n:Event REMOVE n.slotNames, n.slotKinds, n.slotStrings, n.slotNumbers, n.slotTimes",
		"MATCH (m:Migration) DELETE m",
	} {
		res, err := sess.Run(ctx, q, nil)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	count(0)

	lines, err := s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := lines[len(lines)-1]
	if want := "applied data migration slots-1"; !strings.HasPrefix(last, want) || !strings.Contains(last, "(1 identifiers, 1 events with JSON)") {
		t.Fatalf("Migrate's last line is %q, want %q... (1 identifiers, 1 events with JSON)", last, want)
	}
	count(1)
	lines, err = s.Migrate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "present data migration slots-1") {
		t.Fatalf("Migrate again: %q, want it present", last)
	}
}
