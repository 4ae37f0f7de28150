package neo4jstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/idgraph/cdp/graph"
)

// tx implements graph.Tx. A new one is made for every attempt of a managed
// transaction, so its nonce never outlives a rolled-back attempt.
type tx struct {
	readTx
	nonce string
}

// qClaimEvents creates a placeholder node per new id. The unique constraint
// makes a concurrent transaction claiming the same id wait for this one, then
// find the node. Only the nodes created by this call carry this call's nonce.
var qClaimEvents = cypher(`
UNWIND $ids AS id
MERGE (e:{{Event}} { {{id}}: id })
  ON CREATE SET e.{{claim}} = $nonce
RETURN id, e.{{claim}} = $nonce AS fresh`)

func (t *tx) ClaimEvents(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	recs, err := t.query(ctx, qClaimEvents, map[string]any{"ids": uniq(ids), "nonce": t.nonce})
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	for _, r := range recs {
		id, _ := r.Values[0].(string)
		if fresh, _ := r.Values[1].(bool); fresh {
			out[id] = true
		}
	}
	return out, nil
}

// Locking: a transaction holds a node's write lock from its first write to
// the node until it ends. "SET i.key = i.key" is that first write. It must
// rewrite a property no transaction ever changes: the right-hand side is
// read before the lock is granted, so rewriting, say, lastSeen could put
// back a value another writer changed meanwhile. Every read below the lock
// sees the latest committed state.
//
// qLockCreate then lowers firstSeen, raises lastSeen and adds sources; rows
// arrive in key order, so locks are taken in key order.
var qLockCreate = cypher(`
UNWIND $rows AS row
MERGE (i:{{Identifier}} { {{key}}: row.key })
  ON CREATE SET i.{{type}} = row.type, i.{{value}} = row.value,
    i.{{firstSeen}} = row.first, i.{{lastSeen}} = row.last, i.{{sources}} = row.sources
  ON MATCH SET i.{{key}} = i.{{key}}
WITH i, row
SET i.{{firstSeen}} = CASE WHEN i.{{firstSeen}} IS NULL OR row.first < i.{{firstSeen}} THEN row.first ELSE i.{{firstSeen}} END,
    i.{{lastSeen}} = CASE WHEN i.{{lastSeen}} IS NULL OR row.last > i.{{lastSeen}} THEN row.last ELSE i.{{lastSeen}} END,
    i.{{sources}} = coalesce(i.{{sources}}, []) + [s IN row.sources WHERE NOT s IN coalesce(i.{{sources}}, [])]
WITH i
OPTIONAL MATCH (i)-[:{{IN}}]->(p:{{Profile}})
RETURN i { .* } AS i, p.{{id}} AS pid`)

var qLockExisting = cypher(`
UNWIND $keys AS k
MATCH (i:{{Identifier}} { {{key}}: k })
SET i.{{key}} = i.{{key}}
WITH i
OPTIONAL MATCH (i)-[:{{IN}}]->(p:{{Profile}})
RETURN i { .* } AS i, p.{{id}} AS pid`)

