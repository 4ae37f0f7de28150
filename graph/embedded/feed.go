package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
)

// The change feed (layout version 12):
//
//	feed  seq (8 bytes, big endian) -> feedBatch JSON
//
// One record per transaction that appended entries, keyed by the Seq of
// its first entry; the entries after it have the next Seqs. The bucket's
// own sequence (bbolt's Bucket.Sequence) is the Seq of the newest entry.
var bucketFeed = []byte("feed")

var feedBuckets = [][]byte{bucketFeed}

// feedBatch is the stored form of one transaction's entries, which share
// their time.
type feedBatch struct {
	At int64        `json:"at"` // Unix nanoseconds
	E  []feedRecord `json:"e"`
}

// feedRecord is one entry: kind, profile, previous ids, event, audience.
// An entry redacted by erasure (RedactFeed) is an empty record: a gap.
type feedRecord struct {
	K string   `json:"k"`
	P string   `json:"p,omitempty"`
	V []string `json:"v,omitempty"`
	E string   `json:"e,omitempty"`
	A string   `json:"a,omitempty"`
}

var _ graph.FeedTx = (*tx)(nil)

// AppendFeed implements graph.FeedTx.
func (t *tx) AppendFeed(ctx context.Context, entries []graph.FeedEntry) error {
	return appendFeed(t.btx, entries)
}

// appendFeed appends entries to the feed inside btx, as one record.
func appendFeed(btx *bolt.Tx, entries []graph.FeedEntry) error {
	if len(entries) == 0 {
		return nil
	}
	b := btx.Bucket(bucketFeed)
	first := b.Sequence() + 1
	rec := feedBatch{At: graph.Clean(entries[0].At).UnixNano(), E: make([]feedRecord, len(entries))}
	for i, e := range entries {
		if !graph.ValidFeedKind(e.Kind) {
			return fmt.Errorf("feed: unknown kind %q", string(e.Kind))
		}
		rec.E[i] = feedRecord{K: string(e.Kind), P: e.ProfileID, V: e.PreviousIDs, E: e.EventID, A: e.AudienceID}
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := b.Put(binary.BigEndian.AppendUint64(nil, first), v); err != nil {
		return err
	}
	return b.SetSequence(first + uint64(len(entries)) - 1)
}

// A store whose LoadFeed drifted from dump.FeedWriter would have its feed
// left out of every copy (dump.NewStream finds it by type assertion).
var _ dump.FeedWriter = (*Store)(nil)

// LoadFeed implements dump.FeedWriter, in one write transaction: the
// records holding Seqs from to to are cleared (clearFeedRange), then a
// record per run of consecutive Seqs (graph.FeedRuns) is written, keyed by
// its first; a Seq of the range without an entry is left without a record,
// a gap.
func (s *Store) LoadFeed(ctx context.Context, from, to uint64, entries []graph.FeedEntry) error {
	if err := graph.CheckFeedLoad(from, to, entries); err != nil {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketFeed)
		head := max(b.Sequence(), to)
		if err := clearFeedRange(b, from, to); err != nil {
			return err
		}
		for _, run := range graph.FeedRuns(entries) {
			if err := b.SetSequence(run[0].Seq - 1); err != nil {
				return err
			}
			if err := appendFeed(btx, run); err != nil {
				return err
			}
		}
		return b.SetSequence(head)
	})
}

// clearFeedRange deletes the stored entries with Seqs first to last, so
// that entries loaded again replace them whatever records held them
// before: a record inside the range goes, and one that reaches into it
// keeps its entries outside it, as records of their own.
func clearFeedRange(b *bolt.Bucket, first, last uint64) error {
	type piece struct {
		key uint64
		rec feedBatch
	}
	var drop []uint64
	var keep []piece
	c := b.Cursor()
	k, v := c.Seek(binary.BigEndian.AppendUint64(nil, first))
	if pk, pv := c.Prev(); pk != nil {
		k, v = pk, pv // the record before may reach into the range
	} else {
		k, v = c.Seek(binary.BigEndian.AppendUint64(nil, first))
	}
	for ; k != nil; k, v = c.Next() {
		start := binary.BigEndian.Uint64(k)
		if start > last {
			break
		}
		var rec feedBatch
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("feed record %d: %w", start, err)
		}
		end := start + uint64(len(rec.E)) - 1
		if len(rec.E) == 0 || end < first {
			continue
		}
		drop = append(drop, start)
		if start < first {
			keep = append(keep, piece{start, feedBatch{At: rec.At, E: rec.E[:first-start]}})
		}
		if end > last {
			keep = append(keep, piece{last + 1, feedBatch{At: rec.At, E: rec.E[last+1-start:]}})
		}
	}
	for _, key := range drop {
		if err := b.Delete(binary.BigEndian.AppendUint64(nil, key)); err != nil {
			return err
		}
	}
	for _, p := range keep {
		v, err := json.Marshal(p.rec)
		if err != nil {
			return err
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, p.key), v); err != nil {
			return err
		}
	}
	return nil
}

