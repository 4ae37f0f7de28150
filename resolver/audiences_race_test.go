package resolver

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/audiencetest"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// interleaved is a real audience store whose next PutAudience,
// ReplaceAudience, DeleteAudience or DeleteComputedTrait first runs between, a write made
// on the same store: what another request commits after the resolver's
// checks and before its own write.
type interleaved struct {
	audience.Store
	mu      sync.Mutex
	between func()
}

func (s *interleaved) next(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.between = f
}

func (s *interleaved) interleave() {
	s.mu.Lock()
	f := s.between
	s.between = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

func (s *interleaved) PutAudience(ctx context.Context, a audience.Audience) error {
	s.interleave()
	return s.Store.PutAudience(ctx, a)
}

func (s *interleaved) ReplaceAudience(ctx context.Context, a audience.Audience, ifUpdatedAt time.Time) (time.Time, error) {
	s.interleave()
	return s.Store.ReplaceAudience(ctx, a, ifUpdatedAt)
}

func (s *interleaved) DeleteAudience(ctx context.Context, id string) (bool, error) {
	s.interleave()
	return s.Store.DeleteAudience(ctx, id)
}

func (s *interleaved) DeleteComputedTrait(ctx context.Context, name string) (bool, error) {
	s.interleave()
	return s.Store.DeleteComputedTrait(ctx, name)
}

// A computed trait or an audience deleted after createAudience checked its
// filter, or an audience naming one put after deleteComputedTrait or
// deleteAudience started, is refused as it would be had it come first,
// with the same message: the store checks in the transaction of the
// write. Nothing the refused mutations wrote is stored, and every stored
// filter names only what is stored.
func TestAudienceReferencesCheckedInTheWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st := &interleaved{Store: s.(audience.Store)}
		cfg := testConfig()
		cfg.Audiences = st
		e := newEnv(t, s, cfg, nil)
		ctx := context.Background()
		refusedWith := func(query string, vars map[string]any, code, msg string) {
			t.Helper()
			r := e.refused(query, vars, code)
			if r.Errors[0].Message != msg {
				t.Fatalf("error message\n %q\nwant\n %q", r.Errors[0].Message, msg)
			}
		}
		put := func(name string, f audience.Filter) string {
			t.Helper()
			a := audience.Audience{ID: audience.NewAudienceID(), Name: name, Filter: f, CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := st.Store.PutAudience(ctx, a); err != nil {
				t.Fatalf("put audience %s: %v", name, err)
			}
			return a.ID
		}
		pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)

		// createAudience using ltv, deleted once the filter was checked.
		defineCT(e, map[string]any{"name": "ltv", "aggregate": "SUM", "event": "Order Completed", "property": "total"})
		st.next(func() {
			if ok, err := st.Store.DeleteComputedTrait(ctx, "ltv"); err != nil || !ok {
				t.Errorf("delete ltv between: %v, %v", ok, err)
			}
		})
		refusedWith(createAudienceOp, map[string]any{"in": map[string]any{"name": "big spenders",
			"filter": jsonOf(t, `{"and":[{"trait":{"name":"plan","op":"EXISTS"}},{"computed":{"name":"ltv","op":"GT","value":100}}]}`)}},
			CodeInvalidArgument, `input.filter.and[1].computed.name: computed trait "ltv" is not defined`)

		// createAudience naming A, deleted once the filter was checked.
		a := createAudience(e, map[string]any{"name": "A", "filter": pro})
		st.next(func() {
			if ok, err := st.Store.DeleteAudience(ctx, a.ID); err != nil || !ok {
				t.Errorf("delete A between: %v, %v", ok, err)
			}
		})
		refusedWith(createAudienceOp, map[string]any{"in": map[string]any{"name": "in A",
			"filter": map[string]any{"or": []any{pro, map[string]any{"not": map[string]any{"inAudience": a.ID}}}}}},
			CodeInvalidArgument, "input.filter.or[1].not.inAudience: audience "+a.ID+" does not exist")

		// updateAudience naming D, deleted once the filter was checked.
		d := createAudience(e, map[string]any{"name": "D", "filter": pro})
		u := createAudience(e, map[string]any{"name": "U", "filter": pro})
		st.next(func() {
			if ok, err := st.Store.DeleteAudience(ctx, d.ID); err != nil || !ok {
				t.Errorf("delete D between: %v, %v", ok, err)
			}
		})
		refusedWith(updateAudienceOp, map[string]any{"id": u.ID, "in": map[string]any{"name": "U", "filter": map[string]any{"inAudience": d.ID}}},
			CodeInvalidArgument, "input.filter.inAudience: audience "+d.ID+" does not exist")

		// updateAudience of V naming W, which is made to name V once the
		// filter was checked: the cycle is refused as checkCycle words it.
		w := createAudience(e, map[string]any{"name": "W", "filter": pro})
		v := createAudience(e, map[string]any{"name": "V", "filter": pro})
		st.next(func() {
			got, err := st.Store.Audiences(ctx, []string{w.ID})
			x, ok := got[w.ID]
			if err != nil || !ok {
				t.Errorf("read W between: %v, %v", ok, err)
				return
			}
			x.Filter = audience.Filter{Or: []audience.Filter{{InAudience: &v.ID}}}
			if err := st.Store.PutAudience(ctx, x); err != nil {
				t.Errorf("W naming V between: %v", err)
			}
		})
		refusedWith(updateAudienceOp, map[string]any{"id": v.ID, "in": map[string]any{"name": "V", "filter": map[string]any{"inAudience": w.ID}}},
			CodeInvalidArgument, "input.filter.inAudience: audience "+v.ID+" would contain itself (inAudience "+w.ID+" -> "+v.ID+")")

		// deleteComputedTrait of orders, which an audience put meanwhile uses.
		defineCT(e, map[string]any{"name": "orders", "aggregate": "COUNT", "event": "Order Completed"})
		var c string
		st.next(func() {
			c = put("C", audience.Filter{Computed: &audience.ComputedCondition{Name: "orders", Op: audience.OpGTE, Value: 1}})
		})
		r := e.post(`mutation { deleteComputedTrait(name: "orders") }`, nil)
		checkRefused(t, r, CodeConflict)
		if want := `argument "name": computed trait orders is used by the filter of audience ` + c + `; change that filter first`; r.Errors[0].Message != want {
			t.Fatalf("deleteComputedTrait: error message\n %q\nwant\n %q", r.Errors[0].Message, want)
		}

		// deleteAudience of B, which an audience put meanwhile names.
		b := createAudience(e, map[string]any{"name": "B", "filter": pro})
		var n string
		st.next(func() {
			n = put("names B", audience.Filter{And: []audience.Filter{{InAudience: &b.ID}, {Identifier: &audience.IdentifierCondition{Type: "email"}}}})
		})
		r = e.post(`mutation($id: ID!) { deleteAudience(id: $id) }`, map[string]any{"id": b.ID})
		checkRefused(t, r, CodeConflict)
		if want := `argument "id": the audience is named by inAudience in audience ` + n + `; change that filter first`; r.Errors[0].Message != want {
			t.Fatalf("deleteAudience: error message\n %q\nwant\n %q", r.Errors[0].Message, want)
		}

		// What is stored: U (its old filter), V (its old filter), W, B, C,
		// the audience naming B, and orders; every reference holds.
		var names []string
		defs, err := st.ComputedTraits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range defs {
			names = append(names, d.Name)
		}
		if !reflect.DeepEqual(names, []string{"orders"}) {
			t.Errorf("computed traits %v, want orders", names)
		}
		page, err := st.AudiencePage(ctx, audience.Page{Limit: audience.MaxPage})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, x := range page {
			got[x.ID] = true
		}
		if want := map[string]bool{u.ID: true, v.ID: true, w.ID: true, b.ID: true, c: true, n: true}; !reflect.DeepEqual(got, want) {
			t.Errorf("audiences stored %v, want U, V, W, B, C and the one naming B %v", got, want)
		}
		audiencetest.CheckReferences(t, s.(audiencetest.Store))
		for _, x := range page {
			if (x.ID == u.ID || x.ID == v.ID) && x.Filter.InAudience != nil {
				t.Errorf("%s took the refused filter: %+v", x.Name, x.Filter)
			}
		}
		// Each refusal is audited with its code.
		for action, want := range map[string][]string{
			"createAudience":      {CodeInvalidArgument, CodeInvalidArgument, "ok", "ok", "ok", "ok", "ok", "ok"},
			"updateAudience":      {CodeInvalidArgument, CodeInvalidArgument},
			"deleteComputedTrait": {CodeConflict},
			"deleteAudience":      {CodeConflict},
		} {
			if got := auditOutcomes(t, s, action); !reflect.DeepEqual(got, want) {
				t.Errorf("%s audit outcomes %v, want %v", action, got, want)
			}
		}
	})
}
