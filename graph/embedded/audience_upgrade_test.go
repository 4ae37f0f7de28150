package embedded

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
)

// layoutAudience is the dataset's audience (layout 10), as put.
func layoutAudience() audience.Audience {
	return audience.Audience{
		ID: "seg_" + "0123456789abcdef0123456789abcdef", Name: "Big spenders", Description: "ordered twice\nin 30 days",
		Filter: audience.Filter{And: []audience.Filter{
			{Computed: &audience.ComputedCondition{Name: "orders_30d", Op: audience.OpGTE, Value: json.Number("2")}},
			{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpIN, Value: []any{"pro", "team"}}},
		}},
		Purpose: "email", CreatedAt: lt(4), UpdatedAt: lt(5),
	}
}

// layoutComputedTrait is the dataset's computed trait (layout 10).
func layoutComputedTrait() audience.ComputedTrait {
	return audience.ComputedTrait{
		Name: "orders_30d", Description: "orders in 30 days", Aggregate: audience.AggCount, Event: "Order Completed",
		EventType: "track", Where: []audience.PropertyFilter{{Path: "total", Op: audience.OpGT, Value: json.Number("10")}},
		Window: "P30D", CreatedAt: lt(4), UpdatedAt: lt(4),
	}
}

// layoutComputedValues is the dataset's computed values (layout 10).
func layoutComputedValues() []audience.ComputedValue {
	return []audience.ComputedValue{
		{ProfileID: "p_ann", Name: "orders_30d", Value: int64(2), ComputedAt: lt(6), Expires: lt(100)},
		{ProfileID: "p_bob", Name: "orders_30d", Value: map[string]any{"odd": []any{1.5, nil, true}}, ComputedAt: moonLanding},
	}
}

func writeLayoutAudiences(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	a := layoutAudience()
	// The computed trait first: the store refuses a filter naming one it
	// does not hold.
	steps := []error{
		s.PutComputedTrait(ctx, layoutComputedTrait()),
		s.PutAudience(ctx, a),
		s.ApplyMembership(ctx, a.ID, []string{"p_ann", "p_bob"}, nil, lt(6)),
		s.ApplyMembership(ctx, a.ID, nil, []string{"p_bob"}, lt(7)),
		s.PutComputedValues(ctx, layoutComputedValues()),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("audience dataset step %d: %v", i, err)
		}
	}
}

// A file of a layout before 10 opens with no audiences and no computed
// traits, and takes them; the layout 10 fixture reads back what
// writeLayoutAudiences wrote, as worked out here by hand.
func TestAudiencesAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	eachFixture(t, func(t *testing.T, v uint64, s *Store) {
		page, err := s.AudiencePage(ctx, audience.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		cts, err := s.ComputedTraits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := s.ComputedValues(ctx, []string{"p_ann", "p_bob"})
		if err != nil {
			t.Fatal(err)
		}
		if v < 10 {
			if len(page) != 0 || len(cts) != 0 || len(vals) != 0 {
				t.Fatalf("an upgraded file holds audiences %+v, traits %+v, values %+v", page, cts, vals)
			}
			writeLayoutAudiences(t, s)
			page, err = s.AudiencePage(ctx, audience.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) != 1 || page[0].Size != 1 {
				t.Fatalf("after writing the audience dataset: %+v", page)
			}
			return
		}
		want := layoutAudience()
		want.Size, want.RefreshedAt = 1, lt(7)
		if len(page) != 1 || !reflect.DeepEqual(page[0], want) {
			t.Fatalf("audiences = %+v, want %+v", page, want)
		}
		ms, err := s.Members(ctx, want.ID, audience.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if wantMs := []audience.Membership{{AudienceID: want.ID, ProfileID: "p_ann", Since: lt(6)}}; !reflect.DeepEqual(ms, wantMs) {
			t.Fatalf("members = %+v, want %+v", ms, wantMs)
		}
		cs, err := s.Changes(ctx, want.ID, audience.ChangePage{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		wantCs := []audience.Change{
			{AudienceID: want.ID, ProfileID: "p_bob", Kind: audience.Exited, At: lt(7), Seq: 3},
			{AudienceID: want.ID, ProfileID: "p_bob", Kind: audience.Entered, At: lt(6), Seq: 2},
			{AudienceID: want.ID, ProfileID: "p_ann", Kind: audience.Entered, At: lt(6), Seq: 1},
		}
		if !reflect.DeepEqual(cs, wantCs) {
			t.Fatalf("changes = %+v, want %+v", cs, wantCs)
		}
		if wantCT := layoutComputedTrait(); len(cts) != 1 || !reflect.DeepEqual(cts[0], wantCT) {
			t.Fatalf("computed traits = %+v, want %+v", cts, wantCT)
		}
		lv := layoutComputedValues()
		wantVals := map[string]map[string]audience.ComputedValue{
			"p_ann": {"orders_30d": lv[0]}, "p_bob": {"orders_30d": lv[1]},
		}
		if !reflect.DeepEqual(vals, wantVals) {
			t.Fatalf("computed values = %+v, want %+v", vals, wantVals)
		}
		ex, err := s.ExpiringValues(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) != 1 || !reflect.DeepEqual(ex[0], lv[0]) {
			t.Fatalf("expiring values = %+v, want %+v", ex, lv[0])
		}
	})
}
