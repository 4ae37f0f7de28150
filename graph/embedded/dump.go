package embedded

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/privacy"
)

var _ dump.Reader = (*Store)(nil)

// Count implements dump.Reader. Profiles, refused links, events and history
// entries are counted from bbolt's page statistics; identifiers and links
// share the identifiers bucket with the BY entries, so they are counted by
// a scan that seeks past each identifier's BY entries.
func (s *Store) Count(ctx context.Context, kind dump.Kind) (int, error) {
	n := 0
	err := s.db.View(func(btx *bolt.Tx) error {
		switch kind {
		case dump.Profiles:
			n = btx.Bucket(bucketProfiles).Stats().KeyN + btx.Bucket(bucketMerged).Stats().KeyN
		case dump.Rejected:
			n = btx.Bucket(bucketRejected).Stats().KeyN
		case dump.Events:
			n = btx.Bucket(bucketEvents).Stats().KeyN
		case dump.Changes:
			n = btx.Bucket(bucketChanges).Stats().KeyN
		case dump.RetiredIDs:
			n = btx.Bucket(bucketRetired).Stats().KeyN
		case dump.Identifiers, dump.Links:
			return scanIdentifiers(btx.Bucket(bucketIdentifiers).Cursor(), nil, kind == dump.Links, func(key string, rest, v []byte) (bool, error) {
				n++
				return true, nil
			})
		default:
			return fmt.Errorf("unknown record kind %q", kind)
		}
		return nil
	})
	return n, err
}

// Page implements dump.Reader. Profiles are in id order (live and merged
// away interleaved), identifiers and links in the order of the identifiers
// bucket (by key length, then key), with all the links of one identifier in
// one page, refused links by pair, events by id, history entries in the
// order they were recorded and retired profile ids by hash.
func (s *Store) Page(ctx context.Context, kind dump.Kind, after string, limit int) (dump.Batch, error) {
	if limit < 1 {
		limit = 1
	}
	b := dump.Batch{Kind: kind}
	err := s.db.View(func(btx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		b = dump.Batch{Kind: kind}
		switch kind {
		case dump.Profiles:
			return pageProfiles(btx, after, limit, &b)
		case dump.Identifiers, dump.Links:
			return pageIdentifiers(btx, kind, after, limit, &b)
		case dump.RetiredIDs:
			return pageRetired(btx, after, limit, &b.RetiredIDs, &b.Next)
		case dump.Rejected:
			return pageBucket(btx.Bucket(bucketRejected), after, limit, &b, func(k, v []byte) error {
				var r graph.RejectedLink
				if err := json.Unmarshal(v, &r); err != nil {
					return fmt.Errorf("decode a refused link: %w", err)
				}
				b.Rejected = append(b.Rejected, r)
				return nil
			})
		case dump.Events:
			return pageBucket(btx.Bucket(bucketEvents), after, limit, &b, func(k, v []byte) error {
				ev, err := decodeEvent(string(k), v)
				if err != nil {
					return err
				}
				b.Events = append(b.Events, ev)
				return nil
			})
		case dump.Changes:
			return pageBucket(btx.Bucket(bucketChanges), after, limit, &b, func(k, v []byte) error {
				var ch graph.ProfileChange
				if err := json.Unmarshal(v, &ch); err != nil {
					return fmt.Errorf("decode history entry %d: %w", decodeU64(k), err)
				}
				b.Changes = append(b.Changes, ch)
				return nil
			})
		}
		return fmt.Errorf("unknown record kind %q", kind)
	})
	return b, err
}

// pageBucket reads up to limit entries of bk after the key after (its raw
// bytes); the cursor of the next page is the last key read.
func pageBucket(bk *bolt.Bucket, after string, limit int, b *dump.Batch, fn func(k, v []byte) error) error {
	c := bk.Cursor()
	k, v := c.First()
	if after != "" {
		k, v = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
	}
	n := 0
	for ; k != nil; k, v = c.Next() {
		if n == limit {
			b.Next = after
			return nil
		}
		if err := fn(k, v); err != nil {
			return err
		}
		after = string(k)
		n++
	}
	return nil
}

