package neo4jstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/telemetry"
)

// Access control: (:ApiKey {id, hash, name, scopes, source, createdAt,
// lastUsedAt, expiresAt, revokedAt, createdBy}), unique on id and on hash
// and indexed on createdBy (the creator's id, absent on keys without
// one, those stored before it included), and the
// append-only log (:AuditEntry {id, at, keyId, keyName, action,
// operationName, requestId, profileIds, profileCount, reason, outcome}),
// unique on id and indexed on at and keyId. Neither is connected to the
// identity graph: an entry names profiles by id, so erasing a person leaves
// the log whole and the log holds no personal value.

var (
	_ access.Store     = (*Store)(nil)
	_ access.TxAuditor = (*tx)(nil)
)

// constraintFailed reports whether err is a unique constraint refusing a
// write.
func constraintFailed(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && ne.Code == "Neo.ClientError.Schema.ConstraintValidationFailed"
}

// accessWrite runs fn in a managed write transaction, then appends the
// audit entries ctx carries (access.WithAuditInWrite) in it.
func (s *Store) accessWrite(ctx context.Context, fn func(ctx context.Context, t *readTx) (any, error)) (_ any, err error) {
	entries := access.AuditInWrite(ctx)
	if err := access.CheckAudit(entries); err != nil {
		return nil, err
	}
	ctx, span := telemetry.StartChild(ctx, "store.update", dbSystem)
	defer func() { telemetry.EndStore(span, "update", err) }()
	gctx, done, err := s.guard(ctx)
	if err != nil {
		return nil, err
	}
	sess := s.session(gctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	out, err := sess.ExecuteWrite(gctx, func(mt neo4j.ManagedTransaction) (any, error) {
		t := &readTx{run: mt}
		out, err := fn(gctx, t) // under gctx, as in Update
		if err != nil {
			return nil, retryable(err)
		}
		if len(entries) > 0 {
			if err := appendAudit(gctx, t, entries); err != nil {
				return nil, retryable(err)
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return out, gctx.Err()
	})
	return out, s.classify(done(callerErr(ctx, err)))
}

// accessRead runs fn on a read session (see Store.read).
func (s *Store) accessRead(ctx context.Context, fn func(ctx context.Context, t *readTx) (any, error)) (out any, err error) {
	ctx, span := telemetry.StartChild(ctx, "store.view", dbSystem)
	defer func() { telemetry.EndStore(span, "view", err) }()
	err = s.read(ctx, func(ctx context.Context, t *readTx) error {
		var err error
		out, err = fn(ctx, t)
		return err
	})
	return out, err
}

var qKeyTaken = cypher(`
OPTIONAL MATCH (a:{{ApiKey}} { {{id}}: $id })
OPTIONAL MATCH (b:{{ApiKey}} { {{hash}}: $hash })
RETURN a IS NOT NULL AS idTaken, b IS NOT NULL AS hashTaken`)

// CREATE leaves out the properties whose value is null.
var qCreateKey = cypher(`
CREATE (:{{ApiKey}} { {{id}}: $id, {{hash}}: $hash, {{name}}: $name, {{scopes}}: $scopes,
  {{source}}: $source, {{createdAt}}: $createdAt, {{lastUsedAt}}: $lastUsedAt,
  {{expiresAt}}: $expiresAt, {{revokedAt}}: $revokedAt, {{createdBy}}: $createdBy })`)

// qLockKey takes the write lock of the key $id, which a revocation of it
// takes too (qRevokeKeys), so that the creation of a key by it and its
// revocation take turns; the key is read after, in another statement.
var qLockKey = cypher(`
MATCH (k:{{ApiKey}} { {{id}}: $id })
SET k.{{id}} = k.{{id}}
RETURN count(k) AS n`)

// CreateKey implements access.Store.
func (s *Store) CreateKey(ctx context.Context, k access.Key, audit ...access.AuditEntry) error {
	if err := k.Validate(); err != nil {
		return err
	}
	return s.createKey(ctx, k, true, audit)
}

var _ access.Loader = (*Store)(nil)

// LoadKey implements access.Loader.
func (s *Store) LoadKey(ctx context.Context, k access.Key) error {
	if err := k.CheckStored(); err != nil {
		return err
	}
	return s.createKey(ctx, k, false, nil)
}

// createKey stores k; with checkCreator, only while its creator, if it
// has one, is stored and usable, read under its lock: a revocation of the
// creator (or of a key it was created by, whose cascade locks it) either
// committed before, and the creator reads revoked, or waits for this
// transaction, and then finds k among the keys the creator created.
// A loaded key's creator may come later, or be gone.
func (s *Store) createKey(ctx context.Context, k access.Key, checkCreator bool, audit []access.AuditEntry) error {
	if err := access.CheckAudit(audit); err != nil {
		return err
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if checkCreator && k.CreatedBy != "" {
			if err := t.exec(ctx, qLockKey, map[string]any{"id": k.CreatedBy}); err != nil {
				return nil, fmt.Errorf("lock the creating API key: %w", err)
			}
			recs, err := t.query(ctx, qKeyByID, map[string]any{"id": k.CreatedBy})
			if err != nil {
				return nil, fmt.Errorf("read the creating API key: %w", err)
			}
			creators, err := decodeKeys(recs)
			if err != nil {
				return nil, err
			}
			if len(creators) == 0 || !creators[0].Usable(k.CreatedAt) {
				return nil, access.ErrCreatorGone(k.CreatedBy)
			}
		}
		recs, err := t.query(ctx, qKeyTaken, map[string]any{"id": k.ID, "hash": k.Hash})
		if err != nil {
			return nil, fmt.Errorf("create API key: %w", err)
		}
		if len(recs) == 1 {
			if taken, _ := recs[0].Values[0].(bool); taken {
				return nil, graph.Errorf(graph.ECONFLICT, "an API key with id %s exists", k.ID)
			}
			if taken, _ := recs[0].Values[1].(bool); taken {
				return nil, graph.Errorf(graph.ECONFLICT, "an API key with the same secret exists")
			}
		}
		err = t.exec(ctx, qCreateKey, map[string]any{
			"id": k.ID, "hash": k.Hash, "name": k.Name, "scopes": strsParam(access.ScopeNames(k.Scopes)),
			"source": strParam(k.Source), "createdAt": timeParam(k.CreatedAt), "lastUsedAt": timeParam(k.LastUsedAt),
			"expiresAt": timeParam(k.ExpiresAt), "revokedAt": timeParam(k.RevokedAt),
			"createdBy": strParam(k.CreatedBy),
		})
		if constraintFailed(err) {
			// A concurrent CreateKey took the id or the hash.
			return nil, graph.Errorf(graph.ECONFLICT, "an API key with id %s or the same secret exists", k.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("create API key: %w", err)
		}
		if len(audit) > 0 {
			return nil, appendAudit(ctx, t, audit)
		}
		return nil, nil
	})
	return err
}

func decodeKey(v any) (access.Key, error) {
	p, err := asProps(v)
	if err != nil {
		return access.Key{}, err
	}
	k := access.Key{
		ID: p.str(propID), Name: p.str(propName), Source: p.str(propSource), Hash: p.str(propHash),
		CreatedAt: p.time(propCreatedAt), LastUsedAt: p.time(propLastUsedAt),
		ExpiresAt: p.time(propExpiresAt), RevokedAt: p.time(propRevokedAt),
		CreatedBy: p.str(propCreatedBy),
	}
	for _, s := range p.strs(propScopes) {
		k.Scopes = append(k.Scopes, access.Scope(s))
	}
	return k, nil
}

// decodeKeys decodes the first column of recs.
func decodeKeys(recs []*neo4j.Record) ([]access.Key, error) {
	out := make([]access.Key, 0, len(recs))
	for _, r := range recs {
		k, err := decodeKey(r.Values[0])
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

var qKeyByHash = cypher(`MATCH (k:{{ApiKey}} { {{hash}}: $hash }) RETURN k { .* } AS k`)

// KeyByHash implements access.Store: one read through the hash constraint.
func (s *Store) KeyByHash(ctx context.Context, hash string) (access.Key, bool, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qKeyByHash, map[string]any{"hash": hash})
		if err != nil {
			return nil, fmt.Errorf("read API key: %w", err)
		}
		return decodeKeys(recs)
	})
	if err != nil {
		return access.Key{}, false, err
	}
	keys := out.([]access.Key)
	if len(keys) == 0 {
		return access.Key{}, false, nil
	}
	return keys[0], true, nil
}

var qKeys = cypher(`
MATCH (k:{{ApiKey}}) USING INDEX SEEK k:{{ApiKey}}({{id}}) WHERE k.{{id}} > $after
WITH k ORDER BY k.{{id}} LIMIT $limit
RETURN k { .* } AS k`)

// Keys implements access.Store.
func (s *Store) Keys(ctx context.Context, first int, after string) ([]access.Key, error) {
	if err := access.CheckPage(first); err != nil {
		return nil, err
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qKeys, map[string]any{"after": after, "limit": int64(first)})
		if err != nil {
			return nil, fmt.Errorf("list API keys: %w", err)
		}
		return decodeKeys(recs)
	})
	if err != nil {
		return nil, err
	}
	return out.([]access.Key), nil
}

