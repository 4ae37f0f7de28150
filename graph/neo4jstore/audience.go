package neo4jstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// Audiences and computed traits, apart from the identity graph (a profile
// is named by its id only, never by a relationship):
//
//	(:Audience {id, name, description, filter, purpose, static,
//	  createdAt, updatedAt, size, refreshedAt, seq}) unique on id
//	(:AudienceMember {audienceId, profileId, since})
//	                                               unique on (audienceId,
//	                                               profileId), indexed on
//	                                               profileId
//	(:AudienceChange {audienceId, profileId, kind, at, seq})
//	                                               indexed on (audienceId,
//	                                               at, seq)
//	(:AudienceDeletion {audienceId, at, lock})     unique on audienceId: the
//	                                               tombstone of a deleted
//	                                               audience whose members
//	                                               and log are still being
//	                                               deleted (DeleteAudience)
//	(:ComputedTrait {name, description, aggregate, event, eventType,
//	  property, where, window, createdAt, updatedAt}) unique on name
//	(:ComputedValue {profileId, name, value, computedAt, expires})
//	                                               unique on (profileId,
//	                                               name), indexed on name
//	                                               and on expires
//
// A composite index serves a lookup by its first property only when the
// query also says the others exist, hence the IS NOT NULL of every
// property every such node has.
//
// static is true on a static audience and absent on the others (those
// stored before static audiences existed included); filter, where and
// value are JSON (audience.EncodeFilter, EncodeValue);
// seq on an Audience counts the changes logged so far, and numbers them.
// Every write is one managed transaction of a fixed number of statements,
// lists sent as UNWIND parameters, with two exceptions: DeleteAudience
// takes as many as the audience's size needs, each deleting a bounded
// chunk, and PutAudience two more for each level of the audiences its
// filter's inAudience conditions reach.

var _ audience.Store = (*Store)(nil)

func badAudienceID() error {
	return graph.Errorf(graph.EINVALID, "audience id must be %s and 32 lowercase hex digits", audience.AudienceIDPrefix)
}

// References between definitions (audience.Store): a filter's computed
// traits and audiences must be stored. Under READ COMMITTED a check read
// inside the transaction is not enough (two transactions could each read
// the state before the other's write), so every write that could break a
// reference first takes the write lock of the nodes the reference joins,
// by setting and removing a property of no other use (lock), which
// leaves them as they were, and checks in a later statement:
// PutAudience locks the ComputedTrait and Audience nodes its filter names
// (qLockRefs), DeleteComputedTrait and DeleteAudience the node they delete
// (qLockComputedTrait, qLockAudienceNode). Of a put and a delete of what
// it names, the one that takes the lock second waits until the other
// commits, and its check then reads what the other wrote: the put finds
// the node gone, the delete finds the audience that names it. A node
// deleted while a put waited for its lock is left alone by the SET. (A
// SET of a property to its own value would take the lock too, but write
// back the value it read before waiting for it: a redefinition committed
// meanwhile would be lost.)

// qLockRefs takes the write locks of the stored computed traits and
// audiences named, in the order given (sorted, so that two puts take
// shared ones in the same order).
var qLockRefs = cypher(`
CALL () {
  UNWIND $computed AS c
  MATCH (t:{{ComputedTrait}} { {{name}}: c })
  SET t.{{lock}} = true REMOVE t.{{lock}}
}
CALL () {
  UNWIND $audiences AS x
  MATCH (a:{{Audience}} { {{id}}: x })
  SET a.{{lock}} = true REMOVE a.{{lock}}
}`)

// qLockAudiences takes the write locks of the stored audiences named, in
// the order given. PutAudience takes its own audience's with those its
// filter names (qLockRefs), then those its filter reaches further, a
// frontier at a time (audience.FindCycle): of two puts that would close a
// cycle between them, the one that takes a shared lock second waits until
// the other commits, then reads the filter the other wrote and is refused
// (or Neo4j finds a deadlock and one is run again, and then reads it).
var qLockAudiences = cypher(`
UNWIND $ids AS x
MATCH (a:{{Audience}} { {{id}}: x })
SET a.{{lock}} = true REMOVE a.{{lock}}`)

// qAudienceFilters reads the stored filters of the audiences named, in a
// statement after qLockAudiences.
var qAudienceFilters = listRows(cypher(`
UNWIND $ids AS x
MATCH (a:{{Audience}} { {{id}}: x })
RETURN a.{{id}} AS id, a.{{filter}} AS filter`), "id", "filter")

// qRefsStored reads which of the computed traits and audiences named are
// stored, in a statement after qLockRefs.
var qRefsStored = cypher(`
CALL () {
  UNWIND $computed AS c
  MATCH (t:{{ComputedTrait}} { {{name}}: c })
  RETURN collect(t.{{name}}) AS computed
}
CALL () {
  UNWIND $audiences AS x
  MATCH (a:{{Audience}} { {{id}}: x })
  RETURN collect(a.{{id}}) AS audiences
}
RETURN computed, audiences`)

// qAudienceTaken reads whether the id is stored, how many audiences there
// are (from the count store), and whether an audience of the id is being
// deleted.
// qLockAudiencesToCreate locks every stored audience, in id order, when
// $id is none of them: two puts that create audiences take turns, so that
// each counts what the other stored and MaxAudiences holds (the count of
// qAudienceTaken reads what is committed, not what another put holds).
// It runs first in the put's transaction, before any other lock, so that
// every lock on audiences is taken in id order.
var qLockAudiencesToCreate = cypher(`
OPTIONAL MATCH (me:{{Audience}} { {{id}}: $id })
WITH me WHERE me IS NULL
MATCH (a:{{Audience}})
WITH a ORDER BY a.{{id}}
SET a.{{lock}} = true REMOVE a.{{lock}}`)

var qAudienceTaken = cypher(`
OPTIONAL MATCH (a:{{Audience}} { {{id}}: $id })
RETURN a IS NOT NULL AS found, COUNT { MATCH (x:{{Audience}}) } AS n,
  EXISTS { MATCH (t:{{AudienceDeletion}} { {{audienceId}}: $id }) } AS deleting, a.{{updatedAt}} AS updatedAt`)

// qAudiencesNaming reads the audiences whose stored filter holds $needle
// (audience.RefNeedle): those that may name a computed trait or an
// audience. It visits every audience (at most audience.MaxAudiences), and
// runs on a delete only.
var qAudiencesNaming = cypher(`
MATCH (a:{{Audience}})
WHERE a.{{filter}} CONTAINS $needle
RETURN a { .* } AS a`)