// pageProfiles merges the live and merged-away buckets in id order.
func pageProfiles(btx *bolt.Tx, after string, limit int, b *dump.Batch) error {
	type side struct {
		c    *bolt.Cursor
		k, v []byte
	}
	sides := []*side{{c: btx.Bucket(bucketProfiles).Cursor()}, {c: btx.Bucket(bucketMerged).Cursor()}}
	for _, sd := range sides {
		if after == "" {
			sd.k, sd.v = sd.c.First()
		} else {
			sd.k, sd.v = sd.c.Seek([]byte(after))
			if sd.k != nil && string(sd.k) == after {
				sd.k, sd.v = sd.c.Next()
			}
		}
	}
	for {
		var next *side
		for _, sd := range sides {
			if sd.k != nil && (next == nil || bytes.Compare(sd.k, next.k) < 0) {
				next = sd
			}
		}
		if next == nil {
			return nil
		}
		if len(b.Profiles) == limit {
			b.Next = b.Profiles[limit-1].ID
			return nil
		}
		p, err := decodeProfile(string(next.k), next.v)
		if err != nil {
			return err
		}
		b.Profiles = append(b.Profiles, p)
		next.k, next.v = next.c.Next()
	}
}

// pageIdentifiers reads identifier records, or links, from the identifier
// after the key after; a page ends between two identifiers.
func pageIdentifiers(btx *bolt.Tx, kind dump.Kind, after string, limit int, b *dump.Batch) error {
	var start []byte
	if after != "" {
		start = prefixEnd(part(after))
		if start == nil {
			return nil
		}
	}
	last := ""
	return scanIdentifiers(btx.Bucket(bucketIdentifiers).Cursor(), start, kind == dump.Links, func(key string, rest, v []byte) (bool, error) {
		if key != last && b.Len() >= limit {
			b.Next = last
			return false, nil
		}
		last = key
		if kind == dump.Identifiers {
			r, err := decodeIdent(key, v)
			if err != nil {
				return false, err
			}
			b.Identifiers = append(b.Identifiers, r.identifier(key))
			return true, nil
		}
		l, err := decodeLink(key, string(rest), v)
		if err != nil {
			return false, err
		}
		b.Links = append(b.Links, l)
		return true, nil
	})
}

// scanIdentifiers walks the identifiers bucket from start (nil: the
// beginning) and calls fn with every identifier record or, with links,
// every link under its smaller key (rest is the other key). It seeks past
// each identifier's BY entries, which can be many. fn returns false to
// stop.
func scanIdentifiers(c *bolt.Cursor, start []byte, links bool, fn func(key string, rest, v []byte) (bool, error)) error {
	var k, v []byte
	if start == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(start)
	}
	for k != nil {
		key, rest := splitPart(k)
		if len(rest) == 0 {
			// The key is not echoed: it may hold a personal value.
			return fmt.Errorf("identifiers bucket: a malformed entry of %d bytes", len(k))
		}
		tag, rest := rest[0], rest[1:]
		switch {
		case tag == tagRecord && !links:
			more, err := fn(key, nil, v)
			if err != nil || !more {
				return err
			}
			// Nothing else of this identifier is wanted.
			if k, v = seekAfter(c, part(key)); k == nil {
				return nil
			}
			continue
		case tag == tagLink && links && key < string(rest):
			more, err := fn(key, rest, v)
			if err != nil || !more {
				return err
			}
		case tag < tagLink && links:
			// Skip the record and BY entries straight to the links.
			k, v = c.Seek(linkPrefix(key))
			continue
		case !links:
			// An identifier's record sorts first; without one there is
			// nothing of it to read.
			if k, v = seekAfter(c, part(key)); k == nil {
				return nil
			}
			continue
		}
		k, v = c.Next()
	}
	return nil
}

// seekAfter moves c to the first key after every key starting with p.
func seekAfter(c *bolt.Cursor, p []byte) ([]byte, []byte) {
	end := prefixEnd(p)
	if end == nil {
		return nil, nil
	}
	return c.Seek(end)
}

var _ dump.PrivacyReader = (*Store)(nil)

