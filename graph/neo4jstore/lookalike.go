package neo4jstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/telemetry"
	"github.com/idgraph/cdp/privacy"
)

// Lookalikes (intel.LookalikeFrom) read every live profile twice; each
// pass is one statement that streams, in id order, each profile's row:
// its identifiers' keys and traits (folded in Go by graph.FoldTraits),
// its events each once grouped by name and channel with their count and
// latest time, its kept membership of the audience, its consent state for
// the purpose, and the value of each computed trait, computed from its
// events as filters compute it. The rows are read as they arrive, a few
// hundred at a time, so memory stays bounded whatever the data's size.

var _ intel.LookalikeReader = (*Store)(nil)

// lookalikeFetch is how many rows the driver asks for at a time.
const lookalikeFetch = 500

// eventName is the name intel.EventName gives event e.
var eventName = cypher(`CASE WHEN coalesce(e.{{name}}, e.{{longName}}, '') <> '' THEN coalesce(e.{{name}}, e.{{longName}}) ELSE coalesce(e.{{type}}, '') END`)

// compileLookalike gives the statement of a lookalike pass, and the names
// of the computed traits in the order its rows give their values. The
// profiles come in the order of the index on their id, which the planner
// carries to the result: the final ORDER BY costs no sort, so rows stream
// as they are computed.
func compileLookalike(audienceID string, scope audience.FilterQuery) (string, map[string]any, []string, error) {
	c := newCompiler(scope)
	c.params["after"] = ""
	c.params["audience"] = audienceID
	granted := "true"
	if scope.Purpose != "" {
		granted = c.stateIs(scope.Purpose, string(privacy.StateGranted))
	}
	member := cypher(`EXISTS { MATCH (:{{AudienceMember}} { {{audienceId}}: $audience, {{profileId}}: p.{{id}} }) }`)
	if scope.Filter != nil {
		// The seed's membership (intel.SeedOf): kept, and granting the
		// audience's purpose when it has one.
		e, err := c.expr(scope.Filter)
		if err != nil {
			return "", nil, nil, err
		}
		member = e
	}
	names := make([]string, 0, len(scope.Computed))
	for name := range scope.Computed {
		names = append(names, name)
	}
	slices.Sort(names)
	values := make([]string, len(names))
	for i, name := range names {
		v, err := c.computedValue(scope.Computed[name])
		if err != nil {
			return "", nil, nil, err
		}
		values[i] = "head([cv IN [" + v + "] | [cv.k, cv.s, cv.n]])"
	}
	stmt := cypher(`MATCH (p:{{Profile}})
USING INDEX SEEK p:{{Profile}}({{id}})
WHERE p.{{id}} > $after AND NOT p:{{Merged}}
WITH p ORDER BY p.{{id}}
WITH p, COLLECT { MATCH (p)<-[:{{IN}}]-(i) RETURN i { {{key}}: i.{{key}}, {{traits}}: i.{{traits}} } } AS ms
WHERE size(ms) > 0
CALL (p) {
  MATCH (p)<-[:{{IN}}]-()<-[:{{BY}}]-(e)
  WITH DISTINCT e
  WITH `) + eventName + cypher(` AS k, coalesce(e.{{channel}}, '') AS ch, count(*) AS c, max(`) + nanos + cypher(`) AS t
  RETURN collect([k, ch, c]) AS groups, sum(c) AS n, max(t) AS last
}
RETURN p.{{id}} AS id, ms, groups, n, last,
  `) + member + ` AS member,
  ` + granted + ` AS granted,
  [` + strings.Join(values, ", ") + `] AS computed
ORDER BY id`
	return stmt, c.params, names, nil
}