// audiencesNaming reads, in t, the audiences whose filter may name ref (a
// superset of those that do).
func audiencesNaming(ctx context.Context, t *readTx, ref string) ([]audience.Audience, error) {
	recs, err := t.query(ctx, qAudiencesNaming, map[string]any{"needle": audience.RefNeedle(ref)})
	if err != nil {
		return nil, err
	}
	out := make([]audience.Audience, 0, len(recs))
	for _, rec := range recs {
		a, err := decodeAudience(rec.Values[0])
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// strSet is a set of the strings of a list read back.
func strSet(v any) map[string]bool {
	list, _ := v.([]any)
	out := make(map[string]bool, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out[s] = true
		}
	}
	return out
}

// qPutAudience creates or replaces the definition; the kept fields are set
// on create only.
var qPutAudience = cypher(`
MERGE (a:{{Audience}} { {{id}}: $id })
ON CREATE SET a.{{createdAt}} = $createdAt, a.{{size}} = 0, a.{{seq}} = 0
SET a.{{name}} = $name, a.{{description}} = $description, a.{{filter}} = $filter,
  a.{{purpose}} = $purpose, a.{{static}} = $static, a.{{updatedAt}} = $updatedAt`)

// staticParam is an Audience's static property: true, or null (absent)
// for an audience with a filter.
func staticParam(static bool) any {
	if static {
		return true
	}
	return nil
}

// PutAudience implements audience.Store, in one transaction of three
// statements, five when the filter names computed traits or audiences
// (locked, then checked, first: see qLockRefs); a filter naming audiences
// also locks its own audience with them, and takes two statements for each
// level of the audiences it reaches, the ones it names included
// (qLockAudiences and qAudienceFilters, for audience.FindCycle). It
// refuses (ECONFLICT) to create an audience of an id whose deletion is not
// finished.
func (s *Store) PutAudience(ctx context.Context, a audience.Audience) error {
	_, err := s.putAudience(ctx, a, false, time.Time{})
	return err
}

// ReplaceAudience implements audience.Store: PutAudience that takes the
// audience's write lock (qLockAudienceStored) before any check and
// refuses when it is not stored. Under that lock no deletion of it, nor
// another update, commits until this transaction ends, and a deletion
// committed before finds nothing to lock and is seen.
func (s *Store) ReplaceAudience(ctx context.Context, a audience.Audience, ifUpdatedAt time.Time) (time.Time, error) {
	return s.putAudience(ctx, a, true, ifUpdatedAt)
}

// putAudience is PutAudience, and with replace ReplaceAudience; it returns
// the UpdatedAt stored.
func (s *Store) putAudience(ctx context.Context, a audience.Audience, replace bool, ifUpdatedAt time.Time) (time.Time, error) {
	if err := a.Validate(); err != nil {
		return time.Time{}, err
	}
	filter, err := audience.EncodeFilter(a.Filter)
	if err != nil {
		return time.Time{}, err
	}
	computed, auds := a.Filter.ComputedNames(), a.Filter.AudienceIDs()
	refs := map[string]any{"computed": computed, "audiences": auds}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		// A replace takes the audience's lock and finds it stored before
		// any other check, after the locks of the computed traits and
		// audiences its filter names when it names any (qLockRefs, which
		// takes its own with theirs, in id order): in the order every
		// other writer takes them, so that it adds no deadlock.
		stored := func() error {
			if !replace {
				return nil
			}
			recs, err := t.query(ctx, qLockAudienceStored, map[string]any{"id": a.ID})
			if err != nil {
				return fmt.Errorf("replace audience: lock it: %w", err)
			}
			if len(recs) != 1 {
				return fmt.Errorf("replace audience: %d rows", len(recs))
			}
			if n, _ := recs[0].Values[0].(int64); n == 0 {
				return audience.ErrNotStored(a.ID)
			}
			return nil
		}
		if len(computed)+len(auds) == 0 {
			if err := stored(); err != nil {
				return nil, err
			}
		}
		if err := t.exec(ctx, qLockAudiencesToCreate, map[string]any{"id": a.ID}); err != nil {
			return nil, fmt.Errorf("put audience: lock the audiences to count them: %w", err)
		}
		if len(computed)+len(auds) > 0 {
			// With the audiences named, the audience put is locked too, all
			// in id order, so that two puts naming each other wait rather
			// than deadlock.
			lock := refs
			if len(auds) > 0 {
				lock = map[string]any{"computed": computed, "audiences": slices.Sorted(slices.Values(append([]string{a.ID}, auds...)))}
			}
			if err := t.exec(ctx, qLockRefs, lock); err != nil {
				return nil, fmt.Errorf("put audience: lock the computed traits and audiences its filter names: %w", err)
			}
			if err := stored(); err != nil {
				return nil, err
			}
			recs, err := t.query(ctx, qRefsStored, refs)
			if err != nil {
				return nil, fmt.Errorf("put audience: read the computed traits and audiences its filter names: %w", err)
			}
			if len(recs) != 1 {
				return nil, fmt.Errorf("put audience: %d rows of stored references", len(recs))
			}
			storedComputed, storedAuds := strSet(recs[0].Values[0]), strSet(recs[0].Values[1])
			if m := audience.MissingRef(&a.Filter,
				func(name string) bool { return storedComputed[name] },
				func(id string) bool { return storedAuds[id] },
			); m != nil {
				return nil, m
			}
			cycle, err := audience.FindCycle(a.ID, &a.Filter, func(ids []string) (map[string]audience.Filter, error) {
				return lockedFilters(ctx, t, ids)
			})
			if err != nil {
				return nil, fmt.Errorf("put audience: %w", err)
			}
			if cycle != nil {
				return nil, cycle
			}
		}
		recs, err := t.query(ctx, qAudienceTaken, map[string]any{"id": a.ID})
		if err != nil {
			return nil, fmt.Errorf("put audience: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("put audience: %d rows", len(recs))
		}
		found, _ := recs[0].Values[0].(bool)
		if replace && !found {
			// Deleted by the transaction whose lock the first statement
			// waited for.
			return nil, audience.ErrNotStored(a.ID)
		}
		updatedAt := a.UpdatedAt
		if replace {
			// Read under the audience's lock, taken by the first
			// statement: no other update commits until this one ends.
			stored, _ := recs[0].Values[3].(time.Time)
			if err := audience.CheckVersion(a.ID, ifUpdatedAt, stored); err != nil {
				return nil, err
			}
			updatedAt = audience.NextVersion(a.UpdatedAt, stored)
		}
		n, _ := recs[0].Values[1].(int64)
		if !found && n >= audience.MaxAudiences {
			return nil, graph.Errorf(graph.ECONFLICT, "the store holds %d audiences, the most it keeps", n)
		}
		// A new audience of the id would lose its members to the
		// deletion of the old one.
		if deleting, _ := recs[0].Values[2].(bool); !found && deleting {
			return nil, graph.Errorf(graph.ECONFLICT, "audience %s was deleted and its members and log are still being removed; try again when that is done", a.ID)
		}
		err = t.exec(ctx, qPutAudience, map[string]any{
			"id": a.ID, "createdAt": timeParam(a.CreatedAt), "name": a.Name, "description": strParam(a.Description),
			"filter": string(filter), "purpose": strParam(a.Purpose), "static": staticParam(a.Static), "updatedAt": timeParam(updatedAt),
		})
		if err != nil {
			return nil, fmt.Errorf("put audience: %w", err)
		}
		return graph.Clean(updatedAt), nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return out.(time.Time), nil
}

// lockedFilters locks the stored audiences of ids (qLockAudiences), then
// reads their filters, which no other transaction can change until this
// one ends.
func lockedFilters(ctx context.Context, t *readTx, ids []string) (map[string]audience.Filter, error) {
	params := map[string]any{"ids": ids}
	if err := t.exec(ctx, qLockAudiences, params); err != nil {
		return nil, fmt.Errorf("lock the audiences a filter reaches: %w", err)
	}
	recs, err := t.queryList(ctx, qAudienceFilters, params)
	if err != nil {
		return nil, fmt.Errorf("read the audiences a filter reaches: %w", err)
	}
	out := make(map[string]audience.Filter, len(recs))
	for _, r := range recs {
		id, _ := r.Values[0].(string)
		text, _ := r.Values[1].(string)
		f, err := audience.DecodeFilter([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("audience %s: %w", id, err)
		}
		out[id] = f
	}
	return out, nil
}

// deleteChunk is the most members and log entries one transaction of
// DeleteAudience deletes: well within Neo4j's memory limit of a
// transaction (db.memory.transaction.max) however large the audience.
// Tests lower it.
var deleteChunk = 10000

// beforeDeleteChunk, set by tests only, runs before each transaction that
// deletes a chunk; an error stops the deletion there, as the end of the
// process would.
var beforeDeleteChunk func(id string) error

// qDeleteAudience deletes the audience and, in the same transaction, puts
// its tombstone, under which its members and log are deleted a chunk at a
// time: from its commit the audience is gone for every reader and writer
// (ApplyMembership and Keep find no audience to add members to).
var qDeleteAudience = cypher(`
OPTIONAL MATCH (a:{{Audience}} { {{id}}: $id })
WITH a, a IS NOT NULL AS found
FOREACH (_ IN CASE WHEN found THEN [1] ELSE [] END |
  MERGE (t:{{AudienceDeletion}} { {{audienceId}}: $id })
  ON CREATE SET t.{{at}} = $at)
DELETE a
RETURN found`)

// qAudienceDeletions pages the tombstones by audience id.
var qAudienceDeletions = cypher(`
MATCH (t:{{AudienceDeletion}})
WHERE t.{{audienceId}} > $after
WITH t ORDER BY t.{{audienceId}} LIMIT $limit
RETURN t.{{audienceId}} AS id`)

// qLockAudienceDeletion takes the tombstone's write lock, so that two
// calls finishing one deletion (two processes, or a DeleteAudience and
// the pass at Open) take their chunks in turn, each seeing what the other
// deleted; it returns 0 once the deletion is finished.
var qLockAudienceDeletion = cypher(`
MATCH (t:{{AudienceDeletion}} { {{audienceId}}: $id })
SET t.{{lock}} = true
RETURN count(t) AS n`)

// qDeleteAudienceMembers and qDeleteAudienceChanges delete at most $limit
// members, or log entries, of a deleted audience.
var qDeleteAudienceMembers = cypher(`
MATCH (m:{{AudienceMember}} { {{audienceId}}: $id })
USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
WHERE m.{{profileId}} IS NOT NULL
WITH m LIMIT $limit
DELETE m
RETURN count(*) AS n`)

var qDeleteAudienceChanges = cypher(`
MATCH (c:{{AudienceChange}} { {{audienceId}}: $id })
USING INDEX SEEK c:{{AudienceChange}}({{audienceId}}, {{at}}, {{seq}})
WHERE c.{{at}} IS NOT NULL AND c.{{seq}} IS NOT NULL
WITH c LIMIT $limit
DELETE c
RETURN count(*) AS n`)

var qDeleteAudienceDeletion = cypher(`
MATCH (t:{{AudienceDeletion}} { {{audienceId}}: $id })
DELETE t`)

// qLockAudienceNode takes the audience's write lock, so that a put of an
// audience naming it waits for its deletion, or its deletion for the put
// (see qLockRefs).
var qLockAudienceNode = cypher(`
MATCH (a:{{Audience}} { {{id}}: $id })
SET a.{{lock}} = true REMOVE a.{{lock}}`)

// qLockAudienceStored is qLockAudienceNode that counts the audiences
// locked: 0 when it is not stored.
var qLockAudienceStored = cypher(`
OPTIONAL MATCH (a:{{Audience}} { {{id}}: $id })
FOREACH (x IN CASE WHEN a IS NULL THEN [] ELSE [a] END | SET x.{{lock}} = true REMOVE x.{{lock}})
RETURN count(a) AS n`)

// DeleteAudience implements audience.Store. The first transaction locks
// the audience (qLockAudienceNode), refuses when another audience names
// it or a destination sends it (qDestinationsSending), then deletes it
// and leaves its tombstone (qDeleteAudience), the audit entries ctx
// carries with it; then each transaction deletes at most
// deleteChunk of its members and log entries, and the last one the
// tombstone. Before all that it finishes the deletions left unfinished
// (by a process that ended, or a call whose context ended, between those
// transactions), as Open does in the background.
//
// When the audience was deleted but removing its members and log stopped
// (ctx ended, Neo4j went away) it returns true with the error: the
// audience is gone for every reader, and what is left of it is removed by
// the next DeleteAudience or the next Open.
func (s *Store) DeleteAudience(ctx context.Context, id string) (bool, error) {
	if !audience.ValidAudienceID(id) {
		return false, badAudienceID()
	}
	if err := s.finishAudienceDeletions(ctx); err != nil {
		return false, fmt.Errorf("delete audience %s: %w", id, err)
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qLockAudienceNode, map[string]any{"id": id}); err != nil {
			return nil, fmt.Errorf("delete audience: lock it: %w", err)
		}
		named, err := audiencesNaming(ctx, t, id)
		if err != nil {
			return nil, fmt.Errorf("delete audience: read the audiences that name it: %w", err)
		}
		sending, err := t.query(ctx, qDestinationsSending, map[string]any{"id": id})
		if err != nil {
			return nil, fmt.Errorf("delete audience: read the destinations that send it: %w", err)
		}
		var dests []string
		for _, r := range sending {
			d, _ := r.Values[0].(string)
			dests = append(dests, d)
		}
		if users := audience.AudienceUsers(named, id); len(users)+len(dests) > 0 {
			return nil, &audience.InUseError{Audience: id, Users: users, Destinations: dests}
		}
		recs, err := t.query(ctx, qDeleteAudience, map[string]any{"id": id, "at": timeParam(time.Now())})
		if err != nil {
			return nil, fmt.Errorf("delete audience: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("delete audience: %d rows", len(recs))
		}
		found, _ := recs[0].Values[0].(bool)
		return found, nil
	})
	if err != nil {
		return false, err
	}
	if !out.(bool) {
		return false, nil
	}
	if err := s.finishAudienceDeletion(ctx, id); err != nil {
		return true, fmt.Errorf("audience %s is deleted, but removing its members and log stopped "+
			"(the next deletion of an audience, or the next start, finishes it): %w", id, err)
	}
	return true, nil
}

// deletionsPage is how many tombstones finishAudienceDeletions reads at a
// time.
const deletionsPage = 100

// finishAudienceDeletions finishes every deletion whose tombstone is
// stored, one after the other.
func (s *Store) finishAudienceDeletions(ctx context.Context) error {
	after := ""
	for {
		out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
			recs, err := t.query(ctx, qAudienceDeletions, map[string]any{"after": after, "limit": int64(deletionsPage)})
			if err != nil {
				return nil, fmt.Errorf("read unfinished audience deletions: %w", err)
			}
			ids := make([]string, 0, len(recs))
			for _, rec := range recs {
				id, _ := rec.Values[0].(string)
				ids = append(ids, id)
			}
			return ids, nil
		})
		if err != nil {
			return err
		}
		ids := out.([]string)
		for _, id := range ids {
			if err := s.finishAudienceDeletion(ctx, id); err != nil {
				return err
			}
		}
		if len(ids) < deletionsPage {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// finishAudienceDeletion deletes what is left of the deleted audience id,
// at most deleteChunk members and log entries per transaction, members
// first; the transaction that finds fewer than that left deletes the
// tombstone too. Every transaction does as much whatever the others did,
// so it may stop and start again at any point. The audit entries ctx may
// carry belong to the caller's own write, not to these.
func (s *Store) finishAudienceDeletion(ctx context.Context, id string) error {
	ctx = access.WithAuditInWrite(ctx)
	for {
		if beforeDeleteChunk != nil {
			if err := beforeDeleteChunk(id); err != nil {
				return fmt.Errorf("finish deleting audience %s: %w", id, err)
			}
		}
		out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
			recs, err := t.query(ctx, qLockAudienceDeletion, map[string]any{"id": id})
			if err != nil {
				return nil, fmt.Errorf("lock the tombstone: %w", err)
			}
			if len(recs) != 1 {
				return nil, fmt.Errorf("lock the tombstone: %d rows", len(recs))
			}
			if n, _ := recs[0].Values[0].(int64); n == 0 {
				return true, nil // finished by another call
			}
			left := int64(deleteChunk)
			for _, step := range []struct{ what, q string }{
				{"members", qDeleteAudienceMembers}, {"log entries", qDeleteAudienceChanges},
			} {
				recs, err := t.query(ctx, step.q, map[string]any{"id": id, "limit": left})
				if err != nil {
					return nil, fmt.Errorf("delete %s: %w", step.what, err)
				}
				if len(recs) != 1 {
					return nil, fmt.Errorf("delete %s: %d rows", step.what, len(recs))
				}
				n, _ := recs[0].Values[0].(int64)
				if left -= n; left <= 0 {
					return false, nil // there may be more
				}
			}
			// Fewer than a chunk were left, so none is now, and none can
			// come: the audience is gone.
			if err := t.exec(ctx, qDeleteAudienceDeletion, map[string]any{"id": id}); err != nil {
				return nil, fmt.Errorf("delete the tombstone: %w", err)
			}
			return true, nil
		})
		if err != nil {
			return fmt.Errorf("finish deleting audience %s: %w", id, err)
		}
		if out.(bool) {
			return nil
		}
	}
}

// finishAudienceDeletionsAtOpen is finishAudienceDeletions for Open, run
// in the background so that a large deletion left unfinished does not
// hold up the start: after a failure (Neo4j unreachable) it tries again,
// after a second and then twice as long each time up to a minute, until
// it succeeds or ctx (the store's life) ends. It closes s.deletionsAtOpen
// when it returns.
func (s *Store) finishAudienceDeletionsAtOpen(ctx context.Context) {
	defer close(s.deletionsAtOpen)
	wait := time.Second
	for {
		if s.finishAudienceDeletions(ctx) == nil {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, time.Minute)
	}
}

func decodeAudience(v any) (audience.Audience, error) {
	p, err := asProps(v)
	if err != nil {
		return audience.Audience{}, err
	}
	id := p.str(propID)
	f, err := audience.DecodeFilter([]byte(p.str(propFilter)))
	if err != nil {
		return audience.Audience{}, fmt.Errorf("audience %s: %w", id, err)
	}
	return audience.Audience{
		ID: id, Name: p.str(propName), Description: p.str(propDescription), Filter: f, Purpose: p.str(propPurpose),
		Static: p.bool(propStatic), CreatedAt: p.time(propCreatedAt), UpdatedAt: p.time(propUpdatedAt),
		Size: p.int(propSize), RefreshedAt: p.time(propRefreshedAt),
	}, nil
}

var qAudiences = cypher(`
UNWIND $ids AS id
MATCH (a:{{Audience}} { {{id}}: id })
RETURN a { .* } AS a`)

// Audiences implements audience.Store.
func (s *Store) Audiences(ctx context.Context, ids []string) (map[string]audience.Audience, error) {
	out := make(map[string]audience.Audience, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	_, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qAudiences, map[string]any{"ids": uniq(ids)})
		if err != nil {
			return nil, fmt.Errorf("read audiences: %w", err)
		}
		for _, rec := range recs {
			a, err := decodeAudience(rec.Values[0])
			if err != nil {
				return nil, fmt.Errorf("read audiences: %w", err)
			}
			out[a.ID] = a
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// qAudiencePage seeks the id constraint's index past $after.
var qAudiencePage = cypher(`
MATCH (a:{{Audience}})
WHERE a.{{id}} > $after
WITH a ORDER BY a.{{id}} LIMIT $limit
RETURN a { .* } AS a`)

// AudiencePage implements audience.Store.
func (s *Store) AudiencePage(ctx context.Context, p audience.Page) ([]audience.Audience, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qAudiencePage, map[string]any{"after": p.After, "limit": int64(p.Limit)})
		if err != nil {
			return nil, fmt.Errorf("read audiences: %w", err)
		}
		as := make([]audience.Audience, 0, len(recs))
		for _, rec := range recs {
			a, err := decodeAudience(rec.Values[0])
			if err != nil {
				return nil, fmt.Errorf("read audiences: %w", err)
			}
			as = append(as, a)
		}
		return as, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]audience.Audience), nil
}

