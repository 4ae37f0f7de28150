package embedded

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/privacy"
)

// The suppression buckets (layout version 7):
//
//	suppressed       hash (32 bytes, the HMAC decoded from hex) -> suppressedRecord JSON
//	suppression_key  "default" -> the 32-byte secret of the hashes
var (
	bucketSuppressed     = []byte("suppressed")
	bucketSuppressionKey = []byte("suppression_key")
)

var suppressionBuckets = [][]byte{bucketSuppressed, bucketSuppressionKey}

var suppressionKeyName = []byte("default")

var (
	_ privacy.SuppressionStore = (*Store)(nil)
	_ privacy.TxSuppression    = (*tx)(nil)
	_ privacy.TxUnsuppress     = (*tx)(nil)
)

// suppressedRecord is a privacy.Suppression as stored, without its hash,
// which is the key.
type suppressedRecord struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// hashKey is the bucket key of a hash that passed privacy.ValidHash.
func hashKey(h string) []byte {
	b, _ := hex.DecodeString(h)
	return b
}

// SuppressionKey implements privacy.SuppressionStore. bbolt has one writer
// at a time, so the first writer to find no secret stores one and the
// others read it.
func (s *Store) SuppressionKey(ctx context.Context) ([]byte, error) {
	var key []byte
	read := func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketSuppressionKey).Get(suppressionKeyName); v != nil {
			if len(v) != privacy.SuppressionKeyLen {
				return fmt.Errorf("the stored suppression key is %d bytes, want %d", len(v), privacy.SuppressionKeyLen)
			}
			key = append([]byte(nil), v...)
		}
		return nil
	}
	if err := s.view(ctx, read); err != nil || key != nil {
		return key, err
	}
	err := s.update(ctx, func(btx *bolt.Tx) error {
		if err := read(btx); err != nil || key != nil {
			return err
		}
		key = privacy.NewSuppressionKey()
		return btx.Bucket(bucketSuppressionKey).Put(suppressionKeyName, key)
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}

// Suppress implements privacy.SuppressionStore.
func (s *Store) Suppress(ctx context.Context, entries []privacy.Suppression) error {
	entries, err := privacy.CheckSuppressions(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error { return suppress(btx, entries) })
}

// Suppress implements privacy.TxSuppression: the entries commit, or roll
// back, with the rest of the transaction.
func (t *tx) Suppress(ctx context.Context, entries []privacy.Suppression) error {
	entries, err := privacy.CheckSuppressions(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	return suppress(t.btx, entries)
}

// suppress writes entries that privacy.CheckSuppressions returned.
func suppress(btx *bolt.Tx, entries []privacy.Suppression) error {
	b := btx.Bucket(bucketSuppressed)
	for _, e := range entries {
		k := hashKey(e.Hash)
		if b.Get(k) != nil {
			continue // the first At and Reason stay
		}
		v, err := json.Marshal(suppressedRecord{At: e.At, Reason: e.Reason})
		if err != nil {
			return err
		}
		if err := b.Put(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Unsuppress implements privacy.SuppressionStore.
func (s *Store) Unsuppress(ctx context.Context, hash string) (bool, error) {
	if err := privacy.CheckHash(hash); err != nil {
		return false, err
	}
	found := false
	err := s.update(ctx, func(btx *bolt.Tx) error {
		var err error
		found, err = unsuppress(btx, hash)
		return err
	})
	return found, err
}

// Unsuppress implements privacy.TxUnsuppress: the hash leaves the list
// when the rest of the transaction commits.
func (t *tx) Unsuppress(ctx context.Context, hash string) (bool, error) {
	if err := privacy.CheckHash(hash); err != nil {
		return false, err
	}
	return unsuppress(t.btx, hash)
}

// unsuppress deletes hash from the list and reports whether it was on it.
func unsuppress(btx *bolt.Tx, hash string) (bool, error) {
	b := btx.Bucket(bucketSuppressed)
	k := hashKey(hash)
	if b.Get(k) == nil {
		return false, nil
	}
	return true, b.Delete(k)
}

// Suppressed implements privacy.SuppressionStore: one read transaction, one
// Get per hash.
func (s *Store) Suppressed(ctx context.Context, hashes []string) (map[string]bool, error) {
	if err := privacy.CheckHashes(hashes); err != nil {
		return nil, err
	}
	var out map[string]bool
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = suppressed(btx, hashes)
		return nil
	})
	return out, err
}

// Suppressed implements privacy.TxSuppression: the list as this
// transaction sees it.
func (t *tx) Suppressed(ctx context.Context, hashes []string) (map[string]bool, error) {
	if err := privacy.CheckHashes(hashes); err != nil {
		return nil, err
	}
	return suppressed(t.btx, hashes), nil
}

// suppressed returns the hashes among hashes on the list, one Get each.
func suppressed(btx *bolt.Tx, hashes []string) map[string]bool {
	out := map[string]bool{}
	b := btx.Bucket(bucketSuppressed)
	for _, h := range hashes {
		if b.Get(hashKey(h)) != nil {
			out[h] = true
		}
	}
	return out
}

// CountSuppressed implements privacy.SuppressionStore.
func (s *Store) CountSuppressed(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(btx *bolt.Tx) error {
		n = btx.Bucket(bucketSuppressed).Stats().KeyN
		return nil
	})
	return n, err
}
