package neo4jstore

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
	"github.com/idgraph/cdp/privacy"
)

var _ dump.Reader = (*Store)(nil)

// qCount counts each kind from the count store: every query is a plain
// count of one label or relationship type.
var qCount = map[dump.Kind]string{
	dump.Profiles:    cypher(`MATCH (p:{{Profile}}) RETURN count(p) AS n`),
	dump.Identifiers: cypher(`MATCH (i:{{Identifier}}) RETURN count(i) AS n`),
	dump.Links:       cypher(`MATCH ()-[r:{{LINKED}}]->() RETURN count(r) AS n`),
	dump.Rejected:    cypher(`MATCH ()-[r:{{REJECTED_LINK}}]->() RETURN count(r) AS n`),
	dump.Events:      cypher(`MATCH (e:{{Event}}) RETURN count(e) AS n`),
	dump.Changes:     cypher(`MATCH ()-[r:{{MERGED_INTO}}|{{SPLIT_FROM}}]->() RETURN count(r) AS n`),
	dump.RetiredIDs:  cypher(`MATCH (r:{{RetiredProfileId}}) RETURN count(r) AS n`),
}

// The page queries walk a uniquely indexed key (profile id, identifier
// key, event id) in order from the cursor. Identifier keys and event ids
// hold client-chosen text, so their pages seek by index, as the hints
// require: the index compares the cursor with the keys in the order it
// keeps them (code points), whereas a filter would compare them in UTF-16
// order and skip keys that sort apart in the two (see codePointOrder;
// order_test.go). Edges are read from their start node, so each is read
// once: a page of links, refused links or history is the outgoing edges
// of the next $limit identifiers or profiles, and its cursor is the last
// of those nodes, whether it had edges or not.
var qPage = map[dump.Kind]string{
	dump.Profiles: cypher(`
MATCH (p:{{Profile}}) WHERE p.{{id}} > $after
WITH p ORDER BY p.{{id}} LIMIT $limit
RETURN p.{{id}} AS cursor, p { .* } AS p`),
	dump.Identifiers: cypher(`
MATCH (i:{{Identifier}}) USING INDEX SEEK i:{{Identifier}}({{key}}) WHERE i.{{key}} > $after
WITH i ORDER BY i.{{key}} LIMIT $limit
OPTIONAL MATCH (i)-[:{{IN}}]->(p:{{Profile}})
RETURN i.{{key}} AS cursor, i { .* } AS i, p.{{id}} AS pid`),
	dump.Links: cypher(`
MATCH (a:{{Identifier}}) USING INDEX SEEK a:{{Identifier}}({{key}}) WHERE a.{{key}} > $after
WITH a ORDER BY a.{{key}} LIMIT $limit
RETURN a.{{key}} AS cursor,
  COLLECT { MATCH (a)-[l:{{LINKED}}]->(b:{{Identifier}}) RETURN [b.{{key}}, l { .* }] ORDER BY b.{{key}} } AS edges`),
	dump.Rejected: cypher(`
MATCH (a:{{Identifier}}) USING INDEX SEEK a:{{Identifier}}({{key}}) WHERE a.{{key}} > $after
WITH a ORDER BY a.{{key}} LIMIT $limit
RETURN a.{{key}} AS cursor,
  COLLECT { MATCH (a)-[r:{{REJECTED_LINK}}]->(b:{{Identifier}}) RETURN [b.{{key}}, r { .* }] ORDER BY b.{{key}} } AS edges`),
	dump.Events: cypher(`
MATCH (e:{{Event}}) USING INDEX SEEK e:{{Event}}({{id}}) WHERE e.{{id}} > $after
WITH e ORDER BY e.{{id}} LIMIT $limit
RETURN e.{{id}} AS cursor, e { .* } AS e, COLLECT { MATCH (e)-[:{{BY}}]->(i:{{Identifier}}) RETURN i.{{key}} } AS keys`),
	dump.Changes: cypher(`
MATCH (p:{{Profile}}) WHERE p.{{id}} > $after
WITH p ORDER BY p.{{id}} LIMIT $limit
RETURN p.{{id}} AS cursor,
  COLLECT { MATCH (p)-[r:{{MERGED_INTO}}|{{SPLIT_FROM}}]->(q:{{Profile}})
    RETURN [type(r), q.{{id}}, r { .* }] ORDER BY r.{{at}}, q.{{id}}, type(r) } AS edges`),
	dump.RetiredIDs: cypher(`
MATCH (r:{{RetiredProfileId}}) USING INDEX SEEK r:{{RetiredProfileId}}({{hash}}) WHERE r.{{hash}} > $after
WITH r ORDER BY r.{{hash}} LIMIT $limit
RETURN r.{{hash}} AS cursor`),
}