// qLockAudience takes the audience's write lock by setting RefreshedAt,
// so that calls on one audience run one after the other, and reads its
// seq, its size and which of $pids are members.
var qLockAudience = cypher(`
MATCH (a:{{Audience}} { {{id}}: $id })
SET a.{{refreshedAt}} = $at
WITH a
CALL () {
  UNWIND $pids AS p
  MATCH (m:{{AudienceMember}} { {{audienceId}}: $id, {{profileId}}: p })
  USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
  RETURN collect(m.{{profileId}}) AS present
}
RETURN a.{{seq}} AS seq, a.{{size}} AS size, present`)

// qApplyMembership writes what ApplyMembership worked out: the new seq and
// size, the entering members and the exits, each with its change.
var qApplyMembership = cypher(`
MATCH (a:{{Audience}} { {{id}}: $id })
SET a.{{seq}} = $seq, a.{{size}} = $size
WITH a
CALL () {
  UNWIND $enter AS e
  CREATE (:{{AudienceMember}} { {{audienceId}}: $id, {{profileId}}: e.p, {{since}}: $at })
  CREATE (:{{AudienceChange}} { {{audienceId}}: $id, {{profileId}}: e.p, {{kind}}: $entered, {{at}}: $at, {{seq}}: e.seq })
}
CALL () {
  UNWIND $exit AS x
  MATCH (m:{{AudienceMember}} { {{audienceId}}: $id, {{profileId}}: x.p })
  USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
  DELETE m
  CREATE (:{{AudienceChange}} { {{audienceId}}: $id, {{profileId}}: x.p, {{kind}}: $exited, {{at}}: $at, {{seq}}: x.seq })
}
RETURN count(*) AS n`)

