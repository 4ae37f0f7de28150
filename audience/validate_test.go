package audience

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

const knownAudience = "seg_0123456789abcdef0123456789abcdef"

func testEnv(t testing.TB) Env {
	t.Helper()
	p, err := privacy.NewPurposes(graph.ConsentRules{Purposes: []string{"email", "advertising"}})
	if err != nil {
		t.Fatal(err)
	}
	return Env{
		Purposes: p,
		Computed: func(name string) bool { return name == "orders" || name == "ltv" },
		Audience: func(id string) bool { return id == knownAudience },
	}
}

// parseFilter decodes a filter as the GraphQL layer hands it over: JSON
// numbers as json.Number.
func parseFilter(t testing.TB, s string) *Filter {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var f Filter
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("decoding %s: %v", s, err)
	}
	return &f
}

// nest wraps leaf in n "not" levels.
func nest(n int, leaf string) string {
	return strings.Repeat(`{"not":`, n) + leaf + strings.Repeat(`}`, n)
}

func TestCheckAccepts(t *testing.T) {
	env := testEnv(t)
	for _, s := range []string{
		`{"trait":{"name":"plan","op":"EQ","value":"pro"}}`,
		`{"trait":{"name":"age","op":"GTE","value":18}}`,
		`{"trait":{"name":"age","op":"LT","value":1.5e2}}`,
		`{"trait":{"name":"name","op":"GT","value":"m"}}`,
		`{"trait":{"name":"vip","op":"EQ","value":true}}`,
		`{"trait":{"name":"vip","op":"NEQ","value":false}}`,
		`{"trait":{"name":"plan","op":"IN","value":["pro","team",3,true]}}`,
		`{"trait":{"name":"tags","op":"CONTAINS","value":"x"}}`,
		`{"trait":{"name":"tags","op":"CONTAINS","value":7}}`,
		`{"trait":{"name":"tags","op":"CONTAINS","value":true}}`,
		`{"trait":{"name":"email","op":"STARTS_WITH","value":"ann"}}`,
		`{"trait":{"name":"email","op":"EXISTS"}}`,
		`{"trait":{"name":"email","op":"NOT_EXISTS","value":null}}`,
		`{"identifier":{"type":"email"}}`,
		`{"identifier":{"type":"phone","exists":false}}`,
		`{"event":{}}`,
		`{"event":{"name":"Order Completed","type":"track","within":"P30D","count":{"op":"GTE","value":3},"where":[{"path":"order.total","op":"GT","value":100}]}}`,
		`{"event":{"count":{"op":"EQ","value":0}}}`,
		`{"event":{"type":" Track "}}`,
		`{"consent":{"purpose":"email","status":"GRANTED"}}`,
		`{"consent":{"purpose":"advertising","status":"UNKNOWN"}}`,
		`{"consent":{"purpose":"advertising","status":"EXPIRED"}}`,
		`{"computed":{"name":"orders","op":"GT","value":2}}`,
		`{"inAudience":"` + knownAudience + `"}`,
		`{"and":[{"trait":{"name":"a","op":"EXISTS"}},{"or":[{"trait":{"name":"b","op":"EXISTS"}},{"not":{"identifier":{"type":"email"}}}]}]}`,
		nest(MaxDepth-1, `{"trait":{"name":"a","op":"EXISTS"}}`),
		`{"and":[` + strings.Repeat(`{"trait":{"name":"a","op":"EXISTS"}},`, MaxNodes-2) + `{"trait":{"name":"a","op":"EXISTS"}}]}`,
	} {
		if err := Check(parseFilter(t, s), env, "filter"); err != nil {
			t.Errorf("Check(%.80s): %v", s, err)
		}
	}
	// Go values of other numeric types, as a caller building filters may use.
	for _, v := range []any{int32(3), uint8(4), float32(1.5), 7, int64(8)} {
		f := &Filter{Trait: &TraitCondition{Name: "n", Op: OpGT, Value: v}}
		if err := Check(f, env, "filter"); err != nil {
			t.Errorf("Check(GT %T): %v", v, err)
		}
	}
	f := &Filter{Trait: &TraitCondition{Name: "n", Op: OpIN, Value: []string{"a", "b"}}}
	if err := Check(f, env, "filter"); err != nil {
		t.Errorf("Check(IN []string): %v", err)
	}
}

