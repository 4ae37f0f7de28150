package neo4jstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
)

var _ graph.FeedTx = (*tx)(nil)

// feedCounterID is the id of the one FeedCounter.
const feedCounterID = "feed"

// qAppendFeed takes the counter's write lock (setting lock) before reading
// its head, so that concurrent writers, in this process or another, take
// consecutive ranges of Seqs, and writes the batch. The lock is held to
// the commit: transactions that append to the feed commit one after the
// other from this statement on, so it runs last.
var qAppendFeed = cypher(`
MERGE (c:{{FeedCounter}} { {{id}}: $cid })
ON CREATE SET c.{{head}} = 0
SET c.{{lock}} = true
WITH c, c.{{head}} + 1 AS first
SET c.{{head}} = first + $n - 1
CREATE (:{{FeedBatch}} { {{first}}: first, {{last}}: first + $n - 1, {{at}}: $at,
  {{kinds}}: $kinds, {{profileIds}}: $pids, {{previousIds}}: $prev, {{eventIds}}: $eids, {{audienceIds}}: $aids })
RETURN first`)

// feedColumns is how a FeedBatch stores entries: one list per field, the
// previous ids of an entry joined by commas.
func feedColumns(entries []graph.FeedEntry) map[string]any {
	n := len(entries)
	kinds, pids, prev, eids, aids := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range entries {
		kinds[i], pids[i], prev[i], eids[i], aids[i] = string(e.Kind), e.ProfileID, strings.Join(e.PreviousIDs, ","), e.EventID, e.AudienceID
	}
	return map[string]any{"kinds": kinds, "pids": pids, "prev": prev, "eids": eids, "aids": aids}
}

// AppendFeed implements graph.FeedTx, in one statement.
func (t *tx) AppendFeed(ctx context.Context, entries []graph.FeedEntry) error {
	return appendFeed(ctx, &t.readTx, entries)
}

// appendFeed appends entries inside the write transaction t, in one
// statement; it must be t's last.
func appendFeed(ctx context.Context, t *readTx, entries []graph.FeedEntry) error {
	if len(entries) == 0 {
		return nil
	}
	for _, e := range entries {
		if !graph.ValidFeedKind(e.Kind) {
			return fmt.Errorf("feed: unknown kind %q", string(e.Kind))
		}
	}
	params := feedColumns(entries)
	params["cid"], params["n"], params["at"] = feedCounterID, int64(len(entries)), graph.Clean(entries[0].At).In(utc)
	err := t.exec(ctx, qAppendFeed, params)
	if err != nil {
		return fmt.Errorf("append to the feed: %w", err)
	}
	return nil
}

// qLoadFeedFind raises the counter's head to the end of the loaded range,
// taking its write lock as qAppendFeed does, so that no append runs beside
// the load; then it locks (setting and removing the lock property, as
// qLockFeedAt does) and reads the stored batches that hold a Seq of the
// range [$min, $max], which qLoadFeedPut replaces.
//
// Batches hold consecutive Seqs and do not overlap, so at most $n (the
// Seqs from $min to $max) of them, taken in last order from $min, can hold
// one: the index seek stops there instead of running to the feed's head.
var qLoadFeedFind = cypher(`
MERGE (c:{{FeedCounter}} { {{id}}: $cid })
ON CREATE SET c.{{head}} = 0
SET c.{{lock}} = true,
    c.{{head}} = CASE WHEN c.{{head}} < $max THEN $max ELSE c.{{head}} END
WITH c
CALL () {
  MATCH (b:{{FeedBatch}})
  USING INDEX SEEK b:{{FeedBatch}}({{last}})
  WHERE b.{{last}} >= $min
  WITH b ORDER BY b.{{last}} LIMIT $n
  WITH b WHERE b.{{first}} <= $max
  SET b.{{lock}} = true
  REMOVE b.{{lock}}
  WITH b ORDER BY b.{{first}}
  RETURN collect([b.{{first}}, b.{{at}}, b.{{kinds}}, b.{{profileIds}}, b.{{previousIds}}, b.{{eventIds}}, b.{{audienceIds}}]) AS batches
}
RETURN batches`)