// ApplyMembership implements audience.Store: one transaction of two
// statements, whatever the number of profiles.
func (s *Store) ApplyMembership(ctx context.Context, id string, enter, exit []string, at time.Time) error {
	if err := audience.CheckMembership(id, enter, exit); err != nil {
		return err
	}
	at = graph.Clean(at)
	pids := uniq(append(append([]string(nil), enter...), exit...))
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qLockAudience, map[string]any{"id": id, "at": at.In(utc), "pids": pids})
		if err != nil {
			return nil, fmt.Errorf("apply audience membership: %w", err)
		}
		if len(recs) == 0 {
			return nil, graph.Errorf(graph.ENOTFOUND, "audience %s is not stored", id)
		}
		seq, _ := recs[0].Values[0].(int64)
		size, _ := recs[0].Values[1].(int64)
		present, _ := recs[0].Values[2].([]any)
		st := newMembershipState(seq, size, present)
		ins, outs := st.apply(enter, exit)
		if len(ins) == 0 && len(outs) == 0 {
			return nil, nil
		}
		err = t.exec(ctx, qApplyMembership, map[string]any{
			"id": id, "at": at.In(utc), "seq": st.seq, "size": st.size, "enter": ins, "exit": outs,
			"entered": audience.Entered, "exited": audience.Exited,
		})
		if err != nil {
			return nil, fmt.Errorf("apply audience membership: %w", err)
		}
		return nil, appendFeed(ctx, t, membershipFeed(id, at, ins, outs))
	})
	return err
}

