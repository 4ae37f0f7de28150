package neo4jstore

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// tx implements graph.Tx. A new one is made for every attempt of a managed
// transaction, so its nonce and what it caches never outlive a rolled-back
// attempt.
type tx struct {
	readTx
	nonce string
	// locked holds, per identifier that LockIdentifiers returned, what it
	// read under the lock that only this transaction writes from then on:
	// its REJECTED_LINK edges. It stays current until this
	// transaction writes (Apply), which clears it. A tx serves one
	// goroutine, so it needs no mutex.
	locked map[string]lockedIdentifier
}

type lockedIdentifier struct {
	rejected []rejectedEdge
}

type rejectedEdge struct {
	id   string // elementId, so an edge between two locked identifiers counts once
	link graph.RejectedLink
}

// qClaimEvents creates a placeholder node per new id, with its digest. The
// unique constraint makes a concurrent transaction claiming the same id
// wait for this one, then find the node. Only the nodes created by this
// call carry this call's nonce; every other node is a stored event, whose
// digest is returned (null for an event stored before digests were kept).
var qClaimEvents = listRows(cypher(`
UNWIND $claims AS c
MERGE (e:{{Event}} { {{id}}: c.id })
  ON CREATE SET e.{{claim}} = $nonce, e.{{digest}} = c.digest
WITH c, e
WHERE e.{{claim}} IS NULL OR e.{{claim}} <> $nonce
RETURN c.id AS id, e.{{digest}} AS digest`), "id", "digest")