// ConsentPage implements dump.PrivacyReader: records in id order, found
// through the id index.
func (s *Store) ConsentPage(ctx context.Context, after string, limit int) ([]privacy.Record, error) {
	var out []privacy.Record
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		records := btx.Bucket(bucketConsent)
		c := btx.Bucket(bucketConsentIDs).Cursor()
		k, v := c.Seek([]byte(after))
		if k != nil && after != "" && string(k) == after {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < max(1, limit); k, v = c.Next() {
			identifier, _ := splitPart(v)
			rv := records.Get(append(append([]byte(nil), v...), k...))
			if rv == nil {
				return fmt.Errorf("consent record %s is indexed but not stored", k)
			}
			r, err := decodeConsent(string(k), identifier, rv)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// CountConsent implements dump.PrivacyReader.
func (s *Store) CountConsent(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(btx *bolt.Tx) error {
		n = btx.Bucket(bucketConsentIDs).Stats().KeyN
		return nil
	})
	return n, err
}

// SuppressionPage implements dump.PrivacyReader: entries in hash order.
func (s *Store) SuppressionPage(ctx context.Context, after string, limit int) ([]privacy.Suppression, error) {
	var out []privacy.Suppression
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		c := btx.Bucket(bucketSuppressed).Cursor()
		k, v := c.First()
		if after != "" {
			start, err := hex.DecodeString(after)
			if err != nil {
				return fmt.Errorf("bad suppression cursor: %w", err)
			}
			if k, v = c.Seek(start); k != nil && bytes.Equal(k, start) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < max(1, limit); k, v = c.Next() {
			var r suppressedRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode a suppressed hash: %w", err)
			}
			out = append(out, privacy.Suppression{Hash: hex.EncodeToString(k), At: r.At, Reason: r.Reason})
		}
		return nil
	})
	return out, err
}

// StoredSuppressionKey implements dump.PrivacyReader.
func (s *Store) StoredSuppressionKey(ctx context.Context) ([]byte, error) {
	var key []byte
	err := s.view(ctx, func(btx *bolt.Tx) error {
		key = nil
		if v := btx.Bucket(bucketSuppressionKey).Get(suppressionKeyName); v != nil {
			key = append([]byte(nil), v...)
		}
		return nil
	})
	return key, err
}

// PutSuppressionKey implements dump.PrivacyReader.
func (s *Store) PutSuppressionKey(ctx context.Context, key []byte, replace bool) error {
	if len(key) != privacy.SuppressionKeyLen {
		return fmt.Errorf("a suppression key is %d bytes, not %d", privacy.SuppressionKeyLen, len(key))
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketSuppressionKey)
		switch v := b.Get(suppressionKeyName); {
		case v == nil, replace && !bytes.Equal(v, key):
			return b.Put(suppressionKeyName, key)
		case !bytes.Equal(v, key):
			return dump.ErrOtherSuppressionKey
		}
		return nil
	})
}

var _ dump.AudienceReader = (*Store)(nil)