func (t *tx) LockIdentifiers(ctx context.Context, seen []graph.IdentifierSeen, create bool) (map[string]graph.Identifier, error) {
	out := make(map[string]graph.Identifier, len(seen))
	if len(seen) == 0 {
		return out, nil
	}
	sorted := append([]graph.IdentifierSeen(nil), seen...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	q, params := qLockExisting, map[string]any{}
	if create {
		rows := make([]any, 0, len(sorted))
		for i, s := range sorted {
			if i > 0 && s.Key == sorted[i-1].Key {
				continue
			}
			rows = append(rows, map[string]any{
				"key": s.Key, "type": s.Type, "value": s.Value,
				"first": timeParam(s.First), "last": timeParam(s.Last),
				"sources": strsParam(s.Sources),
			})
		}
		q, params["rows"] = qLockCreate, rows
	} else {
		keys := make([]string, len(sorted))
		for i, s := range sorted {
			keys[i] = s.Key
		}
		params["keys"] = uniq(keys)
	}
	recs, err := t.query(ctx, q, params)
	if err != nil {
		return nil, fmt.Errorf("lock identifiers: %w", err)
	}
	return out, identifierRows(recs, out)
}

var qLockProfiles = cypher(`
UNWIND $ids AS id
MATCH (p:{{Profile}} { {{id}}: id })
SET p.{{id}} = p.{{id}}
RETURN p { .* } AS p`)

func (t *tx) LockProfiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	out := make(map[string]graph.Profile, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	recs, err := t.query(ctx, qLockProfiles, map[string]any{"ids": uniq(sorted)})
	if err != nil {
		return nil, fmt.Errorf("lock profiles: %w", err)
	}
	return out, profileRows(recs, out)
}

// A merged-away profile also carries the label Merged, kept in step with
// mergedInto, so the live count needs no scan.
var qPutProfiles = cypher(`
UNWIND $rows AS row
MERGE (p:{{Profile}} { {{id}}: row.id })
SET p.{{createdAt}} = row.createdAt, p.{{updatedAt}} = row.updatedAt, p.{{size}} = row.size,
    p.{{counts}} = row.counts, p.{{mergedInto}} = row.mergedInto
FOREACH (_ IN CASE WHEN row.mergedInto IS NULL THEN [] ELSE [1] END | SET p:{{Merged}})
FOREACH (_ IN CASE WHEN row.mergedInto IS NULL THEN [1] ELSE [] END | REMOVE p:{{Merged}})`)

// The events are collected before any identifier is deleted, and checked
// only after all are: an event carried by two erased identifiers goes too.
var qDeleteIdentifiers = cypher(`
UNWIND $keys AS k
MATCH (i:{{Identifier}} { {{key}}: k })
OPTIONAL MATCH (i)<-[:{{BY}}]-(e:{{Event}})
WITH collect(DISTINCT i) AS idents, collect(DISTINCT e) AS events
FOREACH (i IN idents | DETACH DELETE i)
WITH events
UNWIND events AS e
WITH e WHERE NOT EXISTS { (e)-[:{{BY}}]->() }
DETACH DELETE e`)

var qAssign = cypher(`
UNWIND $rows AS row
MATCH (i:{{Identifier}} { {{key}}: row.key })
MATCH (p:{{Profile}} { {{id}}: row.pid })
CALL (i, p) {
  MATCH (i)-[old:{{IN}}]->(q)
  WHERE q <> p
  DELETE old
}
MERGE (i)-[:{{IN}}]->(p)`)

var qPutLinks = cypher(`
UNWIND $rows AS row
MATCH (a:{{Identifier}} { {{key}}: row.a })
MATCH (b:{{Identifier}} { {{key}}: row.b })
MERGE (a)-[l:{{LINKED}}]->(b)
  ON CREATE SET l.{{source}} = row.source, l.{{evidence}} = row.evidence,
    l.{{firstSeen}} = row.firstSeen, l.{{lastSeen}} = row.lastSeen, l.{{count}} = row.count
  ON MATCH SET l.{{count}} = l.{{count}} + row.count,
    l.{{firstSeen}} = CASE WHEN row.firstSeen < l.{{firstSeen}} THEN row.firstSeen ELSE l.{{firstSeen}} END,
    l.{{lastSeen}} = CASE WHEN row.lastSeen > l.{{lastSeen}} THEN row.lastSeen ELSE l.{{lastSeen}} END`)

var qDeleteLinks = cypher(`
UNWIND $rows AS row
MATCH (:{{Identifier}} { {{key}}: row.a })-[l:{{LINKED}}]->(:{{Identifier}} { {{key}}: row.b })
DELETE l`)

// A refusal is one per pair whichever way round: one recorded the other way
// is replaced.
var qPutRejected = cypher(`
UNWIND $rows AS row
MATCH (a:{{Identifier}} { {{key}}: row.a })
MATCH (b:{{Identifier}} { {{key}}: row.b })
CALL (a, b) {
  MATCH (b)-[old:{{REJECTED_LINK}}]->(a)
  DELETE old
}
MERGE (a)-[r:{{REJECTED_LINK}}]->(b)
SET r.{{source}} = row.source, r.{{reason}} = row.reason, r.{{at}} = row.at, r.{{evidence}} = row.evidence`)

// Completes the nodes ClaimEvents made, dropping the claim mark.
var qPutEvents = cypher(`
UNWIND $rows AS row
MERGE (e:{{Event}} { {{id}}: row.id })
SET e.{{type}} = row.type, e.{{name}} = row.name, e.{{channel}} = row.channel, e.{{source}} = row.source,
    e.{{timestamp}} = row.timestamp, e.{{receivedAt}} = row.receivedAt,
    e.{{properties}} = row.properties, e.{{traits}} = row.traits
REMOVE e.{{claim}}
WITH e, row
UNWIND row.keys AS k
MATCH (i:{{Identifier}} { {{key}}: k })
CREATE (e)-[:{{BY}}]->(i)`)

var qReadTraits = cypher(`
UNWIND $keys AS k
MATCH (i:{{Identifier}} { {{key}}: k })
RETURN k, i.{{traits}} AS traits`)

var qWriteTraits = cypher(`
UNWIND $rows AS row
MATCH (i:{{Identifier}} { {{key}}: row.key })
SET i.{{traits}} = row.traits`)

var qPutChanges = cypher(`
UNWIND $rows AS row
MATCH (f:{{Profile}} { {{id}}: row.from })
MATCH (t:{{Profile}} { {{id}}: row.into })
FOREACH (_ IN CASE WHEN row.split THEN [] ELSE [1] END |
  CREATE (f)-[:{{MERGED_INTO}} { {{at}}: row.at, {{reason}}: row.reason }]->(t))
FOREACH (_ IN CASE WHEN row.split THEN [1] ELSE [] END |
  CREATE (t)-[:{{SPLIT_FROM}} { {{at}}: row.at, {{reason}}: row.reason }]->(f))`)

var qDeleteProfiles = cypher(`
UNWIND $ids AS id
MATCH (p:{{Profile}} { {{id}}: id })
DETACH DELETE p`)

// Apply writes w field by field in the order of graph.Write, one query per
// non-empty field (two for traits), whatever the number of rows.
func (t *tx) Apply(ctx context.Context, w *graph.Write) error {
	if w == nil || w.Empty() {
		return nil
	}
	steps := []struct {
		what string
		fn   func(context.Context, *graph.Write) error
	}{
		{"profiles", t.putProfiles},
		{"identifier deletions", t.deleteIdentifiers},
		{"assignments", t.assign},
		{"links", t.putLinks},
		{"link deletions", t.deleteLinks},
		{"refused links", t.putRejected},
		{"events", t.putEvents},
		{"traits", t.putTraits},
		{"history", t.putChanges},
		{"profile deletions", t.deleteProfiles},
	}
	for _, s := range steps {
		if err := s.fn(ctx, w); err != nil {
			return fmt.Errorf("apply %s: %w", s.what, err)
		}
	}
	return nil
}

func (t *tx) putProfiles(ctx context.Context, w *graph.Write) error {
	if len(w.PutProfiles) == 0 {
		return nil
	}
	rows := make([]any, len(w.PutProfiles))
	for i, p := range w.PutProfiles {
		counts, err := jsonParam(p.Counts)
		if err != nil {
			return fmt.Errorf("profile %s counts: %w", p.ID, err)
		}
		rows[i] = map[string]any{
			"id": p.ID, "createdAt": timeParam(p.CreatedAt), "updatedAt": timeParam(p.UpdatedAt),
			"size": int64(p.Size), "counts": counts, "mergedInto": strParam(p.MergedInto),
		}
	}
	return t.exec(ctx, qPutProfiles, map[string]any{"rows": rows})
}

func (t *tx) deleteIdentifiers(ctx context.Context, w *graph.Write) error {
	if len(w.DeleteIdentifiers) == 0 {
		return nil
	}
	return t.exec(ctx, qDeleteIdentifiers, map[string]any{"keys": uniq(w.DeleteIdentifiers)})
}

func (t *tx) assign(ctx context.Context, w *graph.Write) error {
	if len(w.Assign) == 0 {
		return nil
	}
	rows := make([]any, len(w.Assign))
	for i, a := range w.Assign {
		rows[i] = map[string]any{"key": a.Key, "pid": a.ProfileID}
	}
	return t.exec(ctx, qAssign, map[string]any{"rows": rows})
}

func (t *tx) putLinks(ctx context.Context, w *graph.Write) error {
	if len(w.PutLinks) == 0 {
		return nil
	}
	rows := make([]any, len(w.PutLinks))
	for i, l := range w.PutLinks {
		// Stored from the smaller key to the larger, whatever the caller's
		// order, so a pair has one edge.
		k := graph.NewLinkKey(l.A, l.B)
		rows[i] = map[string]any{
			"a": k.A, "b": k.B, "source": strParam(l.Source), "evidence": strParam(l.Evidence),
			"firstSeen": timeParam(l.FirstSeen), "lastSeen": timeParam(l.LastSeen), "count": int64(l.Count),
		}
	}
	return t.exec(ctx, qPutLinks, map[string]any{"rows": rows})
}

func (t *tx) deleteLinks(ctx context.Context, w *graph.Write) error {
	if len(w.DeleteLinks) == 0 {
		return nil
	}
	rows := make([]any, len(w.DeleteLinks))
	for i, l := range w.DeleteLinks {
		k := graph.NewLinkKey(l.A, l.B)
		rows[i] = map[string]any{"a": k.A, "b": k.B}
	}
	return t.exec(ctx, qDeleteLinks, map[string]any{"rows": rows})
}

func (t *tx) putRejected(ctx context.Context, w *graph.Write) error {
	if len(w.PutRejected) == 0 {
		return nil
	}
	rows := make([]any, len(w.PutRejected))
	for i, r := range w.PutRejected {
		rows[i] = map[string]any{
			"a": r.A, "b": r.B, "source": strParam(r.Source), "reason": strParam(r.Reason),
			"at": timeParam(r.At), "evidence": strParam(r.Evidence),
		}
	}
	return t.exec(ctx, qPutRejected, map[string]any{"rows": rows})
}

func (t *tx) putEvents(ctx context.Context, w *graph.Write) error {
	if len(w.Events) == 0 {
		return nil
	}
	rows := make([]any, len(w.Events))
	for i, e := range w.Events {
		props, err := jsonParam(e.Properties)
		if err != nil {
			return fmt.Errorf("event %s properties: %w", e.ID, err)
		}
		traits, err := jsonParam(e.Traits)
		if err != nil {
			return fmt.Errorf("event %s traits: %w", e.ID, err)
		}
		rows[i] = map[string]any{
			"id": e.ID, "type": strParam(e.Type), "name": strParam(e.Name), "channel": strParam(e.Channel),
			"source": strParam(e.Source), "timestamp": timeParam(e.Timestamp), "receivedAt": timeParam(e.ReceivedAt),
			"properties": props, "traits": traits, "keys": uniq(e.Keys),
		}
	}
	return t.exec(ctx, qPutEvents, map[string]any{"rows": rows})
}

// putTraits merges in Go: the identifiers are locked (LockIdentifiers), so
// reading their traits and writing the merged JSON back in the same
// transaction loses no concurrent update. Two queries for the whole batch.
func (t *tx) putTraits(ctx context.Context, w *graph.Write) error {
	if len(w.Traits) == 0 {
		return nil
	}
	keys := make([]string, len(w.Traits))
	for i, u := range w.Traits {
		keys[i] = u.Key
	}
	recs, err := t.query(ctx, qReadTraits, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return err
	}
	cur := make(map[string]map[string]graph.TraitValue, len(recs))
	for _, r := range recs {
		k, _ := r.Values[0].(string)
		m := map[string]graph.TraitValue{}
		if err := (props{"t": r.Values[1]}).json("t", &m); err != nil {
			return fmt.Errorf("identifier %s: %w", k, err)
		}
		if m == nil {
			m = map[string]graph.TraitValue{}
		}
		cur[k] = m
	}
	var rows []any
	for _, u := range w.Traits {
		m, ok := cur[u.Key]
		if !ok {
			continue // erased or never stored: nothing to carry traits
		}
		for name, v := range u.Traits {
			v.At = graph.Clean(v.At)
			if old, ok := m[name]; !ok || !v.At.Before(old.At) {
				m[name] = v
			}
		}
	}
	for _, k := range sortedKeys(cur) {
		enc, err := jsonParam(cur[k])
		if err != nil {
			return fmt.Errorf("identifier %s traits: %w", k, err)
		}
		rows = append(rows, map[string]any{"key": k, "traits": enc})
	}
	return t.exec(ctx, qWriteTraits, map[string]any{"rows": rows})
}

func (t *tx) putChanges(ctx context.Context, w *graph.Write) error {
	if len(w.Changes) == 0 {
		return nil
	}
	rows := make([]any, len(w.Changes))
	for i, c := range w.Changes {
		switch c.Kind {
		case graph.ChangeMerge, graph.ChangeSplit:
		default:
			return fmt.Errorf("unknown change kind %q", c.Kind)
		}
		rows[i] = map[string]any{
			"from": c.From, "into": c.Into, "split": c.Kind == graph.ChangeSplit,
			"at": timeParam(c.At), "reason": strParam(c.Reason),
		}
	}
	return t.exec(ctx, qPutChanges, map[string]any{"rows": rows})
}

func (t *tx) deleteProfiles(ctx context.Context, w *graph.Write) error {
	if len(w.DeleteProfiles) == 0 {
		return nil
	}
	return t.exec(ctx, qDeleteProfiles, map[string]any{"ids": uniq(w.DeleteProfiles)})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
