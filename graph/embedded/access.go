package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/telemetry"
)

// The access buckets (layout version 6):
//
//	api_keys          id -> keyRecord JSON
//	api_key_hashes    hash -> id
//	audit             time id -> auditRecord JSON, time order
//	audit_ids         id -> time: refuses a repeated id
//	audit_by_key      part(keyID) time id -> present
//	audit_by_profile  part(profileID) time id -> present
var (
	bucketAPIKeys        = []byte("api_keys")
	bucketAPIKeyHashes   = []byte("api_key_hashes")
	bucketAudit          = []byte("audit")
	bucketAuditIDs       = []byte("audit_ids")
	bucketAuditByKey     = []byte("audit_by_key")
	bucketAuditByProfile = []byte("audit_by_profile")
)

var accessBuckets = [][]byte{
	bucketAPIKeys, bucketAPIKeyHashes, bucketAudit, bucketAuditIDs, bucketAuditByKey, bucketAuditByProfile,
}

var (
	_ access.Store     = (*Store)(nil)
	_ access.TxAuditor = (*tx)(nil)
)

// keyRecord is access.Key as stored.
type keyRecord struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Scopes     []string  `json:"scopes"`
	Source     string    `json:"source,omitempty"`
	Hash       string    `json:"hash"`
	CreatedAt  time.Time `json:"created"`
	LastUsedAt time.Time `json:"lastUsed,omitzero"`
	ExpiresAt  time.Time `json:"expires,omitzero"`
	RevokedAt  time.Time `json:"revoked,omitzero"`
	CreatedBy  string    `json:"createdBy,omitempty"` // since layout 16
}

func encodeKey(k access.Key) ([]byte, error) {
	return json.Marshal(keyRecord{
		ID: k.ID, Name: k.Name, Scopes: access.ScopeNames(k.Scopes), Source: k.Source, Hash: k.Hash,
		CreatedAt: graph.Clean(k.CreatedAt), LastUsedAt: cleanOpt(k.LastUsedAt),
		ExpiresAt: cleanOpt(k.ExpiresAt), RevokedAt: cleanOpt(k.RevokedAt), CreatedBy: k.CreatedBy,
	})
}

func decodeKey(v []byte) (access.Key, error) {
	var r keyRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return access.Key{}, fmt.Errorf("decode API key: %w", err)
	}
	k := access.Key{
		ID: r.ID, Name: r.Name, Source: r.Source, Hash: r.Hash,
		CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt,
		CreatedBy: r.CreatedBy,
	}
	for _, s := range r.Scopes {
		k.Scopes = append(k.Scopes, access.Scope(s))
	}
	return k, nil
}

// cleanOpt is graph.Clean that keeps a zero time zero.
func cleanOpt(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return graph.Clean(t)
}

