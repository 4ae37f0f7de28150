package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
)

// neo4jRaw runs the raw baselines on the driver of the store under
// measure, so both share one connection pool.
type neo4jRaw struct {
	driver neo4j.DriverWithContext
	db     string
}

func newNeo4jRaw(s *neo4jstore.Store) *neo4jRaw {
	return &neo4jRaw{driver: s.Driver(), db: s.Database()}
}

// qRawIngest writes events and their identifiers with no resolution: the
// fastest Neo4j takes them in, one UNWIND per batch, MERGE on the
// identifier's unique key, CREATE for the event and its BY edges.
const qRawIngest = `
UNWIND $rows AS r
CREATE (e:Event {id: r.id, type: r.type, name: r.name, channel: r.channel, source: 'bench',
                 timestamp: r.ts, receivedAt: r.ts, properties: r.props})
WITH e, r
UNWIND r.keys AS k
MERGE (i:Identifier {key: k.key})
  ON CREATE SET i.type = k.type, i.value = k.value, i.firstSeen = r.ts, i.lastSeen = r.ts
  ON MATCH SET i.lastSeen = CASE WHEN r.ts > i.lastSeen THEN r.ts ELSE i.lastSeen END
CREATE (e)-[:BY]->(i)`

// qRawLinks writes link events with no resolution: both identifiers
// merged on their key, the event and its BY edges created, the LINKED edge
// merged.
const qRawLinks = `
UNWIND $rows AS r
MERGE (a:Identifier {key: r.a})
MERGE (b:Identifier {key: r.b})
CREATE (e:Event {id: r.id, timestamp: r.ts})
CREATE (e)-[:BY]->(a)
CREATE (e)-[:BY]->(b)
MERGE (a)-[:LINKED]->(b)`

// write runs one query in one managed write transaction.
func (n *neo4jRaw) write(ctx context.Context, query string, params map[string]any) error {
	sess := n.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: n.db, AccessMode: neo4j.AccessModeWrite})
	defer sess.Close(context.WithoutCancel(ctx))
	_, err := sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, query, params)
		if err != nil {
			return nil, err
		}
		_, err = res.Consume(ctx)
		return nil, err
	})
	return err
}

// deleteAll empties the database in chunks, as neo4jstore.DeleteAll does.
func (n *neo4jRaw) deleteAll(ctx context.Context) error {
	sess := n.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: n.db, AccessMode: neo4j.AccessModeWrite})
	defer sess.Close(context.WithoutCancel(ctx))
	res, err := sess.Run(ctx, "MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		return fmt.Errorf("emptying Neo4j: %w", err)
	}
	return nil
}

// ingest runs the raw write with writers concurrent sessions, each
// transaction one batch, retried by ExecuteWrite on deadlocks.
func (n *neo4jRaw) ingest(ctx context.Context, w *workload, writers int) (time.Duration, error) {
	params := make([]map[string]any, len(w.batches))
	for i, b := range w.batches {
		rows := make([]any, len(b))
		for j, r := range b {
			keys := make([]any, len(r.keys))
			for x, k := range r.keys {
				ref := graph.SplitKey(k)
				keys[x] = map[string]any{"key": k, "type": ref.Type, "value": ref.Value}
			}
			rows[j] = map[string]any{"id": r.id, "type": r.typ, "name": r.name, "channel": r.channel, "ts": r.ts, "props": r.props, "keys": keys}
		}
		params[i] = map[string]any{"rows": rows}
	}
	return runWriters(ctx, len(params), writers, func(i int) error { return n.write(ctx, qRawIngest, params[i]) })
}

// qRawLookup is the one indexed read a lookup needs at the least.
const qRawLookup = `MATCH (i:Identifier {key: $k})-[:IN]->(p:Profile) RETURN p.id AS id`

// lookups reads each key's profile id, one auto-commit query in a read
// session each (the cheapest read the driver offers: one round trip, no
// COMMIT), and checks it against what the service resolved.
func (n *neo4jRaw) lookups(ctx context.Context, keys []string, part map[string]string) ([]time.Duration, error) {
	one := func(k string) (time.Duration, error) {
		start := time.Now()
		sess := n.driver.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead, DatabaseName: n.db})
		var recs []*neo4j.Record
		res, err := sess.Run(ctx, qRawLookup, map[string]any{"k": k})
		if err == nil {
			recs, err = res.Collect(ctx)
		}
		if cerr := sess.Close(ctx); err == nil {
			err = cerr
		}
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if len(recs) != 1 {
			return 0, fmt.Errorf("identifier %s: %d profiles", k, len(recs))
		}
		if id, _ := recs[0].Get("id"); id != part[k] {
			return 0, fmt.Errorf("identifier %s: raw read finds profile %v, the service %s", k, id, part[k])
		}
		return d, nil
	}
	return timeEach(keys, one)
}