func TestCheckRefuses(t *testing.T) {
	env := testEnv(t)
	ops := "EQ, NEQ, GT, GTE, LT, LTE, IN, CONTAINS, STARTS_WITH, EXISTS, NOT_EXISTS"
	fields := "and, or, not, trait, identifier, event, consent, computed, inAudience"
	exists := `{"trait":{"name":"a","op":"EXISTS"}}`
	longName := strings.Repeat("n", MaxNameBytes+1)
	for _, c := range []struct{ filter, want string }{
		// Shape.
		{`{}`, `filter: set exactly one of ` + fields + `; none is set`},
		{`{"trait":{"name":"a","op":"EXISTS"},"identifier":{"type":"email"}}`, `filter: set exactly one of ` + fields + `; trait, identifier are set`},
		{`{"and":[` + exists + `,` + exists + `,{"not":` + exists + `,"or":[` + exists + `],"inAudience":"x"}]}`, `filter.and[2]: set exactly one of ` + fields + `; or, not, inAudience are set`},
		{`{"and":[]}`, `filter.and: list at least one filter`},
		{`{"or":[]}`, `filter.or: list at least one filter`},
		{`{"or":[` + exists + `,{}]}`, `filter.or[1]: set exactly one of ` + fields + `; none is set`},
		{`{"not":{}}`, `filter.not: set exactly one of ` + fields + `; none is set`},
		{nest(MaxDepth, exists), `filter` + strings.Repeat(".not", MaxDepth) + `: the filter is nested more than 16 levels deep`},
		{`{"and":[` + exists + `,` + nest(MaxDepth-1, exists) + `]}`, `filter.and[1]` + strings.Repeat(".not", MaxDepth-1) + `: the filter is nested more than 16 levels deep`},
		{`{"and":[` + strings.Repeat(exists+`,`, MaxNodes-1) + exists + `]}`, `filter: the filter has more than 100 nodes`},
		{`{"or":[{"and":[` + strings.Repeat(exists+`,`, 60) + exists + `]},{"and":[` + strings.Repeat(exists+`,`, 60) + exists + `]}]}`, `filter: the filter has more than 100 nodes`},
		// Size errors come before the others.
		{`{"and":[{},` + strings.Repeat(exists+`,`, MaxNodes) + exists + `]}`, `filter: the filter has more than 100 nodes`},

		// Trait names and ops.
		{`{"trait":{"name":"","op":"EXISTS"}}`, `filter.trait.name: must not be empty`},
		{`{"trait":{"name":"` + longName + `","op":"EXISTS"}}`, `filter.trait.name: is longer than 256 bytes`},
		{`{"trait":{"name":"a"}}`, `filter.trait.op: is required; use one of ` + ops},
		{`{"trait":{"name":"a","op":"LIKE","value":"x"}}`, `filter.trait.op: "LIKE" is not one of ` + ops},
		{`{"trait":{"name":"a","op":"eq","value":"x"}}`, `filter.trait.op: "eq" is not one of ` + ops},
		{`{"trait":{"name":"a","op":"` + strings.Repeat("Z", 100) + `"}}`, `filter.trait.op: "` + strings.Repeat("Z", 64) + `"… is not one of ` + ops},

		// Values for each op.
		{`{"trait":{"name":"a","op":"EXISTS","value":1}}`, `filter.trait.value: EXISTS takes no value`},
		{`{"trait":{"name":"a","op":"NOT_EXISTS","value":""}}`, `filter.trait.value: NOT_EXISTS takes no value`},
		{`{"trait":{"name":"a","op":"EQ"}}`, `filter.trait.value: EQ needs a string, a number or a boolean`},
		{`{"trait":{"name":"a","op":"EQ","value":null}}`, `filter.trait.value: EQ needs a string, a number or a boolean`},
		{`{"trait":{"name":"a","op":"EQ","value":[1]}}`, `filter.trait.value: EQ needs a string, a number or a boolean, got a list`},
		{`{"trait":{"name":"a","op":"NEQ","value":{"x":1}}}`, `filter.trait.value: NEQ needs a string, a number or a boolean, got an object`},
		{`{"trait":{"name":"a","op":"GT","value":true}}`, `filter.trait.value: GT needs a number or a string, got a boolean`},
		{`{"trait":{"name":"a","op":"GTE"}}`, `filter.trait.value: GTE needs a number or a string`},
		{`{"trait":{"name":"a","op":"LT","value":["a"]}}`, `filter.trait.value: LT needs a number or a string, got a list`},
		{`{"trait":{"name":"a","op":"LTE","value":{}}}`, `filter.trait.value: LTE needs a number or a string, got an object`},
		{`{"trait":{"name":"a","op":"IN"}}`, `filter.trait.value: IN needs a list of strings, numbers or booleans`},
		{`{"trait":{"name":"a","op":"IN","value":"pro"}}`, `filter.trait.value: IN needs a list of strings, numbers or booleans, got a string`},
		{`{"trait":{"name":"a","op":"IN","value":{"a":1}}}`, `filter.trait.value: IN needs a list of strings, numbers or booleans, got an object`},
		{`{"trait":{"name":"a","op":"IN","value":[]}}`, `filter.trait.value: IN needs at least one value`},
		{`{"trait":{"name":"a","op":"IN","value":["a",1,null]}}`, `filter.trait.value[2]: IN values must be strings, numbers or booleans, got null`},
		{`{"trait":{"name":"a","op":"IN","value":["a",["b"]]}}`, `filter.trait.value[1]: IN values must be strings, numbers or booleans, got a list`},
		{`{"trait":{"name":"a","op":"IN","value":[{}]}}`, `filter.trait.value[0]: IN values must be strings, numbers or booleans, got an object`},
		{`{"trait":{"name":"a","op":"IN","value":[` + strings.Repeat(`1,`, MaxInValues) + `1]}}`, `filter.trait.value: IN takes at most 1000 values, got 1001`},
		{`{"trait":{"name":"a","op":"IN","value":["` + strings.Repeat("s", MaxStringBytes+1) + `"]}}`, `filter.trait.value[0]: a string of 1025 bytes is longer than the 1024 allowed`},
		{`{"trait":{"name":"a","op":"CONTAINS"}}`, `filter.trait.value: CONTAINS needs a string, a number or a boolean`},
		{`{"trait":{"name":"a","op":"CONTAINS","value":["x"]}}`, `filter.trait.value: CONTAINS needs a string, a number or a boolean, got a list`},
		{`{"trait":{"name":"a","op":"STARTS_WITH","value":1}}`, `filter.trait.value: STARTS_WITH needs a string, got a number`},
		{`{"trait":{"name":"a","op":"STARTS_WITH","value":true}}`, `filter.trait.value: STARTS_WITH needs a string, got a boolean`},
		{`{"trait":{"name":"a","op":"STARTS_WITH"}}`, `filter.trait.value: STARTS_WITH needs a string`},
		{`{"trait":{"name":"a","op":"EQ","value":"` + strings.Repeat("s", MaxStringBytes+1) + `"}}`, `filter.trait.value: a string of 1025 bytes is longer than the 1024 allowed`},

		// Identifier.
		{`{"identifier":{"type":""}}`, `filter.identifier.type: must not be empty`},
		{`{"not":{"identifier":{"exists":true}}}`, `filter.not.identifier.type: must not be empty`},

		// Event.
		{`{"event":{"name":"` + strings.Repeat("n", 4097) + `"}}`, `filter.event.name: is longer than 4096 bytes`},
		{`{"event":{"type":"` + longName + `"}}`, `filter.event.type: is longer than 256 bytes`},
		{`{"event":{"type":"purchase"}}`, `filter.event.type: is not one of identify, track, page, screen, group, alias`},
		{`{"event":{"type":" "}}`, `filter.event.type: is not one of identify, track, page, screen, group, alias`},
		{`{"event":{"where":[{"path":"a","op":"EXISTS"},{"path":"","op":"EXISTS"}]}}`, `filter.event.where[1].path: must not be empty`},
		{`{"event":{"where":[{"path":"order..total","op":"EXISTS"}]}}`, `filter.event.where[0].path: "order..total" has an empty segment; join property names with single dots, as in order.total`},
		{`{"event":{"where":[{"path":".total","op":"EXISTS"}]}}`, `filter.event.where[0].path: ".total" has an empty segment; join property names with single dots, as in order.total`},
		{`{"event":{"where":[{"path":"total.","op":"EXISTS"}]}}`, `filter.event.where[0].path: "total." has an empty segment; join property names with single dots, as in order.total`},
		{`{"event":{"where":[{"path":"total","op":"NOPE"}]}}`, `filter.event.where[0].op: "NOPE" is not one of ` + ops},
		{`{"event":{"where":[{"path":"total","op":"GT","value":false}]}}`, `filter.event.where[0].value: GT needs a number or a string, got a boolean`},
		{`{"event":{"where":[` + strings.Repeat(`{"path":"a","op":"EXISTS"},`, MaxWhere) + `{"path":"a","op":"EXISTS"}]}}`, `filter.event.where: has 21 filters; at most 20 are allowed`},
		{`{"event":{"count":{"value":1}}}`, `filter.event.count.op: is required; use one of EQ, NEQ, GT, GTE, LT, LTE`},
		{`{"event":{"count":{"op":"IN","value":1}}}`, `filter.event.count.op: "IN" does not apply to a count; use one of EQ, NEQ, GT, GTE, LT, LTE`},
		{`{"event":{"count":{"op":"EXISTS","value":1}}}`, `filter.event.count.op: "EXISTS" does not apply to a count; use one of EQ, NEQ, GT, GTE, LT, LTE`},
		{`{"and":[` + exists + `,` + exists + `,{"event":{"count":{"op":"GTE","value":-1}}}]}`, `filter.and[2].event.count.value: must be 0 or more, got -1`},
		{`{"event":{"within":"30D"}}`, `filter.event.within: duration "30D" is not valid: it must start with P, as in P30D or PT12H`},
		{`{"event":{"within":"P0D"}}`, `filter.event.within: duration "P0D" is not valid: it is zero long`},
		{`{"event":{"within":"P200Y"}}`, `filter.event.within: duration "P200Y" is not valid: it is longer than 100 years`},

		// Consent.
		{`{"consent":{"purpose":"","status":"GRANTED"}}`, `filter.consent.purpose: must not be empty`},
		{`{"consent":{"purpose":"marketing","status":"GRANTED"}}`, `filter.consent.purpose: purpose "marketing" is not known; the purposes are email, advertising`},
		{`{"consent":{"purpose":"Email","status":"GRANTED"}}`, `filter.consent.purpose: purpose "Email" is not known; the purposes are email, advertising`},
		{`{"consent":{"purpose":"email"}}`, `filter.consent.status: is required; use one of GRANTED, DENIED, WITHDRAWN, EXPIRED, UNKNOWN`},
		{`{"consent":{"purpose":"email","status":"granted"}}`, `filter.consent.status: "granted" is not one of GRANTED, DENIED, WITHDRAWN, EXPIRED, UNKNOWN`},

		// Computed.
		{`{"computed":{"name":"","op":"EXISTS"}}`, `filter.computed.name: must not be empty`},
		{`{"computed":{"name":"order_count","op":"GT","value":1}}`, `filter.computed.name: computed trait "order_count" is not defined`},
		{`{"computed":{"name":"orders","op":"IN","value":3}}`, `filter.computed.value: IN needs a list of strings, numbers or booleans, got a number`},
		{`{"computed":{"name":"orders","op":"BETWEEN","value":3}}`, `filter.computed.op: "BETWEEN" is not one of ` + ops},

		// inAudience.
		{`{"inAudience":""}`, `filter.inAudience: an audience id is required`},
		// The value is not repeated (it may be personal data).
		{`{"inAudience":"ann.secret@example.com"}`, `filter.inAudience: is not an audience id (seg_ followed by 32 lowercase hex digits)`},
		{`{"inAudience":"vip"}`, `filter.inAudience: is not an audience id (seg_ followed by 32 lowercase hex digits)`},
		{`{"inAudience":"seg_0123456789ABCDEF0123456789ABCDEF"}`, `filter.inAudience: is not an audience id (seg_ followed by 32 lowercase hex digits)`},
		{`{"inAudience":"seg_ffffffffffffffffffffffffffffffff"}`, `filter.inAudience: audience seg_ffffffffffffffffffffffffffffffff does not exist`},
		{`{"or":[` + exists + `,{"inAudience":"` + strings.Repeat("é", 100) + `"}]}`, `filter.or[1].inAudience: is not an audience id (seg_ followed by 32 lowercase hex digits)`},
	} {
		err := Check(parseFilter(t, c.filter), env, "filter")
		if err == nil {
			t.Errorf("Check(%.100s) = nil, want %s", c.filter, c.want)
			continue
		}
		if graph.ErrorCode(err) != graph.EINVALID || err.Error() != c.want {
			t.Errorf("Check(%.100s):\n got %s (%s)\nwant %s", c.filter, err, graph.ErrorCode(err), c.want)
		}
	}
}