func recTime(v any) time.Time {
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}
	}
	return graph.Clean(t)
}

var qAudienceMembers = cypher(`
MATCH (m:{{AudienceMember}} { {{audienceId}}: $id })
USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
WHERE m.{{profileId}} > $after
WITH m ORDER BY m.{{audienceId}}, m.{{profileId}} LIMIT $limit
RETURN m.{{profileId}} AS p, m.{{since}} AS since`)

// Members implements audience.Store.
func (s *Store) Members(ctx context.Context, id string, p audience.Page) ([]audience.Membership, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qAudienceMembers, map[string]any{"id": id, "after": p.After, "limit": int64(p.Limit)})
		if err != nil {
			return nil, fmt.Errorf("read audience members: %w", err)
		}
		ms := make([]audience.Membership, 0, len(recs))
		for _, rec := range recs {
			pid, _ := rec.Values[0].(string)
			ms = append(ms, audience.Membership{AudienceID: id, ProfileID: pid, Since: recTime(rec.Values[1])})
		}
		return ms, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]audience.Membership), nil
}

// qAudienceChanges walks the (audienceId, at, seq) index backwards from
// the cursor, and stops after $limit rows: the upper time bound is always
// given (the latest time the store keeps when there is no cursor), and
// after a cursor a change at the cursor's own time must also have a
// smaller seq.
var qAudienceChanges = cypher(`
MATCH (c:{{AudienceChange}} { {{audienceId}}: $id })
USING INDEX SEEK c:{{AudienceChange}}({{audienceId}}, {{at}}, {{seq}})
WHERE c.{{at}} <= $upper AND c.{{seq}} IS NOT NULL
  AND ($afterSeq IS NULL OR c.{{at}} < $upper OR c.{{seq}} < $afterSeq)
WITH c ORDER BY c.{{audienceId}} DESC, c.{{at}} DESC, c.{{seq}} DESC LIMIT $limit
RETURN c.{{profileId}} AS p, c.{{kind}} AS kind, c.{{at}} AS at, c.{{seq}} AS seq`)

// changePageParams are the parameters of p in qAudienceChanges and
// qChangesOfAudiences: the upper time bound is always given (the latest
// time the store keeps when there is no cursor).
func changePageParams(p audience.ChangePage) map[string]any {
	params := map[string]any{"upper": auditMaxTime, "afterSeq": nil, "limit": int64(p.Limit)}
	if p.After {
		params["upper"] = graph.Clean(p.AfterAt).In(utc)
		params["afterSeq"] = int64(min(p.AfterSeq, math.MaxInt64))
	}
	return params
}

