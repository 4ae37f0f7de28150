package neo4jstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Only identifiers are IN a profile, and only events are BY an identifier,
// so patterns leave those labels out: checking them costs a read per row.
//
// Compiled filters: an audience filter (audience.Filter, SEMANTICS.md)
// becomes one parameterized Cypher statement over the live profiles, so
// that a preview count is one round trip that Neo4j evaluates where the
// data is. The statement's text comes only from the filter's shape and
// the model's names; every name, value, path, purpose and time the filter
// holds is a parameter. Values are compared on their slots
// (audience.Slots): a trait on the identifiers that hold it (the newest
// across the profile's identifiers, by time then receipt, ties to the
// smaller key, as graph.FoldTraits), an event property on the event.
// A computed condition computes the trait's value from the profile's
// events inside the statement, as audience.ComputedTrait.Compute does.

var _ audience.FilterCounter = (*Store)(nil)

// compiler builds the WHERE expression of a filter and its parameters.
type compiler struct {
	params map[string]any
	now    time.Time
	n      int
	prio   map[string]any // identifier type to priority, a parameter
	dprio  int            // the priority of other types
	defs   map[string]audience.ComputedTrait
	// traits are the trait names the filter's conditions read, each
	// once, in the order first read: keepMatching folds each once per
	// profile, and a condition reads its fold at its index.
	traits   []string
	traitIdx map[string]int
}

// newCompiler compiles for q: its time, priorities and definitions.
func newCompiler(q audience.FilterQuery) *compiler {
	prio := make(map[string]any, len(q.Priorities))
	for typ, p := range q.Priorities {
		prio[typ] = p
	}
	return &compiler{params: map[string]any{}, now: graph.Clean(q.Now), prio: prio, dprio: q.DefaultPriority, defs: q.Computed}
}

func (c *compiler) param(v any) string {
	c.n++
	name := fmt.Sprintf("p%d", c.n)
	c.params[name] = v
	return "$" + name
}

// expr compiles f for the profile p; every expression it gives is true or
// false, never null, so that NOT negates it.
func (c *compiler) expr(f *audience.Filter) (string, error) {
	switch {
	case f.And != nil || f.Or != nil:
		list, sep := f.And, " AND "
		if f.Or != nil {
			list, sep = f.Or, " OR "
		}
		parts := make([]string, len(list))
		for i := range list {
			e, err := c.expr(&list[i])
			if err != nil {
				return "", err
			}
			parts[i] = e
		}
		return "(" + strings.Join(parts, sep) + ")", nil
	case f.Not != nil:
		e, err := c.expr(f.Not)
		if err != nil {
			return "", err
		}
		return "(NOT " + e + ")", nil
	case f.Trait != nil:
		return c.trait(f.Trait), nil
	case f.Identifier != nil:
		e := cypher(`EXISTS { MATCH (p)<-[:{{IN}}]-(i) WHERE i.{{type}} = `) + c.param(f.Identifier.Type) + " }"
		if f.Identifier.Exists != nil && !*f.Identifier.Exists {
			return "(NOT " + e + ")", nil
		}
		return e, nil
	case f.Event != nil:
		return c.event(f.Event)
	case f.Consent != nil:
		return c.consent(f.Consent), nil
	case f.Computed != nil:
		return c.computed(f.Computed)
	case f.InAudience != nil:
		return cypher(`EXISTS { MATCH (m:{{AudienceMember}} { {{audienceId}}: `) + c.param(*f.InAudience) +
			cypher(`, {{profileId}}: p.{{id}} }) }`), nil
	}
	return "false", nil
}

// trait compiles a trait condition: the comparison on the trait's fold
// (keepMatching), when the profile holds the trait.
func (c *compiler) trait(t *audience.TraitCondition) string {
	k, ok := c.traitIdx[t.Name]
	if !ok {
		if c.traitIdx == nil {
			c.traitIdx = map[string]int{}
		}
		k = len(c.traits)
		c.traits = append(c.traits, t.Name)
		c.traitIdx[t.Name] = k
	}
	n := c.param(t.Name)
	newest := fmt.Sprintf("[%s[%d]]", traitsVar, k)
	if t.Op == audience.OpNotExists {
		return "(NOT any(x IN " + newest + " WHERE x IS NOT NULL AND " + c.compare("x.i", "x.j", n, audience.OpExists, nil) + "))"
	}
	return "any(x IN " + newest + " WHERE x IS NOT NULL AND " + c.compare("x.i", "x.j", n, t.Op, t.Value) + ")"
}