// LookalikeRows implements intel.LookalikeReader: one statement, its rows
// streamed to fn.
func (s *Store) LookalikeRows(ctx context.Context, audienceID string, scope audience.FilterQuery, fn func(intel.LookalikeRow) error) (err error) {
	stmt, params, names, err := compileLookalike(audienceID, scope)
	if err != nil {
		return err
	}
	ctx, span := telemetry.StartChild(ctx, "store.view", dbSystem)
	defer func() { telemetry.EndStore(span, "view", err) }()
	gctx, done, err := s.guard(ctx)
	if err != nil {
		return err
	}
	sess := s.driver.NewSession(gctx, neo4j.SessionConfig{
		AccessMode:      neo4j.AccessModeRead,
		DatabaseName:    s.db,
		BookmarkManager: s.bookmarks.Load().m,
		FetchSize:       lookalikeFetch,
	})
	defer sess.Close(context.WithoutCancel(ctx))
	// An auto-commit transaction: fn sees each row once, which a managed
	// transaction, rerun after a transient failure, could not promise.
	var fnErr error
	err = func() error {
		res, err := sess.Run(gctx, stmt, params)
		if err != nil {
			return fmt.Errorf("read a lookalike's profiles: %w", err)
		}
		for res.Next(gctx) {
			row, err := decodeLookalikeRow(res.Record(), names)
			if err != nil {
				return err
			}
			if err := fn(row); err != nil {
				fnErr = err
				return err
			}
		}
		if err := res.Err(); err != nil {
			return fmt.Errorf("read a lookalike's profiles: %w", err)
		}
		return nil
	}()
	if fnErr != nil {
		done(nil)
		return fnErr
	}
	return s.classify(done(callerErr(ctx, err)))
}

// decodeLookalikeRow reads a row of compileLookalike's statement; names
// are the computed traits' names in the order of its values.
func decodeLookalikeRow(r *neo4j.Record, names []string) (intel.LookalikeRow, error) {
	if len(r.Values) != 8 {
		return intel.LookalikeRow{}, fmt.Errorf("read a lookalike's profiles: %d columns where 8 were expected", len(r.Values))
	}
	id, _ := r.Values[0].(string)
	row := intel.LookalikeRow{ProfileID: id, Ingredients: intel.Ingredients{
		Traits: map[string]any{}, Computed: map[string]any{}, Names: map[string]int{}, Channels: map[string]int{},
	}}
	list, _ := r.Values[1].([]any)
	ms := make([]graph.Identifier, 0, len(list))
	for _, x := range list {
		m, err := decodeIdentifier(x, id)
		if err != nil {
			return row, err
		}
		ms = append(ms, m)
	}
	for name, tv := range graph.FoldTraits(ms) {
		row.Traits[name] = tv.Value
	}
	groups, _ := r.Values[2].([]any)
	for _, g := range groups {
		x, _ := g.([]any)
		if len(x) != 3 {
			return row, fmt.Errorf("read a lookalike's profiles: profile %s: a malformed event group", id)
		}
		name, _ := x[0].(string)
		ch, _ := x[1].(string)
		n, _ := x[2].(int64)
		row.Names[name] += int(n)
		if ch != "" {
			row.Channels[ch] += int(n)
		}
	}
	n, _ := r.Values[3].(int64)
	row.Events = int(n)
	if last, ok := r.Values[4].(int64); ok {
		row.Last = time.Unix(0, last).UTC()
	}
	row.Member, _ = r.Values[5].(bool)
	row.Granted, _ = r.Values[6].(bool)
	values, _ := r.Values[7].([]any)
	if len(values) != len(names) {
		return row, fmt.Errorf("read a lookalike's profiles: %d computed values where %d were expected", len(values), len(names))
	}
	for i, v := range values {
		x, _ := v.([]any)
		if len(x) != 3 {
			continue
		}
		k, _ := x[0].(int64)
		switch k {
		case audience.SlotString:
			row.Computed[names[i]], _ = x[1].(string)
		case audience.SlotNumber:
			row.Computed[names[i]], _ = x[2].(float64)
		case audience.SlotBool:
			f, _ := x[2].(float64)
			row.Computed[names[i]] = f == 1
		}
		// No value, or a list or an object, which give no feature.
	}
	return row, nil
}
