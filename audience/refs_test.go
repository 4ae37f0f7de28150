package audience

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/idgraph/cdp/graph"
)

func TestFilterReferences(t *testing.T) {
	a, b := "seg_"+strings.Repeat("a", 32), "seg_"+strings.Repeat("b", 32)
	f := Filter{And: []Filter{
		{Computed: &ComputedCondition{Name: "ltv", Op: OpGT, Value: 1.0}},
		{Or: []Filter{
			{InAudience: &b},
			{Not: &Filter{Computed: &ComputedCondition{Name: "orders", Op: OpExists}}},
		}},
		{Computed: &ComputedCondition{Name: "ltv", Op: OpLT, Value: 9.0}},
		{InAudience: &a},
		{Trait: &TraitCondition{Name: "ltv", Op: OpEQ, Value: b}},
	}}
	if got := f.ComputedNames(); !slices.Equal(got, []string{"ltv", "orders"}) {
		t.Errorf("ComputedNames = %v, want [ltv orders]", got)
	}
	if got := f.AudienceIDs(); !slices.Equal(got, []string{a, b}) {
		t.Errorf("AudienceIDs = %v, want [%s %s]", got, a, b)
	}
	var paths []string
	Walk(&f, "filter", func(_ *Filter, p string) { paths = append(paths, p) })
	want := []string{"filter", "filter.and[0]", "filter.and[1]", "filter.and[1].or[0]", "filter.and[1].or[1]",
		"filter.and[1].or[1].not", "filter.and[2]", "filter.and[3]", "filter.and[4]"}
	if !slices.Equal(paths, want) {
		t.Errorf("Walk visits %v, want %v", paths, want)
	}
	if m := MissingRef(&f, func(string) bool { return true }, func(string) bool { return true }); m != nil {
		t.Errorf("MissingRef with everything stored = %+v", *m)
	}
	m := MissingRef(&f, func(n string) bool { return n == "ltv" }, func(string) bool { return true })
	if m == nil || m.Path != ".and[1].or[1].not.computed.name" || m.Computed != "orders" {
		t.Fatalf("MissingRef without orders = %+v", m)
	}
	if got := m.At("input.filter").Message; got != `input.filter.and[1].or[1].not.computed.name: computed trait "orders" is not defined` {
		t.Errorf("At(input.filter) = %q", got)
	}
	m = MissingRef(&f, nil, nil)
	if m == nil || m.Error() != `filter.and[0].computed.name: computed trait "ltv" is not defined` || graph.ErrorCode(m) != graph.EINVALID {
		t.Fatalf("MissingRef with nothing stored = %v", m)
	}
	bad := "not an id " + strings.Repeat("x", 100)
	m = MissingRef(&Filter{InAudience: &bad}, nil, nil)
	if want := `filter.inAudience: audience "not an id ` + strings.Repeat("x", 54) + `"… does not exist`; m == nil || m.Error() != want {
		t.Fatalf("MissingRef of a long bad id = %v, want %s", m, want)
	}

	users := []Audience{{ID: a, Filter: f}, {ID: b, Filter: Filter{InAudience: &b}}}
	if got := ComputedUsers(users, "orders"); !slices.Equal(got, []string{a}) {
		t.Errorf("ComputedUsers(orders) = %v", got)
	}
	if got := AudienceUsers(users, b); !slices.Equal(got, []string{a}) { // not b itself
		t.Errorf("AudienceUsers(b) = %v", got)
	}
	if got := AudienceUsers(users, a); len(got) != 0 {
		t.Errorf("AudienceUsers(a) = %v", got)
	}
	e := &InUseError{Computed: "orders", Users: []string{a, b}}
	var ge *graph.Error
	if !errors.As(e, &ge) || ge.Code != graph.ECONFLICT ||
		ge.Message != "computed trait orders is used by the filter of audience "+a+", "+b+"; change that filter first" {
		t.Errorf("InUseError reads %v", ge)
	}
}

