package neo4jstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Compiled filters: an audience filter (audience.Filter, SEMANTICS.md)
// becomes one parameterized Cypher statement over the live profiles, so
// that a preview count is one round trip that Neo4j evaluates where the
// data is. The statement's text comes only from the filter's shape and
// the model's names; every name, value, path, purpose and time the filter
// holds is a parameter. Values are compared on their slots
// (audience.Slots): a trait on the identifiers that hold it (the newest
// across the profile's identifiers, ties to the smaller key, as
// graph.FoldTraits), an event property on the event.
//
// A computed condition is not compiled (its value is derived from the
// events by the keeper): CompileFilter reports it, and the caller
// evaluates such a filter in Go.

var _ audience.FilterCounter = (*Store)(nil)

// compiler builds the WHERE expression of a filter and its parameters.
type compiler struct {
	params map[string]any
	now    time.Time
	n      int
	prio   map[string]any // identifier type to priority, a parameter
	dprio  int            // the priority of other types
}

func (c *compiler) param(v any) string {
	c.n++
	name := fmt.Sprintf("p%d", c.n)
	c.params[name] = v
	return "$" + name
}

// errNotCompiled marks a filter with a condition compiled filters do not
// evaluate.
var errNotCompiled = fmt.Errorf("the filter has a computed condition")

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
		e := cypher(`EXISTS { MATCH (p)<-[:{{IN}}]-(i:{{Identifier}}) WHERE i.{{type}} = `) + c.param(f.Identifier.Type) + " }"
		if f.Identifier.Exists != nil && !*f.Identifier.Exists {
			return "(NOT " + e + ")", nil
		}
		return e, nil
	case f.Event != nil:
		return c.event(f.Event)
	case f.Consent != nil:
		return c.consent(f.Consent), nil
	case f.Computed != nil:
		return "", errNotCompiled
	case f.InAudience != nil:
		return cypher(`EXISTS { MATCH (m:{{AudienceMember}} { {{audienceId}}: `) + c.param(*f.InAudience) +
			cypher(`, {{profileId}}: p.{{id}} }) }`), nil
	}
	return "false", nil
}