// traitFold is the fold of the trait named by the variable n over the
// identifiers in the list idsVar: the identifier holding the newest entry
// of the trait (the latest slotTimes, then the latest slotReceived; ties
// to the smaller key, as graph.FoldTraits) and the index of that entry, as
// the map {i, j, t, r}, t and r its times; null when no identifier holds
// it. An identifier written before slotReceived existed has none, and
// reads as the zero time ($noReceipt, set by keepMatching), which
// identifierSlots writes for a value with no receipt.
var traitFold = cypher(`reduce(b = null, x IN [y IN [i IN ` + idsVar + ` | {i: i, j: head([j IN range(0, size(coalesce(i.{{slotNames}}, [])) - 1)
      WHERE i.{{slotNames}}[j] = n AND i.{{slotKinds}}[j] < 10])}] WHERE y.j IS NOT NULL |
      {i: y.i, j: y.j, t: y.i.{{slotTimes}}[y.j], r: coalesce(y.i.{{slotReceived}}[y.j], $noReceipt)}] |
    CASE WHEN b IS NULL OR x.t > b.t OR (x.t = b.t AND (x.r > b.r OR (x.r = b.r AND x.i.{{key}} < b.i.{{key}}))) THEN x
      ELSE b END)`)

// idsVar and traitsVar name, in keepMatching, a profile's identifiers and
// the folds of the traits the filter reads: names no compiled expression
// binds.
const (
	idsVar    = "filterIdentifiers"
	traitsVar = "filterTraits"
)

// slotsAt compiles a comparison on the value at name (a parameter) of
// node v's slots: the entry v holds there, if any.
func (c *compiler) slotsAt(v, name string, op audience.Op, value any) string {
	at := "[j IN range(0, size(coalesce(" + v + cypher(`.{{slotNames}}, [])) - 1) WHERE `) + v + cypher(`.{{slotNames}}[j] = `) + name +
		" AND " + v + cypher(`.{{slotKinds}}[j] < 10]`)
	if op == audience.OpNotExists {
		return "(NOT any(j IN " + at + " WHERE " + c.compare(v, "j", name, audience.OpExists, nil) + "))"
	}
	return "any(j IN " + at + " WHERE " + c.compare(v, "j", name, op, value) + ")"
}

// compare compiles op on the entry at index j of node v's slots, the top
// entry of the value named name; value is the filter's.
func (c *compiler) compare(v, j, name string, op audience.Op, value any) string {
	return c.compareOn(operand{
		kind: v + cypher(`.{{slotKinds}}[`) + j + "]",
		str:  v + cypher(`.{{slotStrings}}[`) + j + "]",
		num:  v + cypher(`.{{slotNumbers}}[`) + j + "]",
		node: v, name: name,
	}, op, value)
}

// operand is a value a comparison reads: expressions of its slot kind,
// string and number, and the node (maybe null) whose slots under name
// hold a list's elements.
type operand struct {
	kind, str, num string
	node, name     string
}

