package embedded

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// The erasure receipt buckets (layout version 9):
//
//	receipts     time id -> receiptRecord JSON
//	receipt_ids  id -> time (the key's first timeLen bytes)
//
// A receipt's key is its time (appendTime) then its id, so byte order is
// receipt order reversed: Receipts walks the bucket backwards, from the
// newest or from just before a cursor, and stops after a page. receipt_ids
// finds a stored id for PutReceipt's conflict check.
var (
	bucketReceipts   = []byte("receipts")
	bucketReceiptIDs = []byte("receipt_ids")
)

var receiptBuckets = [][]byte{bucketReceipts, bucketReceiptIDs}

var (
	_ privacy.ReceiptStore = (*Store)(nil)
	_ privacy.TxReceipts   = (*tx)(nil)
)

// receiptRecord is a privacy.ErasureReceipt as stored, without its id and
// time, which are the key.
type receiptRecord struct {
	Kind             string `json:"kind"`
	Reason           string `json:"reason"`
	KeyID            string `json:"keyId,omitempty"`
	KeyName          string `json:"keyName,omitempty"`
	Identifiers      int    `json:"identifiers"`
	Events           int    `json:"events"`
	ScrubbedEvents   int    `json:"scrubbedEvents"`
	Traits           int    `json:"traits"`
	ConsentRecords   int    `json:"consentRecords"`
	SuppressedHashes int    `json:"suppressedHashes"`
}

// receiptKey is the receipts bucket key of a receipt at at with id.
func receiptKey(r privacy.ErasureReceipt) []byte {
	return append(appendTime(make([]byte, 0, timeLen+len(r.ID)), r.At), r.ID...)
}

func decodeReceipt(k, v []byte) (privacy.ErasureReceipt, error) {
	if len(k) < timeLen {
		return privacy.ErasureReceipt{}, fmt.Errorf("a receipt key is %d bytes, shorter than its time", len(k))
	}
	id := string(k[timeLen:])
	var c receiptRecord
	if err := json.Unmarshal(v, &c); err != nil {
		return privacy.ErasureReceipt{}, fmt.Errorf("erasure receipt %s: %w", id, err)
	}
	return privacy.ErasureReceipt{
		ID: id, At: decodeTime(k[:timeLen]), Kind: c.Kind, Reason: c.Reason, KeyID: c.KeyID, KeyName: c.KeyName,
		Identifiers: c.Identifiers, Events: c.Events, ScrubbedEvents: c.ScrubbedEvents, Traits: c.Traits,
		ConsentRecords: c.ConsentRecords, SuppressedHashes: c.SuppressedHashes,
	}, nil
}

// PutReceipt implements privacy.TxReceipts.
func (t *tx) PutReceipt(ctx context.Context, r privacy.ErasureReceipt) error {
	if err := r.Validate(); err != nil {
		return err
	}
	r.At = graph.Clean(r.At)
	ids := t.btx.Bucket(bucketReceiptIDs)
	if ids.Get([]byte(r.ID)) != nil {
		return graph.Errorf(graph.ECONFLICT, "erasure receipt %s is already stored", r.ID)
	}
	v, err := json.Marshal(receiptRecord{
		Kind: r.Kind, Reason: r.Reason, KeyID: r.KeyID, KeyName: r.KeyName,
		Identifiers: r.Identifiers, Events: r.Events, ScrubbedEvents: r.ScrubbedEvents, Traits: r.Traits,
		ConsentRecords: r.ConsentRecords, SuppressedHashes: r.SuppressedHashes,
	})
	if err != nil {
		return err
	}
	k := receiptKey(r)
	if err := t.btx.Bucket(bucketReceipts).Put(k, v); err != nil {
		return err
	}
	return ids.Put([]byte(r.ID), k[:timeLen])
}

// Receipts implements privacy.ReceiptStore: one read transaction, a
// backward walk of at most q.Limit keys.
func (s *Store) Receipts(ctx context.Context, q privacy.ReceiptQuery) ([]privacy.ErasureReceipt, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	var out []privacy.ErasureReceipt
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = make([]privacy.ErasureReceipt, 0, min(q.Limit, 64))
		c := btx.Bucket(bucketReceipts).Cursor()
		var k, v []byte
		if q.After == nil {
			k, v = c.Last()
		} else {
			// The cursor's own key, not cleaned, so that the walk
			// admits exactly what ReceiptCursor.Admits does. Every key
			// before it in byte order comes after it in receipt order.
			after := append(appendTime(nil, q.After.At), q.After.ID...)
			if k, _ = c.Seek(after); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(out) < q.Limit; k, v = c.Prev() {
			r, err := decodeReceipt(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountReceipts implements privacy.ReceiptStore.
func (s *Store) CountReceipts(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(btx *bolt.Tx) error {
		n = btx.Bucket(bucketReceiptIDs).Stats().KeyN
		return nil
	})
	return n, err
}