// The store's refusal of a filter naming what is not stored is Check's, a
// path and a message alike; and the stored form of a filter holds the
// RefNeedle of everything it names, so that a store may look for the
// filters naming one by it.
func TestMissingRefIsChecks(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := drawPalette(t)
		f := p.filter(t, 3)
		computed := map[string]bool{}
		for _, n := range genComputed {
			computed[n] = rapid.Bool().Draw(t, "stored "+n)
		}
		auds := map[string]bool{}
		for _, id := range genAudienceIDs {
			auds[id] = rapid.Bool().Draw(t, "stored "+id)
		}
		env := genEnv()
		env.Computed = func(n string) bool { return computed[n] }
		env.Audience = func(id string) bool { return auds[id] }
		want := Check(&f, env, "filter")
		m := MissingRef(&f, env.Computed, env.Audience)
		switch {
		case m == nil && want != nil:
			t.Fatalf("MissingRef finds nothing, Check refuses: %v", want)
		case m != nil && (want == nil || graph.ErrorCode(m) != graph.ErrorCode(want) || m.Error() != want.Error()):
			t.Fatalf("MissingRef = %v, Check = %v", m, want)
		}

		b, err := EncodeFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range append(f.ComputedNames(), f.AudienceIDs()...) {
			if !strings.Contains(string(b), RefNeedle(ref)) {
				t.Fatalf("the stored filter %s does not hold %s", b, RefNeedle(ref))
			}
		}
	})
}

// FindCycle reads every audience the conditions reach once, one call per
// level, never self's stored filter, and reports the first condition (in
// Check's order) that reaches self, with its shortest chain; of two
// chains as short, the one through the audience named first.
func TestFindCycle(t *testing.T) {
	id := func(c byte) string { return "seg_" + strings.Repeat(string(c), 32) }
	in := func(ids ...string) Filter {
		var or []Filter
		for i := range ids {
			or = append(or, Filter{InAudience: &ids[i]})
		}
		return Filter{Or: or}
	}
	s, x, y, z, w, v := id('5'), id('a'), id('b'), id('c'), id('d'), id('e')
	stored := map[string]Filter{
		x: in(z, y), // z named first, though it sorts after y
		y: in(s),
		z: in(s),
		w: in(v),
		v: {},
		s: in(w), // self's stored filter, which the put replaces
	}
	for _, c := range []struct {
		name   string
		f      Filter
		path   string
		chain  []string
		levels [][]string
	}{
		{"through the audience named first", in(x), ".or[0].inAudience", []string{x, z, s}, [][]string{{x}, {y, z}}},
		{"the first condition, though the second is shorter", in(w, x, y), ".or[1].inAudience", []string{x, z, s}, [][]string{{x, y, w}, {z, v}}}, // each level in id order
		{"itself", Filter{Not: &Filter{InAudience: &s}}, ".not.inAudience", []string{s}, nil},
		{"no cycle", in(w), "", nil, [][]string{{w}, {v}}},
		{"an audience not stored", in(id('f')), "", nil, [][]string{{id('f')}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var levels [][]string
			got, err := FindCycle(s, &c.f, func(ids []string) (map[string]Filter, error) {
				levels = append(levels, slices.Clone(ids))
				out := map[string]Filter{}
				for _, i := range ids {
					if f, ok := stored[i]; ok {
						out[i] = f
					}
				}
				return out, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(levels, c.levels, slices.Equal) {
				t.Errorf("levels read %v, want %v", levels, c.levels)
			}
			switch {
			case c.chain == nil && got != nil:
				t.Errorf("refused with %+v, want no cycle", *got)
			case c.chain != nil && (got == nil || got.Path != c.path || got.Audience != s || !slices.Equal(got.Chain, c.chain)):
				t.Errorf("refused with %+v, want %s through %v", got, c.path, c.chain)
			}
		})
	}
	errRead := errors.New("read failed")
	f := in(x)
	if _, err := FindCycle(s, &f, func([]string) (map[string]Filter, error) { return nil, errRead }); !errors.Is(err, errRead) {
		t.Errorf("a failed read gives %v, want it", err)
	}
}
