package neo4jstore

import (
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/privacy"
)

// A compiled filter's text holds none of the filter's names, paths,
// values, purposes or ids: each of them is a parameter.
func TestCompiledFilterTextHoldsNoInput(t *testing.T) {
	const bad = "in`put'\" DETACH DELETE"
	yes := true
	where := []audience.PropertyFilter{{Path: bad + ".sub", Op: audience.OpStartsWith, Value: bad}}
	f := audience.Filter{And: []audience.Filter{
		{Trait: &audience.TraitCondition{Name: bad, Op: audience.OpEQ, Value: bad}},
		{Trait: &audience.TraitCondition{Name: bad, Op: audience.OpIN, Value: []any{bad}}},
		{Identifier: &audience.IdentifierCondition{Type: bad, Exists: &yes}},
		{Event: &audience.EventCondition{Name: bad, Type: bad, Where: where, Within: "P30D", Count: &audience.CountCondition{Op: audience.OpGTE, Value: 2}}},
		{Not: &audience.Filter{Consent: &audience.ConsentCondition{Purpose: bad, Status: privacy.StateGranted}}},
		{Or: []audience.Filter{
			{Computed: &audience.ComputedCondition{Name: "c", Op: audience.OpContains, Value: bad}},
			{InAudience: func() *string { s := bad; return &s }()},
		}},
	}}
	defs := map[string]audience.ComputedTrait{"c": {Name: "c", Aggregate: audience.AggMostFrequent, Event: bad, EventType: bad, Property: bad + ".p", Where: where, Window: "P7D"}}
	// Without an event first, and with one the statement starts from.
	driven := audience.Filter{And: append([]audience.Filter{{Event: &audience.EventCondition{Name: bad, Where: where, Within: "P1D"}}}, f.And...)}
	for _, q := range []audience.FilterQuery{
		{Filter: &f, Purpose: bad, Now: time.Now(), Sample: 1, Computed: defs},
		{Filter: &driven, Purpose: bad, Now: time.Now(), Sample: 1, Computed: defs},
	} {
		stmt, params, err := compileFilter(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"in`put", "DETACH", "DELETE", `put'`} {
			if strings.Contains(stmt, part) {
				t.Fatalf("the statement holds %q of the input:\n%s", part, stmt)
			}
		}
		if n := countIn(params, bad); n < 8 {
			t.Fatalf("the parameters hold the input %d times, want at least 8 (names, values, purpose, audience id): %v", n, params)
		}
	}
}

// countIn counts the strings in v, at any depth, that are s or start
// with s.
func countIn(v any, s string) int {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, s) {
			return 1
		}
	case []any:
		n := 0
		for _, e := range x {
			n += countIn(e, s)
		}
		return n
	case []string:
		n := 0
		for _, e := range x {
			n += countIn(e, s)
		}
		return n
	case map[string]any:
		n := 0
		for _, e := range x {
			n += countIn(e, s)
		}
		return n
	}
	return 0
}