// qLoadFeedPut deletes the batches $drop (by first) and writes $batches,
// replacing a batch of the same first.
var qLoadFeedPut = cypher(`
UNWIND $drop AS f
MATCH (b:{{FeedBatch}} { {{first}}: f })
DELETE b
WITH count(*) AS dropped
UNWIND $batches AS r
MERGE (b:{{FeedBatch}} { {{first}}: r.first })
SET b.{{last}} = r.last, b.{{at}} = r.at, b.{{kinds}} = r.kinds, b.{{profileIds}} = r.pids,
    b.{{previousIds}} = r.prev, b.{{eventIds}} = r.eids, b.{{audienceIds}} = r.aids`)

// A store whose LoadFeed drifted from dump.FeedWriter would have its feed
// left out of every copy (dump.NewStream finds it by type assertion).
var _ dump.FeedWriter = (*Store)(nil)

// LoadFeed implements dump.FeedWriter, in one write transaction of two
// statements whatever the number of entries. As the embedded store does
// (clearFeedRange), every entry stored at a Seq from from to to goes,
// whatever batches held it: a stored batch inside the range is deleted,
// and one that reaches out of it keeps its entries outside it, as batches
// of their own keyed by their first Seq, with its time. Then a batch per
// run of consecutive Seqs of entries (graph.FeedRuns) is written; a Seq of
// the range without an entry is left in no batch, a gap.
func (s *Store) LoadFeed(ctx context.Context, from, to uint64, entries []graph.FeedEntry) error {
	if err := graph.CheckFeedLoad(from, to, entries); err != nil {
		return err
	}
	if to > math.MaxInt64 {
		return graph.Errorf(graph.EINVALID, "feed: a loaded range must end at most at %d, got %d", int64(math.MaxInt64), to)
	}
	var rows []any
	for _, run := range graph.FeedRuns(entries) {
		row := feedColumns(run)
		row["first"], row["last"], row["at"] = int64(run[0].Seq), int64(run[len(run)-1].Seq), graph.Clean(run[0].At).In(utc)
		rows = append(rows, row)
	}
	lo, hi := int64(from), int64(to)
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qLoadFeedFind, map[string]any{"cid": feedCounterID, "min": lo, "max": hi, "n": hi - lo + 1})
		if err != nil {
			return nil, err
		}
		var stored []any
		if len(recs) > 0 {
			stored, _ = recs[0].Values[0].([]any)
		}
		drop, kept := feedKept(stored, lo, hi)
		return nil, t.exec(ctx, qLoadFeedPut, map[string]any{"drop": drop, "batches": append(kept, rows...)})
	})
	if err != nil {
		return fmt.Errorf("load the feed: %w", err)
	}
	return nil
}

// feedKept works out, from the stored batches that qLoadFeedFind read and
// the range [from, to] being loaded, the batches to delete (by first) and
// the parts of them to write again: their entries at Seqs before from and
// after to, a batch for each side.
func feedKept(stored []any, from, to int64) (drop []any, kept []any) {
	for _, v := range stored {
		row, _ := v.([]any)
		if len(row) != 7 {
			continue
		}
		first, _ := row[0].(int64)
		at, _ := row[1].(time.Time)
		cols := make([][]string, 5)
		for i := range cols {
			cols[i] = strList(row[2+i])
		}
		n := int64(len(cols[0]))
		if n == 0 {
			continue
		}
		end := first + n - 1
		if end < from || first > to {
			continue
		}
		drop = append(drop, first)
		var parts [][2]int64
		if first < from {
			parts = append(parts, [2]int64{first, from - 1})
		}
		if end > to {
			parts = append(parts, [2]int64{to + 1, end})
		}
		for _, p := range parts {
			part := map[string]any{"first": p[0], "last": p[1], "at": at.In(utc)}
			for i, name := range []string{"kinds", "pids", "prev", "eids", "aids"} {
				l := make([]string, 0, p[1]-p[0]+1)
				for seq := p[0]; seq <= p[1]; seq++ {
					l = append(l, at0(cols[i], int(seq-first)))
				}
				part[name] = l
			}
			kept = append(kept, part)
		}
	}
	return drop, kept
}