// compareOn compiles op on o; value is the filter's. It is never null:
// every list read is at an index that exists, and each comparison is
// between values of one type.
func (c *compiler) compareOn(o operand, op audience.Op, value any) string {
	kind, str, num := o.kind, o.str, o.num
	typed := func(cmp string) string {
		switch x := value.(type) {
		case string:
			return fmt.Sprintf("(%s = %d AND %s %s %s)", kind, audience.SlotString, str, cmp, c.param(x))
		case bool:
			if cmp != "=" && cmp != "<>" {
				return "false"
			}
			return fmt.Sprintf("(%s = %d AND %s %s %s)", kind, audience.SlotBool, num, cmp, c.param(boolFloat(x)))
		}
		if f, ok := number(value); ok {
			return fmt.Sprintf("(%s = %d AND %s %s %s)", kind, audience.SlotNumber, num, cmp, c.param(f))
		}
		return "false"
	}
	switch op {
	case audience.OpExists:
		return fmt.Sprintf("(%s > %d)", kind, audience.SlotNull)
	case audience.OpEQ, audience.OpNEQ, audience.OpGT, audience.OpGTE, audience.OpLT, audience.OpLTE:
		return typed(comparators[op])
	case audience.OpIN:
		list, _ := value.([]any)
		var strs []string
		var nums, bools []float64
		for _, e := range list {
			switch x := e.(type) {
			case string:
				strs = append(strs, x)
			case bool:
				bools = append(bools, boolFloat(x))
			default:
				if f, ok := number(e); ok {
					nums = append(nums, f)
				}
			}
		}
		var parts []string
		if len(strs) > 0 {
			parts = append(parts, fmt.Sprintf("(%s = %d AND %s IN %s)", kind, audience.SlotString, str, c.param(strs)))
		}
		if len(nums) > 0 {
			parts = append(parts, fmt.Sprintf("(%s = %d AND %s IN %s)", kind, audience.SlotNumber, num, c.param(nums)))
		}
		if len(bools) > 0 {
			parts = append(parts, fmt.Sprintf("(%s = %d AND %s IN %s)", kind, audience.SlotBool, num, c.param(bools)))
		}
		if len(parts) == 0 {
			return "false"
		}
		return "(" + strings.Join(parts, " OR ") + ")"
	case audience.OpContains:
		// A list's elements follow its entry under the same name.
		v, name := o.node, o.name
		elem := func(k int, field, p string) string {
			return fmt.Sprintf("(%s = %d AND any(k IN range(0, size(coalesce(%s, []))-1) WHERE %s[k] = %s AND %s[k] = %d AND %s[k] = %s))",
				kind, audience.SlotList, v+cypher(`.{{slotNames}}`), v+cypher(`.{{slotNames}}`), name,
				v+cypher(`.{{slotKinds}}`), audience.SlotElement+k, v+field, p)
		}
		switch x := value.(type) {
		case string:
			p := c.param(x)
			return fmt.Sprintf("((%s = %d AND %s CONTAINS %s) OR %s)", kind, audience.SlotString, str, p,
				elem(audience.SlotString, cypher(`.{{slotStrings}}`), p))
		case bool:
			return elem(audience.SlotBool, cypher(`.{{slotNumbers}}`), c.param(boolFloat(x)))
		}
		if f, ok := number(value); ok {
			return elem(audience.SlotNumber, cypher(`.{{slotNumbers}}`), c.param(f))
		}
		return "false"
	case audience.OpStartsWith:
		if x, ok := value.(string); ok {
			return fmt.Sprintf("(%s = %d AND %s STARTS WITH %s)", kind, audience.SlotString, str, c.param(x))
		}
		return "false"
	}
	return "false"
}

// comparators are the Cypher operators of the comparisons.
var comparators = map[audience.Op]string{audience.OpEQ: "=", audience.OpNEQ: "<>", audience.OpGT: ">",
	audience.OpGTE: ">=", audience.OpLT: "<", audience.OpLTE: "<="}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// number reads a filter value that is a number, as comparisons do.
func number(v any) (float64, bool) {
	var s audience.Slots
	s.Add("", v)
	if s.Len() == 1 && s.Kinds[0] == audience.SlotNumber {
		return s.Numbers[0], true
	}
	return 0, false
}

// eventConds compiles what selects a profile's event e, bound by the
// caller's MATCH: its name and type where given, and its timestamp not
// before from (zero: any time).
func (c *compiler) eventConds(name, typ string, from time.Time) []string {
	var conds []string
	if name != "" {
		conds = append(conds, cypher(`e.{{name}} = `)+c.param(name))
	}
	if typ != "" {
		conds = append(conds, cypher(`e.{{type}} = `)+c.param(typ))
	}
	if !from.IsZero() {
		conds = append(conds, cypher(`e.{{timestamp}} >= `)+c.param(from.In(utc)))
	}
	return conds
}