// auditRecord is access.AuditEntry as stored.
type auditRecord struct {
	ID            string    `json:"id"`
	At            time.Time `json:"at"`
	KeyID         string    `json:"key,omitempty"`
	KeyName       string    `json:"keyName,omitempty"`
	Action        string    `json:"action"`
	OperationName string    `json:"op,omitempty"`
	RequestID     string    `json:"req,omitempty"`
	ProfileIDs    []string  `json:"profiles,omitempty"`
	ProfileCount  int       `json:"profileCount,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	Outcome       string    `json:"outcome"`
}

func decodeAudit(v []byte) (access.AuditEntry, error) {
	var r auditRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return access.AuditEntry{}, fmt.Errorf("decode audit entry: %w", err)
	}
	return access.AuditEntry(r), nil
}

// auditKey is the key of an entry in the audit bucket, and the suffix of its
// index entries.
func auditKey(at time.Time, id string) []byte {
	return append(appendTime(make([]byte, 0, timeLen+len(id)), at), id...)
}

// update runs fn in one write transaction of its own. The audit entries
// ctx carries (access.WithAuditInWrite) are appended in the same
// transaction once fn succeeds.
func (s *Store) update(ctx context.Context, fn func(btx *bolt.Tx) error) (err error) {
	if err := s.notNested(ctx); err != nil {
		return err
	}
	if err := s.noWriteIn(ctx); err != nil {
		return err
	}
	entries := access.AuditInWrite(ctx)
	if err := access.CheckAudit(entries); err != nil {
		return err
	}
	_, span := telemetry.StartChild(ctx, "store.update", dbSystem)
	defer func() { telemetry.EndStore(span, "update", err) }()
	if err := s.lockWrite(ctx); err != nil {
		return err
	}
	defer s.unlockWrite()
	return s.boltTx(ctx, s.db.Update, func(btx *bolt.Tx) error {
		if err := fn(btx); err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		return appendAudit(btx, entries)
	})
}

func (s *Store) view(ctx context.Context, fn func(btx *bolt.Tx) error) (err error) {
	_, span := telemetry.StartChild(ctx, "store.view", dbSystem)
	defer func() { telemetry.EndStore(span, "view", err) }()
	if sn := s.snapshotOf(ctx); sn != nil {
		if err := s.notNested(ctx); err != nil {
			return err
		}
		return sn.read(ctx, fn)
	}
	return s.boltTx(ctx, s.db.View, fn)
}

// boltTx runs fn in one bbolt transaction made by run (db.Update or
// db.View): fn's own error comes back as is, bbolt's as unavailable.
func (s *Store) boltTx(ctx context.Context, run func(func(*bolt.Tx) error) error, fn func(btx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.notNested(ctx); err != nil {
		return err
	}
	var fnErr error
	err := run(func(btx *bolt.Tx) error {
		fnErr = fn(btx)
		return fnErr
	})
	return txResult(fnErr, err)
}

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
// has one, is stored and usable (a loaded key's creator may come later,
// or be gone).
func (s *Store) createKey(ctx context.Context, k access.Key, checkCreator bool, audit []access.AuditEntry) error {
	if err := access.CheckAudit(audit); err != nil {
		return err
	}
	v, err := encodeKey(k)
	if err != nil {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		keys, hashes := btx.Bucket(bucketAPIKeys), btx.Bucket(bucketAPIKeyHashes)
		if keys.Get([]byte(k.ID)) != nil {
			return graph.Errorf(graph.ECONFLICT, "an API key with id %s exists", k.ID)
		}
		if hashes.Get([]byte(k.Hash)) != nil {
			return graph.Errorf(graph.ECONFLICT, "an API key with the same secret exists")
		}
		if checkCreator && k.CreatedBy != "" {
			cv := keys.Get([]byte(k.CreatedBy))
			if cv == nil {
				return access.ErrCreatorGone(k.CreatedBy)
			}
			creator, err := decodeKey(cv)
			if err != nil {
				return err
			}
			if !creator.Usable(k.CreatedAt) {
				return access.ErrCreatorGone(k.CreatedBy)
			}
		}
		if err := keys.Put([]byte(k.ID), v); err != nil {
			return err
		}
		if err := hashes.Put([]byte(k.Hash), []byte(k.ID)); err != nil {
			return err
		}
		return appendAudit(btx, audit)
	})
}

// KeyByHash implements access.Store.
func (s *Store) KeyByHash(ctx context.Context, hash string) (access.Key, bool, error) {
	var (
		k     access.Key
		found bool
	)
	err := s.view(ctx, func(btx *bolt.Tx) error {
		id := btx.Bucket(bucketAPIKeyHashes).Get([]byte(hash))
		if id == nil {
			return nil
		}
		v := btx.Bucket(bucketAPIKeys).Get(id)
		if v == nil {
			return fmt.Errorf("API key hash index names key %s, which is missing", id)
		}
		var err error
		k, err = decodeKey(v)
		found = err == nil
		return err
	})
	return k, found, err
}

// Keys implements access.Store.
func (s *Store) Keys(ctx context.Context, first int, after string) ([]access.Key, error) {
	if err := access.CheckPage(first); err != nil {
		return nil, err
	}
	var out []access.Key
	err := s.view(ctx, func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketAPIKeys).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < first; k, v = c.Next() {
			key, err := decodeKey(v)
			if err != nil {
				return err
			}
			out = append(out, key)
		}
		return nil
	})
	return out, err
}

// changeKey applies fn to the stored key id and stores the result.
func (s *Store) changeKey(ctx context.Context, id string, fn func(k *access.Key), audit []access.AuditEntry) (access.Key, error) {
	if err := access.CheckAudit(audit); err != nil {
		return access.Key{}, err
	}
	var k access.Key
	err := s.update(ctx, func(btx *bolt.Tx) error {
		keys := btx.Bucket(bucketAPIKeys)
		v := keys.Get([]byte(id))
		if v == nil {
			return graph.Errorf(graph.ENOTFOUND, "no API key with id %q", id)
		}
		var err error
		if k, err = decodeKey(v); err != nil {
			return err
		}
		fn(&k)
		if v, err = encodeKey(k); err != nil {
			return err
		}
		if err := keys.Put([]byte(id), v); err != nil {
			return err
		}
		return appendAudit(btx, audit)
	})
	return k, err
}

// RevokeKey implements access.Store. It reads every key in its
// transaction, to find the keys the revoked one created: the store holds
// few, and writes one at a time, so no key is created meanwhile.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time, audit ...access.AuditEntry) (access.Key, []string, error) {
	if err := access.CheckAudit(audit); err != nil {
		return access.Key{}, nil, err
	}
	when := graph.Clean(at)
	var (
		out  access.Key
		with []string
	)
	err := s.update(ctx, func(btx *bolt.Tx) error {
		out, with = access.Key{}, nil
		b := btx.Bucket(bucketAPIKeys)
		var all []access.Key
		err := b.ForEach(func(_, v []byte) error {
			k, err := decodeKey(v)
			all = append(all, k)
			return err
		})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(k access.Key) bool { return k.ID == id })
		if i < 0 {
			return graph.Errorf(graph.ENOTFOUND, "no API key with id %q", id)
		}
		gone := append([]access.Key{all[i]}, access.Descendants(id, all)...)
		ids := make([]string, len(gone))
		for j, k := range gone {
			if err := access.CheckHeld(ctx, k); err != nil {
				return err
			}
			ids[j] = k.ID
		}
		if access.KeepAdmin(ctx) {
			if last, ok := access.LastAdmin(ids, all, at); ok {
				return access.ErrLastAdmin(id, last)
			}
		}
		for j, k := range gone {
			switch {
			case k.RevokedAt.IsZero():
			case j == 0 && when.Before(k.RevokedAt):
				// The key named keeps the earlier time (a copy brings
				// the source's, which may precede the cascade's here).
				k.RevokedAt = when
				v, err := encodeKey(k)
				if err != nil {
					return err
				}
				if err := b.Put([]byte(k.ID), v); err != nil {
					return err
				}
				gone[j] = k
				continue
			default:
				continue
			}
			k.RevokedAt = when
			v, err := encodeKey(k)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(k.ID), v); err != nil {
				return err
			}
			if j > 0 {
				with = append(with, k.ID)
			}
			gone[j] = k
		}
		out = gone[0]
		return appendAudit(btx, access.RevokedWith(audit, with))
	})
	if err != nil {
		return access.Key{}, nil, err
	}
	return out, with, nil
}

// TouchKey implements access.Store.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time) error {
	_, err := s.changeKey(ctx, id, func(k *access.Key) {
		if at = graph.Clean(at); at.After(k.LastUsedAt) {
			k.LastUsedAt = at
		}
	}, nil)
	return err
}

// CountKeys implements access.Store.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(btx *bolt.Tx) error {
		n = btx.Bucket(bucketAPIKeys).Stats().KeyN
		return nil
	})
	return n, err
}

// AppendAudit implements access.Store.
func (s *Store) AppendAudit(ctx context.Context, entries []access.AuditEntry) error {
	if err := access.CheckAudit(entries); err != nil {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error { return appendAudit(btx, entries) })
}

// AppendAudit implements access.TxAuditor: the entries commit with the rest
// of the transaction.
func (t *tx) AppendAudit(ctx context.Context, entries []access.AuditEntry) error {
	if err := access.CheckAudit(entries); err != nil {
		return err
	}
	return appendAudit(t.btx, entries)
}

func appendAudit(btx *bolt.Tx, entries []access.AuditEntry) error {
	log, ids := btx.Bucket(bucketAudit), btx.Bucket(bucketAuditIDs)
	byKey, byProfile := btx.Bucket(bucketAuditByKey), btx.Bucket(bucketAuditByProfile)
	for _, e := range entries {
		if ids.Get([]byte(e.ID)) != nil {
			return graph.Errorf(graph.ECONFLICT, "audit entry %s is already stored", e.ID)
		}
		e.At = graph.Clean(e.At)
		v, err := json.Marshal(auditRecord(e))
		if err != nil {
			return err
		}
		ak := auditKey(e.At, e.ID)
		if err := log.Put(ak, v); err != nil {
			return err
		}
		if err := ids.Put([]byte(e.ID), appendTime(nil, e.At)); err != nil {
			return err
		}
		if e.KeyID != "" {
			if err := byKey.Put(append(part(e.KeyID), ak...), present); err != nil {
				return err
			}
		}
		for _, p := range e.ProfileIDs {
			if err := byProfile.Put(append(part(p), ak...), present); err != nil {
				return err
			}
		}
	}
	return nil
}

// Audit implements access.Store. It walks, newest first, the most
// selective ordered index q allows (a profile's entries, a key's, or the
// whole log), from the upper bound of q's time range and cursor, and stops
// at its lower bound or when Limit entries matched.
func (s *Store) Audit(ctx context.Context, q access.AuditQuery) ([]access.AuditEntry, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var out []access.AuditEntry
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		log := btx.Bucket(bucketAudit)
		var (
			b      *bolt.Bucket
			prefix []byte
		)
		switch {
		case q.ProfileID != "":
			b, prefix = btx.Bucket(bucketAuditByProfile), part(q.ProfileID)
		case q.KeyID != "":
			b, prefix = btx.Bucket(bucketAuditByKey), part(q.KeyID)
		default:
			b = log
		}
		// upper is the first key past the range; lower the first in it.
		// The bounds are taken as given, not cleaned: keys hold times to
		// the nanosecond, so a bound finer than the stored microseconds
		// selects exactly what q.Matches does.
		upper := prefixEnd(prefix)
		if !q.To.IsZero() {
			upper = append(bytes.Clone(prefix), appendTime(nil, q.To)...)
		}
		if !q.After.IsZero() {
			a := append(bytes.Clone(prefix), auditKey(q.After.At, q.After.ID)...)
			if upper == nil || bytes.Compare(a, upper) < 0 {
				upper = a
			}
		}
		lower := prefix
		if !q.From.IsZero() {
			lower = append(bytes.Clone(prefix), appendTime(nil, q.From)...)
		}
		c := b.Cursor()
		var k, v []byte
		if upper == nil {
			k, v = c.Last()
		} else if k, v = c.Seek(upper); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.Compare(k, lower) >= 0 && len(out) < q.Limit; k, v = c.Prev() {
			if b != log {
				if v = log.Get(k[len(prefix):]); v == nil {
					return fmt.Errorf("audit index names a missing entry")
				}
			}
			e, err := decodeAudit(v)
			if err != nil {
				return err
			}
			if q.Matches(e) {
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}

// PruneAudit implements access.Store.
func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.update(ctx, func(btx *bolt.Tx) error {
		n = 0
		log, ids := btx.Bucket(bucketAudit), btx.Bucket(bucketAuditIDs)
		byKey, byProfile := btx.Bucket(bucketAuditByKey), btx.Bucket(bucketAuditByProfile)
		// Every entry older than before, to the nanosecond: one stored
		// at before's microsecond is older than a before finer than it.
		end := appendTime(nil, before)
		var old [][]byte
		c := log.Cursor()
		for k, v := c.First(); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
			e, err := decodeAudit(v)
			if err != nil {
				return err
			}
			ak := bytes.Clone(k)
			old = append(old, ak)
			if err := ids.Delete([]byte(e.ID)); err != nil {
				return err
			}
			if e.KeyID != "" {
				if err := byKey.Delete(append(part(e.KeyID), ak...)); err != nil {
					return err
				}
			}
			for _, p := range e.ProfileIDs {
				if err := byProfile.Delete(append(part(p), ak...)); err != nil {
					return err
				}
			}
		}
		for _, k := range old {
			if err := log.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	return n, err
}