// TestCheckRefusesGoValues covers what only a Go caller can build.
func TestCheckRefusesGoValues(t *testing.T) {
	env := testEnv(t)
	yes := true
	aud := knownAudience
	for _, c := range []struct {
		f    *Filter
		path string
		want string
	}{
		{nil, "filter", `filter: a filter is required`},
		{&Filter{Trait: &TraitCondition{Name: "a", Op: OpGT, Value: math.NaN()}}, "filter", `filter.trait.value: is not a finite number`},
		{&Filter{Trait: &TraitCondition{Name: "a", Op: OpEQ, Value: math.Inf(1)}}, "filter", `filter.trait.value: is not a finite number`},
		{&Filter{Trait: &TraitCondition{Name: "a", Op: OpIN, Value: []any{1.0, math.Inf(-1)}}}, "filter", `filter.trait.value[1]: is not a finite number`},
		{&Filter{Trait: &TraitCondition{Name: "a", Op: OpLT, Value: json.Number("1e400")}}, "filter", `filter.trait.value: is not a finite number`},
		{&Filter{Trait: &TraitCondition{Name: "a", Op: OpIN, Value: []any{json.Number("-1e999")}}}, "filter", `filter.trait.value[0]: is not a finite number`},
		{&Filter{Trait: &TraitCondition{Name: "a", Op: OpEQ, Value: json.Number("1e")}}, "filter", `filter.trait.value: EQ needs a string, a number or a boolean, got a value of an unsupported type`},
		{&Filter{Trait: &TraitCondition{Name: "a", Op: OpEQ, Value: struct{}{}}}, "filter", `filter.trait.value: EQ needs a string, a number or a boolean, got a value of an unsupported type`},
		{&Filter{Trait: &TraitCondition{Name: "\xff", Op: OpExists}}, "filter", `filter.trait.name: is not valid UTF-8`},
		{&Filter{Consent: &ConsentCondition{Purpose: "email", Status: privacy.StateGranted}}, "where", ``},
		{&Filter{Identifier: &IdentifierCondition{Type: "email", Exists: &yes}, InAudience: &aud}, "input.filter", `input.filter: set exactly one of and, or, not, trait, identifier, event, consent, computed, inAudience; identifier, inAudience are set`},
		{&Filter{And: []Filter{}}, "f", `f.and: list at least one filter`},
	} {
		err := Check(c.f, env, c.path)
		if c.want == "" {
			if err != nil {
				t.Errorf("Check: %v", err)
			}
			continue
		}
		if err == nil || graph.ErrorCode(err) != graph.EINVALID || err.Error() != c.want {
			t.Errorf("Check:\n got %v\nwant %s", err, c.want)
		}
	}

	// With nothing known, consent, computed and inAudience are refused.
	none := Env{}
	for _, c := range []struct{ filter, want string }{
		{`{"consent":{"purpose":"email","status":"GRANTED"}}`, `filter.consent.purpose: no consent purposes are configured`},
		{`{"computed":{"name":"orders","op":"EXISTS"}}`, `filter.computed.name: computed trait "orders" is not defined`},
		{`{"inAudience":"` + knownAudience + `"}`, `filter.inAudience: audience ` + knownAudience + ` does not exist`},
	} {
		err := Check(parseFilter(t, c.filter), none, "filter")
		if err == nil || err.Error() != c.want {
			t.Errorf("Check(%s) with an empty Env:\n got %v\nwant %s", c.filter, err, c.want)
		}
	}
}