// windowStart is the start of the window d (an ISO-8601 duration, "":
// none) back from now: zero for none.
func (c *compiler) windowStart(d, what string) (time.Time, error) {
	if d == "" {
		return time.Time{}, nil
	}
	dur, err := audience.ParseDuration(d)
	if err != nil {
		return time.Time{}, graph.Errorf(graph.EINVALID, "%s: %v", what, err)
	}
	return dur.Before(c.now.UTC()), nil
}

// anchored compiles whether the profile p holds event e's
// highest-priority identifier: only there does the engine show the
// event's properties (graph's ownView).
func (c *compiler) anchored() string {
	return cypher(`any(a IN COLLECT { MATCH (e)-[:{{BY}}]->(i)
      RETURN i ORDER BY coalesce(`) + c.param(c.prio) + cypher(`[i.{{type}}], `) + c.param(c.dprio) + cypher(`), i.{{key}} LIMIT 1 }
      WHERE EXISTS { MATCH (a)-[:{{IN}}]->(p) })`)
}

// whereOn compiles every filter of where on event e, whose properties
// show when vis holds; where they do not, every path is missing, which
// only NOT_EXISTS accepts. "" for no filter.
func (c *compiler) whereOn(where []audience.PropertyFilter, vis string) string {
	if len(where) == 0 {
		return ""
	}
	var wh []string
	missingPasses := true
	for i := range where {
		w := &where[i]
		wh = append(wh, c.slotsAt("e", c.param(w.Path), w.Op, w.Value))
		missingPasses = missingPasses && w.Op == audience.OpNotExists
	}
	all := strings.Join(wh, " AND ")
	if missingPasses {
		return "(NOT " + vis + " OR (" + all + "))"
	}
	return "(" + vis + " AND " + all + ")"
}

