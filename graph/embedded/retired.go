package embedded

import (
	"context"
	"encoding/hex"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// The retired profile ids (layout version 15), see graph.RetiredIDHash:
//
//	retired_profile_ids  hash (32 bytes, the HMAC decoded from hex) -> present
var bucketRetired = []byte("retired_profile_ids")

var retiredBuckets = [][]byte{bucketRetired}

// retiredKey is the bucket key of h, or an error naming its position in
// the write when h is not a graph.RetiredIDHash.
func retiredKey(h string, i int) ([]byte, error) {
	if !graph.ValidKeyedHash(h) {
		return nil, fmt.Errorf("retired profile id %d: not a hash of 64 lowercase hex digits", i)
	}
	b, _ := hex.DecodeString(h)
	return b, nil
}

// TakenProfileIDs implements graph.ReadTx: a lookup in the profiles, the
// merged profiles and the retired hashes per candidate, in one read
// transaction.
func (t *tx) TakenProfileIDs(ctx context.Context, cands []graph.ProfileIDCandidate) (map[string]bool, error) {
	out := make(map[string]bool)
	for _, c := range cands {
		if c.ID == "" || out[c.ID] {
			continue
		}
		id := []byte(c.ID)
		if t.profiles.Get(id) != nil || t.merged.Get(id) != nil {
			out[c.ID] = true
			continue
		}
		if c.Hash == "" {
			continue
		}
		if !graph.ValidKeyedHash(c.Hash) {
			return nil, fmt.Errorf("profile id %s: its retired hash is not 64 lowercase hex digits", graph.ProfileRef(c.ID))
		}
		b, _ := hex.DecodeString(c.Hash)
		if t.retired().Get(b) != nil {
			out[c.ID] = true
		}
	}
	return out, nil
}

// retireProfiles keeps the hashes of w.RetireProfiles.
func (t *tx) retireProfiles(w *graph.Write) error {
	for i, h := range w.RetireProfiles {
		k, err := retiredKey(h, i)
		if err != nil {
			return err
		}
		if err := t.retired().Put(k, present); err != nil {
			return err
		}
	}
	return nil
}

// pageRetired reads up to limit retired hashes after the hash after (hex),
// in hash order.
func pageRetired(btx *bolt.Tx, after string, limit int, b *[]string, next *string) error {
	c := btx.Bucket(bucketRetired).Cursor()
	k, _ := c.First()
	if after != "" {
		start, err := hex.DecodeString(after)
		if err != nil {
			return fmt.Errorf("bad retired profile id cursor: %w", err)
		}
		if k, _ = c.Seek(start); k != nil && string(k) == string(start) {
			k, _ = c.Next()
		}
	}
	for ; k != nil; k, _ = c.Next() {
		if len(*b) == limit {
			*next = (*b)[limit-1]
			return nil
		}
		*b = append(*b, hex.EncodeToString(k))
	}
	return nil
}