func (t *tx) ClaimEvents(ctx context.Context, claims []graph.EventClaim) (map[string]string, error) {
	out := make(map[string]string)
	if len(claims) == 0 {
		return out, nil
	}
	rows := make([]any, 0, len(claims))
	seen := make(map[string]bool, len(claims))
	for _, c := range claims {
		if !seen[c.ID] {
			seen[c.ID] = true
			rows = append(rows, map[string]any{"id": c.ID, "digest": strParam(c.Digest)})
		}
	}
	recs, err := t.queryList(ctx, qClaimEvents, map[string]any{"claims": rows, "nonce": t.nonce})
	if err != nil {
		return nil, fmt.Errorf("claim events: %w", err)
	}
	for _, r := range recs {
		id, _ := r.Values[0].(string)
		digest, _ := r.Values[1].(string) // null: stored before digests
		out[id] = digest
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
var qLockCreate = listRows(cypher(`
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
RETURN i`+identFields+` AS i, p.{{id}} AS pid,`+lockedRejected), "i", "pid", "rejected")

var qLockExisting = listRows(cypher(`
UNWIND $keys AS k
MATCH (i:{{Identifier}} { {{key}}: k })
SET i.{{key}} = i.{{key}}
WITH i
OPTIONAL MATCH (i)-[:{{IN}}]->(p:{{Profile}})
RETURN i`+identFields+` AS i, p.{{id}} AS pid,`+lockedRejected), "i", "pid", "rejected")

// lockedRejected ends both lock queries: the identifier's REJECTED_LINK
// edges, read under the lock like everything else they return, so that
// Rejected on locked identifiers needs no query of its own (see tx.Rejected).
const lockedRejected = `
  COLLECT { MATCH (i)-[r:{{REJECTED_LINK}}]-(o:{{Identifier}})
    RETURN [elementId(r), startNode(r).{{key}}, endNode(r).{{key}}, r { .* }] } AS rejected`

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
	recs, err := t.queryList(ctx, q, params)
	if err != nil {
		return nil, fmt.Errorf("lock identifiers: %w", err)
	}
	if err := identifierRows(recs, out); err != nil {
		return nil, err
	}
	if t.locked == nil {
		t.locked = make(map[string]lockedIdentifier, len(recs))
	}
	for _, r := range recs {
		p, err := asProps(r.Values[0])
		if err != nil {
			return nil, err
		}
		var l lockedIdentifier
		edges, _ := r.Values[2].([]any)
		for _, e := range edges {
			v, _ := e.([]any)
			if len(v) != 4 {
				// Not the row itself: its keys name identifiers' values.
				return nil, fmt.Errorf("lock identifiers: a refused link read back as %d values, want 4", len(v))
			}
			x, err := decodeRejected(v[1], v[2], v[3])
			if err != nil {
				return nil, err
			}
			id, _ := v[0].(string)
			l.rejected = append(l.rejected, rejectedEdge{id: id, link: x})
		}
		t.locked[p.str(propKey)] = l
	}
	return out, nil
}

// Rejected answers from what LockIdentifiers read when every key is locked
// and nothing was written since: no other transaction can add or remove an
// edge at a locked node, so that is what a query would return now.
// Otherwise it queries.
func (t *tx) Rejected(ctx context.Context, keys []string) ([]graph.RejectedLink, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	for _, k := range keys {
		if _, ok := t.locked[k]; !ok {
			return t.readTx.Rejected(ctx, keys)
		}
	}
	seen := map[string]bool{}
	out := []graph.RejectedLink{}
	for _, k := range keys {
		for _, e := range t.locked[k].rejected {
			if !seen[e.id] {
				seen[e.id] = true
				out = append(out, e.link)
			}
		}
	}
	sortRejected(out)
	return out, nil
}

var qLockProfiles = listRows(cypher(`
UNWIND $ids AS id
MATCH (p:{{Profile}} { {{id}}: id })
SET p.{{id}} = p.{{id}}
RETURN p { .* } AS p`), "p")

func (t *tx) LockProfiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	out := make(map[string]graph.Profile, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	recs, err := t.queryList(ctx, qLockProfiles, map[string]any{"ids": uniq(sorted)})
	if err != nil {
		return nil, fmt.Errorf("lock profiles: %w", err)
	}
	return out, profileRows(recs, out)
}

// applySteps are the parts of Apply's one statement, in the field order of
// graph.Write. Each is a unit subquery (CALL () { ... } with no RETURN): it
// runs once for the statement's single row, sees everything the steps before
// it wrote, and passes that row on unchanged, whether its list is empty or
// not. One statement for the whole Write is one round trip.
var applySteps = []struct {
	what, param, body string
	rows              func(*tx, context.Context, *graph.Write) ([]any, error)
}{
	// A merged-away profile also carries the label Merged, kept in step
	// with mergedInto, so the live count needs no scan.
	{"profiles", "profiles", `
  UNWIND $profiles AS row
  MERGE (p:{{Profile}} { {{id}}: row.id })
  SET p.{{createdAt}} = row.createdAt, p.{{updatedAt}} = row.updatedAt, p.{{size}} = row.size,
      p.{{counts}} = row.counts, p.{{mergedInto}} = row.mergedInto
  FOREACH (_ IN CASE WHEN row.mergedInto IS NULL THEN [] ELSE [1] END | SET p:{{Merged}})
  FOREACH (_ IN CASE WHEN row.mergedInto IS NULL THEN [1] ELSE [] END | REMOVE p:{{Merged}})`, (*tx).putProfileRows},
	// The events are collected before any identifier is deleted, and
	// checked only after all are: an event carried by two erased
	// identifiers goes too.
	{"identifier deletions", "deleteIdentifiers", `
  UNWIND $deleteIdentifiers AS k
  MATCH (i:{{Identifier}} { {{key}}: k })
  OPTIONAL MATCH (i)<-[:{{BY}}]-(e:{{Event}})
  WITH collect(DISTINCT i) AS idents, collect(DISTINCT e) AS events
  FOREACH (i IN idents | DETACH DELETE i)
  WITH events
  UNWIND events AS e
  WITH e WHERE NOT EXISTS { (e)-[:{{BY}}]->() }
  DETACH DELETE e`, (*tx).deleteIdentifierRows},
	{"assignments", "assign", `
  UNWIND $assign AS row
  MATCH (i:{{Identifier}} { {{key}}: row.key })
  MATCH (p:{{Profile}} { {{id}}: row.pid })
  CALL (i, p) {
    MATCH (i)-[old:{{IN}}]->(q)
    WHERE q <> p
    DELETE old
  }
  MERGE (i)-[:{{IN}}]->(p)`, (*tx).assignRows},
	{"links", "links", `
  UNWIND $links AS row
  MATCH (a:{{Identifier}} { {{key}}: row.a })
  MATCH (b:{{Identifier}} { {{key}}: row.b })
  MERGE (a)-[l:{{LINKED}}]->(b)
  SET l.{{source}} = row.source, l.{{evidence}} = row.evidence,
    l.{{firstSeen}} = row.firstSeen, l.{{lastSeen}} = row.lastSeen, l.{{count}} = row.count`, (*tx).linkRows},
	{"link deletions", "deleteLinks", `
  UNWIND $deleteLinks AS row
  MATCH (:{{Identifier}} { {{key}}: row.a })-[l:{{LINKED}}]->(:{{Identifier}} { {{key}}: row.b })
  DELETE l`, (*tx).deleteLinkRows},
	{"refusal deletions", "deleteRejected", `
  UNWIND $deleteRejected AS row
  MATCH (:{{Identifier}} { {{key}}: row.a })-[r:{{REJECTED_LINK}}]-(:{{Identifier}} { {{key}}: row.b })
  DELETE r`, (*tx).deleteRejectedRows},
	// A refusal is one per pair whichever way round: one recorded the
	// other way is replaced.
	{"refused links", "rejected", `
  UNWIND $rejected AS row
  MATCH (a:{{Identifier}} { {{key}}: row.a })
  MATCH (b:{{Identifier}} { {{key}}: row.b })
  CALL (a, b) {
    MATCH (b)-[old:{{REJECTED_LINK}}]->(a)
    DELETE old
  }
  MERGE (a)-[r:{{REJECTED_LINK}}]->(b)
  SET r.{{source}} = row.source, r.{{reason}} = row.reason, r.{{at}} = row.at, r.{{evidence}} = row.evidence`, (*tx).rejectedRows},
	// Completes the nodes ClaimEvents made in one SET: row.props holds
	// every event property, and claim: null, which drops the claim mark.
	{"events", "events", `
  UNWIND $events AS row
  MERGE (e:{{Event}} { {{id}}: row.id })
  SET e += row.props
  WITH e, row
  UNWIND row.keys AS k
  MATCH (i:{{Identifier}} { {{key}}: k })
  CREATE (e)-[:{{BY}}]->(i)`, (*tx).eventRows},
	// A payload replaced in place; a null (empty map) removes the
	// property. row.text holds the name, channel and campaign the scrub
	// gives (a key left out keeps the stored one). An event not stored,
	// or only claimed, is skipped.
	{"event scrubs", "scrubEvents", `
  UNWIND $scrubEvents AS row
  MATCH (e:{{Event}} { {{id}}: row.id })
  WHERE e.{{claim}} IS NULL
  SET e.{{properties}} = row.properties, e.{{traits}} = row.traits, e += row.slots,
      e += coalesce(row.text, {})`, (*tx).scrubEventRows},
	// The traits as the engine merged them.
	{"traits", "traits", `
  UNWIND $traits AS row
  MATCH (i:{{Identifier}} { {{key}}: row.key })
  SET i.{{traits}} = row.traits, i += row.slots`, (*tx).traitRows},
	{"history", "changes", `
  UNWIND $changes AS row
  MATCH (f:{{Profile}} { {{id}}: row.from })
  MATCH (t:{{Profile}} { {{id}}: row.into })
  FOREACH (_ IN CASE WHEN row.split THEN [] ELSE [1] END |
    CREATE (f)-[:{{MERGED_INTO}} { {{at}}: row.at, {{reason}}: row.reason, {{members}}: row.members }]->(t))
  FOREACH (_ IN CASE WHEN row.split THEN [1] ELSE [] END |
    CREATE (t)-[:{{SPLIT_FROM}} { {{at}}: row.at, {{reason}}: row.reason }]->(f))`, (*tx).changeRows},
	// Every entry of the pair at that time is rewritten: row.a and row.b
	// are the ends of its edge (Into to From for a split), row.rel its
	// type.
	{"history rewrites", "rewriteChanges", `
  UNWIND $rewriteChanges AS row
  MATCH (:{{Profile}} { {{id}}: row.a })-[r:{{MERGED_INTO}}|{{SPLIT_FROM}}]->(:{{Profile}} { {{id}}: row.b })
  WHERE type(r) = row.rel AND r.{{at}} = row.at
  SET r.{{reason}} = row.reason, r.{{members}} = row.members`, (*tx).rewriteChangeRows},
	{"profile deletions", "deleteProfiles", `
  UNWIND $deleteProfiles AS id
  MATCH (p:{{Profile}} { {{id}}: id })
  DETACH DELETE p`, (*tx).deleteProfileRows},
	{"retired profile ids", "retireProfiles", `
  UNWIND $retireProfiles AS h
  MERGE (:{{RetiredProfileId}} { {{hash}}: h })`, (*tx).retireProfileRows},
}

// qApply is every step of Apply in one statement.
//
// It keeps its plan (replan=skip). Neo4j throws a cached plan away when the
// statistics it was made with have changed enough, at most every
// dbms.cypher.min_replan_interval (10 s), and planning this statement takes
// about 230 ms on the machine of docs/BENCHMARKS.md. While a young database
// grows, that happened to about one Apply in ten and was a third of Apply's
// time. Replanning cannot improve it: every step reaches its nodes by a
// unique-constraint index seek, whatever the counts, and
// TestHotQueriesSeekByIndex checks the plan made on an empty database.
var qApply = func() string {
	var b strings.Builder
	b.WriteString("CYPHER replan=skip\n")
	for _, s := range applySteps {
		b.WriteString("CALL () {")
		b.WriteString(s.body)
		b.WriteString("\n}\n")
	}
	b.WriteString("RETURN count(*) AS n")
	return cypher(b.String())
}()

// Apply writes w field by field in the order of graph.Write (see
// applySteps), in one statement per chunkRows rows: a Write of any size
// costs ceil(rows / chunkRows) round trips, and no statement carries more
// than chunkRows rows of parameters (see applyChunks).
func (t *tx) Apply(ctx context.Context, w *graph.Write) error {
	if w == nil || w.Empty() {
		return nil
	}
	// Whatever happens next, what LockIdentifiers read may no longer be
	// what is stored.
	defer func() { t.locked = nil }()
	lists := make([][]any, len(applySteps))
	for i, s := range applySteps {
		rows, err := s.rows(t, ctx, w)
		if err != nil {
			return fmt.Errorf("apply %s: %w", s.what, err)
		}
		lists[i] = rows
	}
	for _, params := range applyChunks(lists, applyChunkRows) {
		if err := t.exec(ctx, qApply, params); err != nil {
			return fmt.Errorf("apply: %w", err)
		}
	}
	return nil
}

// applyChunks cuts the rows of the steps, lists[i] for applySteps[i], into
// the parameters of successive qApply statements of at most size rows in
// all. Rows keep their order across statements: a statement holds the end
// of one step's rows and the start of the next ones', and since each
// statement sees what the ones before it wrote, running them in turn writes
// what one statement with every row would. Every statement names every
// parameter, empty lists included, so all share one cached plan.
func applyChunks(lists [][]any, size int) []map[string]any {
	var out []map[string]any
	var cur map[string]any
	room := 0
	for i, rows := range lists {
		for len(rows) > 0 {
			if room == 0 {
				cur = emptyApplyParams()
				out = append(out, cur)
				room = size
			}
			n := min(room, len(rows))
			cur[applySteps[i].param] = rows[:n:n]
			rows, room = rows[n:], room-n
		}
	}
	if out == nil {
		out = append(out, emptyApplyParams())
	}
	return out
}

func emptyApplyParams() map[string]any {
	p := make(map[string]any, len(applySteps))
	for _, s := range applySteps {
		p[s.param] = []any{}
	}
	return p
}

func (t *tx) putProfileRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.PutProfiles))
	for i, p := range w.PutProfiles {
		counts, err := jsonParam(p.Counts)
		if err != nil {
			return nil, fmt.Errorf("profile %s counts: %w", p.ID, err)
		}
		rows[i] = map[string]any{
			"id": p.ID, "createdAt": timeParam(p.CreatedAt), "updatedAt": timeParam(p.UpdatedAt),
			"size": int64(p.Size), "counts": counts, "mergedInto": strParam(p.MergedInto),
		}
	}
	return rows, nil
}

