package audience

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// absent marks a value the subject does not have at all.
type absentT struct{}

var absent = absentT{}

type opCase struct {
	v    any // the subject's value, or absent
	op   Op
	w    any // the filter's value
	want bool
}

// opCases are worked by hand from the rules in the package documentation.
var opCases = []opCase{
	// EQ: same type and equal; strings case-sensitive; numbers as numbers.
	{"abc", OpEQ, "abc", true},
	{"abc", OpEQ, "ABC", false},
	{"abc", OpEQ, "abc ", false},
	{"", OpEQ, "", true},
	{5, OpEQ, json.Number("5"), true},
	{5, OpEQ, 5.0, true},
	{json.Number("5.0"), OpEQ, int64(5), true},
	{float64(0.1), OpEQ, json.Number("0.1"), true},
	{5, OpEQ, 6, false},
	{5, OpEQ, "5", false},
	{"5", OpEQ, 5, false},
	{true, OpEQ, true, true},
	{false, OpEQ, false, true},
	{true, OpEQ, false, false},
	{true, OpEQ, "true", false},
	{1, OpEQ, true, false},
	{[]any{"a"}, OpEQ, "a", false},
	{map[string]any{"a": 1}, OpEQ, "a", false},
	{absent, OpEQ, "x", false},
	{nil, OpEQ, "x", false},
	{json.Number("x1"), OpEQ, "x1", false},

	// NEQ: same type and different; false on a missing value or a type
	// mismatch.
	{"abc", OpNEQ, "abd", true},
	{"abc", OpNEQ, "abc", false},
	{"abc", OpNEQ, "ABC", true},
	{5, OpNEQ, 6, true},
	{5, OpNEQ, json.Number("5.0"), false},
	{"5", OpNEQ, 5, false},
	{5, OpNEQ, "6", false},
	{true, OpNEQ, false, true},
	{true, OpNEQ, true, false},
	{true, OpNEQ, 1, false},
	{absent, OpNEQ, "x", false},
	{nil, OpNEQ, "x", false},
	{[]any{"a"}, OpNEQ, "b", false},
	{map[string]any{}, OpNEQ, "b", false},

	// GT, GTE, LT, LTE: numbers as numbers, strings in byte order.
	{5, OpGT, 4, true},
	{5, OpGT, 5, false},
	{5, OpGTE, 5, true},
	{5, OpGTE, 5.5, false},
	{5, OpLT, 5.5, true},
	{5, OpLT, 5, false},
	{5, OpLTE, 5, true},
	{5, OpLTE, 4, false},
	{-1, OpLT, 0, true},
	{2.5, OpLTE, json.Number("2.5"), true},
	{json.Number("10"), OpGT, json.Number("9"), true}, // not "10" < "9"
	{int64(1) << 40, OpGT, 1e12, true},
	{"b", OpGT, "a", true},
	{"abc", OpGT, "ab", true},
	{"B", OpGT, "a", false}, // 'B' is 0x42, 'a' 0x61
	{"10", OpGT, "9", false},
	{"é", OpGT, "z", true}, // 0xC3 > 'z'
	{"a", OpGTE, "a", true},
	{"a", OpLT, "b", true},
	{"b", OpLTE, "a", false},
	{"", OpLT, "a", true},
	{5, OpGT, "4", false},
	{"5", OpGT, 4, false},
	{"5", OpLTE, 9, false},
	{true, OpGT, 0, false},
	{true, OpGTE, "a", false},
	{absent, OpGT, 0, false},
	{nil, OpLT, 0, false},
	{[]any{9}, OpGT, 0, false},
	{map[string]any{"a": 9}, OpLT, "z", false},

	// IN: equal to any element of the list.
	{"pro", OpIN, []any{"team", "pro"}, true},
	{"Pro", OpIN, []any{"pro"}, false},
	{3, OpIN, []any{json.Number("3")}, true},
	{json.Number("3.0"), OpIN, []any{"a", 3}, true},
	{3, OpIN, []any{"3"}, false},
	{true, OpIN, []any{true}, true},
	{true, OpIN, []any{"true", 1}, false},
	{"a", OpIN, []string{"b", "a"}, true},
	{absent, OpIN, []any{"x"}, false},
	{nil, OpIN, []any{"x"}, false},
	{[]any{"a"}, OpIN, []any{"a"}, false},
	{map[string]any{}, OpIN, []any{"a"}, false},

	// CONTAINS: substring of a string, element of a list.
	{"abcdef", OpContains, "cde", true},
	{"abc", OpContains, "C", false},
	{"abc", OpContains, "", true},
	{"abc", OpContains, "abcd", false},
	{"a5", OpContains, 5, false},
	{[]any{"a", 1, true}, OpContains, "a", true},
	{[]any{"a", 1, true}, OpContains, 1.0, true},
	{[]any{"a", json.Number("1"), true}, OpContains, 1, true},
	{[]any{"a", 1, true}, OpContains, true, true},
	{[]any{"a", 1, true}, OpContains, "1", false},
	{[]any{"ab"}, OpContains, "a", false},
	{[]any{"a", 1, true}, OpContains, false, false},
	{[]any{}, OpContains, "a", false},
	{[]string{"x", "y"}, OpContains, "y", true},
	{[]any{[]any{"a"}}, OpContains, "a", false},
	{[]any{nil}, OpContains, "a", false},
	{5, OpContains, 5, false},
	{true, OpContains, true, false},
	{map[string]any{"a": 1}, OpContains, "a", false},
	{absent, OpContains, "a", false},
	{nil, OpContains, "a", false},

	// STARTS_WITH: strings only.
	{"abc", OpStartsWith, "ab", true},
	{"abc", OpStartsWith, "abc", true},
	{"abc", OpStartsWith, "", true},
	{"abc", OpStartsWith, "bc", false},
	{"abc", OpStartsWith, "AB", false},
	{"ab", OpStartsWith, "abc", false},
	{123, OpStartsWith, "1", false},
	{[]any{"ab"}, OpStartsWith, "a", false},
	{absent, OpStartsWith, "a", false},
	{nil, OpStartsWith, "", false},

	// EXISTS and NOT_EXISTS: present and not null.
	{"", OpExists, nil, true},
	{0, OpExists, nil, true},
	{false, OpExists, nil, true},
	{[]any{}, OpExists, nil, true},
	{map[string]any{}, OpExists, nil, true},
	{nil, OpExists, nil, false},
	{absent, OpExists, nil, false},
	{"", OpNotExists, nil, false},
	{0, OpNotExists, nil, false},
	{false, OpNotExists, nil, false},
	{[]any{}, OpNotExists, nil, false},
	{nil, OpNotExists, nil, true},
	{absent, OpNotExists, nil, true},
	{[]any(nil), OpNotExists, nil, true},
	{map[string]any(nil), OpExists, nil, false},
	{[]string(nil), OpExists, nil, false},
}