// Changes implements audience.Store.
func (s *Store) Changes(ctx context.Context, id string, p audience.ChangePage) ([]audience.Change, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	params := changePageParams(p)
	params["id"] = id
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qAudienceChanges, params)
		if err != nil {
			return nil, fmt.Errorf("read audience changes: %w", err)
		}
		cs := make([]audience.Change, 0, len(recs))
		for _, rec := range recs {
			pid, _ := rec.Values[0].(string)
			kind, _ := rec.Values[1].(string)
			seq, _ := rec.Values[3].(int64)
			cs = append(cs, audience.Change{AudienceID: id, ProfileID: pid, Kind: kind, At: recTime(rec.Values[2]), Seq: uint64(seq)})
		}
		return cs, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]audience.Change), nil
}

// qMembersOfAudiences is qAudienceMembers for each audience of $ids, in
// one statement: each audience's page walks the same index in order and
// stops after $limit rows.
var qMembersOfAudiences = cypher(`
UNWIND $ids AS id
CALL (id) {
  MATCH (m:{{AudienceMember}} { {{audienceId}}: id })
  USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
  WHERE m.{{profileId}} > $after
  WITH m ORDER BY m.{{audienceId}}, m.{{profileId}} LIMIT $limit
  RETURN m.{{profileId}} AS p, m.{{since}} AS since
}
RETURN id, p, since`)

// MembersOfAudiences implements audience.Store, in one statement.
func (s *Store) MembersOfAudiences(ctx context.Context, ids []string, p audience.Page) (map[string][]audience.Membership, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	out := make(map[string][]audience.Membership, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	_, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		clear(out)
		recs, err := t.query(ctx, qMembersOfAudiences, map[string]any{"ids": uniq(ids), "after": p.After, "limit": int64(p.Limit)})
		if err != nil {
			return nil, fmt.Errorf("read the members of audiences: %w", err)
		}
		for _, rec := range recs {
			id, _ := rec.Values[0].(string)
			pid, _ := rec.Values[1].(string)
			out[id] = append(out[id], audience.Membership{AudienceID: id, ProfileID: pid, Since: recTime(rec.Values[2])})
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	// Each page as the index gives it, whatever order the rows came in.
	for _, ms := range out {
		slices.SortFunc(ms, func(a, b audience.Membership) int { return strings.Compare(a.ProfileID, b.ProfileID) })
	}
	return out, nil
}

// qChangesOfAudiences is qAudienceChanges for each audience of $ids, in
// one statement: each audience's page walks the (audienceId, at, seq)
// index backwards from the cursor and stops after $limit rows.
var qChangesOfAudiences = cypher(`
UNWIND $ids AS id
CALL (id) {
  MATCH (c:{{AudienceChange}} { {{audienceId}}: id })
  USING INDEX SEEK c:{{AudienceChange}}({{audienceId}}, {{at}}, {{seq}})
  WHERE c.{{at}} <= $upper AND c.{{seq}} IS NOT NULL
    AND ($afterSeq IS NULL OR c.{{at}} < $upper OR c.{{seq}} < $afterSeq)
  WITH c ORDER BY c.{{audienceId}} DESC, c.{{at}} DESC, c.{{seq}} DESC LIMIT $limit
  RETURN c.{{profileId}} AS p, c.{{kind}} AS kind, c.{{at}} AS at, c.{{seq}} AS seq
}
RETURN id, p, kind, at, seq`)

// ChangesOfAudiences implements audience.Store, in one statement.
func (s *Store) ChangesOfAudiences(ctx context.Context, ids []string, p audience.ChangePage) (map[string][]audience.Change, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	out := make(map[string][]audience.Change, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	params := changePageParams(p)
	params["ids"] = uniq(ids)
	_, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		clear(out)
		recs, err := t.query(ctx, qChangesOfAudiences, params)
		if err != nil {
			return nil, fmt.Errorf("read the changes of audiences: %w", err)
		}
		for _, rec := range recs {
			id, _ := rec.Values[0].(string)
			pid, _ := rec.Values[1].(string)
			kind, _ := rec.Values[2].(string)
			seq, _ := rec.Values[4].(int64)
			out[id] = append(out[id], audience.Change{AudienceID: id, ProfileID: pid, Kind: kind, At: recTime(rec.Values[3]), Seq: uint64(seq)})
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	// Each page newest first, as the index gives it.
	for _, cs := range out {
		slices.SortFunc(cs, func(a, b audience.Change) int { return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.Seq, a.Seq)) })
	}
	return out, nil
}

// qChangesOf reads the log entries naming $pids through the profileId
// index (audience_change_profile, which erasure uses too), leaves out
// those of audiences being deleted (DeleteAudience has not reached them
// yet), and sorts what is left of the profiles' own entries: the entries
// strictly after the cursor ($afterAt, $afterAudience, $afterSeq, all null
// for the first page), newest first, at most $limit.
var qChangesOf = cypher(`
UNWIND $pids AS p
MATCH (c:{{AudienceChange}} { {{profileId}}: p })
USING INDEX SEEK c:{{AudienceChange}}({{profileId}})
WHERE c.{{at}} IS NOT NULL AND c.{{seq}} IS NOT NULL
  AND ($afterAt IS NULL OR c.{{at}} < $afterAt
    OR (c.{{at}} = $afterAt AND (c.{{audienceId}} > $afterAudience
      OR (c.{{audienceId}} = $afterAudience AND c.{{seq}} < $afterSeq))))
  AND EXISTS { MATCH (:{{Audience}} { {{id}}: c.{{audienceId}} }) }
WITH c ORDER BY c.{{at}} DESC, c.{{audienceId}} ASC, c.{{seq}} DESC LIMIT $limit
RETURN c.{{audienceId}} AS a, c.{{profileId}} AS p, c.{{kind}} AS kind, c.{{at}} AS at, c.{{seq}} AS seq`)

// ChangesOf implements audience.Store, in one statement.
func (s *Store) ChangesOf(ctx context.Context, profileIDs []string, p audience.ProfileChangePage) ([]audience.Change, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if len(profileIDs) == 0 {
		return nil, nil
	}
	params := map[string]any{"pids": uniq(profileIDs), "afterAt": nil, "afterAudience": nil, "afterSeq": nil, "limit": int64(p.Limit)}
	if a := p.After; a != nil {
		params["afterAt"] = graph.Clean(a.At).In(utc)
		params["afterAudience"] = a.AudienceID
		params["afterSeq"] = int64(min(a.Seq, math.MaxInt64))
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qChangesOf, params)
		if err != nil {
			return nil, fmt.Errorf("read the audience changes of profiles: %w", err)
		}
		cs := make([]audience.Change, 0, len(recs))
		for _, rec := range recs {
			aid, _ := rec.Values[0].(string)
			pid, _ := rec.Values[1].(string)
			kind, _ := rec.Values[2].(string)
			seq, _ := rec.Values[4].(int64)
			cs = append(cs, audience.Change{AudienceID: aid, ProfileID: pid, Kind: kind, At: recTime(rec.Values[3]), Seq: uint64(seq)})
		}
		return cs, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]audience.Change), nil
}

