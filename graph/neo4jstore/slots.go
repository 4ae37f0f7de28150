package neo4jstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// The slots compiled filters read (filter.go) are written with every event
// and every change of an identifier's traits. Data stored before they
// existed gets them once, from its JSON, when Migrate first runs on it:
// backfillSlots walks the identifiers and then the events in key order,
// a page per transaction, and marks the migration done. The pages seek by
// index past the cursor (the hints), so that keys holding any characters
// are all read (see dump.go's qPage).

const slotsMigration = "slots-1"

// backfillPage is how many nodes one backfill transaction rewrites.
const backfillPage = 2000

var qMigrationDone = cypher(`
OPTIONAL MATCH (m:{{Migration}} { {{id}}: $id })
RETURN m IS NOT NULL`)

var qMarkMigration = cypher(`
MERGE (m:{{Migration}} { {{id}}: $id })
SET m.{{at}} = $at`)

var qIdentifierTraitsPage = cypher(`
MATCH (i:{{Identifier}}) USING INDEX SEEK i:{{Identifier}}({{key}})
WHERE i.{{key}} > $after
RETURN i.{{key}}, i.{{traits}}
ORDER BY i.{{key}}
LIMIT $limit`)

var qSetIdentifierSlots = cypher(`
UNWIND $rows AS r
MATCH (i:{{Identifier}} { {{key}}: r.k })
SET i += r.s`)

var qEventPropertiesPage = cypher(`
MATCH (e:{{Event}}) USING INDEX SEEK e:{{Event}}({{id}})
WHERE e.{{id}} > $after
RETURN e.{{id}}, e.{{properties}}
ORDER BY e.{{id}}
LIMIT $limit`)

var qSetEventSlots = cypher(`
UNWIND $rows AS r
MATCH (e:{{Event}} { {{id}}: r.k })
SET e += r.s`)

// backfillSlots writes the slots of every identifier and event, unless
// done before; it returns a line for Migrate.
func (s *Store) backfillSlots(ctx context.Context) (string, error) {
	done, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qMigrationDone, map[string]any{"id": slotsMigration})
		if err != nil || len(recs) == 0 {
			return false, err
		}
		b, _ := recs[0].Values[0].(bool)
		return b, nil
	})
	if err != nil {
		return "", fmt.Errorf("migrate: slots: %w", err)
	}
	const what = "data migration slots-1: the slots of identifiers' traits and events' properties"
	if done.(bool) {
		return "present " + what, nil
	}
	ids, err := s.backfill(ctx, qIdentifierTraitsPage, qSetIdentifierSlots, graph.KeyRef, func(raw string) (map[string]any, error) {
		var traits map[string]graph.TraitValue
		if err := json.Unmarshal([]byte(raw), &traits); err != nil {
			return nil, err
		}
		return identifierSlots(traits), nil
	})
	if err != nil {
		return "", fmt.Errorf("migrate: identifier slots: %w", err)
	}
	evs, err := s.backfill(ctx, qEventPropertiesPage, qSetEventSlots, func(id string) string { return id }, func(raw string) (map[string]any, error) {
		var props map[string]any
		if err := json.Unmarshal([]byte(raw), &props); err != nil {
			return nil, err
		}
		m := map[string]any{}
		slotParams(m, audience.PropertySlots(props))
		return m, nil
	})
	if err != nil {
		return "", fmt.Errorf("migrate: event slots: %w", err)
	}
	_, err = s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, t.exec(ctx, qMarkMigration, map[string]any{"id": slotsMigration, "at": timeParam(time.Now())})
	})
	if err != nil {
		return "", fmt.Errorf("migrate: slots: %w", err)
	}
	return fmt.Sprintf("applied %s (%d identifiers, %d events with JSON)", what, ids, evs), nil
}

// backfill pages through the nodes page lists (key, JSON), and writes
// the slots slotsOf gives for those with JSON; it returns how many it
// wrote. An error names the node by name(key): an identifier's key holds
// its value, which no error repeats.
func (s *Store) backfill(ctx context.Context, page, set string, name func(string) string, slotsOf func(raw string) (map[string]any, error)) (int, error) {
	after, n := "", 0
	for {
		out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
			recs, err := t.query(ctx, page, map[string]any{"after": after, "limit": backfillPage})
			if err != nil {
				return nil, err
			}
			var rows []any
			last := ""
			for _, r := range recs {
				k, _ := r.Values[0].(string)
				last = k
				raw, _ := r.Values[1].(string)
				if raw == "" {
					continue
				}
				sl, err := slotsOf(raw)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name(k), err)
				}
				rows = append(rows, map[string]any{"k": k, "s": sl})
			}
			if len(rows) > 0 {
				if err := t.exec(ctx, set, map[string]any{"rows": rows}); err != nil {
					return nil, err
				}
			}
			return [2]any{last, len(rows)}, nil
		})
		if err != nil {
			return n, err
		}
		r := out.([2]any)
		n += r[1].(int)
		if r[0].(string) == "" {
			return n, nil
		}
		after = r[0].(string)
	}
}