// Count implements dump.Reader.
func (s *Store) Count(ctx context.Context, kind dump.Kind) (int, error) {
	q, ok := qCount[kind]
	if !ok {
		return 0, fmt.Errorf("unknown record kind %q", kind)
	}
	n := 0
	err := s.View(ctx, func(ctx context.Context, rtx graph.ReadTx) error {
		recs, err := rtx.(*readTx).query(ctx, q, nil)
		if err != nil {
			return fmt.Errorf("count %s: %w", kind, err)
		}
		n = 0
		if len(recs) == 1 {
			c, _ := recs[0].Values[0].(int64)
			n = int(c)
		}
		return nil
	})
	return n, err
}

// Page implements dump.Reader: one query per page. Profiles, identifiers
// and events come in id or key order; links and refused links by their
// start identifier's key, history entries by their start profile's id.
func (s *Store) Page(ctx context.Context, kind dump.Kind, after string, limit int) (dump.Batch, error) {
	q, ok := qPage[kind]
	if !ok {
		return dump.Batch{}, fmt.Errorf("unknown record kind %q", kind)
	}
	if limit < 1 {
		limit = 1
	}
	var b dump.Batch
	err := s.View(ctx, func(ctx context.Context, rtx graph.ReadTx) error {
		b = dump.Batch{Kind: kind} // fn may run again: start afresh
		recs, err := rtx.(*readTx).query(ctx, q, map[string]any{"after": after, "limit": int64(limit)})
		if err != nil {
			return fmt.Errorf("read %s: %w", kind, err)
		}
		for _, r := range recs {
			if err := pageRow(&b, r); err != nil {
				return fmt.Errorf("read %s: %w", kind, err)
			}
		}
		if len(recs) == limit {
			b.Next, _ = recs[len(recs)-1].Values[0].(string)
		}
		return nil
	})
	return b, err
}