// TestCheckNeverEchoesValues: a value is personal data; no error repeats it.
func TestCheckNeverEchoesValues(t *testing.T) {
	env := testEnv(t)
	secret := "ann.secret@example.com"
	for _, s := range []string{
		`{"trait":{"name":"email","op":"EXISTS","value":"` + secret + `"}}`,
		`{"trait":{"name":"email","op":"IN","value":"` + secret + `"}}`,
		`{"trait":{"name":"email","op":"IN","value":["` + secret + `",["` + secret + `"]]}}`,
		`{"trait":{"name":"email","op":"GT","value":{"` + secret + `":1}}}`,
		`{"event":{"where":[{"path":"email","op":"STARTS_WITH","value":["` + secret + `"]}]}}`,
		`{"trait":{"name":"email","op":"EQ","value":"` + secret + strings.Repeat("x", MaxStringBytes) + `"}}`,
	} {
		err := Check(parseFilter(t, s), env, "filter")
		if err == nil {
			t.Fatalf("Check(%s) = nil, want an error", s)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Check(%s) repeats the value: %s", s, err)
		}
	}
	// And an unknown field of the input is the decoder's business: the
	// GraphQL schema refuses it before Check runs.
	dec := json.NewDecoder(bytes.NewReader([]byte(`{"computed":{"name":"orders","op":"GT","value":"x","extra":1}}`)))
	dec.DisallowUnknownFields()
	var f Filter
	if dec.Decode(&f) == nil {
		t.Errorf("decoding a filter with an unknown field succeeded")
	}
}

