package neo4jstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Funnels, attributions and paths (package intel) as Cypher aggregations:
// each query is one statement that walks the live profiles in scope,
// collects each one's events in (timestamp, id) order with what the
// query asks of them, folds them in the database, and returns only the
// aggregated answer. The statement's text comes from the query's shape
// and the model's names; every name, value, path, time and span is a
// parameter. Times are compared as integer nanoseconds since the epoch,
// as Go compares them, and spans in seconds are computed as
// time.Duration.Seconds computes them.

var _ intel.Evaluator = (*Store)(nil)

// nanos is the integer nanoseconds since the epoch of the event e's
// timestamp.
var nanos = cypher(`(e.{{timestamp}}.epochSeconds * 1000000000 + e.{{timestamp}}.nanosecond)`)

// seconds gives the expression of the span d (integer nanoseconds, not
// negative) in seconds, as time.Duration.Seconds gives it.
func seconds(d string) string {
	return "(toFloat((" + d + ") / 1000000000) + toFloat((" + d + ") % 1000000000) / 1.0e9)"
}

// neumaier gives the expression of the sum of the floats in the list xs
// with Neumaier's compensation, as intel sums credits.
func neumaier(xs string) string {
	return "head([a IN [reduce(a = [0.0, 0.0], x IN " + xs + ` |
      CASE WHEN abs(a[0]) >= abs(x) THEN [a[0] + x, a[1] + ((a[0] - (a[0] + x)) + x)]
      ELSE [a[0] + x, a[1] + ((x - (a[0] + x)) + a[0])] END)] | a[0] + a[1]])`
}