// pageRow decodes one row of a qPage query into b.
func pageRow(b *dump.Batch, r *neo4j.Record) error {
	cursor, _ := r.Values[0].(string)
	switch b.Kind {
	case dump.Profiles:
		p, err := decodeProfile(r.Values[1])
		if err != nil {
			return err
		}
		b.Profiles = append(b.Profiles, p)
	case dump.Identifiers:
		id, err := decodeIdentifier(r.Values[1], r.Values[2])
		if err != nil {
			return err
		}
		b.Identifiers = append(b.Identifiers, id)
	case dump.Events:
		e, err := decodeEvent(r.Values[1], r.Values[2])
		if err != nil {
			return err
		}
		b.Events = append(b.Events, e)
	case dump.RetiredIDs:
		b.RetiredIDs = append(b.RetiredIDs, cursor)
	case dump.Links, dump.Rejected, dump.Changes:
		edges, _ := r.Values[1].([]any)
		for _, e := range edges {
			if err := edgeRow(b, cursor, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// edgeRow decodes one edge of a links, refused links or history page,
// start is the key or id of its start node.
func edgeRow(b *dump.Batch, start string, e any) error {
	v, _ := e.([]any)
	switch {
	case b.Kind == dump.Links && len(v) == 2:
		l, err := decodeLink(start, v[0], v[1])
		if err != nil {
			return err
		}
		b.Links = append(b.Links, l)
		return nil
	case b.Kind == dump.Rejected && len(v) == 2:
		x, err := decodeRejected(start, v[0], v[1])
		if err != nil {
			return err
		}
		b.Rejected = append(b.Rejected, x)
		return nil
	case b.Kind == dump.Changes && len(v) == 3:
		rel, _ := v[0].(string)
		end, _ := v[1].(string)
		p, err := asProps(v[2])
		if err != nil {
			return err
		}
		c := graph.ProfileChange{At: p.time(propAt), Reason: p.str(propReason), Members: p.strs(propMembers)}
		switch rel {
		case relMergedInto:
			c.Kind, c.From, c.Into = graph.ChangeMerge, start, end
		case relSplitFrom:
			c.Kind, c.From, c.Into = graph.ChangeSplit, end, start
		default:
			return fmt.Errorf("unexpected relationship %q", rel)
		}
		b.Changes = append(b.Changes, c)
		return nil
	}
	// Not the edge itself: its ends and evidence name identifiers' values.
	return fmt.Errorf("unexpected %v edge of %d values", b.Kind, len(v))
}

var _ dump.PrivacyReader = (*Store)(nil)

var (
	qConsentPage = cypher(`
MATCH (c:{{Consent}}) WHERE c.{{id}} > $after
WITH c ORDER BY c.{{id}} LIMIT $limit
RETURN c { .* } AS c`)
	qCountConsent    = cypher(`MATCH (c:{{Consent}}) RETURN count(c) AS n`)
	qSuppressionPage = cypher(`
MATCH (s:{{Suppressed}}) WHERE s.{{hash}} > $after
WITH s ORDER BY s.{{hash}} LIMIT $limit
RETURN s.{{hash}} AS hash, s.{{at}} AS at, s.{{reason}} AS reason`)
	// qPutSuppressionKey keeps a secret already stored, unless $replace,
	// and returns the secret stored.
	qPutSuppressionKey = cypher(`
MERGE (k:{{SuppressionKey}} { {{id}}: $id })
ON CREATE SET k.{{secret}} = $secret
WITH k
FOREACH (_ IN CASE WHEN $replace THEN [1] ELSE [] END | SET k.{{secret}} = $secret)
RETURN k.{{secret}} AS secret`)
)

// ConsentPage implements dump.PrivacyReader: records in id order.
func (s *Store) ConsentPage(ctx context.Context, after string, limit int) ([]privacy.Record, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qConsentPage, map[string]any{"after": after, "limit": int64(max(1, limit))})
		if err != nil {
			return nil, fmt.Errorf("read consent records: %w", err)
		}
		out := make([]privacy.Record, 0, len(recs))
		for _, r := range recs {
			c, err := decodeConsent(r.Values[0])
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]privacy.Record), nil
}

// CountConsent implements dump.PrivacyReader.
func (s *Store) CountConsent(ctx context.Context) (int, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qCountConsent, nil)
		if err != nil {
			return nil, fmt.Errorf("count consent records: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("count consent records: %d records, want 1", len(recs))
		}
		n, _ := recs[0].Values[0].(int64)
		return int(n), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}

// SuppressionPage implements dump.PrivacyReader: entries in hash order.
func (s *Store) SuppressionPage(ctx context.Context, after string, limit int) ([]privacy.Suppression, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qSuppressionPage, map[string]any{"after": after, "limit": int64(max(1, limit))})
		if err != nil {
			return nil, fmt.Errorf("read suppressed hashes: %w", err)
		}
		out := make([]privacy.Suppression, 0, len(recs))
		for _, r := range recs {
			e := privacy.Suppression{}
			e.Hash, _ = r.Values[0].(string)
			if at, ok := r.Values[1].(time.Time); ok {
				e.At = graph.Clean(at)
			}
			e.Reason, _ = r.Values[2].(string)
			out = append(out, e)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]privacy.Suppression), nil
}

// StoredSuppressionKey implements dump.PrivacyReader.
func (s *Store) StoredSuppressionKey(ctx context.Context) ([]byte, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qReadSuppressionKey, map[string]any{"id": suppressionKeyID})
		if err != nil {
			return nil, fmt.Errorf("read suppression key: %w", err)
		}
		if len(recs) == 0 {
			return []byte(nil), nil
		}
		b, _ := recs[0].Values[0].([]byte)
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]byte), nil
}

// PutSuppressionKey implements dump.PrivacyReader.
func (s *Store) PutSuppressionKey(ctx context.Context, key []byte, replace bool) error {
	if len(key) != privacy.SuppressionKeyLen {
		return fmt.Errorf("a suppression key is %d bytes, not %d", privacy.SuppressionKeyLen, len(key))
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qPutSuppressionKey, map[string]any{"id": suppressionKeyID, "secret": key, "replace": replace})
		if err != nil {
			return nil, fmt.Errorf("put suppression key: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("put suppression key: %d rows", len(recs))
		}
		if b, _ := recs[0].Values[0].([]byte); !bytes.Equal(b, key) {
			return nil, dump.ErrOtherSuppressionKey
		}
		return nil, nil
	})
	return err
}