// TestCheckWhere: computed trait definitions check their where list alone.
func TestCheckWhere(t *testing.T) {
	for _, c := range []struct {
		where []PropertyFilter
		want  string
	}{
		{nil, ""},
		{[]PropertyFilter{{Path: "order.total", Op: OpGTE, Value: 10}, {Path: "currency", Op: OpIN, Value: []any{"EUR"}}}, ""},
		{[]PropertyFilter{{Path: "a", Op: OpExists}, {Path: "a.", Op: OpExists}}, `input.where[1].path: "a." has an empty segment; join property names with single dots, as in order.total`},
		{[]PropertyFilter{{Path: "a", Op: OpIN, Value: "x"}}, `input.where[0].value: IN needs a list of strings, numbers or booleans, got a string`},
		{[]PropertyFilter{{Path: "a", Op: "="}}, `input.where[0].op: "=" is not one of EQ, NEQ, GT, GTE, LT, LTE, IN, CONTAINS, STARTS_WITH, EXISTS, NOT_EXISTS`},
		{make([]PropertyFilter, MaxWhere+1), `input.where: has 21 filters; at most 20 are allowed`},
	} {
		err := CheckWhere(c.where, "input.where")
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckWhere(%v): %v", c.where, err)
		case c.want != "" && (err == nil || err.Error() != c.want || graph.ErrorCode(err) != graph.EINVALID):
			t.Errorf("CheckWhere(%v):\n got %v\nwant %s", c.where, err, c.want)
		}
	}
	if err := CheckPropertyPath("input.property", ""); err == nil || err.Error() != "input.property: must not be empty" {
		t.Errorf("CheckPropertyPath(\"\") = %v", err)
	}
	if err := CheckPropertyPath("input.property", "order.items.sku"); err != nil {
		t.Errorf("CheckPropertyPath(order.items.sku) = %v", err)
	}
}

func TestAudienceID(t *testing.T) {
	a, b := NewAudienceID(), NewAudienceID()
	if !ValidAudienceID(a) || !ValidAudienceID(b) || a == b {
		t.Errorf("NewAudienceID gave %q and %q", a, b)
	}
	for _, id := range []string{"", "seg_", "seg_0123456789abcdef0123456789abcde", "seg_0123456789abcdef0123456789abcdef0", "SEG_0123456789abcdef0123456789abcdef", "seg_0123456789abcdef0123456789abcdeg"} {
		if ValidAudienceID(id) {
			t.Errorf("ValidAudienceID(%q) = true", id)
		}
	}
}