func (t *tx) deleteIdentifierRows(_ context.Context, w *graph.Write) ([]any, error) {
	return uniq(w.DeleteIdentifiers), nil
}

func (t *tx) assignRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.Assign))
	for i, a := range w.Assign {
		rows[i] = map[string]any{"key": a.Key, "pid": a.ProfileID}
	}
	return rows, nil
}

func (t *tx) linkRows(_ context.Context, w *graph.Write) ([]any, error) {
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
	return rows, nil
}

func (t *tx) deleteLinkRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.DeleteLinks))
	for i, l := range w.DeleteLinks {
		k := graph.NewLinkKey(l.A, l.B)
		rows[i] = map[string]any{"a": k.A, "b": k.B}
	}
	return rows, nil
}

func (t *tx) rejectedRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.PutRejected))
	for i, r := range w.PutRejected {
		rows[i] = map[string]any{
			"a": r.A, "b": r.B, "source": strParam(r.Source), "reason": strParam(r.Reason),
			"at": timeParam(r.At), "evidence": strParam(r.Evidence),
		}
	}
	return rows, nil
}

func (t *tx) eventRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.Events))
	for i, e := range w.Events {
		props, err := jsonParam(e.Properties)
		if err != nil {
			return nil, fmt.Errorf("event %s properties: %w", e.ID, err)
		}
		traits, err := jsonParam(e.Traits)
		if err != nil {
			return nil, fmt.Errorf("event %s traits: %w", e.ID, err)
		}
		rows[i] = map[string]any{
			"id": e.ID, "keys": uniq(e.Keys),
			// SET e += props: a null value removes the property.
			"props": map[string]any{
				propType: strParam(e.Type), propName: indexedName(e.Name), propLongName: longName(e.Name), propChannel: strParam(e.Channel),
				propSource: strParam(e.Source), propCampaign: strParam(e.Campaign), propTimestamp: timeParam(e.Timestamp),
				propReceivedAt: timeParam(e.ReceivedAt), propProperties: props, propTraits: traits,
				propMessageID: strParam(e.MessageID), propDigest: strParam(e.Digest),
				propClaim: nil,
			},
		}
		slotParams(rows[i].(map[string]any)["props"].(map[string]any), audience.PropertySlots(e.Properties))
	}
	return rows, nil
}