// qLoadFeedMarks raises the counter's head and trimmed to at least the
// source's.
var qLoadFeedMarks = cypher(`
MERGE (c:{{FeedCounter}} { {{id}}: $cid })
ON CREATE SET c.{{head}} = 0
SET c.{{head}} = CASE WHEN c.{{head}} < $head THEN $head ELSE c.{{head}} END,
    c.{{trimmed}} = CASE WHEN coalesce(c.{{trimmed}}, 0) < $trimmed THEN $trimmed ELSE c.{{trimmed}} END`)

// LoadFeedMarks implements dump.FeedWriter, in one statement.
func (s *Store) LoadFeedMarks(ctx context.Context, head, trimmed uint64) error {
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, t.exec(ctx, qLoadFeedMarks, map[string]any{"cid": feedCounterID, "head": int64(head), "trimmed": int64(trimmed)})
	})
	if err != nil {
		return fmt.Errorf("load the feed's marks: %w", err)
	}
	return nil
}

// qRedactFeedFind locks and reads the batches that name one of $ids, as a
// profile or among previous ids, or one of the events $eids. The lists of a batch cannot be indexed by
// their elements, so this scans the FeedBatch label, which the feed's
// retention bounds; erasure is its only caller.
//
// Each batch is locked (setting and removing the lock property, as
// qLockFeedAt does) before its lists are read: two erasures redacting one
// batch at once then read it one after the other, and the second writes
// back the first's gaps along with its own. A batch the filter picked
// still names one of $ids after any wait: redaction only removes names,
// and only this erasure removes these. The batches are locked in Seq
// order, as TakeBatch locks them (qLockFeedAt): the two never wait on each
// other in a cycle.
var qRedactFeedFind = cypher(`
MATCH (b:{{FeedBatch}})
WHERE any(p IN b.{{profileIds}} WHERE p IN $ids)
   OR any(v IN b.{{previousIds}} WHERE v <> '' AND any(p IN split(v, ',') WHERE p IN $ids))
   OR any(e IN b.{{eventIds}} WHERE e IN $eids)
WITH b ORDER BY b.{{first}}
SET b.{{lock}} = true
REMOVE b.{{lock}}
RETURN b.{{first}}, b.{{kinds}}, b.{{profileIds}}, b.{{previousIds}}, b.{{eventIds}}, b.{{audienceIds}}
ORDER BY b.{{first}}`)

// qRedactFeedSet writes the redacted lists back, one row per batch.
var qRedactFeedSet = cypher(`
UNWIND $rows AS r
MATCH (b:{{FeedBatch}} { {{first}}: r.first })
SET b.{{kinds}} = r.kinds, b.{{profileIds}} = r.pids, b.{{previousIds}} = r.prev,
    b.{{eventIds}} = r.eids, b.{{audienceIds}} = r.aids`)