var qKeyByID = cypher(`MATCH (k:{{ApiKey}} { {{id}}: $id }) RETURN k { .* } AS k`)

// qLockChildren takes the write lock of every key that a key of $ids
// created, in id order; qChildren reads them after, in another statement.
var qLockChildren = cypher(`
MATCH (k:{{ApiKey}}) WHERE k.{{createdBy}} IN $ids
WITH k ORDER BY k.{{id}}
SET k.{{createdBy}} = k.{{createdBy}}
RETURN count(k) AS n`)

var qChildren = cypher(`
MATCH (k:{{ApiKey}}) WHERE k.{{createdBy}} IN $ids
RETURN k { .* } AS k ORDER BY k.{{id}}`)

// qRevokeKeys revokes the keys $ids not revoked yet at $at, and moves the
// key $id, revoked later than $at, to $at.
var qRevokeKeys = cypher(`
MATCH (k:{{ApiKey}}) WHERE k.{{id}} IN $ids
  AND (k.{{revokedAt}} IS NULL OR (k.{{id}} = $id AND k.{{revokedAt}} > $at))
SET k.{{revokedAt}} = $at`)

// qLockAdminKeys locks every key holding keys:admin, in id order, and
// returns them: two revocations of admin keys take turns, each reading
// what the other did (see RevokeKey).
var qLockAdminKeys = cypher(`
MATCH (k:{{ApiKey}})
WHERE $scope IN k.{{scopes}}
WITH k ORDER BY k.{{id}}
SET k.{{id}} = k.{{id}}
RETURN k { .* } AS k`)