// event compiles an event condition: the profile's events (each once,
// whichever identifiers carried it) that match, counted, or only found
// when the comparison asks whether there is one.
func (c *compiler) event(e *audience.EventCondition) (string, error) {
	from, err := c.windowStart(e.Within, "within")
	if err != nil {
		return "", err
	}
	conds := c.eventConds(e.Name, e.Type, from)
	if w := c.whereOn(e.Where, c.anchored()); w != "" {
		conds = append(conds, w)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	match := cypher(`MATCH (p)<-[:{{IN}}]-()<-[:{{BY}}]-(e)`) + where
	op, n := audience.OpGTE, 1
	if e.Count != nil {
		op, n = e.Count.Op, e.Count.Value
	}
	// Whether there is one is cheaper than how many.
	switch {
	case (op == audience.OpGTE && n == 1) || (op == audience.OpGT && n == 0) || (op == audience.OpNEQ && n == 0):
		return "EXISTS { " + match + " }", nil
	case (op == audience.OpEQ && n == 0) || (op == audience.OpLT && n == 1) || (op == audience.OpLTE && n == 0):
		return "(NOT EXISTS { " + match + " })", nil
	case op == audience.OpGTE && n == 0:
		return "true", nil
	case op == audience.OpLT && n == 0:
		return "false", nil
	}
	cmp := comparators[op]
	if cmp == "" {
		return "", graph.Errorf(graph.EINVALID, "count: the op %s does not compare counts", op)
	}
	return "(COUNT { " + match + " RETURN DISTINCT e } " + cmp + " " + c.param(n) + ")", nil
}

// consent compiles a consent condition: the state the newest record of
// the purpose across the profile's identifiers gives (privacy.StateOf).
func (c *compiler) consent(k *audience.ConsentCondition) string {
	return c.stateIs(k.Purpose, string(k.Status))
}

func (c *compiler) stateIs(purpose, state string) string {
	return cypher(`(coalesce(head(COLLECT {
    MATCH (p)<-[:{{IN}}]-(i)
    MATCH (r:{{Consent}} { {{identifier}}: i.{{key}} })
    WHERE r.{{purpose}} = `) + c.param(purpose) + cypher(`
    RETURN CASE WHEN r.{{status}} = `) + c.param(string(privacy.StatusGranted)) + cypher(` AND r.{{expiresAt}} IS NOT NULL AND r.{{expiresAt}} <= `) + c.param(c.now.In(utc)) +
		` THEN ` + c.param(string(privacy.StateExpired)) + cypher(` ELSE r.{{status}} END AS st
    ORDER BY r.{{at}} DESC, coalesce(r.{{receivedAt}}, `) + c.param(time.Time{}.In(utc)) + cypher(`) DESC, r.{{id}} DESC LIMIT 1 }), `) +
		c.param(string(privacy.StateUnknown)) + ") = " + c.param(state) + ")"
}

// keepMatching compiles the clause that keeps the profiles p on which the
// compiled filter expression e holds (p alone stays bound after it):
// e is projected, then the projection tested. Neo4j plans a predicate
// placed in WHERE as it does a pattern's, at a cost that grows with the
// square of the conditions it holds (a 100-condition filter took minutes
// of planning); projected, the cost grows with their number. e is never
// null, so the test keeps exactly the rows WHERE e would.
//
// The traits e reads are folded first, each once per profile, over the
// profile's identifiers read once: a trait condition is then a small
// expression on its fold, where it was a subquery each, which cost Neo4j
// about 0.1 s to plan (docs/BENCHMARKS.md, "Planning the largest
// filter"). It must be called after e is compiled.
func (c *compiler) keepMatching(e string) string {
	pre := ""
	if len(c.traits) > 0 {
		pre = cypher(`WITH p, COLLECT { MATCH (p)<-[:{{IN}}]-(i) RETURN i } AS `) + idsVar + "\n" +
			"WITH p, [n IN " + c.param(c.traits) + " | " + traitFold + "] AS " + traitsVar + "\n"
		c.params["noReceipt"] = time.Time{}.In(utc)
	}
	return pre + "WITH p, " + e + " AS " + matchedVar + " WHERE " + matchedVar
}

// matchedVar names the projected filter in keepMatching: a name no
// compiled expression binds.
const matchedVar = "filterHolds"

// compileFilter gives the statement that counts the live profiles that
// match f (and, with a purpose, whose consent for it is GRANTED) at now,
// and returns the first sample of their ids in id order.
func compileFilter(q audience.FilterQuery) (string, map[string]any, error) {
	c := newCompiler(q)
	purpose, sample := q.Purpose, q.Sample
	driver, rest := splitDriver(q.Filter)
	e := "true"
	if rest != nil {
		var err error
		if e, err = c.expr(rest); err != nil {
			return "", nil, err
		}
	}
	if purpose != "" {
		e = "(" + e + " AND " + c.stateIs(purpose, string(privacy.StateGranted)) + ")"
	}
	c.params["sample"] = sample
	var match string
	if driver == nil {
		match = cypher(`MATCH (p:{{Profile}})
WHERE NOT p:{{Merged}}`)
		if e != "true" {
			match += "\n" + c.keepMatching(e)
		}
	} else {
		// The profiles with an event in the window, found through the
		// index on the events' name and timestamp (or timestamp alone),
		// then the rest of the filter on them only.
		from, err := c.windowStart(driver.Within, "within")
		if err != nil {
			return "", nil, err
		}
		// Where filters read p: the event's properties show only on the
		// profile holding its highest-priority identifier.
		match = cypher(`MATCH (e:{{Event}}) WHERE `) + strings.Join(c.eventConds(driver.Name, driver.Type, from), " AND ") + cypher(`
MATCH (e)-[:{{BY}}]->()-[:{{IN}}]->(p)
WHERE NOT p:{{Merged}}`)
		if w := c.whereOn(driver.Where, c.anchored()); w != "" {
			match += " AND " + w
		}
		match += "\nWITH DISTINCT p"
		if e != "true" {
			match += "\n" + c.keepMatching(e)
		}
	}
	stmt := match + cypher(`
WITH p.{{id}} AS id ORDER BY id
RETURN count(id) AS n, collect(id)[..$sample] AS ids`)
	return stmt, c.params, nil
}

// splitDriver picks, from a filter or the children of its top-level and,
// an event condition that a profile meets by having one matching event
// in a window: the statement finds those profiles through the events'
// timestamp index rather than reading every profile's events. rest is the
// filter without it (nil: nothing left). driver is nil when there is none.
func splitDriver(f *audience.Filter) (driver *audience.EventCondition, rest *audience.Filter) {
	drives := func(g *audience.Filter) bool {
		e := g.Event
		if e == nil || e.Within == "" {
			return false
		}
		if e.Count == nil {
			return true
		}
		op, n := e.Count.Op, e.Count.Value
		return (op == audience.OpGTE && n == 1) || (op == audience.OpGT && n == 0) || (op == audience.OpNEQ && n == 0)
	}
	if drives(f) {
		return f.Event, nil
	}
	for i := range f.And {
		if !drives(&f.And[i]) {
			continue
		}
		others := append(append([]audience.Filter{}, f.And[:i]...), f.And[i+1:]...)
		switch len(others) {
		case 0:
			return f.And[i].Event, nil
		case 1:
			return f.And[i].Event, &others[0]
		}
		return f.And[i].Event, &audience.Filter{And: others}
	}
	return nil, f
}

// CountFilter implements audience.FilterCounter: one statement, compiled
// from the filter.
func (s *Store) CountFilter(ctx context.Context, fq audience.FilterQuery) (int, []string, error) {
	if fq.Filter == nil {
		return 0, nil, graph.Errorf(graph.EINVALID, "filter: a filter is required")
	}
	if fq.Sample < 0 {
		return 0, nil, graph.Errorf(graph.EINVALID, "sample must be 0 or more, got %d", fq.Sample)
	}
	q, params, err := compileFilter(fq)
	if err != nil {
		return 0, nil, err
	}
	type result struct {
		n   int
		ids []string
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, q, params)
		if err != nil {
			return nil, fmt.Errorf("count a filter: %w", err)
		}
		var r result
		if len(recs) == 0 {
			return r, nil
		}
		n, _ := recs[0].Values[0].(int64)
		r.n = int(n)
		l, _ := recs[0].Values[1].([]any)
		for _, x := range l {
			if id, ok := x.(string); ok {
				r.ids = append(r.ids, id)
			}
		}
		return r, nil
	})
	if err != nil {
		return 0, nil, err
	}
	r := out.(result)
	return r.n, r.ids, nil
}