var _ dump.AudienceReader = (*Store)(nil)

var (
	// The composite constraint on (profileId, name) is the index seeked.
	qComputedValueProfileIDs = cypher(`
MATCH (v:{{ComputedValue}})
WHERE v.{{profileId}} > $after AND v.{{name}} IS NOT NULL
WITH DISTINCT v.{{profileId}} AS p
RETURN p ORDER BY p LIMIT $limit`)
	qFactsProfileIDs = cypher(`
MATCH (f:{{ProfileFacts}})
WHERE f.{{profileId}} > $after
RETURN f.{{profileId}} AS p ORDER BY p LIMIT $limit`)
)

// ComputedValueProfileIDs implements dump.AudienceReader, in profile id
// order.
func (s *Store) ComputedValueProfileIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return s.profileIDsOf(ctx, "computed values", qComputedValueProfileIDs, after, limit)
}

// FactsProfileIDs implements dump.AudienceReader, in profile id order.
func (s *Store) FactsProfileIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return s.profileIDsOf(ctx, "profile facts", qFactsProfileIDs, after, limit)
}

func (s *Store) profileIDsOf(ctx context.Context, what, q string, after string, limit int) ([]string, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, q, map[string]any{"after": after, "limit": int64(max(limit, 1))})
		if err != nil {
			return nil, fmt.Errorf("list the profile ids of the %s: %w", what, err)
		}
		ids := make([]string, 0, len(recs))
		for _, r := range recs {
			id, ok := r.Values[0].(string)
			if !ok {
				return nil, fmt.Errorf("list the profile ids of the %s: a profile id is a %T", what, r.Values[0])
			}
			ids = append(ids, id)
		}
		return ids, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]string), nil
}

var _ dump.AudienceWriter = (*Store)(nil)

var (
	qAudienceSeqs = cypher(`
UNWIND $ids AS id
MATCH (a:{{Audience}} { {{id}}: id })
RETURN a.{{id}} AS id, a.{{seq}} AS seq`)
	qPutAudienceRecords = cypher(`
UNWIND $rows AS r
MERGE (a:{{Audience}} { {{id}}: r.id })
SET a.{{name}} = r.name, a.{{description}} = r.description, a.{{filter}} = r.filter, a.{{purpose}} = r.purpose,
  a.{{static}} = r.static, a.{{createdAt}} = r.createdAt, a.{{updatedAt}} = r.updatedAt, a.{{size}} = r.size,
  a.{{refreshedAt}} = r.refreshedAt, a.{{seq}} = r.seq`)
	qPutAudienceMembers = cypher(`
UNWIND $rows AS r
MERGE (m:{{AudienceMember}} { {{audienceId}}: r.aid, {{profileId}}: r.pid })
SET m.{{since}} = r.since`)
	qPutAudienceChanges = cypher(`
UNWIND $rows AS r
MERGE (c:{{AudienceChange}} { {{audienceId}}: r.aid, {{at}}: r.at, {{seq}}: r.seq })
ON CREATE SET c.{{profileId}} = r.pid, c.{{kind}} = r.kind`)
)

// AudienceSeqs implements dump.AudienceWriter.
func (s *Store) AudienceSeqs(ctx context.Context, ids []string) (map[string]uint64, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qAudienceSeqs, map[string]any{"ids": uniq(ids)})
		if err != nil {
			return nil, fmt.Errorf("read audience seqs: %w", err)
		}
		out := make(map[string]uint64, len(recs))
		for _, r := range recs {
			id, _ := r.Values[0].(string)
			n, _ := r.Values[1].(int64)
			out[id] = uint64(n)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return out.(map[string]uint64), nil
}

// putRows runs q with rows in one transaction, chunkRows rows per
// statement.
func (s *Store) putRows(ctx context.Context, what, q string, rows []any) error {
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		for start := 0; start < len(rows); start += chunkRows {
			if err := t.exec(ctx, q, map[string]any{"rows": rows[start:min(start+chunkRows, len(rows))]}); err != nil {
				return nil, fmt.Errorf("put %s: %w", what, err)
			}
		}
		return nil, nil
	})
	return err
}

