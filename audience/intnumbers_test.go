package audience_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// twoUsers is a store with its engine and membership keeper at
// audience.GenNow, and two user ids, u1 and u2, whose events are dated at,
// an hour before.
type twoUsers struct {
	ctx     context.Context
	st      audience.Store
	eng     *graph.Engine
	k       *keep.Keeper
	now, at time.Time
	u1, u2  graph.IdentifierRef
}

func newTwoUsers(s graph.Store) twoUsers {
	eng := graph.NewEngine(s, nil)
	now := audience.GenNow
	return twoUsers{ctx: context.Background(), st: s.(audience.Store), eng: eng,
		k:   keep.New(eng, s.(audience.Store), s.(privacy.ConsentStore), func() time.Time { return now }),
		now: now, at: now.Add(-time.Hour),
		u1: graph.IdentifierRef{Type: "user_id", Value: "u1"}, u2: graph.IdentifierRef{Type: "user_id", Value: "u2"}}
}

// profiles is the profiles of u1 and u2.
func (sc twoUsers) profiles(t *testing.T) (graph.Profile, graph.Profile) {
	t.Helper()
	p1, err := sc.eng.ProfileByIdentifier(sc.ctx, sc.u1)
	storetest.Must(t, err)
	p2, err := sc.eng.ProfileByIdentifier(sc.ctx, sc.u2)
	storetest.Must(t, err)
	return p1, p2
}

// Stores read integers in traits and properties back as int64 (as the
// collector gives them), non-integers as float64. Filters, event
// conditions and computed traits count both as numbers, on both stores,
// in Preview and in a kept audience. Hand-worked answers.
func TestIntegerValuesInFiltersAndComputedTraits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		sc := newTwoUsers(s)
		ctx, st, eng, k, now, at, u1, u2 := sc.ctx, sc.st, sc.eng, sc.k, sc.now, sc.at, sc.u1, sc.u2
		mk := func(id, typ, name string, ref graph.IdentifierRef, props, traits map[string]any) graph.Event {
			return graph.Event{ID: "test/" + id, Type: typ, Name: name, Channel: "web", Source: "test", Timestamp: at, ReceivedAt: at,
				Identifiers: []graph.IdentifierRef{ref}, Properties: props, Traits: traits}
		}
		for _, def := range []audience.ComputedTrait{
			{Name: "spent", Aggregate: audience.AggSum, Event: "Order", Property: "total", CreatedAt: now, UpdatedAt: now},
			{Name: "biggest", Aggregate: audience.AggMax, Event: "Order", Property: "total", CreatedAt: now, UpdatedAt: now},
			{Name: "items", Aggregate: audience.AggSum, Event: "Order", Property: "cart.items",
				Where: []audience.PropertyFilter{{Path: "acct", Op: audience.OpEQ, Value: json.Number("9007199254740993")}}, CreatedAt: now, UpdatedAt: now},
		} {
			storetest.Must(t, st.PutComputedTrait(ctx, def))
		}
		res, err := eng.ApplyBatch(ctx, []graph.Event{
			mk("i1", "identify", "", u1, nil, map[string]any{"score": int64(42), "accountId": int64(9007199254740993), "tags": []any{int64(7), "vip"}}),
			mk("i2", "identify", "", u2, nil, map[string]any{"score": 1.5, "accountId": int64(5)}),
			mk("o1", "track", "Order", u1, map[string]any{"total": int64(120), "acct": int64(9007199254740993), "cart": map[string]any{"items": int64(2)}}, nil),
			mk("o2", "track", "Order", u1, map[string]any{"total": int64(30), "acct": int64(9007199254740993), "cart": map[string]any{"items": int64(3)}}, nil),
			mk("o3", "track", "Order", u2, map[string]any{"total": 12.5, "acct": int64(5), "cart": map[string]any{"items": int64(1)}}, nil),
		})
		if err != nil || res.Stored != 5 {
			t.Fatalf("ApplyBatch: %+v, %v", res, err)
		}
		p1, p2 := sc.profiles(t)
		both := []string{p1.ID, p2.ID}
		slices.Sort(both)
		one, two, none := []string{p1.ID}, []string{p2.ID}, []string{}
		n := func(s string) json.Number { return json.Number(s) }
		trait := func(name string, op audience.Op, v any) *audience.Filter {
			return &audience.Filter{Trait: &audience.TraitCondition{Name: name, Op: op, Value: v}}
		}
		computed := func(name string, op audience.Op, v any) *audience.Filter {
			return &audience.Filter{Computed: &audience.ComputedCondition{Name: name, Op: op, Value: v}}
		}
		order := func(where ...audience.PropertyFilter) *audience.Filter {
			return &audience.Filter{Event: &audience.EventCondition{Name: "Order", Where: where}}
		}
		cases := []struct {
			what string
			f    *audience.Filter
			want []string
		}{
			{"score > 10", trait("score", audience.OpGT, n("10")), one},
			{"score = 42", trait("score", audience.OpEQ, n("42")), one},
			{"score = 42.0", trait("score", audience.OpEQ, 42.0), one},
			{"score < 2", trait("score", audience.OpLT, n("2")), two},
			{"score in [1.5, 42]", trait("score", audience.OpIN, []any{n("1.5"), n("42")}), both},
			{"accountId = 2^53+1", trait("accountId", audience.OpEQ, n("9007199254740993")), one},
			{"accountId > 100", trait("accountId", audience.OpGT, n("100")), one},
			{"tags contains 7", trait("tags", audience.OpContains, n("7")), one},
			{"an order over 100", order(audience.PropertyFilter{Path: "total", Op: audience.OpGT, Value: n("100")}), one},
			{"an order of 12.5", order(audience.PropertyFilter{Path: "total", Op: audience.OpEQ, Value: n("12.5")}), two},
			{"an order of 3 items", order(audience.PropertyFilter{Path: "cart.items", Op: audience.OpEQ, Value: n("3")}), one},
			{"spent = 150", computed("spent", audience.OpEQ, n("150")), one},
			{"spent >= 12.5", computed("spent", audience.OpGTE, n("12.5")), both},
			{"biggest = 120", computed("biggest", audience.OpEQ, n("120")), one},
			{"items of account 2^53+1 = 5", computed("items", audience.OpEQ, n("5")), one},
			{"spent = 151", computed("spent", audience.OpEQ, n("151")), none},
		}
		for _, c := range cases {
			got, ids, err := k.Preview(ctx, c.f, "", 5)
			if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if ids == nil {
				ids = []string{}
			}
			if got != len(c.want) || !reflect.DeepEqual(ids, c.want) {
				t.Errorf("Preview %s: %d %v, want %v", c.what, got, ids, c.want)
			}
		}
		// Kept audiences answer the same.
		for i, c := range cases {
			id := audience.NewAudienceID()
			storetest.Must(t, st.PutAudience(ctx, audience.Audience{ID: id, Name: c.what, Filter: *c.f, CreatedAt: now, UpdatedAt: now}))
			cases[i].what = id + " " + c.what
		}
		storetest.Must(t, k.RefreshAll(ctx))
		for _, c := range cases {
			id := c.what[:len(audience.NewAudienceID())]
			ms, err := st.Members(ctx, id, audience.Page{Limit: 10})
			storetest.Must(t, err)
			got := []string{}
			for _, m := range ms {
				got = append(got, m.ProfileID)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("kept audience %s: %v, want %v", c.what, got, c.want)
			}
		}
	})
}