// match compiles whether event e matches m, its properties showing where
// vis holds; "true" for a match with nothing to check. It is never null:
// an event lacks the name, type or channel it does not have, and each
// comparison is false there, so that NOT negates it. Only what m gives is
// compared: a test costs a read of the event per event.
func (c *compiler) match(m *intel.EventMatch, vis string) string {
	var conds []string
	if m.Name != "" {
		conds = append(conds, cypher(`coalesce(e.{{name}} = `)+c.param(m.Name)+", false)")
	}
	if m.Type != "" {
		conds = append(conds, cypher(`coalesce(e.{{type}} = `)+c.param(m.Type)+", false)")
	}
	if m.Channel != "" {
		conds = append(conds, cypher(`coalesce(e.{{channel}} = `)+c.param(m.Channel)+", false)")
	}
	if w := c.whereOn(m.Where, vis); w != "" {
		conds = append(conds, w)
	}
	if len(conds) == 0 {
		return "true"
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

// window compiles whether event e falls in w: "true" for no bound. The
// bounds are rounded up to the microsecond stored times keep
// (graph.CleanUp): an event stored at t is before a bound t + 500 ns, as
// intel.Window.Holds has it, where truncating the bound would make them
// equal.
func (c *compiler) window(w intel.Window) string {
	var conds []string
	if !w.From.IsZero() {
		conds = append(conds, cypher(`e.{{timestamp}} >= `)+c.param(graph.CleanUp(w.From).In(utc)))
	}
	if !w.To.IsZero() {
		conds = append(conds, cypher(`e.{{timestamp}} < `)+c.param(graph.CleanUp(w.To).In(utc)))
	}
	if len(conds) == 0 {
		return "true"
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

// timelines compiles the start of a statement: every live profile p in
// scope, with evs, the list of its events in [from, to) (zero ends are
// open) in (timestamp, id) order, each event e once, as the map item
// gives it; flags are expressions on e (and vis, whether e's properties
// show on p, when props is set) bound by name for item and keep, and
// keep, when not "", selects the events listed.
func (c *compiler) timelines(scope audience.FilterQuery, from, to time.Time, props bool, flags [][2]string, keep, item string) (string, error) {
	filter := ""
	if scope.Filter != nil {
		e, err := c.expr(scope.Filter)
		if err != nil {
			return "", err
		}
		filter = "\n" + c.keepMatching(e)
	}
	var b strings.Builder
	b.WriteString(cypher(`MATCH (p:{{Profile}})
WHERE NOT p:{{Merged}}`) + filter + cypher(`
WITH p, COLLECT {
  MATCH (p)<-[:{{IN}}]-()<-[:{{BY}}]-(e)`))
	if w := c.window(intel.Window{From: from, To: to}); w != "true" {
		b.WriteString("\n  WHERE " + w)
	}
	b.WriteString("\n  WITH DISTINCT e")
	if props {
		b.WriteString("\n  WITH e, " + c.anchored() + " AS vis")
	}
	if len(flags) > 0 {
		b.WriteString("\n  WITH e")
		for _, f := range flags {
			b.WriteString(", " + f[1] + " AS " + f[0])
		}
	}
	if keep != "" {
		b.WriteString("\n  WHERE " + keep)
	}
	b.WriteString(cypher(`
  ORDER BY e.{{timestamp}}, e.{{id}}
  RETURN `) + item + "\n} AS evs\n")
	return b.String(), nil
}

// evalIntel runs the statement of a query in a read session and
// reads its answer from the records with read; what names the query in an
// error.
func evalIntel[T any](ctx context.Context, s *Store, what, stmt string, params map[string]any, read func(recs []*neo4j.Record) (T, error)) (T, error) {
	var zero T
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, stmt, params)
		if err != nil {
			return nil, fmt.Errorf("evaluate %s: %w", what, err)
		}
		return read(recs)
	})
	if err != nil {
		return zero, err
	}
	return out.(T), nil
}

// compileFunnel gives the statement of a funnel: per step, how many
// profiles reached it, the median seconds from the step before, and the
// counts by channel; and how many profiles were in scope.
//
// A profile's steps are folded over its events that match a step: the
// first one in the window that matches step 1 starts the attempt, and
// then each event that matches the next step, no later than Within after
// the start, reaches it (intel.Funnel.Add). Only the profiles that reached
// step 1 are collected (collect drops the nulls of the others), so the
// statement holds the steps of the profiles that started, not a list per
// profile in scope.
func compileFunnel(q intel.FunnelQuery, scope audience.FilterQuery) (string, map[string]any, error) {
	c := newCompiler(scope)
	vis := "vis"
	m := make([]string, len(q.Steps))
	for k := range q.Steps {
		m[k] = c.match(&q.Steps[k], vis)
	}
	m[0] = "(" + m[0] + " AND " + c.window(q.Window) + ")"
	from, to := q.Events()
	head, err := c.timelines(scope, from, to, q.ReadsProperties(), [][2]string{{"m", "[" + strings.Join(m, ", ") + "]"}},
		"any(x IN m WHERE x)", cypher(`{t: `)+nanos+cypher(`, c: coalesce(e.{{channel}}, ''), m: m}`))
	if err != nil {
		return "", nil, err
	}
	c.params["steps"] = len(q.Steps)
	c.params["within"] = q.Within.Nanoseconds()
	stmt := head + `WITH p, reduce(s = {k: 0, t0: 0, pt: 0, out: []}, x IN evs |
  CASE
    WHEN s.k = 0 AND x.m[0] THEN {k: 1, t0: x.t, pt: x.t, out: [{s: null, c: x.c}]}
    WHEN s.k > 0 AND s.k < $steps AND x.t <= s.t0 + $within AND x.m[s.k]
      THEN {k: s.k + 1, t0: s.t0, pt: x.t, out: s.out + [{s: ` + seconds("x.t - s.pt") + `, c: x.c}]}
    ELSE s
  END).out AS reached
WITH count(p) AS profiles, collect(CASE WHEN size(reached) > 0 THEN reached END) AS rs
UNWIND range(0, $steps - 1) AS k
CALL (rs, k) {
  UNWIND rs AS r
  WITH r WHERE size(r) > k
  RETURN count(*) AS n, percentileCont(r[k].s, 0.5) AS median
}
CALL (rs, k) {
  UNWIND rs AS r
  WITH r WHERE size(r) > k
  WITH r[k].c AS channel, count(*) AS n
  RETURN collect([channel, n]) AS channels
}
RETURN profiles, k, n, median, channels ORDER BY k`
	return stmt, c.params, nil
}

// EvalFunnel implements intel.Evaluator: one statement.
func (s *Store) EvalFunnel(ctx context.Context, q intel.FunnelQuery, scope audience.FilterQuery) (intel.FunnelResult, error) {
	if err := q.Check(); err != nil {
		return intel.FunnelResult{}, err
	}
	stmt, params, err := compileFunnel(q, scope)
	if err != nil {
		return intel.FunnelResult{}, err
	}
	return evalIntel(ctx, s, "a funnel", stmt, params, func(recs []*neo4j.Record) (intel.FunnelResult, error) {
		n := len(q.Steps)
		tally := intel.FunnelTally{Counts: make([]int, n), Medians: make([]*float64, n)}
		if q.ByChannel {
			tally.ByChannel = make([]map[string]int, n)
			for k := range tally.ByChannel {
				tally.ByChannel[k] = map[string]int{}
			}
		}
		for _, r := range recs {
			profiles, _ := r.Values[0].(int64)
			k, _ := r.Values[1].(int64)
			count, _ := r.Values[2].(int64)
			if k < 0 || int(k) >= n {
				return intel.FunnelResult{}, fmt.Errorf("evaluate a funnel: step %d out of range", k)
			}
			tally.Profiles = int(profiles)
			tally.Counts[k] = int(count)
			if m, ok := r.Values[3].(float64); ok && k > 0 {
				tally.Medians[k] = &m
			}
			if q.ByChannel {
				chans, _ := r.Values[4].([]any)
				for _, x := range chans {
					pair, _ := x.([]any)
					if len(pair) != 2 {
						continue
					}
					ch, _ := pair[0].(string)
					cnt, _ := pair[1].(int64)
					tally.ByChannel[k][ch] = int(cnt)
				}
			}
		}
		return tally.Result(), nil
	})
}

// dimension compiles the key attribution credits to event e.
func (c *compiler) dimension(d intel.Dimension) string {
	var k string
	switch d {
	case intel.DimChannel:
		k = cypher(`coalesce(e.{{channel}}, '')`)
	case intel.DimSource:
		k = cypher(`coalesce(e.{{source}}, '')`)
	case intel.DimCampaign:
		k = cypher(`coalesce(e.{{campaign}}, '')`)
	default:
		k = cypher(`coalesce(e.{{name}}, e.{{longName}}, e.{{type}}, '')`)
	}
	return "CASE WHEN " + k + " = '' THEN " + c.param(intel.Unknown) + " ELSE " + k + " END"
}

// lowerBound gives the expression of the first index {m} in [lo, hi) at
// which less, an expression of {m}, is false (hi when none is), for a less
// that holds up to some index and not after: a binary search of
// halvings steps, halvings bound by the row to one more than
// log2(size(evs) + 1), enough for any list no longer than evs.
func lowerBound(lo, hi, less string) string {
	less = strings.ReplaceAll(less, "{m}", "((b[0] + b[1]) / 2)")
	return "reduce(b = [" + lo + ", " + hi + "], h IN range(0, halvings) | CASE WHEN b[0] >= b[1] THEN b " +
		"WHEN " + less + " THEN [(b[0] + b[1]) / 2 + 1, b[1]] ELSE [b[0], (b[0] + b[1]) / 2] END)[0]"
}

// groupsAbove is the number of touchpoints from which a profile's
// touchpoints are also listed by key (groups in compileAttribution).
const groupsAbove = 32

// byKey gives the expression of a conversion's credits when each of its
// touchpoints T[from..to) takes w (an expression of the number of them,
// n): a credit per touchpoint, or, when the profile's touchpoints are
// listed by key (groups) and counting them costs less, a credit per key
// of w times the touchpoints it has there, each count two binary searches
// of the key's list. The sums are the same up to rounding; the cost is
// the lesser of the touchpoints and the keys times log of the events.
func byKey(from, to, w string) string {
	count := lowerBound("0", "size(g.js)", "g.js[{m}] < "+to) + " - " + lowerBound("0", "size(g.js)", "g.js[{m}] < "+from)
	return "CASE WHEN size(groups) = 0 OR (" + to + ") - (" + from + ") <= size(groups) * halvings\n" +
		"      THEN [j IN range(" + from + ", " + to + " - 1) | {k: evs[T[j]].k, w: " + w + "}]\n" +
		"      ELSE [x IN [g IN groups | {k: g.k, c: " + count + "}] WHERE x.c > 0 | {k: x.k, w: x.c * (" + w + ")}] END"
}

// decayLevels gives the expression of the blocks TIME_DECAY sums a key's
// touchpoints by, js their indexes in T, in order (intel.Attribution's
// decayGroups): level 0 holds each touchpoint, {t: its time, s: 1.0},
// and each level above the blocks of two of the level below, with the
// time of the newer and the sum of their weights decayed to it. Each
// level is one list comprehension over the one below: a key of m
// touchpoints costs about 2m, and halvings levels suffice.
func decayLevels(js string) string {
	next := "[x IN range(0, (size(p) + 1) / 2 - 1) | CASE WHEN 2 * x + 1 < size(p) THEN " +
		"{t: p[2 * x + 1].t, s: p[2 * x + 1].s + p[2 * x].s * 2.0 ^ (-" + seconds("p[2 * x + 1].t - p[2 * x].t") + " / $halfLife)} " +
		"ELSE p[2 * x] END]"
	return "reduce(lv = [[j IN " + js + " | {t: evs[T[j]].t, s: 1.0}]], l IN range(1, halvings) | " +
		"CASE WHEN size(lv[-1]) <= 1 THEN lv ELSE head([p IN [lv[-1]] | lv + [" + next + "]]) END)"
}

// decayByKey gives the expression of a TIME_DECAY conversion's credits
// once per key (groups with their levels): each key's weight is the sum,
// decayed to the run's newest touchpoint, of at most two of its blocks
// per level, those that make up its touchpoints in T[lo..hi) (found by
// two binary searches of its list); the credits are the weights over
// their sum, for the keys weighing more than 0.
func decayByKey() string {
	contrib := func(b string) string {
		return b + ".s * 2.0 ^ (-" + seconds("newest - "+b+".t") + " / $halfLife)"
	}
	weight := "reduce(st = [" + lowerBound("0", "size(g.js)", "g.js[{m}] < lo") + ", " + lowerBound("0", "size(g.js)", "g.js[{m}] < hi") + ", 0.0], " +
		"l IN range(0, size(g.lv) - 1) | CASE WHEN st[0] >= st[1] THEN st ELSE " +
		"head([a IN [CASE WHEN st[0] % 2 = 1 THEN st[2] + " + contrib("g.lv[l][st[0]]") + " ELSE st[2] END] | " +
		"head([r IN [st[1] - st[1] % 2] | [(st[0] + st[0] % 2) / 2, r / 2, " +
		"CASE WHEN st[1] % 2 = 1 THEN a + " + contrib("g.lv[l][r]") + " ELSE a END]])]) END)[2]"
	return "head([newest IN [evs[T[hi - 1]].t] | head([xs IN [[g IN groups | {k: g.k, x: " + weight + "}]] | " +
		"head([total IN [" + neumaier("[y IN xs | y.x]") + "] | [y IN xs WHERE y.x > 0 | {k: y.k, w: y.x / total}]])])])"
}

// compileAttribution gives the statement of an attribution: per key
// credited, the credit, summed with compensation, and the number of
// conversions whose first credit went to it (their sum is the number of
// conversions). Each conversion's credits are summed by key in a
// subquery first, so the statement holds a partial sum per conversion and
// key credited, not every touchpoint's credit (a profile of 3,000
// conversions each with the other events as touchpoints held 4.5 million).
//
// Each conversion (an event that matches Conversion in the window) takes
// the profile's touchpoints before it, within Lookback, other than
// itself, and spreads its unit of credit over them by the model
// (intel.Attribution.Add).
//
// A profile of n events costs n log n, and each conversion log n and the
// lesser of its touchpoints and, for LINEAR, POSITION_BASED and
// TIME_DECAY, the keys of the profile's touchpoints times log n: with a
// few keys (channels, sources) n log n in all however far the lookback
// reaches. TIME_DECAY's key weights sum at most two blocks per level of
// the blocks each key's touchpoints are built into once (decayLevels).
func compileAttribution(q intel.AttributionQuery, scope audience.FilterQuery) (string, map[string]any, error) {
	if q.HalfLife == 0 {
		q.HalfLife = intel.DefaultHalfLife
	}
	c := newCompiler(scope)
	conv := c.match(&q.Conversion, "vis")
	touch := "(NOT " + conv + ")"
	if q.Touchpoints != nil {
		touch = c.match(q.Touchpoints, "vis")
	}
	from, to := q.Events()
	head, err := c.timelines(scope, from, to, q.ReadsProperties(),
		[][2]string{{"cv", "(" + conv + " AND " + c.window(q.Window) + ")"}, {"tc", touch}},
		"cv OR tc", "{t: "+nanos+", cv: cv, tc: tc, k: "+c.dimension(q.Dimension)+"}")
	if err != nil {
		return "", nil, err
	}
	c.params["lookback"] = q.Lookback.Nanoseconds()
	c.params["halfLife"] = q.HalfLife.Seconds()
	c.params["none"] = intel.NoTouch
	// The conversion's touchpoints are T[lo..hi), n of them.
	groups, decay := false, false
	var spread string
	switch q.Model {
	case intel.FirstTouch:
		spread = "[{k: evs[T[lo]].k, w: 1.0}]"
	case intel.LastTouch:
		spread = "[{k: evs[T[hi - 1]].k, w: 1.0}]"
	case intel.Linear:
		groups = true
		spread = byKey("lo", "hi", "1.0 / n")
	case intel.TimeDecay:
		// Ages count from the newest touchpoint, as in
		// intel.Attribution: the same shares, and a total that cannot
		// underflow to 0. With the touchpoints listed by key, and more of
		// them than keys times halvings, each key's weight is the sum of
		// its blocks in the run (decayLevels), as
		// intel.Attribution's spreadDecayByKey sums them.
		groups, decay = true, true
		spread = "CASE WHEN size(groups) = 0 OR n <= size(groups) * halvings THEN " +
			"head([tps IN [[j IN range(lo, hi - 1) | evs[T[j]]]] | " +
			"head([newest IN [reduce(m = tps[0].t, x IN tps | CASE WHEN x.t > m THEN x.t ELSE m END)] | " +
			"head([ws IN [[x IN tps | 2.0 ^ (-" + seconds("newest - x.t") + " / $halfLife)]] | head([total IN [" + neumaier("ws") +
			"] | [i IN range(0, n - 1) | {k: tps[i].k, w: ws[i] / total}]])])])])\n      ELSE " + decayByKey() + " END"
	case intel.PositionBased:
		groups = true
		spread = `CASE n
      WHEN 1 THEN [{k: evs[T[lo]].k, w: 1.0}]
      WHEN 2 THEN [{k: evs[T[lo]].k, w: 0.5}, {k: evs[T[lo + 1]].k, w: 0.5}]
      ELSE [{k: evs[T[lo]].k, w: 0.4}, {k: evs[T[hi - 1]].k, w: 0.4}] + ` + byKey("lo + 1", "hi - 1", "0.2 / (n - 2)") + `
    END`
	default:
		return "", nil, graph.Errorf(graph.EINVALID, "model %q is not one of FIRST_TOUCH, LAST_TOUCH, LINEAR, TIME_DECAY, POSITION_BASED", q.Model)
	}
	// T lists the indexes of the touchpoints in evs; both are in time
	// order, so a conversion's touchpoints, those in [at - Lookback, at),
	// are a run of T, whose ends two binary searches find: a pass over
	// the profile's events per conversion made an attribution quadratic
	// in a profile's events. groups lists, per key, the indexes in T of
	// its touchpoints, in order.
	c.params["groupsAbove"] = groupsAbove
	group := "WITH evs, halvings, T, [] AS groups"
	if groups {
		entry := "{k: key, js: js}"
		if decay {
			entry = "{k: key, js: js, lv: " + decayLevels("js") + "}"
		}
		group = `WITH evs, halvings, T
CALL (evs, T, halvings) {
  WITH evs, T, halvings WHERE size(T) > $groupsAbove
  UNWIND range(0, size(T) - 1) AS j
  WITH evs, T, halvings, j, evs[T[j]].k AS key ORDER BY j
  WITH evs, T, halvings, key, collect(j) AS js
  RETURN collect(` + entry + `) AS groups
}`
	}
	stmt := head + `WITH evs, toInteger(ceil(log(size(evs) + 1) / log(2))) + 1 AS halvings, [i IN range(0, size(evs) - 1) WHERE evs[i].tc] AS T
` + group + `
UNWIND [i IN range(0, size(evs) - 1) WHERE evs[i].cv] AS ci
WITH evs, halvings, T, groups, evs[ci].t AS at
WITH evs, halvings, T, groups, at, ` + lowerBound("0", "size(T)", "evs[T[{m}]].t < at") + ` AS hi
WITH evs, halvings, T, groups, ` + lowerBound("0", "hi", "evs[T[{m}]].t < at - $lookback") + ` AS lo, hi
WITH evs, halvings, T, groups, lo, hi, hi - lo AS n
WITH CASE WHEN n = 0 THEN [{k: $none, w: 1.0}] ELSE ` + spread + ` END AS credits
CALL (credits) {
  UNWIND range(0, size(credits) - 1) AS j
  WITH credits[j].k AS key, credits[j].w AS w, j = 0 AS first
  WITH key, collect(w) AS ws, sum(CASE WHEN first THEN 1 ELSE 0 END) AS c
  RETURN key, ` + neumaier("ws") + ` AS part, c
}
WITH key, collect(part) AS parts, sum(c) AS conversions
RETURN key, conversions, ` + neumaier("parts") + ` AS credit`
	return stmt, c.params, nil
}

// EvalAttribution implements intel.Evaluator: one statement.
func (s *Store) EvalAttribution(ctx context.Context, q intel.AttributionQuery, scope audience.FilterQuery) (intel.AttributionResult, error) {
	if err := q.Check(); err != nil {
		return intel.AttributionResult{}, err
	}
	stmt, params, err := compileAttribution(q, scope)
	if err != nil {
		return intel.AttributionResult{}, err
	}
	return evalIntel(ctx, s, "an attribution", stmt, params, func(recs []*neo4j.Record) (intel.AttributionResult, error) {
		conversions := 0
		credits := make(map[string]float64, len(recs))
		for _, r := range recs {
			key, _ := r.Values[0].(string)
			n, _ := r.Values[1].(int64)
			credit, _ := r.Values[2].(float64)
			conversions += int(n)
			credits[key] = credit
		}
		return intel.AttributionFrom(conversions, credits), nil
	})
}

// compilePaths gives the statement of a paths query: the number of
// starts, and the First paths counted, most frequent first, ties by path
// (lists in dictionary order, a path before its extensions, names in
// UTF-16 order: intel.PathsFrom's order), so that only the answer crosses
// the wire however many paths tie at the cut.
//
// Each start (an event that matches Start in the window) is followed by
// the names of the profile's next Depth events, those no later than
// Within after it when Within is set (intel.Paths.Add).
// withholdPersonal is x, or $withhold when x looks like personal data
// ($personal: graph.PersonalPattern). The cheap $maybePersonal
// (graph.MaybePersonalPattern, which matches all that $personal does)
// is asked first, and CASE asks $personal only of the texts it matches:
// PersonalPattern's dozens of digit ranges cost Java about 40 µs a
// 30-character name, the rough check a tenth of that.
const withholdPersonal = "CASE WHEN NOT x =~ $maybePersonal THEN x WHEN x =~ $personal THEN $withhold ELSE x END"

func compilePaths(q intel.PathsQuery, scope audience.FilterQuery) (string, map[string]any, error) {
	c := newCompiler(scope)
	start := "(" + c.match(&q.Start, "vis") + " AND " + c.window(q.Window) + ")"
	from, to := q.Events()
	c.params["nul"] = "\x00"
	name := "replace(" + cypher(`coalesce(e.{{name}}, e.{{longName}}, e.{{type}}, '')`) + ", $nul, '')"
	if q.Withhold != "" {
		// A name that looks like personal data counts as the stand-in
		// (intel.PathsQuery.Withhold), judged as graph.LooksPersonal
		// judges it.
		c.params["maybePersonal"], c.params["personal"] = graph.MaybePersonalPattern, graph.PersonalPattern
		c.params["withhold"] = q.Withhold
		name = "head([x IN [" + name + "] | " + withholdPersonal + "])"
	}
	head, err := c.timelines(scope, from, to, q.ReadsProperties(), [][2]string{{"st", start}}, "",
		"{t: "+nanos+", s: st, n: "+name+"}")
	if err != nil {
		return "", nil, err
	}
	c.params["depth"] = q.Depth
	c.params["within"] = q.Within.Nanoseconds()
	c.params["first"] = q.First
	stmt := head + `UNWIND [i IN range(0, size(evs) - 1) WHERE evs[i].s] AS si
WITH [x IN evs[si + 1..si + 1 + $depth] WHERE $within = 0 OR x.t <= evs[si].t + $within | x.n] AS path
WITH path, count(*) AS n ORDER BY n DESC, path
WITH collect({path: path, n: n}) AS counted, sum(n) AS starts
RETURN starts, counted[..$first] AS paths`
	return stmt, c.params, nil
}

// EvalPaths implements intel.Evaluator: one statement.
func (s *Store) EvalPaths(ctx context.Context, q intel.PathsQuery, scope audience.FilterQuery) (intel.PathsResult, error) {
	if err := q.Check(); err != nil {
		return intel.PathsResult{}, err
	}
	stmt, params, err := compilePaths(q, scope)
	if err != nil {
		return intel.PathsResult{}, err
	}
	return evalIntel(ctx, s, "paths", stmt, params, func(recs []*neo4j.Record) (intel.PathsResult, error) {
		if len(recs) == 0 {
			return intel.PathsResult{Paths: []intel.Path{}}, nil
		}
		starts, _ := recs[0].Values[0].(int64)
		list, _ := recs[0].Values[1].([]any)
		counted := make([]intel.Path, 0, len(list))
		for _, x := range list {
			m, _ := x.(map[string]any)
			names, _ := m["path"].([]any)
			n, _ := m["n"].(int64)
			p := intel.Path{Count: int(n)}
			for _, name := range names {
				s, _ := name.(string)
				p.Events = append(p.Events, s)
			}
			counted = append(counted, p)
		}
		return intel.PathsFrom(int(starts), q.First, counted), nil
	})
}