// The value of a computed trait, as a map {k, s, n, e}: its slot kind,
// string and number, and the event holding a list's elements (null for
// an aggregate). missingValue is no value.
const missingValue = "{k: 0, s: '', n: 0.0, e: null}"

// finite holds for a number x.n that is neither infinite nor NaN.
var finite = finiteOf("x.n")

// finiteOf is the condition that the number v is neither infinite nor NaN.
func finiteOf(v string) string {
	return "(" + v + " >= -1.7976931348623157e308 AND " + v + " <= 1.7976931348623157e308)"
}

// computed compiles a computed condition: the trait's value computed from
// the profile's events as audience.ComputedTrait.Compute does (COMPUTED.md),
// then compared. A trait not defined now has no value.
func (c *compiler) computed(k *audience.ComputedCondition) (string, error) {
	def, ok := c.defs[k.Name]
	if !ok {
		if k.Op == audience.OpNotExists {
			return "true", nil
		}
		return "false", nil
	}
	value, err := c.computedValue(def)
	if err != nil {
		return "", err
	}
	o := operand{kind: "cv.k", str: "cv.s", num: "cv.n", node: "cv.e", name: ""}
	if def.Property != "" {
		o.name = c.param(def.Property)
	} else {
		o.name = c.param("")
	}
	if k.Op == audience.OpNotExists {
		return "(NOT any(cv IN [" + value + "] WHERE " + c.compareOn(o, audience.OpExists, nil) + "))", nil
	}
	return "any(cv IN [" + value + "] WHERE " + c.compareOn(o, k.Op, k.Value) + ")", nil
}