// trait compiles a trait condition: the identifier holding the newest
// entry of the trait, and the index of that entry, then the comparison on
// them.
func (c *compiler) trait(t *audience.TraitCondition) string {
	n := c.param(t.Name)
	newest := cypher(`COLLECT {
    MATCH (p)<-[:{{IN}}]-(i:{{Identifier}})
    WITH i, [j IN range(0, size(coalesce(i.{{slotNames}}, [])) - 1) WHERE i.{{slotNames}}[j] = `) + n +
		cypher(` AND i.{{slotKinds}}[j] < 10] AS js
    WHERE size(js) > 0
    RETURN {i: i, j: js[0]} AS x ORDER BY i.{{slotTimes}}[js[0]] DESC, i.{{key}} ASC LIMIT 1 }`)
	if t.Op == audience.OpNotExists {
		return "(NOT any(x IN " + newest + " WHERE " + c.compare("x.i", "x.j", n, audience.OpExists, nil) + "))"
	}
	return "any(x IN " + newest + " WHERE " + c.compare("x.i", "x.j", n, t.Op, t.Value) + ")"
}

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
// entry of the value named name; value is the filter's. It is never
// null: every list read is at an index that exists, and each comparison
// is between values of one type.
func (c *compiler) compare(v, j, name string, op audience.Op, value any) string {
	kind := v + cypher(`.{{slotKinds}}[`) + j + "]"
	str := v + cypher(`.{{slotStrings}}[`) + j + "]"
	num := v + cypher(`.{{slotNumbers}}[`) + j + "]"
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
	case audience.OpEQ:
		return typed("=")
	case audience.OpNEQ:
		return typed("<>")
	case audience.OpGT:
		return typed(">")
	case audience.OpGTE:
		return typed(">=")
	case audience.OpLT:
		return typed("<")
	case audience.OpLTE:
		return typed("<=")
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
		elem := func(k int, field, p string) string {
			return fmt.Sprintf("(%s = %d AND any(k IN range(0, size(%s)-1) WHERE %s[k] = %s AND %s[k] = %d AND %s[k] = %s))",
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

// event compiles an event condition: the profile's events (each once,
// whichever identifiers carried it) that match, counted, or only found
// when the comparison asks whether there is one.
func (c *compiler) event(e *audience.EventCondition) (string, error) {
	var conds []string
	if e.Name != "" {
		conds = append(conds, cypher(`e.{{name}} = `)+c.param(e.Name))
	}
	if e.Type != "" {
		conds = append(conds, cypher(`e.{{type}} = `)+c.param(e.Type))
	}
	if e.Within != "" {
		d, err := audience.ParseDuration(e.Within)
		if err != nil {
			return "", graph.Errorf(graph.EINVALID, "within: %v", err)
		}
		conds = append(conds, cypher(`e.{{timestamp}} >= `)+c.param(d.Before(c.now.UTC()).In(utc)))
	}
	if len(e.Where) > 0 {
		// The properties show only on the profile that holds the event's
		// highest-priority identifier (graph's ownView); elsewhere every
		// path is missing, which only NOT_EXISTS accepts.
		var wh []string
		missingPasses := true
		for i := range e.Where {
			w := &e.Where[i]
			wh = append(wh, c.slotsAt("e", c.param(w.Path), w.Op, w.Value))
			missingPasses = missingPasses && w.Op == audience.OpNotExists
		}
		anchored := cypher(`any(a IN COLLECT { MATCH (e)-[:{{BY}}]->(i:{{Identifier}})
      RETURN i ORDER BY coalesce(`) + c.param(c.prio) + cypher(`[i.{{type}}], `) + c.param(c.dprio) + cypher(`), i.{{key}} LIMIT 1 }
      WHERE EXISTS { MATCH (a)-[:{{IN}}]->(p) })`)
		where := strings.Join(wh, " AND ")
		if missingPasses {
			conds = append(conds, "(NOT "+anchored+" OR ("+where+"))")
		} else {
			conds = append(conds, "("+anchored+" AND "+where+")")
		}
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	match := cypher(`MATCH (p)<-[:{{IN}}]-(:{{Identifier}})<-[:{{BY}}]-(e:{{Event}})`) + where
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
	cmp := map[audience.Op]string{audience.OpEQ: "=", audience.OpNEQ: "<>", audience.OpGT: ">", audience.OpGTE: ">=", audience.OpLT: "<", audience.OpLTE: "<="}[op]
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
    MATCH (p)<-[:{{IN}}]-(i:{{Identifier}})
    MATCH (r:{{Consent}} { {{identifier}}: i.{{key}} })
    WHERE r.{{purpose}} = `) + c.param(purpose) + cypher(`
    RETURN CASE WHEN r.{{status}} = `) + c.param(string(privacy.StatusGranted)) + cypher(` AND r.{{expiresAt}} IS NOT NULL AND r.{{expiresAt}} <= `) + c.param(c.now.In(utc)) +
		` THEN ` + c.param(string(privacy.StateExpired)) + cypher(` ELSE r.{{status}} END AS st
    ORDER BY r.{{at}} DESC, coalesce(r.{{receivedAt}}, `) + c.param(time.Time{}.In(utc)) + cypher(`) DESC, r.{{id}} DESC LIMIT 1 }), `) +
		c.param(string(privacy.StateUnknown)) + ") = " + c.param(state) + ")"
}

// compileFilter gives the statement that counts the live profiles that
// match f (and, with a purpose, whose consent for it is GRANTED) at now,
// and returns the first sample of their ids in id order.
func compileFilter(q audience.FilterQuery) (string, map[string]any, error) {
	prio := make(map[string]any, len(q.Priorities))
	for typ, p := range q.Priorities {
		prio[typ] = p
	}
	c := &compiler{params: map[string]any{}, now: graph.Clean(q.Now), prio: prio, dprio: q.DefaultPriority}
	purpose, sample := q.Purpose, q.Sample
	e, err := c.expr(q.Filter)
	if err != nil {
		return "", nil, err
	}
	if purpose != "" {
		e = "(" + e + " AND " + c.stateIs(purpose, string(privacy.StateGranted)) + ")"
	}
	c.params["sample"] = sample
	stmt := cypher(`MATCH (p:{{Profile}})
WHERE NOT p:{{Merged}} AND `) + e + cypher(`
WITH p.{{id}} AS id ORDER BY id
RETURN count(id) AS n, collect(id)[..$sample] AS ids`)
	return stmt, c.params, nil
}

// CountFilter implements audience.FilterCounter: one statement, compiled
// from f. It reports false, and reads nothing, for a filter with a
// computed condition.
func (s *Store) CountFilter(ctx context.Context, fq audience.FilterQuery) (int, []string, bool, error) {
	if fq.Filter == nil {
		return 0, nil, false, graph.Errorf(graph.EINVALID, "filter: a filter is required")
	}
	if fq.Sample < 0 {
		return 0, nil, false, graph.Errorf(graph.EINVALID, "sample must be 0 or more, got %d", fq.Sample)
	}
	q, params, err := compileFilter(fq)
	if err == errNotCompiled {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, err
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
		return 0, nil, false, err
	}
	r := out.(result)
	return r.n, r.ids, true, nil
}
