package embedded

import (
	"context"
	"reflect"
	"testing"

	"github.com/idgraph/cdp/audience"
)

// layoutFacts is the dataset's facts (layout 11): those of p_ann, written
// out by hand.
func layoutFacts() audience.Facts {
	return audience.Facts{
		ProfileID: "p_ann",
		Keys:      []string{kAnon, kCRM, kEmail, kUser},
		Types:     []string{"anonymous_id", "crm:id", "email", "user_id"},
		Traits: []audience.TraitFact{
			{Name: "age", Value: 41.0}, {Name: "name", Value: "Ann"}, {Name: "plan", Value: "pro"},
			{Name: "tags", Value: []any{"a", 2.0, true, []any{}, map[string]any{}, audience.OtherValue{}}},
		},
		EventNames: []string{"Viewed", "track"},
		Events: []audience.EventFact{
			{Name: 0, Type: 1, Day: -164, N: 1, First: 5, Last: 5},
			{Name: 0, Type: 1, Day: 20000, N: 3, First: 0, Last: 86399999999999},
		},
	}
}

func writeLayoutFacts(t *testing.T, s *Store) {
	t.Helper()
	if err := s.PutFacts(context.Background(), []audience.Facts{layoutFacts()}); err != nil {
		t.Fatalf("facts dataset: %v", err)
	}
}

// A file of a layout before 11 opens with no facts and takes them; the
// layout 11 fixture reads back the facts of p_ann as written by hand.
func TestFactsAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	eachFixture(t, func(t *testing.T, v uint64, s *Store) {
		got, err := s.Facts(ctx, []string{"p_ann", "p_bob"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]audience.Facts{}
		if v >= 11 {
			want["p_ann"] = layoutFacts()
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Facts = %#v\nwant %#v", got, want)
		}
		bob := audience.Facts{ProfileID: "p_bob", Keys: []string{kPhone}, Types: []string{"phone"}}
		if err := s.PutFacts(ctx, []audience.Facts{bob}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteFacts(ctx, []string{"p_ann"}); err != nil {
			t.Fatal(err)
		}
		got, err = s.Facts(ctx, []string{"p_ann", "p_bob"})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]audience.Facts{"p_bob": bob}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after a put and a delete, Facts = %#v\nwant %#v", got, want)
		}
	})
}
