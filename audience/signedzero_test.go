package audience_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// negZero is -0.0, which a Go constant cannot spell.
var negZero = math.Copysign(0, -1)

// zeroCases are profiles' values of v, in event order, with the MIN and
// MAX worked by hand under the rule: -0 is 0, and a zero MIN or MAX is
// +0 whatever the order or sign of the zeros folded.
var zeroCases = []struct {
	vs       []float64
	min, max float64
}{
	{[]float64{0, negZero}, 0, 0},
	{[]float64{negZero, 0}, 0, 0},
	{[]float64{negZero}, 0, 0},
	{[]float64{negZero, negZero}, 0, 0},
	{[]float64{0}, 0, 0},
	{[]float64{negZero, 2}, 0, 2},
	{[]float64{-1, negZero}, -1, 0},
}

var zeroDefs = []audience.ComputedTrait{
	{Name: "lo", Aggregate: audience.AggMin, Event: "A", Property: "v"},
	{Name: "hi", Aggregate: audience.AggMax, Event: "A", Property: "v"},
}

// sameNumber reports whether got is the float64 want, sign of zero
// included.
func sameNumber(got any, want float64) bool {
	f, ok := got.(float64)
	return ok && f == want && math.Signbit(f) == math.Signbit(want)
}

// MIN and MAX over -0.0 and +0.0 give +0.0, never -0.0, whichever comes
// first: Compute over events as given.
func TestComputedMinMaxOfSignedZeros(t *testing.T) {
	now := audience.GenNow
	for i, c := range zeroCases {
		var evs []graph.Event
		for j, v := range c.vs {
			evs = append(evs, graph.Event{ID: fmt.Sprintf("e%d", j), Type: "track", Name: "A", Timestamp: now.Add(time.Duration(j-10) * time.Hour),
				Properties: map[string]any{"v": v}})
		}
		if got := zeroDefs[0].Compute(evs, now); !sameNumber(got, c.min) {
			t.Errorf("case %d %v: MIN %#v, want %#v", i, c.vs, got, c.min)
		}
		if got := zeroDefs[1].Compute(evs, now); !sameNumber(got, c.max) {
			t.Errorf("case %d %v: MAX %#v, want %#v", i, c.vs, got, c.max)
		}
	}
}

// The same rule on both stores: the values the keeper computes from the
// stored events, and on Neo4j those its statements compute (a
// lookalike's rows, where computed traits are folded in Cypher).
func TestComputedMinMaxOfSignedZerosOnStores(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		eng := graph.NewEngine(s, nil)
		now := audience.GenNow
		var evs []graph.Event
		user := func(i int) graph.IdentifierRef {
			return graph.IdentifierRef{Type: "user_id", Value: fmt.Sprintf("u%d", i)}
		}
		for i, c := range zeroCases {
			for j, v := range c.vs {
				evs = append(evs, graph.Event{ID: fmt.Sprintf("test/z%d-%d", i, j), Type: "track", Name: "A", Channel: "web", Source: "test",
					Timestamp: now.Add(time.Duration(j-10) * time.Hour), ReceivedAt: now,
					Identifiers: []graph.IdentifierRef{user(i)}, Properties: map[string]any{"v": v}})
			}
		}
		if _, err := eng.ApplyBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		var ids []string
		which := map[string]int{}
		for i := range zeroCases {
			p, err := eng.ProfileByIdentifier(ctx, user(i))
			storetest.Must(t, err)
			ids = append(ids, p.ID)
			which[p.ID] = i
		}
		subs, err := keep.Subjects(ctx, eng, s.(audience.Store), s.(privacy.ConsentStore), zeroDefs, ids, now)
		storetest.Must(t, err)
		check := func(how string, i int, computed map[string]any) {
			c := zeroCases[i]
			if !sameNumber(computed["lo"], c.min) || !sameNumber(computed["hi"], c.max) {
				t.Errorf("%s, case %d %v: MIN %#v MAX %#v, want %#v and %#v", how, i, c.vs, computed["lo"], computed["hi"], c.min, c.max)
			}
		}
		for i, id := range ids {
			check("keeper", i, subs[id].Computed)
		}
		rd, ok := s.(intel.LookalikeReader)
		if !ok {
			return // the embedded store computes only in Go
		}
		scope := audience.FilterQuery{Now: now, Computed: map[string]audience.ComputedTrait{"lo": zeroDefs[0], "hi": zeroDefs[1]}}
		rows := 0
		storetest.Must(t, rd.LookalikeRows(ctx, "seg_"+fmt.Sprintf("%032d", 0), scope, func(r intel.LookalikeRow) error {
			rows++
			check("statement", which[r.ProfileID], r.Computed)
			return nil
		}))
		if rows != len(zeroCases) {
			t.Errorf("%d rows, want %d", rows, len(zeroCases))
		}
	})
}

// FIRST, LAST and MOST_FREQUENT of -0.0 give 0 on both stores, as the
// stored properties read back: the keeper's values and, on Neo4j, those
// its statements compute.
func TestComputedFirstLastMostFrequentOfNegativeZero(t *testing.T) {
	defs := []audience.ComputedTrait{
		{Name: "first", Aggregate: audience.AggFirst, Event: "A", Property: "v"},
		{Name: "last", Aggregate: audience.AggLast, Event: "A", Property: "v"},
		{Name: "most", Aggregate: audience.AggMostFrequent, Event: "A", Property: "v"},
	}
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		eng := graph.NewEngine(s, nil)
		now := audience.GenNow
		u := graph.IdentifierRef{Type: "user_id", Value: "u"}
		var evs []graph.Event
		for j := range 2 {
			evs = append(evs, graph.Event{ID: fmt.Sprintf("test/z%d", j), Type: "track", Name: "A", Channel: "web", Source: "test",
				Timestamp: now.Add(time.Duration(j-10) * time.Hour), ReceivedAt: now,
				Identifiers: []graph.IdentifierRef{u}, Properties: map[string]any{"v": negZero}})
		}
		if _, err := eng.ApplyBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
		p, err := eng.ProfileByIdentifier(ctx, u)
		storetest.Must(t, err)
		check := func(how string, computed map[string]any) {
			for _, d := range defs {
				// The value is a number 0 (an int64 or a float64 +0).
				v := computed[d.Name]
				if f, ok := v.(float64); ok && (f != 0 || math.Signbit(f)) || !ok && v != any(int64(0)) {
					t.Errorf("%s: %s %#v, want 0", how, d.Aggregate, v)
				}
			}
		}
		subs, err := keep.Subjects(ctx, eng, s.(audience.Store), s.(privacy.ConsentStore), defs, []string{p.ID}, now)
		storetest.Must(t, err)
		check("keeper", subs[p.ID].Computed)
		rd, ok := s.(intel.LookalikeReader)
		if !ok {
			return
		}
		scope := audience.FilterQuery{Now: now, Computed: map[string]audience.ComputedTrait{}}
		for _, d := range defs {
			scope.Computed[d.Name] = d
		}
		storetest.Must(t, rd.LookalikeRows(ctx, "seg_"+fmt.Sprintf("%032d", 0), scope, func(r intel.LookalikeRow) error {
			check("statement", r.Computed)
			return nil
		}))
	})
}