// computedValue compiles the value of the computed trait def for the
// profile p, computed from its events as audience.ComputedTrait.Compute
// does: a map {k, s, n, e} (missingValue for none).
func (c *compiler) computedValue(def audience.ComputedTrait) (string, error) {
	from, err := c.windowStart(def.Window, "window")
	if err != nil {
		return "", err
	}
	conds := c.eventConds(def.Event, def.EventType, from)
	match := cypher(`MATCH (p)<-[:{{IN}}]-()<-[:{{BY}}]-(e)`)
	if len(conds) > 0 {
		match += " WHERE " + strings.Join(conds, " AND ")
	}
	var value string
	if def.Aggregate == audience.AggCount && len(def.Where) == 0 {
		value = "{k: 2, s: '', n: toFloat(COUNT { " + match + " RETURN DISTINCT e }), e: null}"
	} else {
		// xs: the counting events in (timestamp, id) order, each with the
		// top slot entry at the property's path where it shows. A slot's
		// -0.0 is read as 0.0, as the stores read the property back (and
		// a zero MIN or MAX is +0.0, as audience.ComputedTrait.Compute
		// gives it).
		path := c.param(def.Property)
		sel := ""
		if w := c.whereOn(def.Where, "vis"); w != "" {
			sel = " WHERE " + w
		}
		xs := "COLLECT { " + match + " WITH DISTINCT e WITH e, " + c.anchored() + " AS vis" + sel +
			" WITH e, CASE WHEN vis THEN [j IN range(0, size(coalesce(e" + cypher(`.{{slotNames}}`) + ", [])) - 1) WHERE e" +
			cypher(`.{{slotNames}}[j] = `) + path + " AND e" + cypher(`.{{slotKinds}}[j] < 10] ELSE [] END AS js`) +
			" ORDER BY e" + cypher(`.{{timestamp}}`) + ", e" + cypher(`.{{id}}`) +
			" RETURN CASE WHEN size(js) = 0 THEN {k: 0, s: '', n: 0.0, e: e} ELSE {k: e" + cypher(`.{{slotKinds}}[js[0]], s: e.{{slotStrings}}[js[0]], n: CASE WHEN e.{{slotNumbers}}[js[0]] = 0.0 THEN 0.0 ELSE e.{{slotNumbers}}[js[0]] END, e: e} END AS x }`)
		nums := "[x IN xs WHERE x.k = 2 AND " + finite + " | x.n]"
		scalars := "[x IN xs WHERE x.k = 1 OR x.k = 3 OR (x.k = 2 AND " + finite + ")]"
		var agg string
		switch def.Aggregate {
		case audience.AggCount:
			agg = "{k: 2, s: '', n: toFloat(size(xs)), e: null}"
		// A sum past the range of a double has no value; an average of
		// numbers whose sum is past it is their running mean (as
		// audience.ComputedTrait.Compute takes both).
		case audience.AggSum:
			agg = "CASE WHEN size(ns) = 0 THEN " + missingValue + " ELSE head([t IN [reduce(a = 0.0, v IN ns | a + v)] | " +
				"CASE WHEN " + finiteOf("t") + " THEN {k: 2, s: '', n: t, e: null} ELSE " + missingValue + " END]) END"
		case audience.AggAvg:
			agg = "CASE WHEN size(ns) = 0 THEN " + missingValue + " ELSE head([t IN [reduce(a = 0.0, v IN ns | a + v)] | " +
				"CASE WHEN " + finiteOf("t") + " THEN {k: 2, s: '', n: t / size(ns), e: null} " +
				"ELSE {k: 2, s: '', n: reduce(m = 0.0, i IN range(0, size(ns) - 1) | m + (ns[i] - m) / (i + 1)), e: null} END]) END"
		case audience.AggMin:
			agg = "CASE WHEN size(ns) = 0 THEN " + missingValue + " ELSE {k: 2, s: '', n: reduce(a = ns[0], v IN ns | CASE WHEN v < a THEN v ELSE a END), e: null} END"
		case audience.AggMax:
			agg = "CASE WHEN size(ns) = 0 THEN " + missingValue + " ELSE {k: 2, s: '', n: reduce(a = ns[0], v IN ns | CASE WHEN v > a THEN v ELSE a END), e: null} END"
		case audience.AggFirst:
			agg = "coalesce(head([x IN xs WHERE x.k > 0]), " + missingValue + ")"
		case audience.AggLast:
			agg = "coalesce(last([x IN xs WHERE x.k > 0]), " + missingValue + ")"
		case audience.AggUniqueCount:
			// Grouped by the scalar (DISTINCT hashes), not compared pair by
			// pair: a profile with many events costs their number, not its
			// square.
			agg = "{k: 2, s: '', n: toFloat(COUNT { UNWIND sc AS y RETURN DISTINCT " + scalarKey("y") + " }), e: null}"
		case audience.AggMostFrequent:
			// The first occurrence of the scalar held most often. No
			// aggregating function may run inside this expression, so:
			// l, the scalars sorted by value, then by index; st, where
			// each run of one value starts in l; then, over the runs, the
			// longest, ties to the one seen first (l[st[t]][3], its first
			// index). Sorting costs n log n, the rest n.
			l := "COLLECT { UNWIND range(0, size(sc) - 1) AS i WITH i, " + scalarKey("sc[i]") + " ORDER BY k, s, n, i RETURN [k, s, n, i] }"
			st := "[j IN range(0, size(l) - 1) WHERE j = 0 OR l[j][0] <> l[j - 1][0] OR l[j][1] <> l[j - 1][1] OR l[j][2] <> l[j - 1][2]]"
			runLen := "(CASE WHEN t = size(st) - 1 THEN size(l) ELSE st[t + 1] END - st[t])"
			best := "reduce(b = [-1, 0], t IN range(0, size(st) - 1) | CASE WHEN " + runLen + " > b[1] OR (" + runLen + " = b[1] AND l[st[t]][3] < b[0])" +
				" THEN [l[st[t]][3], " + runLen + "] ELSE b END)[0]"
			agg = "CASE WHEN size(sc) = 0 THEN " + missingValue + " ELSE head([l IN [" + l + "] | head([st IN [" + st + "] | head([f IN [" + best + "] |" +
				" {k: sc[f].k, s: sc[f].s, n: sc[f].n, e: null}])])]) END"
		default:
			return "", graph.Errorf(graph.EINVALID, "computed trait %s: unknown aggregate", def.Name)
		}
		value = "head([xs IN [" + xs + "] | head([ns IN [" + nums + "] | head([sc IN [" + scalars + "] | " + agg + "])])])"
	}
	return value, nil
}