// qMembershipsOf reads the memberships of audiences still stored: the
// members a deletion has not yet reached (DeleteAudience) are not
// memberships any more.
var qMembershipsOf = cypher(`
UNWIND $pids AS p
MATCH (m:{{AudienceMember}} { {{profileId}}: p })
USING INDEX SEEK m:{{AudienceMember}}({{profileId}})
WHERE EXISTS { MATCH (:{{Audience}} { {{id}}: m.{{audienceId}} }) }
RETURN p, m.{{audienceId}} AS a, m.{{since}} AS since
ORDER BY p, a`)

// MembershipsOf implements audience.Store, in one statement.
func (s *Store) MembershipsOf(ctx context.Context, profileIDs []string) (map[string][]audience.Membership, error) {
	out := make(map[string][]audience.Membership, len(profileIDs))
	if len(profileIDs) == 0 {
		return out, nil
	}
	_, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qMembershipsOf, map[string]any{"pids": uniq(profileIDs)})
		if err != nil {
			return nil, fmt.Errorf("read audience memberships: %w", err)
		}
		for _, rec := range recs {
			pid, _ := rec.Values[0].(string)
			aid, _ := rec.Values[1].(string)
			out[pid] = append(out[pid], audience.Membership{AudienceID: aid, ProfileID: pid, Since: recTime(rec.Values[2])})
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// qLockComputedTraitsToCreate locks every stored computed trait, in name
// order, when $name is none of them: two puts that create definitions
// take turns, so that each counts what the other stored and
// MaxComputedTraits holds.
var qLockComputedTraitsToCreate = cypher(`
OPTIONAL MATCH (me:{{ComputedTrait}} { {{name}}: $name })
WITH me WHERE me IS NULL
MATCH (c:{{ComputedTrait}})
WITH c ORDER BY c.{{name}}
SET c.{{lock}} = true REMOVE c.{{lock}}`)

var qComputedTraitTaken = cypher(`
OPTIONAL MATCH (c:{{ComputedTrait}} { {{name}}: $name })
RETURN c IS NOT NULL AS found, COUNT { MATCH (x:{{ComputedTrait}}) } AS n`)

var qPutComputedTrait = cypher(`
MERGE (c:{{ComputedTrait}} { {{name}}: $name })
ON CREATE SET c.{{createdAt}} = $createdAt
SET c.{{description}} = $description, c.{{aggregate}} = $aggregate, c.{{event}} = $event,
  c.{{eventType}} = $eventType, c.{{property}} = $property, c.{{where}} = $where,
  c.{{window}} = $window, c.{{updatedAt}} = $updatedAt`)

// PutComputedTrait implements audience.Store, in one transaction of three
// statements.
func (s *Store) PutComputedTrait(ctx context.Context, c audience.ComputedTrait) error {
	if err := c.Validate(); err != nil {
		return err
	}
	var where any
	if len(c.Where) > 0 {
		b, err := json.Marshal(c.Where)
		if err != nil {
			return graph.Errorf(graph.EINVALID, "computed trait does not encode as JSON (a where value is not a JSON value)")
		}
		where = string(b)
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qLockComputedTraitsToCreate, map[string]any{"name": c.Name}); err != nil {
			return nil, fmt.Errorf("put computed trait: lock the computed traits to count them: %w", err)
		}
		recs, err := t.query(ctx, qComputedTraitTaken, map[string]any{"name": c.Name})
		if err != nil {
			return nil, fmt.Errorf("put computed trait: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("put computed trait: %d rows", len(recs))
		}
		found, _ := recs[0].Values[0].(bool)
		n, _ := recs[0].Values[1].(int64)
		if !found && n >= audience.MaxComputedTraits {
			return nil, graph.Errorf(graph.ECONFLICT, "the store holds %d computed traits, the most it keeps", n)
		}
		err = t.exec(ctx, qPutComputedTrait, map[string]any{
			"name": c.Name, "createdAt": timeParam(c.CreatedAt), "description": strParam(c.Description),
			"aggregate": string(c.Aggregate), "event": strParam(c.Event), "eventType": strParam(c.EventType),
			"property": strParam(c.Property), "where": where, "window": strParam(c.Window), "updatedAt": timeParam(c.UpdatedAt),
		})
		if err != nil {
			return nil, fmt.Errorf("put computed trait: %w", err)
		}
		return nil, nil
	})
	return err
}

var qDeleteComputedTrait = cypher(`
OPTIONAL MATCH (c:{{ComputedTrait}} { {{name}}: $name })
CALL () { MATCH (v:{{ComputedValue}} { {{name}}: $name }) DELETE v }
WITH c, c IS NOT NULL AS found
DELETE c
RETURN found`)

// qLockComputedTrait takes the computed trait's write lock, so that a put
// of an audience using it waits for its deletion, or its deletion for the
// put (see qLockRefs).
var qLockComputedTrait = cypher(`
MATCH (c:{{ComputedTrait}} { {{name}}: $name })
SET c.{{lock}} = true REMOVE c.{{lock}}`)

// DeleteComputedTrait implements audience.Store, in one transaction of
// three statements: lock the definition, read the audiences that may use
// it, delete.
func (s *Store) DeleteComputedTrait(ctx context.Context, name string) (bool, error) {
	if err := audience.CheckComputedName(name); err != nil {
		return false, err
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qLockComputedTrait, map[string]any{"name": name}); err != nil {
			return nil, fmt.Errorf("delete computed trait: lock it: %w", err)
		}
		named, err := audiencesNaming(ctx, t, name)
		if err != nil {
			return nil, fmt.Errorf("delete computed trait: read the audiences that use it: %w", err)
		}
		if users := audience.ComputedUsers(named, name); len(users) > 0 {
			return nil, &audience.InUseError{Computed: name, Users: users}
		}
		recs, err := t.query(ctx, qDeleteComputedTrait, map[string]any{"name": name})
		if err != nil {
			return nil, fmt.Errorf("delete computed trait: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("delete computed trait: %d rows", len(recs))
		}
		found, _ := recs[0].Values[0].(bool)
		return found, nil
	})
	if err != nil {
		return false, err
	}
	return out.(bool), nil
}