// TestEvalOps runs every case through a trait, a computed trait and an
// event's property at a nested path: all three compare alike.
func TestEvalOps(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	env := testEnv(t)
	for _, c := range opCases {
		s := &Subject{Traits: map[string]any{"other": "x"}, Computed: map[string]any{"ltv": 1}}
		props := map[string]any{"order": map[string]any{"other": 1}}
		if c.v != absent {
			s.Traits["t"] = c.v
			s.Computed["orders"] = c.v
			props["order"].(map[string]any)["total"] = c.v
		}
		s.Events = []graph.Event{{ID: "e1", Type: "track", Name: "Order", Timestamp: now, Properties: props}}
		filters := map[string]*Filter{
			"trait":    {Trait: &TraitCondition{Name: "t", Op: c.op, Value: c.w}},
			"computed": {Computed: &ComputedCondition{Name: "orders", Op: c.op, Value: c.w}},
			"event":    {Event: &EventCondition{Where: []PropertyFilter{{Path: "order.total", Op: c.op, Value: c.w}}}},
		}
		for kind, f := range filters {
			if err := Check(f, env, "filter"); err != nil {
				t.Fatalf("case %v %s %v: %v", c.v, c.op, c.w, err)
			}
			if got := f.Eval(s, now); got != c.want {
				t.Errorf("%s: %#v %s %#v = %v, want %v", kind, c.v, c.op, c.w, got, c.want)
			}
		}
	}
}