// RevokeKey implements access.Store. Asked to keep an admin key
// (access.KeepAdmin), it first locks and reads every admin key in its
// transaction. It then locks the key, and the keys it created level by
// level, reading each level after its locks: a key created by one of them
// meanwhile either committed before the lock, and is read, or waits for
// this transaction, and then finds its creator revoked (createKey). It
// checks them all (access.WithHolds, access.KeepAdmin) before it writes:
// a key's scopes and creator never change.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time, audit ...access.AuditEntry) (access.Key, []string, error) {
	if err := access.CheckAudit(audit); err != nil {
		return access.Key{}, nil, err
	}
	keepAdmin := access.KeepAdmin(ctx)
	type revoked struct {
		key  access.Key
		with []string
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		var admins []access.Key
		if keepAdmin {
			recs, err := t.query(ctx, qLockAdminKeys, map[string]any{"scope": string(access.ScopeKeysAdmin)})
			if err != nil {
				return nil, fmt.Errorf("lock admin keys: %w", err)
			}
			if admins, err = decodeKeys(recs); err != nil {
				return nil, err
			}
		}
		if err := t.exec(ctx, qLockKey, map[string]any{"id": id}); err != nil {
			return nil, fmt.Errorf("lock API key: %w", err)
		}
		recs, err := t.query(ctx, qKeyByID, map[string]any{"id": id})
		if err != nil {
			return nil, fmt.Errorf("read API key: %w", err)
		}
		gone, err := decodeKeys(recs)
		if err != nil {
			return nil, err
		}
		if len(gone) == 0 {
			return nil, graph.Errorf(graph.ENOTFOUND, "no API key with id %q", id)
		}
		seen := map[string]bool{id: true}
		for frontier := []string{id}; len(frontier) > 0; {
			if err := t.exec(ctx, qLockChildren, map[string]any{"ids": frontier}); err != nil {
				return nil, fmt.Errorf("lock the API keys created by the revoked one: %w", err)
			}
			recs, err := t.query(ctx, qChildren, map[string]any{"ids": frontier})
			if err != nil {
				return nil, fmt.Errorf("read the API keys created by the revoked one: %w", err)
			}
			children, err := decodeKeys(recs)
			if err != nil {
				return nil, err
			}
			frontier = nil
			for _, c := range children {
				if !seen[c.ID] {
					seen[c.ID] = true
					gone = append(gone, c)
					frontier = append(frontier, c.ID)
				}
			}
		}
		slices.SortFunc(gone[1:], func(a, b access.Key) int { return strings.Compare(a.ID, b.ID) })
		ids := make([]string, len(gone))
		for i, k := range gone {
			if err := access.CheckHeld(ctx, k); err != nil {
				return nil, err
			}
			ids[i] = k.ID
		}
		if keepAdmin {
			if last, ok := access.LastAdmin(ids, admins, at); ok {
				return nil, access.ErrLastAdmin(id, last)
			}
		}
		var with []string
		when := graph.Clean(at)
		for i := range gone {
			switch {
			case gone[i].RevokedAt.IsZero():
				gone[i].RevokedAt = when
				if i > 0 {
					with = append(with, gone[i].ID)
				}
			case i == 0 && when.Before(gone[i].RevokedAt):
				gone[i].RevokedAt = when // the earlier time (qRevokeKeys)
			}
		}
		if err := t.exec(ctx, qRevokeKeys, map[string]any{"ids": ids, "id": id, "at": timeParam(at)}); err != nil {
			return nil, fmt.Errorf("revoke API keys: %w", err)
		}
		if len(audit) > 0 {
			if err := appendAudit(ctx, t, access.RevokedWith(audit, with)); err != nil {
				return nil, err
			}
		}
		return revoked{gone[0], with}, nil
	})
	if err != nil {
		return access.Key{}, nil, err
	}
	r := out.(revoked)
	return r.key, r.with, nil
}