// RedactFeed implements graph.FeedTx in two statements: the entries that
// name an erased profile or a deleted event become gaps (empty kind and
// ids), which Feed skips.
func (t *tx) RedactFeed(ctx context.Context, profileIDs, eventIDs []string) (int, error) {
	ids, eids := uniq(profileIDs), uniq(eventIDs)
	if len(ids) == 0 && len(eids) == 0 {
		return 0, nil
	}
	recs, err := t.query(ctx, qRedactFeedFind, map[string]any{"ids": ids, "eids": eids})
	if err != nil {
		return 0, fmt.Errorf("redact the feed: %w", err)
	}
	gone, goneEvent := map[string]bool{}, map[string]bool{}
	for _, p := range profileIDs {
		gone[p] = p != ""
	}
	for _, e := range eventIDs {
		goneEvent[e] = e != ""
	}
	changed := 0
	rows := make([]any, 0, len(recs))
	for _, r := range recs {
		first, _ := r.Values[0].(int64)
		ks, ps, vs, es, as := strList(r.Values[1]), strList(r.Values[2]), strList(r.Values[3]), strList(r.Values[4]), strList(r.Values[5])
		gap := func(i int) {
			ks[i], changed = "", changed+1
			for _, l := range [][]string{ps, vs, es, as} {
				if i < len(l) {
					l[i] = ""
				}
			}
		}
		for i := range ks {
			switch {
			case ks[i] == "":
			case gone[at0(ps, i)], goneEvent[at0(es, i)]:
				gap(i)
			case at0(vs, i) != "":
				prev := strings.Split(vs[i], ",")
				kept := slices.DeleteFunc(slices.Clone(prev), func(p string) bool { return gone[p] })
				switch {
				case len(kept) == len(prev):
				case len(kept) == 0:
					// A merge or split left with no other profile
					// says nothing: it becomes a gap too.
					gap(i)
				default:
					vs[i], changed = strings.Join(kept, ","), changed+1
				}
			}
		}
		rows = append(rows, map[string]any{"first": first, "kinds": ks, "pids": ps, "prev": vs, "eids": es, "aids": as})
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if err := t.exec(ctx, qRedactFeedSet, map[string]any{"rows": rows}); err != nil {
		return 0, fmt.Errorf("redact the feed: %w", err)
	}
	return changed, nil
}

// membershipFeed is the feed entries of the rows of qApplyMembership and
// qKeepApply (membershipState.apply) for audience id.
func membershipFeed(id string, at time.Time, ins, outs []any) []graph.FeedEntry {
	var out []graph.FeedEntry
	for _, rows := range []struct {
		kind graph.FeedKind
		rows []any
	}{{graph.FeedAudienceEntered, ins}, {graph.FeedAudienceExited, outs}} {
		for _, r := range rows.rows {
			p, _ := r.(map[string]any)["p"].(string)
			out = append(out, graph.FeedEntry{At: at, Kind: rows.kind, ProfileID: p, AudienceID: id})
		}
	}
	return out
}

// qFeed reads the batches that hold entries after $after, in Seq order.
var qFeed = cypher(`
MATCH (b:{{FeedBatch}})
USING INDEX SEEK b:{{FeedBatch}}({{last}})
WHERE b.{{last}} > $after
WITH b ORDER BY b.{{last}} LIMIT $limit
RETURN b.{{first}}, b.{{at}}, b.{{kinds}}, b.{{profileIds}}, b.{{previousIds}}, b.{{eventIds}}, b.{{audienceIds}}`)

// feedBatchesPerRead is how many batches one qFeed reads.
const feedBatchesPerRead = 64

// Feed implements graph.FeedStore: reads of at most 64 batches at a time,
// each an auto-commit query of one read session, until limit entries are
// found or the feed ends.
func (s *Store) Feed(ctx context.Context, after uint64, kinds []graph.FeedKind, limit int) ([]graph.FeedEntry, error) {
	if err := graph.CheckFeedRead(kinds, limit); err != nil {
		return nil, err
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		var out []graph.FeedEntry
		cur := after
		for len(out) < limit {
			recs, err := t.query(ctx, qFeed, map[string]any{"after": int64(cur), "limit": int64(feedBatchesPerRead)})
			if err != nil {
				return nil, fmt.Errorf("read the feed: %w", err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				first, _ := r.Values[0].(int64)
				at, _ := r.Values[1].(time.Time)
				ks, ps, vs, es, as := strList(r.Values[2]), strList(r.Values[3]), strList(r.Values[4]), strList(r.Values[5]), strList(r.Values[6])
				for i, k := range ks {
					seq := uint64(first) + uint64(i)
					cur = max(cur, seq)
					if seq <= after || k == "" || (len(kinds) > 0 && !slices.Contains(kinds, graph.FeedKind(k))) || len(out) == limit {
						continue
					}
					e := graph.FeedEntry{Seq: seq, At: graph.Clean(at), Kind: graph.FeedKind(k), ProfileID: at0(ps, i), EventID: at0(es, i), AudienceID: at0(as, i)}
					if v := at0(vs, i); v != "" {
						e.PreviousIDs = strings.Split(v, ",")
					}
					out = append(out, e)
				}
			}
			if len(recs) < feedBatchesPerRead {
				break
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]graph.FeedEntry), nil
}

func strList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, x := range l {
		out[i], _ = x.(string)
	}
	return out
}

func at0(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return ""
}

var qFeedHead = cypher(`
MATCH (c:{{FeedCounter}} { {{id}}: $cid })
RETURN c.{{head}}`)

// FeedHead implements graph.FeedStore.
func (s *Store) FeedHead(ctx context.Context) (uint64, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qFeedHead, map[string]any{"cid": feedCounterID})
		if err != nil {
			return nil, fmt.Errorf("read the feed head: %w", err)
		}
		if len(recs) == 0 {
			return uint64(0), nil
		}
		h, _ := recs[0].Values[0].(int64)
		return uint64(h), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(uint64), nil
}

// qTrimFeed deletes the first batches in Seq order, up to the first that
// is not older than $before, and raises the counter's trimmed, the
// greatest Seq deleted. Batches are not dated in Seq order (a transaction
// takes its Seqs when it commits, and its time when it starts), so
// picking them by time could delete a batch behind a younger one that
// stays: the trimmed mark would then pass an entry still kept, and a
// reader told to resume after the mark would skip it.
var qTrimFeed = cypher(`
MATCH (b:{{FeedBatch}})
USING INDEX SEEK b:{{FeedBatch}}({{last}})
WHERE b.{{last}} >= 0
WITH b ORDER BY b.{{last}} LIMIT $limit
WITH collect(b) AS bs
WITH bs, coalesce(head([i IN range(0, size(bs) - 1) WHERE NOT coalesce(bs[i].{{at}} < $before, false)]), size(bs)) AS cut
UNWIND bs[..cut] AS b
WITH b, size(b.{{kinds}}) AS n, b.{{last}} AS last
DELETE b
WITH sum(n) AS n, max(last) AS last
OPTIONAL MATCH (c:{{FeedCounter}} { {{id}}: $cid })
FOREACH (_ IN CASE WHEN c IS NOT NULL AND last > coalesce(c.{{trimmed}}, 0) THEN [1] ELSE [] END |
  SET c.{{trimmed}} = last)
RETURN n`)

var qFeedTrimmed = cypher(`
MATCH (c:{{FeedCounter}} { {{id}}: $cid })
RETURN c.{{trimmed}}`)

// FeedTrimmed implements graph.FeedStore, in one statement.
func (s *Store) FeedTrimmed(ctx context.Context) (uint64, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qFeedTrimmed, map[string]any{"cid": feedCounterID})
		if err != nil {
			return nil, fmt.Errorf("read the feed's trimmed seq: %w", err)
		}
		v := int64(0)
		if len(recs) > 0 {
			v, _ = recs[0].Values[0].(int64)
		}
		return uint64(v), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(uint64), nil
}

// TrimFeed implements graph.FeedStore, in one statement.
func (s *Store) TrimFeed(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 || limit > graph.MaxFeedPage {
		return 0, graph.Errorf(graph.EINVALID, "feed: limit must be 1 to %d, got %d", graph.MaxFeedPage, limit)
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qTrimFeed, map[string]any{"before": graph.Clean(before).In(utc), "limit": int64(limit), "cid": feedCounterID})
		if err != nil {
			return nil, fmt.Errorf("trim the feed: %w", err)
		}
		n := int64(0)
		if len(recs) > 0 {
			n, _ = recs[0].Values[0].(int64)
		}
		return int(n), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}