// scalarKey compiles the columns k, s and n that group the scalar value x
// (a map {k, s, n}) with those EQ holds between: the same kind, string
// and number, -0.0 taken as 0.0 as = takes it.
func scalarKey(x string) string {
	return x + ".k AS k, " + x + ".s AS s, CASE WHEN " + x + ".n = 0.0 THEN 0.0 ELSE " + x + ".n END AS n"
}

var _ audience.FilterPager = (*Store)(nil)

// PageFilter implements audience.FilterPager: one statement, compiled from
// the filter, walking the profiles in id order from the page's bound.
func (s *Store) PageFilter(ctx context.Context, fq audience.FilterQuery, page graph.PageQuery) ([]string, error) {
	if fq.Filter == nil {
		return nil, graph.Errorf(graph.EINVALID, "filter: a filter is required")
	}
	if page.Limit < 1 {
		return nil, graph.Errorf(graph.EINVALID, "page size must be 1 or more, got %d", page.Limit)
	}
	c := newCompiler(fq)
	e, err := c.expr(fq.Filter)
	if err != nil {
		return nil, err
	}
	bounds := ""
	if page.After != "" {
		bounds += cypher(` AND p.{{id}} > `) + c.param(page.After)
	}
	if page.Before != "" {
		bounds += cypher(` AND p.{{id}} < `) + c.param(page.Before)
	}
	order := "ASC"
	if page.Reverse {
		order = "DESC"
	}
	q := cypher(`MATCH (p:{{Profile}})
WHERE p.{{id}} IS :: STRING NOT NULL`) + bounds + cypher(` AND NOT p:{{Merged}}
`) + c.keepMatching(e) + cypher(`
WITH p.{{id}} AS id ORDER BY id `) + order + ` LIMIT ` + c.param(page.Limit) + `
RETURN collect(id) AS ids`
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, q, c.params)
		if err != nil {
			return nil, fmt.Errorf("page a filter: %w", err)
		}
		var ids []string
		if len(recs) > 0 {
			l, _ := recs[0].Values[0].([]any)
			for _, x := range l {
				if id, ok := x.(string); ok {
					ids = append(ids, id)
				}
			}
		}
		return ids, nil
	})
	if err != nil {
		return nil, err
	}
	ids, _ := out.([]string)
	if page.Reverse {
		slices.Reverse(ids)
	}
	return ids, nil
}