// PutAudienceRecords implements dump.AudienceWriter. It first finishes the
// audience deletions left unfinished (DeleteAudience), as Open does in
// the background, so that none goes on removing the members of an
// audience it writes. The tombstones themselves are never copied: a dump
// reads audiences, members and log through AudiencePage, and a deleted
// audience is not listed there.
func (s *Store) PutAudienceRecords(ctx context.Context, as []dump.AudienceRecord) error {
	if err := s.finishAudienceDeletions(ctx); err != nil {
		return fmt.Errorf("put audiences: %w", err)
	}
	rows := make([]any, len(as))
	for i, a := range as {
		filter, err := audience.EncodeFilter(a.Filter)
		if err != nil {
			return fmt.Errorf("audience %s: %w", a.ID, err)
		}
		rows[i] = map[string]any{
			"id": a.ID, "name": a.Name, "description": strParam(a.Description), "filter": string(filter),
			"purpose": strParam(a.Purpose), "static": staticParam(a.Static), "createdAt": timeParam(a.CreatedAt), "updatedAt": timeParam(a.UpdatedAt),
			"size": int64(a.Size), "refreshedAt": timeParam(a.RefreshedAt), "seq": int64(a.Seq),
		}
	}
	return s.putRows(ctx, "audiences", qPutAudienceRecords, rows)
}

// PutAudienceMembers implements dump.AudienceWriter.
func (s *Store) PutAudienceMembers(ctx context.Context, ms []audience.Membership) error {
	rows := make([]any, len(ms))
	for i, m := range ms {
		rows[i] = map[string]any{"aid": m.AudienceID, "pid": m.ProfileID, "since": timeParam(m.Since)}
	}
	return s.putRows(ctx, "audience members", qPutAudienceMembers, rows)
}

// PutAudienceChanges implements dump.AudienceWriter.
func (s *Store) PutAudienceChanges(ctx context.Context, cs []audience.Change) error {
	rows := make([]any, len(cs))
	for i, c := range cs {
		if c.Kind != audience.Entered && c.Kind != audience.Exited {
			return fmt.Errorf("audience %s: unknown change kind %q", c.AudienceID, c.Kind)
		}
		rows[i] = map[string]any{"aid": c.AudienceID, "pid": c.ProfileID, "kind": c.Kind, "at": timeParam(c.At), "seq": int64(c.Seq)}
	}
	return s.putRows(ctx, "audience changes", qPutAudienceChanges, rows)
}

var _ dump.LeftoverReader = (*Store)(nil)

// qLeftovers counts the nodes by their labels, but for the markers of
// data migrations done, the suppression secret (dump.Counts counts it) and
// the feed's counter (dump.Stream reads its head and trimmed mark).
var qLeftovers = cypher(`
MATCH (n) WHERE NOT n:{{Migration}} AND NOT n:{{SuppressionKey}} AND NOT n:{{FeedCounter}}
RETURN labels(n) AS labels, count(*) AS n`)

// Leftovers implements dump.LeftoverReader in one statement, which reads
// every node: the nodes the database holds, by label, the tombstones of
// unfinished audience deletions (DeleteAudience) named as such.
func (s *Store) Leftovers(ctx context.Context) ([]string, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qLeftovers, nil)
		if err != nil {
			return nil, fmt.Errorf("count the nodes by label: %w", err)
		}
		counts := map[string]int64{}
		for _, r := range recs {
			ls, _ := r.Values[0].([]any)
			names := make([]string, 0, len(ls))
			for _, l := range ls {
				if name, ok := l.(string); ok {
					names = append(names, name)
				}
			}
			slices.Sort(names)
			n, _ := r.Values[1].(int64)
			counts[strings.Join(names, ":")] += n
		}
		var out []string
		for _, label := range slices.Sorted(maps.Keys(counts)) {
			n := counts[label]
			if label == labelAudienceDeletion {
				out = append(out, fmt.Sprintf("%d unfinished audience %s (%s %s)", n, plural(n, "deletion"), label, plural(n, "node")))
				continue
			}
			out = append(out, fmt.Sprintf("%d %s %s", n, label, plural(n, "node")))
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]string), nil
}

// plural returns word, with an s unless n is 1.
func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