// traitRows merges in Go: the identifiers are locked (LockIdentifiers), so
// their traits as read under the lock, earlier in this transaction, are
// still current, and writing the merged JSON back loses no concurrent
// update. Keys that LockIdentifiers did not return are read here, in one
// query.
func (t *tx) traitRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, 0, len(w.Traits))
	for _, u := range w.Traits {
		enc, err := jsonParam(u.Traits)
		if err != nil {
			return nil, fmt.Errorf("identifier %s traits: %w", graph.KeyRef(u.Key), err)
		}
		rows = append(rows, map[string]any{"key": u.Key, "traits": enc, "slots": identifierSlots(u.Traits)})
	}
	return rows, nil
}

func (t *tx) deleteRejectedRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.DeleteRejected))
	for i, l := range w.DeleteRejected {
		rows[i] = map[string]any{"a": l.A, "b": l.B}
	}
	return rows, nil
}

func (t *tx) changeRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.Changes))
	for i, c := range w.Changes {
		switch c.Kind {
		case graph.ChangeMerge, graph.ChangeSplit:
		default:
			return nil, fmt.Errorf("unknown change kind %q", c.Kind)
		}
		rows[i] = map[string]any{
			"from": c.From, "into": c.Into, "split": c.Kind == graph.ChangeSplit,
			"at": timeParam(c.At), "reason": strParam(c.Reason), "members": strsParam(c.Members),
		}
	}
	return rows, nil
}

