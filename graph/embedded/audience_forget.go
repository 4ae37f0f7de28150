package embedded

import (
	"bytes"
	"context"
	"maps"
	"slices"

	"github.com/idgraph/cdp/audience"
)

var _ audience.TxForget = (*tx)(nil)

// ForgetProfiles implements audience.TxForget inside the write
// transaction. Memberships are found by profile (audience_memberships);
// the log has no index by profile, so the change rows naming an erased
// profile are found by one walk of the whole log (every audience's), a
// cost in the number of changes kept that an erasure, rare and followed
// by the zeroing of every free page of the file, accepts rather than a
// new layout version.
func (t *tx) ForgetProfiles(ctx context.Context, erased, changed []string) (audience.Forgotten, error) {
	var out audience.Forgotten
	btx := t.btx
	members, memberOf := btx.Bucket(bucketAudienceMembers), btx.Bucket(bucketAudienceMemberOf)

	// Memberships, both ways, and the sizes they counted in.
	less := map[string]int{}
	for _, pid := range erased {
		prefix := part(pid)
		keys, err := prefixKeys(memberOf, prefix)
		if err != nil {
			return out, err
		}
		for _, k := range keys {
			aid := string(k[len(prefix):])
			if err := memberOf.Delete(k); err != nil {
				return out, err
			}
			mk := append(part(aid), pid...)
			if members.Get(mk) == nil {
				continue // not counted in the audience (never happens)
			}
			if err := members.Delete(mk); err != nil {
				return out, err
			}
			less[aid]++
			out.Memberships++
		}
	}
	for _, aid := range slices.Sorted(maps.Keys(less)) {
		r, err := getAudience(btx, aid)
		if err != nil {
			return out, err
		}
		if r == nil {
			continue // its members went with it
		}
		r.Size = max(r.Size-less[aid], 0)
		if err := putAudience(btx, aid, r); err != nil {
			return out, err
		}
	}

	// The log: a change's value is its kind byte, then the profile id.
	if len(erased) > 0 {
		gone := make(map[string]bool, len(erased))
		for _, pid := range erased {
			gone[pid] = true
		}
		changes := btx.Bucket(bucketAudienceChanges)
		var drop [][]byte
		c := changes.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) > 1 && gone[string(v[1:])] {
				drop = append(drop, bytes.Clone(k))
			}
		}
		for _, k := range drop {
			if err := changes.Delete(k); err != nil {
				return out, err
			}
		}
		out.Changes = len(drop)
	}

	// Computed values, with their entries in the name and expiry indexes.
	vals := btx.Bucket(bucketComputedValues)
	for _, pid := range append(slices.Clone(erased), changed...) {
		prefix := part(pid)
		keys, err := prefixKeys(vals, prefix)
		if err != nil {
			return out, err
		}
		for _, k := range keys {
			if err := deleteValue(btx, pid, string(k[len(prefix):])); err != nil {
				return out, err
			}
			out.Values++
		}
	}
	return out, nil
}