var qComputedTraits = cypher(`
MATCH (c:{{ComputedTrait}})
RETURN c { .* } AS c ORDER BY c.{{name}}`)

// ComputedTraits implements audience.Store.
func (s *Store) ComputedTraits(ctx context.Context) ([]audience.ComputedTrait, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qComputedTraits, nil)
		if err != nil {
			return nil, fmt.Errorf("read computed traits: %w", err)
		}
		cs := make([]audience.ComputedTrait, 0, len(recs))
		for _, rec := range recs {
			p, err := asProps(rec.Values[0])
			if err != nil {
				return nil, fmt.Errorf("read computed traits: %w", err)
			}
			c := audience.ComputedTrait{
				Name: p.str(propName), Description: p.str(propDescription), Aggregate: audience.Aggregate(p.str(propAggregate)),
				Event: p.str(propEventName), EventType: p.str(propEventType), Property: p.str(propProperty),
				Window: p.str(propWindow), CreatedAt: p.time(propCreatedAt), UpdatedAt: p.time(propUpdatedAt),
			}
			if w := p.str(propWhere); w != "" {
				d := json.NewDecoder(bytes.NewReader([]byte(w)))
				d.UseNumber()
				if err := d.Decode(&c.Where); err != nil {
					return nil, fmt.Errorf("read computed trait %s: where: %w", c.Name, err)
				}
			}
			cs = append(cs, c)
		}
		return cs, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]audience.ComputedTrait), nil
}

// qPutComputedValues replaces each value in turn, so that of two rows for
// one profile and name the last one stays.
var qPutComputedValues = cypher(`
UNWIND $rows AS r
MERGE (v:{{ComputedValue}} { {{profileId}}: r.p, {{name}}: r.n })
SET v.{{value}} = r.v, v.{{computedAt}} = r.at, v.{{expires}} = r.exp`)

// PutComputedValues implements audience.Store, in one statement.
func (s *Store) PutComputedValues(ctx context.Context, values []audience.ComputedValue) error {
	rows := make([]any, len(values))
	for i, v := range values {
		if err := audience.CheckComputedValue(v); err != nil {
			return err
		}
		b, err := audience.EncodeValue(v.Value)
		if err != nil {
			return err
		}
		rows[i] = map[string]any{"p": v.ProfileID, "n": v.Name, "v": string(b),
			"at": timeParam(v.ComputedAt), "exp": timeParam(v.Expires)}
	}
	if len(rows) == 0 {
		return nil
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qPutComputedValues, map[string]any{"rows": rows}); err != nil {
			return nil, fmt.Errorf("put computed values: %w", err)
		}
		return nil, nil
	})
	return err
}

var qDeleteComputedValues = cypher(`
UNWIND $pids AS p
MATCH (v:{{ComputedValue}} { {{profileId}}: p })
USING INDEX SEEK v:{{ComputedValue}}({{profileId}}, {{name}})
WHERE v.{{name}} IS NOT NULL
DELETE v`)

// DeleteComputedValues implements audience.Store, in one statement.
func (s *Store) DeleteComputedValues(ctx context.Context, profileIDs []string) error {
	if len(profileIDs) == 0 {
		return nil
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qDeleteComputedValues, map[string]any{"pids": uniq(profileIDs)}); err != nil {
			return nil, fmt.Errorf("delete computed values: %w", err)
		}
		return nil, nil
	})
	return err
}

func decodeComputedValue(v any) (audience.ComputedValue, error) {
	p, err := asProps(v)
	if err != nil {
		return audience.ComputedValue{}, err
	}
	val, err := audience.DecodeValue([]byte(p.str(propValue)))
	if err != nil {
		return audience.ComputedValue{}, err
	}
	return audience.ComputedValue{
		ProfileID: p.str(propProfileID), Name: p.str(propName), Value: val,
		ComputedAt: p.time(propComputedAt), Expires: p.time(propExpires),
	}, nil
}

var qComputedValues = cypher(`
UNWIND $pids AS p
MATCH (v:{{ComputedValue}} { {{profileId}}: p })
USING INDEX SEEK v:{{ComputedValue}}({{profileId}}, {{name}})
WHERE v.{{name}} IS NOT NULL
RETURN v { .* } AS v`)

// ComputedValues implements audience.Store, in one statement.
func (s *Store) ComputedValues(ctx context.Context, profileIDs []string) (map[string]map[string]audience.ComputedValue, error) {
	out := make(map[string]map[string]audience.ComputedValue, len(profileIDs))
	if len(profileIDs) == 0 {
		return out, nil
	}
	_, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qComputedValues, map[string]any{"pids": uniq(profileIDs)})
		if err != nil {
			return nil, fmt.Errorf("read computed values: %w", err)
		}
		for _, rec := range recs {
			cv, err := decodeComputedValue(rec.Values[0])
			if err != nil {
				return nil, fmt.Errorf("read computed values: %w", err)
			}
			if out[cv.ProfileID] == nil {
				out[cv.ProfileID] = map[string]audience.ComputedValue{}
			}
			out[cv.ProfileID][cv.Name] = cv
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// qExpiringValues seeks the expires index up to $before.
var qExpiringValues = cypher(`
MATCH (v:{{ComputedValue}})
USING INDEX SEEK v:{{ComputedValue}}({{expires}})
WHERE v.{{expires}} <= $before
WITH v ORDER BY v.{{expires}}, v.{{name}}, v.{{profileId}} LIMIT $limit
RETURN v { .* } AS v`)

// ExpiringValues implements audience.Store: soonest first, then by name
// and profile id.
func (s *Store) ExpiringValues(ctx context.Context, before time.Time, limit int) ([]audience.ComputedValue, error) {
	if limit < 1 || limit > audience.MaxPage {
		return nil, graph.Errorf(graph.EINVALID, "limit must be between 1 and %d, got %d", audience.MaxPage, limit)
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qExpiringValues, map[string]any{"before": graph.Clean(before).In(utc), "limit": int64(limit)})
		if err != nil {
			return nil, fmt.Errorf("read expiring computed values: %w", err)
		}
		vs := make([]audience.ComputedValue, 0, len(recs))
		for _, rec := range recs {
			cv, err := decodeComputedValue(rec.Values[0])
			if err != nil {
				return nil, fmt.Errorf("read expiring computed values: %w", err)
			}
			vs = append(vs, cv)
		}
		return vs, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]audience.ComputedValue), nil
}