func (t *tx) scrubEventRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.ScrubEvents))
	for i, p := range w.ScrubEvents {
		props, err := jsonParam(p.Properties)
		if err != nil {
			return nil, fmt.Errorf("event %s properties: %w", p.ID, err)
		}
		traits, err := jsonParam(p.Traits)
		if err != nil {
			return nil, fmt.Errorf("event %s traits: %w", p.ID, err)
		}
		slots := map[string]any{}
		slotParams(slots, audience.PropertySlots(p.Properties))
		// SET e += text: a null value removes the property, a key left
		// out keeps it.
		text := map[string]any{}
		for prop, v := range map[string]*string{propChannel: p.Channel, propCampaign: p.Campaign} {
			if v != nil {
				text[prop] = strParam(*v)
			}
		}
		if p.Name != nil {
			text[propName], text[propLongName] = indexedName(*p.Name), longName(*p.Name)
		}
		rows[i] = map[string]any{"id": p.ID, "properties": props, "traits": traits, "slots": slots, "text": text}
	}
	return rows, nil
}

// rewriteChangeRows names each entry's edge as the history step stores it:
// a merge From -MERGED_INTO-> Into with its members (a list, maybe empty),
// a split Into -SPLIT_FROM-> From, with members only when given.
func (t *tx) rewriteChangeRows(_ context.Context, w *graph.Write) ([]any, error) {
	rows := make([]any, len(w.RewriteChanges))
	for i, c := range w.RewriteChanges {
		row := map[string]any{"at": timeParam(c.At), "reason": strParam(c.Reason)}
		switch c.Kind {
		case graph.ChangeMerge:
			row["a"], row["b"], row["rel"], row["members"] = c.From, c.Into, relMergedInto, strsParam(c.Members)
		case graph.ChangeSplit:
			row["a"], row["b"], row["rel"], row["members"] = c.Into, c.From, relSplitFrom, nil
			if len(c.Members) > 0 {
				row["members"] = strsParam(c.Members)
			}
		default:
			return nil, fmt.Errorf("unknown change kind %q", c.Kind)
		}
		rows[i] = row
	}
	return rows, nil
}

func (t *tx) deleteProfileRows(_ context.Context, w *graph.Write) ([]any, error) {
	return uniq(w.DeleteProfiles), nil
}

func (t *tx) retireProfileRows(_ context.Context, w *graph.Write) ([]any, error) {
	for i, h := range w.RetireProfiles {
		if !graph.ValidKeyedHash(h) {
			return nil, fmt.Errorf("retired profile id %d: not a hash of 64 lowercase hex digits", i)
		}
	}
	return uniq(w.RetireProfiles), nil
}

// indexedName and longName are an event's name as its node keeps it: in
// name when the index on name and timestamp takes it (at most
// graph.MaxEventNameBytes), in longName otherwise (propLongName); the
// other is null, which SET e += removes.
func indexedName(n string) any {
	if len(n) > graph.MaxEventNameBytes {
		return nil
	}
	return strParam(n)
}

func longName(n string) any {
	if len(n) <= graph.MaxEventNameBytes {
		return nil
	}
	return n
}
