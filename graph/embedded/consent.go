package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/privacy"
)

// The consent buckets (layout version 8):
//
//	consent      part(identifier key) record id -> consentRecord JSON
//	consent_ids  record id -> part(identifier key)
//
// An identifier's records share the prefix part(key), so ConsentOf is one
// range scan per key and DeleteConsent one scan and delete; consent_ids
// finds a stored record by id for PutConsent's idempotency. Records are
// kept whether or not their identifier is stored.
var (
	bucketConsent    = []byte("consent")
	bucketConsentIDs = []byte("consent_ids")
)

var consentBuckets = [][]byte{bucketConsent, bucketConsentIDs}

var (
	_ privacy.ConsentStore = (*Store)(nil)
	_ privacy.TxConsent    = (*tx)(nil)
	_ privacy.PurposeStore = (*Store)(nil)
)

// consentRecord is a privacy.Record as stored, without its id and
// identifier, which are the key.
type consentRecord struct {
	Purpose        string     `json:"purpose"`
	Status         string     `json:"status"`
	At             time.Time  `json:"at"`
	Source         string     `json:"source"`
	LegalBasis     string     `json:"legalBasis"`
	ProofText      string     `json:"proofText,omitempty"`
	ProofVersion   string     `json:"proofVersion,omitempty"`
	ProofChannel   string     `json:"proofChannel,omitempty"`
	ProofCollector string     `json:"proofCollector,omitempty"`
	ProofEventID   string     `json:"proofEventId,omitempty"`
	ExpiresAt      *time.Time `json:"expiresAt,omitempty"`
	ReceivedAt     time.Time  `json:"receivedAt"`
}

func encodeConsent(r privacy.Record) ([]byte, error) {
	c := consentRecord{
		Purpose: r.Purpose, Status: string(r.Status), At: r.At, Source: r.Source, LegalBasis: string(r.LegalBasis),
		ProofText: r.Proof.Text, ProofVersion: r.Proof.Version, ProofChannel: r.Proof.Channel,
		ProofCollector: r.Proof.Collector, ProofEventID: r.Proof.EventID, ReceivedAt: r.ReceivedAt,
	}
	if !r.ExpiresAt.IsZero() {
		c.ExpiresAt = &r.ExpiresAt
	}
	return json.Marshal(c)
}

func decodeConsent(id, identifier string, v []byte) (privacy.Record, error) {
	var c consentRecord
	if err := json.Unmarshal(v, &c); err != nil {
		return privacy.Record{}, fmt.Errorf("consent record %s: %w", id, err)
	}
	r := privacy.Record{
		ID: id, Purpose: c.Purpose, Status: privacy.Status(c.Status), At: c.At, Source: c.Source,
		LegalBasis: privacy.LegalBasis(c.LegalBasis), Identifier: identifier,
		Proof: privacy.Proof{Text: c.ProofText, Version: c.ProofVersion, Channel: c.ProofChannel,
			Collector: c.ProofCollector, EventID: c.ProofEventID},
		ReceivedAt: c.ReceivedAt,
	}
	if c.ExpiresAt != nil {
		r.ExpiresAt = *c.ExpiresAt
	}
	return r.Clean(), nil
}

// PutConsent implements privacy.ConsentStore.
func (s *Store) PutConsent(ctx context.Context, records []privacy.Record) error {
	records, err := privacy.CheckConsent(records)
	if err != nil || len(records) == 0 {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error { return putConsent(btx, records) })
}

// PutConsent implements privacy.TxConsent.
func (t *tx) PutConsent(ctx context.Context, records []privacy.Record) error {
	records, err := privacy.CheckConsent(records)
	if err != nil || len(records) == 0 {
		return err
	}
	return putConsent(t.btx, records)
}

// putConsent writes checked records; a conflict returns an error, which
// rolls the whole transaction back.
func putConsent(btx *bolt.Tx, records []privacy.Record) error {
	b, ids := btx.Bucket(bucketConsent), btx.Bucket(bucketConsentIDs)
	for _, r := range records {
		if prefix := ids.Get([]byte(r.ID)); prefix != nil {
			k := append(bytes.Clone(prefix), r.ID...)
			v := b.Get(k)
			if v == nil {
				return fmt.Errorf("consent record %s is in the id index but not in the ledger", r.ID)
			}
			stored, err := decodeConsent(r.ID, r.Identifier, v)
			if err != nil {
				return err
			}
			if !bytes.Equal(prefix, part(r.Identifier)) || !stored.Equal(r) {
				return privacy.ConflictError(r.ID)
			}
			continue
		}
		v, err := encodeConsent(r)
		if err != nil {
			return err
		}
		prefix := part(r.Identifier)
		if err := b.Put(append(bytes.Clone(prefix), r.ID...), v); err != nil {
			return err
		}
		if err := ids.Put([]byte(r.ID), prefix); err != nil {
			return err
		}
	}
	return nil
}