var qTouchKey = cypher(`
MATCH (k:{{ApiKey}} { {{id}}: $id })
SET k.{{lastUsedAt}} = CASE WHEN k.{{lastUsedAt}} IS NULL OR k.{{lastUsedAt}} < $at THEN $at ELSE k.{{lastUsedAt}} END
RETURN count(k) AS n`)

// TouchKey implements access.Store.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qTouchKey, map[string]any{"id": id, "at": timeParam(at)})
		if err != nil {
			return nil, fmt.Errorf("touch API key: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("touch API key: %d rows", len(recs))
		}
		if n, _ := recs[0].Values[0].(int64); n == 0 {
			return nil, graph.Errorf(graph.ENOTFOUND, "no API key with id %q", id)
		}
		return nil, nil
	})
	return err
}

// The count comes from the count store.
var qCountKeys = cypher(`MATCH (k:{{ApiKey}}) RETURN count(k) AS n`)

// CountKeys implements access.Store.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qCountKeys, nil)
		if err != nil {
			return nil, fmt.Errorf("count API keys: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("count API keys: %d rows", len(recs))
		}
		n, _ := recs[0].Values[0].(int64)
		return int(n), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}

// qAppendAudit writes a batch in one statement; the unique constraint on id
// refuses an id already stored.
var qAppendAudit = cypher(`
UNWIND $rows AS r
CREATE (:{{AuditEntry}} { {{id}}: r.id, {{at}}: r.at, {{keyId}}: r.keyId, {{keyName}}: r.keyName,
  {{action}}: r.action, {{operationName}}: r.operationName, {{requestId}}: r.requestId,
  {{profileIds}}: r.profileIds, {{profileCount}}: r.profileCount, {{reason}}: r.reason, {{outcome}}: r.outcome })`)

// AppendAudit implements access.Store.
func (s *Store) AppendAudit(ctx context.Context, entries []access.AuditEntry) error {
	if err := access.CheckAudit(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, appendAudit(ctx, t, entries)
	})
	return err
}

// AppendAudit implements access.TxAuditor: the entries commit with the rest
// of the transaction.
func (t *tx) AppendAudit(ctx context.Context, entries []access.AuditEntry) error {
	if err := access.CheckAudit(entries); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	return appendAudit(ctx, &t.readTx, entries)
}

func appendAudit(ctx context.Context, t *readTx, entries []access.AuditEntry) error {
	rows := make([]any, len(entries))
	for i, e := range entries {
		rows[i] = map[string]any{
			"id": e.ID, "at": timeParam(e.At), "keyId": strParam(e.KeyID), "keyName": strParam(e.KeyName),
			"action": e.Action, "operationName": strParam(e.OperationName), "requestId": strParam(e.RequestID),
			"profileIds": strsParam(e.ProfileIDs), "profileCount": int64(e.ProfileCount),
			"reason": strParam(e.Reason), "outcome": e.Outcome,
		}
	}
	err := t.exec(ctx, qAppendAudit, map[string]any{"rows": rows})
	if constraintFailed(err) {
		return graph.Errorf(graph.ECONFLICT, "an audit entry of the batch is already stored")
	}
	if err != nil {
		return fmt.Errorf("append audit entries: %w", err)
	}
	return nil
}