// ComputedValueProfileIDs implements dump.AudienceReader: the values
// bucket is keyed by part(profile id) then name, so the keys of one
// profile are adjacent, and the ids come in the order of their parts
// (length, then bytes).
func (s *Store) ComputedValueProfileIDs(ctx context.Context, after string, limit int) ([]string, error) {
	var out []string
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = out[:0]
		c := btx.Bucket(bucketComputedValues).Cursor()
		k, _ := c.First()
		if after != "" {
			k, _ = c.Seek(part(after))
		}
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			pid, rest := splitPart(k)
			if rest == nil {
				return fmt.Errorf("a computed value key is malformed")
			}
			if (after != "" && pid == after) || (len(out) > 0 && out[len(out)-1] == pid) {
				continue
			}
			out = append(out, pid)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FactsProfileIDs implements dump.AudienceReader: the facts bucket is
// keyed by profile id, in byte order.
func (s *Store) FactsProfileIDs(ctx context.Context, after string, limit int) ([]string, error) {
	var out []string
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = out[:0]
		c := btx.Bucket(bucketProfileFacts).Cursor()
		k, _ := c.Seek([]byte(after))
		if k != nil && after != "" && string(k) == after {
			k, _ = c.Next()
		}
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			out = append(out, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var _ dump.AudienceWriter = (*Store)(nil)

// AudienceSeqs implements dump.AudienceWriter.
func (s *Store) AudienceSeqs(ctx context.Context, ids []string) (map[string]uint64, error) {
	out := make(map[string]uint64, len(ids))
	err := s.view(ctx, func(btx *bolt.Tx) error {
		for _, id := range ids {
			r, err := getAudience(btx, id)
			if err != nil {
				return err
			}
			if r != nil {
				out[id] = r.Seq
			}
		}
		return nil
	})
	return out, err
}

// PutAudienceRecords implements dump.AudienceWriter.
func (s *Store) PutAudienceRecords(ctx context.Context, as []dump.AudienceRecord) error {
	return s.update(ctx, func(btx *bolt.Tx) error {
		for _, a := range as {
			filter, err := audience.EncodeFilter(a.Filter)
			if err != nil {
				return fmt.Errorf("audience %s: %w", a.ID, err)
			}
			r := &audienceRecord{
				Name: a.Name, Description: a.Description, Filter: filter, Purpose: a.Purpose, Static: a.Static,
				CreatedAt: cleanOrZero(a.CreatedAt), UpdatedAt: cleanOrZero(a.UpdatedAt),
				Size: a.Size, RefreshedAt: cleanOrZero(a.RefreshedAt), Seq: a.Seq,
			}
			if err := putAudience(btx, a.ID, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutAudienceMembers implements dump.AudienceWriter: both indexes.
func (s *Store) PutAudienceMembers(ctx context.Context, ms []audience.Membership) error {
	return s.update(ctx, func(btx *bolt.Tx) error {
		members, memberOf := btx.Bucket(bucketAudienceMembers), btx.Bucket(bucketAudienceMemberOf)
		for _, m := range ms {
			since := appendTime(nil, graph.Clean(m.Since))
			if err := members.Put(append(part(m.AudienceID), m.ProfileID...), since); err != nil {
				return err
			}
			if err := memberOf.Put(append(part(m.ProfileID), m.AudienceID...), since); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutAudienceChanges implements dump.AudienceWriter.
func (s *Store) PutAudienceChanges(ctx context.Context, cs []audience.Change) error {
	return s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketAudienceChanges)
		for _, c := range cs {
			var kind byte
			switch c.Kind {
			case audience.Entered:
				kind = changeEntered
			case audience.Exited:
				kind = changeExited
			default:
				return fmt.Errorf("audience %s: unknown change kind %q", c.AudienceID, c.Kind)
			}
			k := changeKey(c.AudienceID, graph.Clean(c.At), c.Seq)
			if b.Get(k) != nil {
				continue
			}
			if err := b.Put(k, append([]byte{kind}, c.ProfileID...)); err != nil {
				return err
			}
		}
		return nil
	})
}

var _ dump.LeftoverReader = (*Store)(nil)

// Leftovers implements dump.LeftoverReader: the buckets that hold entries
// (nested buckets' included), but for the meta bucket (the layout version,
// the live count and the feed's trimmed mark, which dump.Stream reads
// itself) and the suppression secret (dump.Counts counts it). It reads
// every entry of those buckets.
func (s *Store) Leftovers(ctx context.Context) ([]string, error) {
	var out []string
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		for _, name := range allBuckets {
			if bytes.Equal(name, bucketMeta) || bytes.Equal(name, bucketSuppressionKey) {
				continue
			}
			b := btx.Bucket(name)
			if b == nil {
				continue
			}
			if n := countEntries(b); n > 0 {
				out = append(out, fmt.Sprintf("%d %s in the %s bucket", n, map[bool]string{true: "entry", false: "entries"}[n == 1], name))
			}
		}
		return nil
	})
	return out, err
}

// countEntries counts the values of b and of the buckets nested in it.
func countEntries(b *bolt.Bucket) int {
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v != nil {
			n++
		} else if nb := b.Bucket(k); nb != nil {
			n += countEntries(nb)
		}
	}
	return n
}