// ConsentOf implements privacy.ConsentStore: one read transaction, one
// range scan per distinct key.
func (s *Store) ConsentOf(ctx context.Context, keys []string) (map[string][]privacy.Record, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return nil, err
	}
	var out map[string][]privacy.Record
	err := s.view(ctx, func(btx *bolt.Tx) error {
		var err error
		out, err = consentOf(btx, keys)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConsentOf implements privacy.TxConsent.
func (t *tx) ConsentOf(ctx context.Context, keys []string) (map[string][]privacy.Record, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return nil, err
	}
	return consentOf(t.btx, keys)
}

// consentOf reads the records of keys with one cursor, moving forwards
// through the keys' prefixes in the bucket's order: where the cursor
// already stands at or past a prefix, it needs no seek. That holds
// because prefixes are length-prefixed (part), so no prefix starts
// another: the records after one key's run and before the next prefix
// would all belong to the earlier key.
func consentOf(btx *bolt.Tx, keys []string) (map[string][]privacy.Record, error) {
	out := map[string][]privacy.Record{}
	type want struct {
		key    string
		prefix []byte
	}
	ws := make([]want, 0, len(keys))
	for _, key := range keys {
		ws = append(ws, want{key, part(key)})
	}
	slices.SortFunc(ws, func(a, b want) int { return bytes.Compare(a.prefix, b.prefix) })
	c := btx.Bucket(bucketConsent).Cursor()
	var k, v []byte
	positioned := false
	for i, w := range ws {
		if i > 0 && w.key == ws[i-1].key {
			continue
		}
		if !positioned || (k != nil && bytes.Compare(k, w.prefix) < 0) {
			k, v = c.Seek(w.prefix)
			positioned = true
		}
		var rs []privacy.Record
		for ; k != nil && bytes.HasPrefix(k, w.prefix); k, v = c.Next() {
			r, err := decodeConsent(string(k[len(w.prefix):]), w.key, v)
			if err != nil {
				return nil, err
			}
			rs = append(rs, r)
		}
		if len(rs) > 0 {
			out[w.key] = rs
		}
	}
	privacy.SortNewestFirst(out)
	return out, nil
}

// ConsentPurposeStored implements privacy.PurposeStore: one walk of the
// records, in one read transaction, until the first of purpose. Only a
// record whose bytes hold the purpose's field as encodeConsent writes it
// is decoded.
func (s *Store) ConsentPurposeStored(ctx context.Context, purpose string) (bool, error) {
	if !privacy.PurposeName(purpose) {
		return false, nil
	}
	q, err := json.Marshal(purpose)
	if err != nil {
		return false, err
	}
	needle := append([]byte(`"purpose":`), q...)
	found := false
	err = s.view(ctx, func(btx *bolt.Tx) error {
		found = false
		c := btx.Bucket(bucketConsent).Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if !bytes.Contains(v, needle) {
				continue
			}
			var r consentRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("consent record under %x: %w", k, err)
			}
			if r.Purpose == purpose {
				found = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return found, nil
}

// DeleteConsent implements privacy.ConsentStore.
func (s *Store) DeleteConsent(ctx context.Context, keys []string) (int, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return 0, err
	}
	n := 0
	err := s.update(ctx, func(btx *bolt.Tx) error {
		var err error
		n, err = deleteConsent(btx, keys)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// DeleteConsent implements privacy.TxConsent.
func (t *tx) DeleteConsent(ctx context.Context, keys []string) (int, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return 0, err
	}
	return deleteConsent(t.btx, keys)
}

// deleteConsent deletes the records of keys, collecting each key's record
// keys before deleting them.
func deleteConsent(btx *bolt.Tx, keys []string) (int, error) {
	b, ids := btx.Bucket(bucketConsent), btx.Bucket(bucketConsentIDs)
	n := 0
	for _, key := range keys {
		prefix := part(key)
		var found [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			found = append(found, bytes.Clone(k))
		}
		for _, k := range found {
			if err := b.Delete(k); err != nil {
				return 0, err
			}
			if err := ids.Delete(k[len(prefix):]); err != nil {
				return 0, err
			}
		}
		n += len(found)
	}
	return n, nil
}