func TestEvalNEQIsNotNotEQ(t *testing.T) {
	now := time.Now()
	s := &Subject{Traits: map[string]any{"n": 5}}
	for _, c := range []struct {
		f    Filter
		want bool
	}{
		{Filter{Trait: &TraitCondition{Name: "plan", Op: OpNEQ, Value: "pro"}}, false},
		{Filter{Not: &Filter{Trait: &TraitCondition{Name: "plan", Op: OpEQ, Value: "pro"}}}, true},
		{Filter{Trait: &TraitCondition{Name: "n", Op: OpNEQ, Value: "5"}}, false},
		{Filter{Not: &Filter{Trait: &TraitCondition{Name: "n", Op: OpEQ, Value: "5"}}}, true},
	} {
		if got := c.f.Eval(s, now); got != c.want {
			b, _ := json.Marshal(c.f)
			t.Errorf("%s = %v, want %v", b, got, c.want)
		}
	}
}

func TestEvalEvents(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ev := func(id, typ, name string, at time.Time, props map[string]any) graph.Event {
		return graph.Event{ID: id, Type: typ, Name: name, Timestamp: at, Properties: props}
	}
	s := &Subject{Events: []graph.Event{
		ev("1", "track", "Order Completed", now.Add(-1*day), map[string]any{"total": 120, "currency": "EUR", "coupon": nil}),
		ev("2", "track", "Order Completed", now.Add(-10*day), map[string]any{"total": json.Number("80.5"), "currency": "USD"}),
		ev("3", "track", "Order Completed", now.Add(-40*day), map[string]any{"total": 300.0, "currency": "EUR"}),
		ev("4", "track", "Product Viewed", now.Add(-2*day), map[string]any{"product": map[string]any{"sku": "A-1", "tags": []any{"red", "sale"}}}),
		ev("5", "page", "", now.Add(-3*day), nil),
		ev("6", "identify", "", now.Add(-30*day), map[string]any{"product": "flat"}),
		// Exactly at the start of a P1M window (28 February, clamped).
		ev("7", "track", "Signed In", time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC), nil),
		// One nanosecond before it.
		ev("8", "track", "Signed In", time.Date(2026, 2, 28, 11, 59, 59, 999999999, time.UTC), nil),
		// In the future: within bounds only from below.
		ev("9", "track", "Signed In", now.Add(day), nil),
	}}
	cnt := func(op Op, v int) *CountCondition { return &CountCondition{Op: op, Value: v} }
	for _, c := range []struct {
		name string
		c    EventCondition
		want bool
	}{
		{"any event", EventCondition{}, true},
		{"by name", EventCondition{Name: "Order Completed", Count: cnt(OpEQ, 3)}, true},
		{"by name, not 2", EventCondition{Name: "Order Completed", Count: cnt(OpEQ, 2)}, false},
		{"name is case-sensitive", EventCondition{Name: "order completed"}, false},
		{"by type", EventCondition{Type: "track", Count: cnt(OpEQ, 7)}, true},
		{"by type page", EventCondition{Type: "page", Count: cnt(OpEQ, 1)}, true},
		{"name and type", EventCondition{Name: "Order Completed", Type: "page"}, false},
		{"all", EventCondition{Count: cnt(OpEQ, 9)}, true},
		{"within P30D", EventCondition{Name: "Order Completed", Within: "P30D", Count: cnt(OpEQ, 2)}, true},
		{"within P1W", EventCondition{Name: "Order Completed", Within: "P1W", Count: cnt(OpEQ, 1)}, true},
		{"within PT12H", EventCondition{Name: "Order Completed", Within: "PT12H"}, false},
		{"within P1M from the window's first instant", EventCondition{Name: "Signed In", Within: "P1M", Count: cnt(OpEQ, 2)}, true},
		{"P30D includes the identify 30 days back", EventCondition{Type: "identify", Within: "P30D"}, true},
		{"where total GT 100", EventCondition{Name: "Order Completed", Where: []PropertyFilter{{Path: "total", Op: OpGT, Value: 100}}, Count: cnt(OpEQ, 2)}, true},
		{"where total GT 100 within P30D", EventCondition{Name: "Order Completed", Within: "P30D", Where: []PropertyFilter{{Path: "total", Op: OpGT, Value: 100}}, Count: cnt(OpEQ, 1)}, true},
		{"two wheres", EventCondition{Where: []PropertyFilter{{Path: "total", Op: OpLT, Value: 200}, {Path: "currency", Op: OpEQ, Value: "EUR"}}, Count: cnt(OpEQ, 1)}, true},
		{"where IN", EventCondition{Where: []PropertyFilter{{Path: "currency", Op: OpIN, Value: []any{"USD", "GBP"}}}, Count: cnt(OpEQ, 1)}, true},
		{"where null coupon", EventCondition{Where: []PropertyFilter{{Path: "coupon", Op: OpNotExists}}, Count: cnt(OpEQ, 9)}, true},
		{"where coupon exists", EventCondition{Where: []PropertyFilter{{Path: "coupon", Op: OpExists}}}, false},
		{"nested path", EventCondition{Where: []PropertyFilter{{Path: "product.sku", Op: OpStartsWith, Value: "A-"}}, Count: cnt(OpEQ, 1)}, true},
		{"nested list", EventCondition{Where: []PropertyFilter{{Path: "product.tags", Op: OpContains, Value: "sale"}}, Count: cnt(OpEQ, 1)}, true},
		{"path through a string is missing", EventCondition{Where: []PropertyFilter{{Path: "product.sku", Op: OpNotExists}}, Count: cnt(OpEQ, 8)}, true},
		{"path through a list is missing", EventCondition{Where: []PropertyFilter{{Path: "product.tags.0", Op: OpExists}}}, false},
		{"count NEQ", EventCondition{Name: "Order Completed", Count: cnt(OpNEQ, 3)}, false},
		{"count GT", EventCondition{Name: "Order Completed", Count: cnt(OpGT, 2)}, true},
		{"count GTE", EventCondition{Name: "Order Completed", Count: cnt(OpGTE, 4)}, false},
		{"count LT", EventCondition{Name: "Order Completed", Count: cnt(OpLT, 4)}, true},
		{"count LTE", EventCondition{Name: "Order Completed", Count: cnt(OpLTE, 2)}, false},
		{"none of a name", EventCondition{Name: "Refunded", Count: cnt(OpEQ, 0)}, true},
		{"none of a name, LT 1", EventCondition{Name: "Refunded", Count: cnt(OpLT, 1)}, true},
		{"default is at least one", EventCondition{Name: "Refunded"}, false},
	} {
		f := &Filter{Event: &c.c}
		if err := Check(f, Env{}, "filter"); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := f.Eval(s, now); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	// No events at all.
	if got := (&Filter{Event: &EventCondition{Count: cnt(OpEQ, 0)}}).Eval(&Subject{}, now); !got {
		t.Errorf("count EQ 0 over no events = false, want true")
	}
	if got := (&Filter{Event: &EventCondition{}}).Eval(&Subject{}, now); got {
		t.Errorf("an event condition over no events = true, want false")
	}
}

