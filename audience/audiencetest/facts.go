package audiencetest

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// annFacts has one of everything: several keys and types, traits of
// every canonical kind (a NaN included, which must survive bit for bit),
// and event counts before 1970, with an empty name, and at a day's last
// nanosecond.
func annFacts() audience.Facts {
	return audience.Facts{
		ProfileID: "p_ann",
		Keys:      []string{"email:ann@example.com", "user_id:u1"},
		Types:     []string{"email", "user_id"},
		Traits: []audience.TraitFact{
			{Name: "age", Value: 41.0}, {Name: "gold", Value: true}, {Name: "junk", Value: audience.OtherValue{}},
			{Name: "nan", Value: math.NaN()}, {Name: "obj", Value: map[string]any{}}, {Name: "plan", Value: "pro"},
			{Name: "tags", Value: []any{"a", -2.5, false, nil, []any{}, map[string]any{}, audience.OtherValue{}}},
			{Name: "zero", Value: ""},
		},
		EventNames: []string{"", "Order", "page", "track"},
		Events: []audience.EventFact{
			{Name: 0, Type: 2, Day: -2, N: 1, First: 0, Last: 0},
			{Name: 1, Type: 3, Day: 20600, N: 3, First: 1, Last: 86399999999999},
			{Name: 1, Type: 3, Day: 20601, N: 1, First: 7, Last: 7},
		},
	}
}

func bobFacts() audience.Facts {
	return audience.Facts{ProfileID: "p_bob", Keys: []string{"phone:+15550100"}, Types: []string{"phone"}}
}

// sameFacts compares two facts maps, NaN equal to NaN.
func sameFacts(t *testing.T, what string, got, want map[string]audience.Facts) {
	t.Helper()
	nan := func(m map[string]audience.Facts) map[string]audience.Facts {
		out := map[string]audience.Facts{}
		for id, f := range m {
			c := f
			c.Traits = append([]audience.TraitFact(nil), f.Traits...)
			for i, tr := range c.Traits {
				if x, ok := tr.Value.(float64); ok && math.IsNaN(x) {
					c.Traits[i].Value = "NaN stand-in"
				}
			}
			out[id] = c
		}
		return out
	}
	if g, w := nan(got), nan(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %#v\nwant %#v", what, g, w)
	}
}

func readFacts(t *testing.T, s Store, ids ...string) map[string]audience.Facts {
	t.Helper()
	got, err := s.Facts(bg, ids)
	must(t, err)
	return got
}

func testFacts(t *testing.T, s Store) {
	sameFacts(t, "an empty store", readFacts(t, s, "p_ann", "p_bob"), map[string]audience.Facts{})
	must(t, s.PutFacts(bg, nil))
	must(t, s.PutFacts(bg, []audience.Facts{annFacts(), bobFacts()}))
	sameFacts(t, "after the put", readFacts(t, s, "p_ann", "p_bob", "p_none", "p_ann"), map[string]audience.Facts{"p_ann": annFacts(), "p_bob": bobFacts()})
	if got := readFacts(t, s, "p_ann")["p_ann"]; !math.IsNaN(got.Trait("nan").(float64)) {
		t.Fatalf("the NaN trait reads back as %v", got.Trait("nan"))
	}

	// A put replaces; within one put the last of a profile wins.
	bob2 := audience.Facts{ProfileID: "p_bob", Keys: []string{"email:bob@example.com"}, Types: []string{"email"},
		Traits: []audience.TraitFact{{Name: "plan", Value: "free"}}}
	must(t, s.PutFacts(bg, []audience.Facts{bobFacts(), bob2}))
	sameFacts(t, "after a replacing put", readFacts(t, s, "p_ann", "p_bob"), map[string]audience.Facts{"p_ann": annFacts(), "p_bob": bob2})

	// Bad facts are refused whole.
	bad := []audience.Facts{bobFacts(), {ProfileID: ""}}
	wantCode(t, s.PutFacts(bg, bad), graph.EINVALID, "PutFacts with an empty profile id")
	odd := bobFacts()
	odd.Traits = []audience.TraitFact{{Name: "x", Value: int64(3)}} // not canonical
	wantCode(t, s.PutFacts(bg, []audience.Facts{odd}), graph.EINVALID, "PutFacts with a value that is not canonical")
	sameFacts(t, "after refused puts", readFacts(t, s, "p_bob"), map[string]audience.Facts{"p_bob": bob2})

	// Delete, of stored and unknown profiles.
	must(t, s.DeleteFacts(bg, []string{"p_bob", "p_none"}))
	must(t, s.DeleteFacts(bg, nil))
	sameFacts(t, "after the delete", readFacts(t, s, "p_ann", "p_bob"), map[string]audience.Facts{"p_ann": annFacts()})

	// Inside a write transaction, as erasure deletes them.
	must(t, s.Update(bg, func(ctx context.Context, tx graph.Tx) error {
		return audience.DeleteFactsInTx(ctx, tx, []string{"p_ann"})
	}))
	sameFacts(t, "after DeleteFactsInTx", readFacts(t, s, "p_ann"), map[string]audience.Facts{})

	// A rolled-back transaction deletes nothing.
	must(t, s.PutFacts(bg, []audience.Facts{annFacts()}))
	boom := fmt.Errorf("roll back")
	err := s.Update(bg, func(ctx context.Context, tx graph.Tx) error {
		if err := audience.DeleteFactsInTx(ctx, tx, []string{"p_ann"}); err != nil {
			return err
		}
		return boom
	})
	if err == nil {
		t.Fatal("Update returned no error after fn failed")
	}
	sameFacts(t, "after a rolled-back DeleteFactsInTx", readFacts(t, s, "p_ann"), map[string]audience.Facts{"p_ann": annFacts()})

	// Many at once: 1,200 profiles in one put and one read.
	var many []audience.Facts
	var ids []string
	want := map[string]audience.Facts{}
	for i := range 1200 {
		f := audience.Facts{ProfileID: fmt.Sprintf("p_%04d", i), Keys: []string{fmt.Sprintf("user_id:%d", i)}, Types: []string{"user_id"},
			EventNames: []string{"Order", "track"},
			Events:     []audience.EventFact{{Name: 0, Type: 1, Day: int64(i), N: i + 2, First: 0, Last: int64(i)}}}
		many = append(many, f)
		ids = append(ids, f.ProfileID)
		want[f.ProfileID] = f
	}
	must(t, s.PutFacts(bg, many))
	sameFacts(t, "1,200 profiles", readFacts(t, s, ids...), want)
}