func decodeAudit(v any) (access.AuditEntry, error) {
	p, err := asProps(v)
	if err != nil {
		return access.AuditEntry{}, err
	}
	return access.AuditEntry{
		ID: p.str(propID), At: p.time(propAt), KeyID: p.str(propKeyID), KeyName: p.str(propKeyName),
		Action: p.str(propAction), OperationName: p.str(propOperationName), RequestID: p.str(propRequestID),
		ProfileIDs: p.strs(propProfileIDs), ProfileCount: p.int(propProfileCount),
		Reason: p.str(propReason), Outcome: p.str(propOutcome),
	}, nil
}

// qAudit reads the log newest first. The time bounds are always given, so
// the plan is a seek on the at index, walked backwards and stopped after
// $limit rows; a null parameter of the other filters is no filter. The
// profile filter is a list membership test, which no Neo4j index serves:
// it filters the entries the time order walks.
var qAudit = cypher(`
MATCH (a:{{AuditEntry}})
USING INDEX SEEK a:{{AuditEntry}}({{at}})
WHERE a.{{at}} >= $from AND a.{{at}} < $to AND a.{{at}} <= $upper
  AND ($afterId IS NULL OR a.{{at}} < $upper OR a.{{id}} < $afterId)
  AND ($keyId IS NULL OR a.{{keyId}} = $keyId)
  AND ($action IS NULL OR a.{{action}} = $action)
  AND ($profileId IS NULL OR $profileId IN a.{{profileIds}})
WITH a ORDER BY a.{{at}} DESC, a.{{id}} DESC LIMIT $limit
RETURN a { .* } AS a`)

// The bounds of qAudit when a query gives none: every time Go and Neo4j
// share.
var (
	auditMinTime = time.Date(1, 1, 1, 0, 0, 0, 0, utc)
	auditMaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, utc)
)

// Audit implements access.Store.
func (s *Store) Audit(ctx context.Context, q access.AuditQuery) ([]access.AuditEntry, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	// The bounds and the cursor's time go as given, not cleaned (Neo4j
	// keeps nanoseconds), so that a bound finer than the stored
	// microseconds selects exactly what q.Matches does: an entry at
	// 10:00:00.000000 is before a To, and not after a From, of
	// 10:00:00.0000005.
	bound := func(t, dflt time.Time) any {
		if t.IsZero() {
			return dflt
		}
		return t.In(utc)
	}
	params := map[string]any{
		"from": bound(q.From, auditMinTime), "to": bound(q.To, auditMaxTime), "upper": auditMaxTime, "afterId": nil,
		"keyId": strParam(q.KeyID), "action": strParam(q.Action), "profileId": strParam(q.ProfileID),
		"limit": int64(q.Limit),
	}
	if !q.After.IsZero() {
		params["upper"], params["afterId"] = q.After.At.In(utc), q.After.ID
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qAudit, params)
		if err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		entries := make([]access.AuditEntry, 0, len(recs))
		for _, r := range recs {
			e, err := decodeAudit(r.Values[0])
			if err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
		return entries, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]access.AuditEntry), nil
}

// qPruneAudit deletes in inner transactions of chunkRows, so pruning a long
// log never holds it all in one transaction.
var qPruneAudit = cypher(fmt.Sprintf(`
MATCH (a:{{AuditEntry}}) WHERE a.{{at}} < $before
CALL (a) { DELETE a } IN TRANSACTIONS OF %d ROWS
RETURN count(*) AS n`, chunkRows))

// PruneAudit implements access.Store. It is a write as accessWrite's are,
// in the store.update span, counted in cdp_store_errors_total and refused
// at once while the store is known to be down, but in an auto-commit
// transaction, which CALL ... IN TRANSACTIONS needs.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (_ int, err error) {
	ctx, span := telemetry.StartChild(ctx, "store.update", dbSystem)
	defer func() { telemetry.EndStore(span, "update", err) }()
	gctx, done, err := s.guard(ctx)
	if err != nil {
		return 0, err
	}
	n, err := func() (int64, error) {
		sess := s.session(gctx, neo4j.AccessModeWrite)
		defer sess.Close(context.WithoutCancel(ctx))
		// before as given, not cleaned: an entry stored at its
		// microsecond is older than a before finer than it.
		res, err := sess.Run(gctx, qPruneAudit, map[string]any{"before": before.In(utc)})
		if err != nil {
			return 0, err
		}
		rec, err := res.Single(gctx)
		if err != nil {
			return 0, err
		}
		n, _ := rec.Values[0].(int64)
		return n, nil
	}()
	if err != nil {
		return 0, s.classify(done(callerErr(ctx, fmt.Errorf("prune audit log: %w", err))))
	}
	done(nil)
	return int(n), nil
}