func TestEvalIdentifierConsentComputedAudience(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	at := func(d int) time.Time { return now.AddDate(0, 0, d) }
	yes, no := true, false
	aud, other := knownAudience, "seg_ffffffffffffffffffffffffffffffff"
	s := &Subject{
		Identifiers: []graph.Identifier{{Key: "email:a@x.io", Type: "email"}, {Key: "user_id:1", Type: "user_id"}},
		Consent: []privacy.Record{
			{ID: "cns_1", Purpose: "email", Status: privacy.StatusDenied, At: at(-10)},
			{ID: "cns_2", Purpose: "email", Status: privacy.StatusGranted, At: at(-5)},
			{ID: "cns_3", Purpose: "advertising", Status: privacy.StatusGranted, At: at(-5), ExpiresAt: at(-1)},
			{ID: "cns_4", Purpose: "sms", Status: privacy.StatusWithdrawn, At: at(-3)},
			// Same At: the later ReceivedAt wins.
			{ID: "cns_5", Purpose: "push", Status: privacy.StatusGranted, At: at(-2), ReceivedAt: at(-2)},
			{ID: "cns_6", Purpose: "push", Status: privacy.StatusDenied, At: at(-2), ReceivedAt: at(-1)},
		},
		Computed:  map[string]any{"orders": 3, "ltv": nil},
		Audiences: map[string]bool{aud: true},
	}
	for _, c := range []struct {
		name string
		f    Filter
		want bool
	}{
		{"has email", Filter{Identifier: &IdentifierCondition{Type: "email"}}, true},
		{"has email, exists true", Filter{Identifier: &IdentifierCondition{Type: "email", Exists: &yes}}, true},
		{"has no email", Filter{Identifier: &IdentifierCondition{Type: "email", Exists: &no}}, false},
		{"has phone", Filter{Identifier: &IdentifierCondition{Type: "phone"}}, false},
		{"has no phone", Filter{Identifier: &IdentifierCondition{Type: "phone", Exists: &no}}, true},
		{"type is exact", Filter{Identifier: &IdentifierCondition{Type: "Email"}}, false},

		{"email granted (newest)", Filter{Consent: &ConsentCondition{Purpose: "email", Status: privacy.StateGranted}}, true},
		{"email denied (older)", Filter{Consent: &ConsentCondition{Purpose: "email", Status: privacy.StateDenied}}, false},
		{"advertising expired", Filter{Consent: &ConsentCondition{Purpose: "advertising", Status: privacy.StateExpired}}, true},
		{"advertising not granted", Filter{Consent: &ConsentCondition{Purpose: "advertising", Status: privacy.StateGranted}}, false},
		{"sms withdrawn", Filter{Consent: &ConsentCondition{Purpose: "sms", Status: privacy.StateWithdrawn}}, true},
		{"push denied by receipt order", Filter{Consent: &ConsentCondition{Purpose: "push", Status: privacy.StateDenied}}, true},
		{"analytics unknown", Filter{Consent: &ConsentCondition{Purpose: "analytics", Status: privacy.StateUnknown}}, true},
		{"analytics not granted", Filter{Consent: &ConsentCondition{Purpose: "analytics", Status: privacy.StateGranted}}, false},

		{"orders GT 2", Filter{Computed: &ComputedCondition{Name: "orders", Op: OpGT, Value: 2}}, true},
		{"orders EQ 3", Filter{Computed: &ComputedCondition{Name: "orders", Op: OpEQ, Value: json.Number("3")}}, true},
		{"ltv null", Filter{Computed: &ComputedCondition{Name: "ltv", Op: OpNotExists}}, true},
		{"ltv null not GTE 0", Filter{Computed: &ComputedCondition{Name: "ltv", Op: OpGTE, Value: 0}}, false},
		{"unknown computed missing", Filter{Computed: &ComputedCondition{Name: "avg", Op: OpExists}}, false},

		{"in audience", Filter{InAudience: &aud}, true},
		{"not in other audience", Filter{InAudience: &other}, false},

		{"and", Filter{And: []Filter{{InAudience: &aud}, {Identifier: &IdentifierCondition{Type: "email"}}}}, true},
		{"and with one false", Filter{And: []Filter{{InAudience: &aud}, {InAudience: &other}}}, false},
		{"or", Filter{Or: []Filter{{InAudience: &other}, {Identifier: &IdentifierCondition{Type: "email"}}}}, true},
		{"or all false", Filter{Or: []Filter{{InAudience: &other}, {Identifier: &IdentifierCondition{Type: "phone"}}}}, false},
		{"not", Filter{Not: &Filter{InAudience: &other}}, true},
		{"not not", Filter{Not: &Filter{Not: &Filter{InAudience: &other}}}, false},
		{"empty and", Filter{And: []Filter{}}, true},
		{"empty or", Filter{Or: []Filter{}}, false},
		{"nothing set", Filter{}, false},
	} {
		if got := c.f.Eval(s, now); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	// Consent expiry is measured from now: the advertising grant expires
	// at at(-1), so two days earlier it is still GRANTED.
	f := Filter{Consent: &ConsentCondition{Purpose: "advertising", Status: privacy.StateGranted}}
	if !f.Eval(s, at(-2)) {
		t.Errorf("advertising before its expiry: got not GRANTED")
	}
	// A nil subject's maps read as empty.
	empty := &Subject{}
	for _, f := range []Filter{
		{Trait: &TraitCondition{Name: "a", Op: OpNotExists}},
		{Computed: &ComputedCondition{Name: "a", Op: OpNotExists}},
		{Identifier: &IdentifierCondition{Type: "email", Exists: &no}},
		{Consent: &ConsentCondition{Purpose: "email", Status: privacy.StateUnknown}},
		{Not: &Filter{InAudience: &aud}},
	} {
		if !f.Eval(empty, now) {
			b, _ := json.Marshal(f)
			t.Errorf("%s over an empty subject = false, want true", b)
		}
	}
}

// ExampleFilter_Eval shows a filter as the GraphQL layer receives it.
func ExampleFilter_Eval() {
	f := &Filter{And: []Filter{
		{Trait: &TraitCondition{Name: "plan", Op: OpIN, Value: []any{"pro", "team"}}},
		{Event: &EventCondition{Name: "Order Completed", Within: "P30D", Count: &CountCondition{Op: OpGTE, Value: 2}}},
	}}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := &Subject{
		Traits: map[string]any{"plan": "pro"},
		Events: []graph.Event{
			{Name: "Order Completed", Type: "track", Timestamp: now.AddDate(0, 0, -3)},
			{Name: "Order Completed", Type: "track", Timestamp: now.AddDate(0, 0, -20)},
		},
	}
	fmt.Println(Check(f, Env{}, "filter"), f.Eval(s, now))
	// Output: <nil> true
}

func TestLookup(t *testing.T) {
	props := map[string]any{
		"total": 12.5,
		"order": map[string]any{"id": "o1", "lines": []any{map[string]any{"sku": "A"}}, "meta": map[string]string{"src": "web"}, "none": nil},
		"a.b":   "dotted key",
	}
	for _, c := range []struct {
		path string
		want any
	}{
		{"total", 12.5},
		{"order.id", "o1"},
		{"order.meta.src", "web"},
		{"order.none", nil},
		{"order.none.x", nil},
		{"order.lines.0", nil},
		{"order.lines.0.sku", nil},
		{"total.x", nil},
		{"missing", nil},
		{"missing.x", nil},
		{"a.b", nil},
	} {
		if got := Lookup(props, c.path); got != c.want {
			t.Errorf("Lookup(%q) = %#v, want %#v", c.path, got, c.want)
		}
	}
	if got := Lookup(nil, "a"); got != nil {
		t.Errorf("Lookup(nil, a) = %#v", got)
	}
	pf := PropertyFilter{Path: "order.meta.src", Op: OpEQ, Value: "web"}
	if !pf.Matches(props) {
		t.Errorf("%+v does not match", pf)
	}
	pf = PropertyFilter{Path: "order.lines", Op: OpExists}
	if !pf.Matches(props) {
		t.Errorf("%+v does not match", pf)
	}
}

// BenchmarkEval evaluates the bench's 3-condition filter (a trait, an
// event count within 30 days, consent) over one profile with 20 events.
func BenchmarkEval(b *testing.B) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f := &Filter{And: []Filter{
		{Trait: &TraitCondition{Name: "plan", Op: OpEQ, Value: "pro"}},
		{Event: &EventCondition{Name: "Order Completed", Within: "P30D", Count: &CountCondition{Op: OpGTE, Value: 2}}},
		{Consent: &ConsentCondition{Purpose: "email", Status: privacy.StateGranted}},
	}}
	s := &Subject{
		Traits: map[string]any{"plan": "pro", "age": json.Number("41"), "name": "Ann"},
		Consent: []privacy.Record{
			{ID: "cns_1", Purpose: "email", Status: privacy.StatusDenied, At: now.AddDate(0, 0, -9)},
			{ID: "cns_2", Purpose: "email", Status: privacy.StatusGranted, At: now.AddDate(0, 0, -3)},
		},
	}
	for i := range 20 {
		s.Events = append(s.Events, graph.Event{Type: "track", Name: []string{"Order Completed", "Product Viewed"}[i%2], Timestamp: now.AddDate(0, 0, -3*i)})
	}
	if !f.Eval(s, now) {
		b.Fatal("the profile does not match")
	}
	for b.Loop() {
		f.Eval(s, now)
	}
}