// RedactFeed implements graph.FeedTx: one walk over the feed, which its
// retention bounds, that decodes only the records whose bytes hold one of
// the ids. An event id is looked for as JSON encodes it (a source or
// message id may hold characters JSON escapes).
func (t *tx) RedactFeed(ctx context.Context, profileIDs, eventIDs []string) (int, error) {
	if len(profileIDs) == 0 && len(eventIDs) == 0 {
		return 0, nil
	}
	gone, goneEvent := map[string]bool{}, map[string]bool{}
	needles := make([][]byte, 0, len(profileIDs)+len(eventIDs))
	for _, p := range profileIDs {
		if p != "" && !gone[p] {
			gone[p] = true
			needles = append(needles, []byte(p))
		}
	}
	for _, e := range eventIDs {
		if e != "" && !goneEvent[e] {
			goneEvent[e] = true
			q, err := json.Marshal(e)
			if err != nil {
				return 0, err
			}
			needles = append(needles, q)
		}
	}
	b := t.btx.Bucket(bucketFeed)
	type rewrite struct{ k, v []byte }
	var out []rewrite
	changed := 0
	err := b.ForEach(func(k, v []byte) error {
		if !slices.ContainsFunc(needles, func(n []byte) bool { return bytes.Contains(v, n) }) {
			return nil
		}
		var rec feedBatch
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("feed record %d: %w", binary.BigEndian.Uint64(k), err)
		}
		n := 0
		for i, r := range rec.E {
			switch {
			case r.K == "":
			case gone[r.P], r.E != "" && goneEvent[r.E]:
				rec.E[i], n = feedRecord{}, n+1
			case slices.ContainsFunc(r.V, func(p string) bool { return gone[p] }):
				// A merge or split left with no other profile says
				// nothing: it becomes a gap too.
				if rec.E[i].V, n = slices.DeleteFunc(slices.Clone(r.V), func(p string) bool { return gone[p] }), n+1; len(rec.E[i].V) == 0 {
					rec.E[i] = feedRecord{}
				}
			}
		}
		if n == 0 {
			return nil
		}
		nv, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		changed += n
		out = append(out, rewrite{slices.Clone(k), nv})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range out {
		if err := b.Put(r.k, r.v); err != nil {
			return 0, err
		}
	}
	return changed, nil
}

// Feed implements graph.FeedStore: one forward walk from the record that
// holds the entry after after.
func (s *Store) Feed(ctx context.Context, after uint64, kinds []graph.FeedKind, limit int) ([]graph.FeedEntry, error) {
	if err := graph.CheckFeedRead(kinds, limit); err != nil {
		return nil, err
	}
	var out []graph.FeedEntry
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		c := btx.Bucket(bucketFeed).Cursor()
		start := binary.BigEndian.AppendUint64(nil, after+1)
		k, v := c.Seek(start)
		if k == nil || !bytes.Equal(k, start) {
			// The entry after after may sit in the record before.
			if pk, pv := c.Prev(); pk != nil {
				k, v = pk, pv
			} else {
				k, v = c.First()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			first := binary.BigEndian.Uint64(k)
			var rec feedBatch
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("feed record %d: %w", first, err)
			}
			at := time.Unix(0, rec.At).UTC()
			for i, r := range rec.E {
				seq := first + uint64(i)
				if seq <= after || r.K == "" || (len(kinds) > 0 && !slices.Contains(kinds, graph.FeedKind(r.K))) {
					continue
				}
				out = append(out, graph.FeedEntry{Seq: seq, At: at, Kind: graph.FeedKind(r.K), ProfileID: r.P,
					PreviousIDs: r.V, EventID: r.E, AudienceID: r.A})
				if len(out) == limit {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FeedHead implements graph.FeedStore.
func (s *Store) FeedHead(ctx context.Context) (uint64, error) {
	var head uint64
	err := s.view(ctx, func(btx *bolt.Tx) error {
		head = btx.Bucket(bucketFeed).Sequence()
		return nil
	})
	return head, err
}

// TrimFeed implements graph.FeedStore: it deletes at most limit records,
// oldest first, while their time is before before.
func (s *Store) TrimFeed(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 || limit > graph.MaxFeedPage {
		return 0, graph.Errorf(graph.EINVALID, "feed: limit must be 1 to %d, got %d", graph.MaxFeedPage, limit)
	}
	cut := graph.Clean(before).UnixNano()
	n := 0
	err := s.update(ctx, func(btx *bolt.Tx) error {
		n = 0
		b := btx.Bucket(bucketFeed)
		c := b.Cursor()
		records := 0
		for k, v := c.First(); k != nil && records < limit; k, v = c.First() {
			var rec feedBatch
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("feed record %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if rec.At >= cut {
				return nil
			}
			if err := c.Delete(); err != nil {
				return err
			}
			records++
			n += len(rec.E)
			last := binary.BigEndian.Uint64(k) + uint64(len(rec.E)) - 1
			meta := btx.Bucket(bucketMeta)
			if v := meta.Get(metaFeedTrimmed); v == nil || binary.BigEndian.Uint64(v) < last {
				if err := meta.Put(metaFeedTrimmed, binary.BigEndian.AppendUint64(nil, last)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return n, err
}

// LoadFeedMarks implements dump.FeedWriter, in one write transaction.
func (s *Store) LoadFeedMarks(ctx context.Context, head, trimmed uint64) error {
	return s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketFeed)
		if head > b.Sequence() {
			if err := b.SetSequence(head); err != nil {
				return err
			}
		}
		meta := btx.Bucket(bucketMeta)
		if v := meta.Get(metaFeedTrimmed); trimmed > 0 && (len(v) != 8 || binary.BigEndian.Uint64(v) < trimmed) {
			return meta.Put(metaFeedTrimmed, binary.BigEndian.AppendUint64(nil, trimmed))
		}
		return nil
	})
}

// FeedTrimmed implements graph.FeedStore.
func (s *Store) FeedTrimmed(ctx context.Context) (uint64, error) {
	var out uint64
	err := s.view(ctx, func(btx *bolt.Tx) error {
		if v := btx.Bucket(bucketMeta).Get(metaFeedTrimmed); len(v) == 8 {
			out = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return out, err
}
