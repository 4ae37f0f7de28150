package neo4jstore

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph"
)

// runner runs one Cypher statement: in a managed transaction (Update) or
// as an auto-commit query of a read session (autoCommit, for View).
type runner interface {
	Run(ctx context.Context, cypher string, params map[string]any) (neo4j.ResultWithContext, error)
}

// autoCommit runs each statement as an auto-commit query of sess.
type autoCommit struct{ sess neo4j.SessionWithContext }

func (a autoCommit) Run(ctx context.Context, cypher string, params map[string]any) (neo4j.ResultWithContext, error) {
	return a.sess.Run(ctx, cypher, params)
}

// readTx implements graph.ReadTx on a runner: a managed write transaction
// (inside Update) or a read session's auto-commit queries (View). Each
// method is one query whose rows arrive in one batch (FetchAll).
type readTx struct {
	run runner
	// readOnly is set in View's reads, which write nothing:
	// Journeys then keeps the member keys it read with the events in
	// members, so that the MemberKeys call that follows answers from
	// the same statement as the events (one snapshot of both) instead of
	// another round trip.
	readOnly bool
	members  map[string][]string
}

func (t *readTx) query(ctx context.Context, q string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := t.run.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	return collect(ctx, res)
}

// collect reads every record of res. It is the driver's Collect without
// its first allocation: Collect starts from room for 1,024 records (8 KiB),
// while most statements here return one record (see listRows), and on a
// lookup that was a tenth of the bytes the request allocated.
func collect(ctx context.Context, res neo4j.ResultWithContext) ([]*neo4j.Record, error) {
	var recs []*neo4j.Record
	for r, err := range res.Records(ctx) {
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// listed is a statement whose rows come back as one record holding the
// list of them (see listRows and queryList). Neo4j sends every row of a
// result as a Bolt message of its own, and the driver decodes each into a
// record: for the hundreds of rows that the lock statements and the reads
// of a micro-batch return, that framing cost more than the rows' values.
// A 500-row LockIdentifiers on a populated database took 19 to 22 ms
// with a record per row and 16 to 18 ms as one list (docs/BENCHMARKS.md,
// "Rows as one list").
type listed struct{ text string }

// listRows makes q, a statement returning the columns cols, return its
// rows as one list of [col, col, ...] lists. q runs unchanged inside a
// subquery, so its plan is the one it had alone.
func listRows(q string, cols ...string) listed {
	return listed{text: "CALL () {" + q + "\n}\nRETURN collect([" + strings.Join(cols, ", ") + "]) AS rows"}
}

// queryList runs q and gives its rows as records whose Values are q's
// columns in order, as query would for the statement inside q.
func (t *readTx) queryList(ctx context.Context, q listed, params map[string]any) ([]*neo4j.Record, error) {
	recs, err := t.query(ctx, q.text, params)
	if err != nil {
		return nil, err
	}
	if len(recs) != 1 {
		return nil, fmt.Errorf("expected one record of rows, got %d", len(recs))
	}
	list, ok := recs[0].Values[0].([]any)
	if !ok {
		return nil, fmt.Errorf("expected a list of rows, got %T", recs[0].Values[0])
	}
	out := make([]*neo4j.Record, len(list))
	for i, row := range list {
		vals, ok := row.([]any)
		if !ok {
			return nil, fmt.Errorf("expected a row as a list, got %T", row)
		}
		out[i] = &neo4j.Record{Values: vals}
	}
	return out, nil
}

func (t *readTx) exec(ctx context.Context, q string, params map[string]any) error {
	res, err := t.run.Run(ctx, q, params)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// identFields projects an identifier node (named by the variable before
// it) onto what decodeIdentifier reads. The slot properties that audience
// filters match on (identifierSlots) are derived from traits, and a read
// of identifiers leaves them in the database rather than sending them.
const identFields = ` { .{{key}}, .{{type}}, .{{value}}, .{{firstSeen}}, .{{lastSeen}}, .{{sources}}, .{{traits}} }`

var qIdentifiers = listRows(cypher(`
UNWIND $keys AS k
MATCH (i:{{Identifier}} { {{key}}: k })
OPTIONAL MATCH (i)-[:{{IN}}]->(p:{{Profile}})
RETURN i`+identFields+` AS i, p.{{id}} AS pid`), "i", "pid")

func (t *readTx) Identifiers(ctx context.Context, keys []string) (map[string]graph.Identifier, error) {
	out := make(map[string]graph.Identifier, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	recs, err := t.queryList(ctx, qIdentifiers, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return nil, fmt.Errorf("read identifiers: %w", err)
	}
	return out, identifierRows(recs, out)
}

func identifierRows(recs []*neo4j.Record, out map[string]graph.Identifier) error {
	for _, r := range recs {
		id, err := decodeIdentifier(r.Values[0], r.Values[1])
		if err != nil {
			return err
		}
		out[id.Key] = id
	}
	return nil
}

var qProfiles = listRows(cypher(`
UNWIND $ids AS id
MATCH (p:{{Profile}} { {{id}}: id })
USING INDEX SEEK p:{{Profile}}({{id}})
RETURN p { .* } AS p`), "p")

func (t *readTx) Profiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	out := make(map[string]graph.Profile, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	recs, err := t.queryList(ctx, qProfiles, map[string]any{"ids": uniq(ids)})
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	return out, profileRows(recs, out)
}

// qTakenProfileIDs looks each candidate up in the Profile id index, then
// in the RetiredProfileId hash index. The profile is read first: an
// erasure that deletes it and retires its id commits both at once, so a
// read of the profile that misses it is followed by a read of the hashes
// that sees the retired one.
var qTakenProfileIDs = listRows(cypher(`
UNWIND $cands AS c
OPTIONAL MATCH (p:{{Profile}} { {{id}}: c.id })
USING INDEX SEEK p:{{Profile}}({{id}})
WITH c, p
OPTIONAL MATCH (r:{{RetiredProfileId}} { {{hash}}: c.hash })
USING INDEX SEEK r:{{RetiredProfileId}}({{hash}})
WITH c, p, r
WHERE p IS NOT NULL OR r IS NOT NULL
RETURN DISTINCT c.id AS id`), "id")

// TakenProfileIDs implements graph.ReadTx in one statement.
func (t *readTx) TakenProfileIDs(ctx context.Context, cands []graph.ProfileIDCandidate) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(cands) == 0 {
		return out, nil
	}
	rows := make([]any, 0, len(cands))
	for _, c := range cands {
		if c.Hash != "" && !graph.ValidKeyedHash(c.Hash) {
			return nil, fmt.Errorf("profile id %s: its retired hash is not 64 lowercase hex digits", graph.ProfileRef(c.ID))
		}
		rows = append(rows, map[string]any{"id": c.ID, "hash": strParam(c.Hash)})
	}
	recs, err := t.queryList(ctx, qTakenProfileIDs, map[string]any{"cands": rows})
	if err != nil {
		return nil, fmt.Errorf("read taken profile ids: %w", err)
	}
	for _, r := range recs {
		if id, ok := r.Values[0].(string); ok {
			out[id] = true
		}
	}
	return out, nil
}

func profileRows(recs []*neo4j.Record, out map[string]graph.Profile) error {
	for _, r := range recs {
		p, err := decodeProfile(r.Values[0])
		if err != nil {
			return err
		}
		out[p.ID] = p
	}
	return nil
}

var qMembers = listRows(cypher(`
UNWIND $ids AS pid
MATCH (p:{{Profile}} { {{id}}: pid })<-[:{{IN}}]-(i:{{Identifier}})
USING INDEX SEEK p:{{Profile}}({{id}})
RETURN pid, i`+identFields+` AS i`), "pid", "i")

func (t *readTx) Members(ctx context.Context, profileIDs []string) (map[string][]graph.Identifier, error) {
	out := make(map[string][]graph.Identifier, len(profileIDs))
	if len(profileIDs) == 0 {
		return out, nil
	}
	recs, err := t.queryList(ctx, qMembers, map[string]any{"ids": uniq(profileIDs)})
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	for _, r := range recs {
		pid, _ := r.Values[0].(string)
		id, err := decodeIdentifier(r.Values[1], pid)
		if err != nil {
			return nil, err
		}
		out[pid] = append(out[pid], id)
	}
	for _, ms := range out {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Key < ms[j].Key })
	}
	return out, nil
}

var _ graph.ReadTx = (*readTx)(nil)

// qMemberKeys lists each profile's member keys, read from the Identifier
// nodes' key (no other property), the profile found by index seek.
var qMemberKeys = cypher(`
UNWIND $ids AS pid
MATCH (p:{{Profile}} { {{id}}: pid })<-[:{{IN}}]-(i:{{Identifier}})
USING INDEX SEEK p:{{Profile}}({{id}})
RETURN pid, collect(i.{{key}}) AS keys`)

// MemberKeys implements graph.MemberKeysReader in one statement: Members
// without the identifiers' records. In a read-only transaction the
// profiles the last Journeys call read are answered from what it read.
func (t *readTx) MemberKeys(ctx context.Context, profileIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(profileIDs))
	if len(profileIDs) == 0 {
		return out, nil
	}
	var ask []any
	for _, v := range uniq(profileIDs) {
		pid, _ := v.(string)
		if keys, ok := t.members[pid]; ok {
			if len(keys) > 0 {
				out[pid] = keys
			}
		} else {
			ask = append(ask, v)
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	recs, err := t.query(ctx, qMemberKeys, map[string]any{"ids": ask})
	if err != nil {
		return nil, fmt.Errorf("read member keys: %w", err)
	}
	for _, r := range recs {
		pid, _ := r.Values[0].(string)
		keys, err := keyList(pid, r.Values[1])
		if err != nil {
			return nil, err
		}
		if len(keys) > 0 {
			out[pid] = keys
		}
	}
	return out, nil
}

// keyList decodes profile pid's member keys, sorted.
func keyList(pid string, v any) ([]string, error) {
	ks, _ := v.([]any)
	keys := make([]string, 0, len(ks))
	for _, k := range ks {
		s, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("read member keys: profile %s has a member with no key", pid)
		}
		keys = append(keys, s)
	}
	sort.Strings(keys)
	return keys, nil
}

var _ graph.MemberKeysReader = (*readTx)(nil)

// qLookup answers the front-end lookup in one statement: each key's
// identifier by index seek, its profile, and (qLookup[1]) the profile's
// members, read once per profile however many keys it holds. Identifiers
// with no profile are grouped under a null p.
var qLookup = func() (qs [2]string) {
	for withMembers := 0; withMembers < 2; withMembers++ {
		members := "[]"
		if withMembers == 1 {
			members = "COLLECT { MATCH (p)<-[:{{IN}}]-(m:{{Identifier}}) RETURN m" + identFields + " }"
		}
		qs[withMembers] = cypher(`
UNWIND $keys AS k
MATCH (i:{{Identifier}} { {{key}}: k })
OPTIONAL MATCH (i)-[:{{IN}}]->(p:{{Profile}})
WITH p, collect(i` + identFields + `) AS idents
RETURN idents, p { .* } AS p, ` + members + ` AS members`)
	}
	return qs
}()

// LookupProfiles implements graph.ReadTx in one statement. It reads with
// read-committed isolation like any other, so a merge committing meanwhile
// can show a profile merged away; the engine follows its redirect.
func (t *readTx) LookupProfiles(ctx context.Context, keys []string, withMembers bool) (map[string]graph.Identifier, map[string]graph.Profile, map[string][]graph.Identifier, error) {
	idents := make(map[string]graph.Identifier, len(keys))
	profiles := map[string]graph.Profile{}
	var members map[string][]graph.Identifier
	if withMembers {
		members = map[string][]graph.Identifier{}
	}
	if len(keys) == 0 {
		return idents, profiles, members, nil
	}
	q := qLookup[0]
	if withMembers {
		q = qLookup[1]
	}
	recs, err := t.query(ctx, q, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("look up profiles: %w", err)
	}
	for _, r := range recs {
		var pid any
		if r.Values[1] != nil {
			p, err := decodeProfile(r.Values[1])
			if err != nil {
				return nil, nil, nil, err
			}
			profiles[p.ID] = p
			pid = p.ID
			if ms, _ := r.Values[2].([]any); withMembers && p.Live() && len(ms) > 0 {
				out := make([]graph.Identifier, 0, len(ms))
				for _, m := range ms {
					id, err := decodeIdentifier(m, pid)
					if err != nil {
						return nil, nil, nil, err
					}
					out = append(out, id)
				}
				sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
				members[p.ID] = out
			}
		}
		is, _ := r.Values[0].([]any)
		for _, v := range is {
			id, err := decodeIdentifier(v, pid)
			if err != nil {
				return nil, nil, nil, err
			}
			idents[id.Key] = id
		}
	}
	return idents, profiles, members, nil
}

// Both edge kinds are found from either end, and an edge whose two ends are
// both among keys is returned once.
var qLinks = cypher(`
UNWIND $keys AS k
MATCH (:{{Identifier}} { {{key}}: k })-[l:{{LINKED}}]-(:{{Identifier}})
WITH DISTINCT l
RETURN startNode(l).{{key}} AS a, endNode(l).{{key}} AS b, l { .* } AS l`)

func (t *readTx) Links(ctx context.Context, keys []string) ([]graph.Link, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	recs, err := t.query(ctx, qLinks, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	out := make([]graph.Link, 0, len(recs))
	for _, r := range recs {
		l, err := decodeLink(r.Values[0], r.Values[1], r.Values[2])
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out, nil
}

var qLinksBetween = listRows(cypher(`
UNWIND $pairs AS pair
MATCH (:{{Identifier}} { {{key}}: pair[0] })-[l:{{LINKED}}]->(:{{Identifier}} { {{key}}: pair[1] })
RETURN pair[0] AS a, pair[1] AS b, l { .* } AS l`), "a", "b", "l")

// LinksBetween implements graph.ReadTx: a link is stored from its smaller
// key to the larger, so each pair is one directed, indexed match.
func (t *readTx) LinksBetween(ctx context.Context, pairs []graph.LinkKey) (map[graph.LinkKey]graph.Link, error) {
	out := make(map[graph.LinkKey]graph.Link, len(pairs))
	if len(pairs) == 0 {
		return out, nil
	}
	rows := make([]any, len(pairs))
	for i, p := range pairs {
		lk := graph.NewLinkKey(p.A, p.B)
		rows[i] = []any{lk.A, lk.B}
	}
	recs, err := t.queryList(ctx, qLinksBetween, map[string]any{"pairs": rows})
	if err != nil {
		return nil, fmt.Errorf("read links between pairs: %w", err)
	}
	for _, r := range recs {
		l, err := decodeLink(r.Values[0], r.Values[1], r.Values[2])
		if err != nil {
			return nil, err
		}
		out[graph.NewLinkKey(l.A, l.B)] = l
	}
	return out, nil
}

var qRejected = cypher(`
UNWIND $keys AS k
MATCH (:{{Identifier}} { {{key}}: k })-[r:{{REJECTED_LINK}}]-(:{{Identifier}})
WITH DISTINCT r
RETURN startNode(r).{{key}} AS a, endNode(r).{{key}} AS b, r { .* } AS r`)

func (t *readTx) Rejected(ctx context.Context, keys []string) ([]graph.RejectedLink, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	recs, err := t.query(ctx, qRejected, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return nil, fmt.Errorf("read rejected links: %w", err)
	}
	out := make([]graph.RejectedLink, 0, len(recs))
	for _, r := range recs {
		x, err := decodeRejected(r.Values[0], r.Values[1], r.Values[2])
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	sortRejected(out)
	return out, nil
}

func sortRejected(out []graph.RejectedLink) {
	sort.Slice(out, func(i, j int) bool {
		ki, kj := graph.NewLinkKey(out[i].A, out[i].B), graph.NewLinkKey(out[j].A, out[j].B)
		if ki.A != kj.A {
			return ki.A < kj.A
		}
		return ki.B < kj.B
	})
}

// qJourneys pages each profile's journey in its own subquery, so the limit
// applies per profile. An event carried by several members is counted once.
// The cursor is exclusive: strictly older, or as old with a smaller id.
// Ids (which embed client-chosen messageIds) are compared and sorted by
// codePointOrder, so that the cursor, the order and the limit all follow
// graph.SortJourney's order (Go's, the embedded store's) whatever
// characters the ids hold.
// The whole answer is one row: per profile its id, its events (each a list
// of its fields, journeyFields, then the keys it is BY) and its member
// keys, which a read-only transaction keeps for MemberKeys (Engine.Journeys
// asks for them next). A row per event costs the driver far more than the
// event's values. qJourneys[1] leaves
// out the events' properties and traits (JourneyQuery.NoPayload), so that
// they are neither read nor sent.
var qJourneys = func() (qs [2]string) {
	for noPayload := 0; noPayload < 2; noPayload++ {
		fields := "e.{{id}}, e.{{messageId}}, e.{{digest}}, e.{{type}}, coalesce(e.{{name}}, e.{{longName}}), e.{{channel}}, e.{{source}}, e.{{campaign}}, e.{{timestamp}}, e.{{receivedAt}}"
		if noPayload == 0 {
			fields += ", e.{{properties}}, e.{{traits}}"
		}
		qs[noPayload] = cypher(`
WITH ` + codePointOrder("$afterID") + ` AS afterID
UNWIND $ids AS pid
CALL (pid, afterID) {
  MATCH (p:{{Profile}} { {{id}}: pid })<-[:{{IN}}]-(:{{Identifier}})<-[:{{BY}}]-(e:{{Event}})
  USING INDEX SEEK p:{{Profile}}({{id}})
  WITH DISTINCT e
  WHERE (size($types) = 0 OR e.{{type}} IN $types)
    AND (size($channels) = 0 OR coalesce(e.{{channel}}, '') IN $channels)
    AND ($from IS NULL OR e.{{timestamp}} >= $from)
    AND ($to IS NULL OR e.{{timestamp}} < $to)
    AND ($afterTs IS NULL OR e.{{timestamp}} < $afterTs
         OR (e.{{timestamp}} = $afterTs AND ` + codePointOrder("e.{{id}}") + ` < afterID))
  WITH e, ` + codePointOrder("e.{{id}}") + ` AS id
  ORDER BY e.{{timestamp}} DESC, id DESC
  LIMIT $limit
  RETURN collect([` + fields + `,
    COLLECT { MATCH (e)-[:{{BY}}]->(i:{{Identifier}}) RETURN i.{{key}} }]) AS events
}
RETURN collect([pid, events, COLLECT {
  MATCH (q:{{Profile}} { {{id}}: pid })<-[:{{IN}}]-(m:{{Identifier}})
  USING INDEX SEEK q:{{Profile}}({{id}})
  RETURN m.{{key}} }]) AS page`)
	}
	return qs
}()

// codePointOrder is the Cypher expression of a string x (a Cypher
// expression) whose order under Neo4j's string comparisons is x's code
// point order, which is Go's string order for valid UTF-8.
//
// Neo4j compares strings in one of two orders. Where a string comes from a
// parameter or an expression, as Java strings, in UTF-16 code-unit order:
// a character above U+FFFF (a surrogate pair, D800-DFFF) sorts before one
// in U+E000-U+FFFF. Two strings read from the store compare in code point
// order (their UTF-8 bytes), and so do index seeks and an index's order. A
// page that sorts stored ids and continues past a cursor given as a
// parameter therefore skips, or repeats, ids that hold both kinds of
// character (seen with Neo4j 5.26; order_test.go shows it).
//
// The two orders differ only where the first characters that differ are
// one above U+FFFF and one in U+E000-U+FFFF. So x is left as it is unless
// it holds a character from U+FFFF up (the regular expression, which
// compares code points), and is otherwise rebuilt character by character
// (size and substring count code points): each character above U+FFFF gets
// U+FFFF before it, and U+FFFF itself becomes U+FFFF U+0001. Then a
// character above U+FFFF is only ever compared with another (where the two
// orders agree) or with U+0001 after U+FFFF, and every other comparison is
// between characters below U+FFFF, where they agree too: both orders of
// the results are x's code point order. Building uses no lone surrogate
// (Cypher turns one written in a literal into "?").
func codePointOrder(x string) string {
	return `CASE WHEN ` + x + ` =~ '(?s).*[\x{FFFF}-\x{10FFFF}].*'
    THEN reduce(k = '', c IN [i IN range(0, size(` + x + `) - 1) | substring(` + x + `, i, 1)] |
      k + CASE WHEN c = '\uFFFF' THEN '\uFFFF\u0001'
               WHEN c =~ '[\x{10000}-\x{10FFFF}]' THEN '\uFFFF' + c
               ELSE c END)
    ELSE ` + x + ` END`
}

// journeyFields is how many fields of an event qJourneys[1] returns
// before its keys; qJourneys[0] adds properties and traits.
const journeyFields = 10

// decodeJourneyEvent decodes one event of a qJourneys row: its fields in
// qJourneys' order, the payload when withPayload, then its keys.
func decodeJourneyEvent(v any, withPayload bool) (graph.Event, error) {
	l, ok := v.([]any)
	n := journeyFields
	if withPayload {
		n += 2
	}
	if !ok || len(l) != n+1 {
		return graph.Event{}, fmt.Errorf("read journeys: an event row has %d fields; want %d", len(l), n+1)
	}
	str := func(i int) string { s, _ := l[i].(string); return s }
	tm := func(i int) time.Time {
		t, ok := l[i].(time.Time)
		if !ok {
			return time.Time{}
		}
		return graph.Clean(t)
	}
	e := graph.Event{
		ID: str(0), MessageID: str(1), Digest: str(2), Type: str(3), Name: str(4),
		Channel: str(5), Source: str(6), Campaign: str(7), Timestamp: tm(8), ReceivedAt: tm(9),
	}
	if withPayload {
		p := props{propProperties: l[10], propTraits: l[11]}
		if err := p.json(propProperties, &e.Properties); err != nil {
			return graph.Event{}, fmt.Errorf("event %s: %w", e.ID, err)
		}
		if err := p.json(propTraits, &e.Traits); err != nil {
			return graph.Event{}, fmt.Errorf("event %s: %w", e.ID, err)
		}
	}
	if ks, ok := l[n].([]any); ok && len(ks) > 0 {
		e.Keys = make([]string, 0, len(ks))
		for _, k := range ks {
			if s, ok := k.(string); ok {
				e.Keys = append(e.Keys, s)
			}
		}
		// The BY edges hold no order; key order is stable across calls.
		sort.Strings(e.Keys)
	}
	return e, nil
}

// boundParam sends a journey's From or To. Stored times are whole
// microseconds, so rounding a finer bound up keeps "at or after From" and
// "before To" exact; truncating it, as timeParam does, would let in events
// up to a microsecond early.
func boundParam(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return graph.CleanUp(t).In(utc)
}

func (t *readTx) Journeys(ctx context.Context, profileIDs []string, q graph.JourneyQuery) (map[string][]graph.Event, error) {
	out := make(map[string][]graph.Event, len(profileIDs))
	if len(profileIDs) == 0 || q.Limit <= 0 {
		return out, nil
	}
	params := map[string]any{
		"ids":      uniq(profileIDs),
		"types":    strsParam(q.Types),
		"channels": strsParam(q.Channels),
		"from":     boundParam(q.From),
		"to":       boundParam(q.To),
		"afterTs":  nil,
		"afterID":  nil,
		"limit":    int64(q.Limit),
	}
	if c := q.After; c != nil {
		params["afterTs"] = graph.Clean(c.Timestamp).In(utc)
		params["afterID"] = c.ID
	}
	q0 := qJourneys[0]
	if q.NoPayload {
		q0 = qJourneys[1]
	}
	recs, err := t.query(ctx, q0, params)
	if err != nil {
		return nil, fmt.Errorf("read journeys: %w", err)
	}
	if len(recs) != 1 {
		return nil, fmt.Errorf("read journeys: %d rows", len(recs))
	}
	page, _ := recs[0].Values[0].([]any)
	if t.readOnly {
		t.members = make(map[string][]string, len(page))
	}
	for _, v := range page {
		r, ok := v.([]any)
		if !ok || len(r) != 3 {
			return nil, fmt.Errorf("read journeys: a profile's row is %T", v)
		}
		pid, _ := r[0].(string)
		if t.readOnly {
			keys, err := keyList(pid, r[2])
			if err != nil {
				return nil, err
			}
			t.members[pid] = keys
		}
		rows, _ := r[1].([]any)
		if len(rows) == 0 {
			continue
		}
		evs := make([]graph.Event, 0, len(rows))
		for _, row := range rows {
			e, err := decodeJourneyEvent(row, !q.NoPayload)
			if err != nil {
				return nil, err
			}
			evs = append(evs, e)
		}
		graph.SortJourney(evs)
		out[pid] = evs
	}
	return out, nil
}

// An event node that ClaimEvents made and Apply has not completed yet is
// not stored, so it is left out.
var qEvents = cypher(`
UNWIND $ids AS id
MATCH (e:{{Event}} { {{id}}: id })
WHERE e.{{claim}} IS NULL
RETURN e { .* } AS e,
  COLLECT { MATCH (e)-[:{{BY}}]->(i:{{Identifier}}) RETURN i.{{key}} } AS keys`)

func (t *readTx) Events(ctx context.Context, ids []string) (map[string]graph.Event, error) {
	out := make(map[string]graph.Event, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	recs, err := t.query(ctx, qEvents, map[string]any{"ids": uniq(ids)})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	for _, r := range recs {
		e, err := decodeEvent(r.Values[0], r.Values[1])
		if err != nil {
			return nil, err
		}
		out[e.ID] = e
	}
	return out, nil
}

// qEventsBy finds the events from each key's identifier, by index seek,
// each once however many of keys carry it.
var qEventsBy = cypher(`
UNWIND $keys AS k
MATCH (:{{Identifier}} { {{key}}: k })<-[:{{BY}}]-(e:{{Event}})
WITH DISTINCT e
WHERE e.{{claim}} IS NULL
RETURN e { .* } AS e,
  COLLECT { MATCH (e)-[:{{BY}}]->(i:{{Identifier}}) RETURN i.{{key}} } AS keys`)

// EventsBy implements graph.ReadTx in one query. The events are put in id
// order here, in Go's byte order, rather than by Cypher's string order.
func (t *readTx) EventsBy(ctx context.Context, keys []string) ([]graph.Event, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	recs, err := t.query(ctx, qEventsBy, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return nil, fmt.Errorf("read events by identifiers: %w", err)
	}
	out := make([]graph.Event, 0, len(recs))
	for _, r := range recs {
		e, err := decodeEvent(r.Values[0], r.Values[1])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// The page walks the unique index on Profile.id in order (ascending or
// descending) and stops after $limit live profiles. One query per shape,
// built once: an open upper bound has no value to stand for it.
var qProfilesPage = func() (qs [2][2]string) {
	for rev := 0; rev < 2; rev++ {
		for bounded := 0; bounded < 2; bounded++ {
			where, dir := "", ""
			if bounded == 1 {
				where = " AND p.{{id}} < $before"
			}
			if rev == 1 {
				dir = " DESC"
			}
			// The hint keeps the planner on the id index (walked in
			// order, so no sort) even when the statistics of a small or
			// just emptied database make a label scan look cheaper.
			qs[rev][bounded] = cypher(`
MATCH (p:{{Profile}})
USING INDEX SEEK p:{{Profile}}({{id}})
WHERE p.{{id}} > $after` + where + ` AND NOT p:{{Merged}}
WITH p ORDER BY p.{{id}}` + dir + ` LIMIT $limit
RETURN p { .* } AS p`)
		}
	}
	return qs
}()

func (t *readTx) ProfilesPage(ctx context.Context, q graph.PageQuery) ([]graph.Profile, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rev, bounded := 0, 0
	if q.Reverse {
		rev = 1
	}
	params := map[string]any{"after": q.After, "limit": int64(q.Limit)}
	if q.Before != "" {
		bounded = 1
		params["before"] = q.Before
	}
	recs, err := t.query(ctx, qProfilesPage[rev][bounded], params)
	if err != nil {
		return nil, fmt.Errorf("read profile page: %w", err)
	}
	out := make([]graph.Profile, 0, len(recs))
	for _, r := range recs {
		p, err := decodeProfile(r.Values[0])
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// qProfileIDs is qProfilesPage[0] returning only the ids, which the id
// index holds, in one row: no profile is decoded or sent.
var qProfileIDs = func() (qs [2]string) {
	for bounded := 0; bounded < 2; bounded++ {
		where := ""
		if bounded == 1 {
			where = " AND p.{{id}} < $before"
		}
		qs[bounded] = cypher(`
MATCH (p:{{Profile}})
USING INDEX SEEK p:{{Profile}}({{id}})
WHERE p.{{id}} > $after` + where + ` AND NOT p:{{Merged}}
WITH p ORDER BY p.{{id}} LIMIT $limit
RETURN collect(p.{{id}}) AS ids`)
	}
	return qs
}()

// ProfileIDs implements graph.ProfileIDsReader in one statement walking
// the Profile.id index. A Limit below 1 reads every profile in range.
func (t *readTx) ProfileIDs(ctx context.Context, q graph.PageQuery) ([]string, error) {
	if q.Reverse {
		return nil, fmt.Errorf("ProfileIDs reads forwards only")
	}
	limit := int64(math.MaxInt64)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	bounded := 0
	params := map[string]any{"after": q.After, "limit": limit}
	if q.Before != "" {
		bounded = 1
		params["before"] = q.Before
	}
	recs, err := t.query(ctx, qProfileIDs[bounded], params)
	if err != nil {
		return nil, fmt.Errorf("read profile ids: %w", err)
	}
	if len(recs) != 1 {
		return nil, fmt.Errorf("read profile ids: %d rows", len(recs))
	}
	l, _ := recs[0].Values[0].([]any)
	out := make([]string, 0, len(l))
	for _, v := range l {
		id, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("read profile ids: a profile has no id")
		}
		out = append(out, id)
	}
	// collect keeps the index's order; sorting here makes the page's
	// order Go's whatever the database does.
	slices.Sort(out)
	return out, nil
}

var _ graph.ProfileIDsReader = (*readTx)(nil)

// Both counts come from the count store, in constant time at any size.
var qCountProfiles = cypher(`
CALL () { MATCH (p:{{Profile}}) RETURN count(p) AS profiles }
CALL () { MATCH (m:{{Merged}}) RETURN count(m) AS merged }
RETURN profiles - merged AS live`)

func (t *readTx) CountProfiles(ctx context.Context) (int, error) {
	recs, err := t.query(ctx, qCountProfiles, nil)
	if err != nil {
		return 0, fmt.Errorf("count profiles: %w", err)
	}
	if len(recs) != 1 {
		return 0, fmt.Errorf("count profiles: %d rows", len(recs))
	}
	n, _ := recs[0].Values[0].(int64)
	return int(n), nil
}

// A merge is stored From -MERGED_INTO-> Into, a split Into -SPLIT_FROM->
// From (the new part points at the original).
var qChanges = cypher(`
UNWIND $ids AS pid
MATCH (p:{{Profile}} { {{id}}: pid })-[r:{{MERGED_INTO}}|{{SPLIT_FROM}}]-(:{{Profile}})
USING INDEX SEEK p:{{Profile}}({{id}})
WITH DISTINCT r
RETURN type(r) AS kind, startNode(r).{{id}} AS a, endNode(r).{{id}} AS b, r.{{at}} AS at, r.{{reason}} AS reason,
  r.{{members}} AS members`)

func (t *readTx) Changes(ctx context.Context, profileIDs []string) ([]graph.ProfileChange, error) {
	if len(profileIDs) == 0 {
		return nil, nil
	}
	recs, err := t.query(ctx, qChanges, map[string]any{"ids": uniq(profileIDs)})
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	out := make([]graph.ProfileChange, 0, len(recs))
	for _, r := range recs {
		kind, _ := r.Values[0].(string)
		a, _ := r.Values[1].(string)
		b, _ := r.Values[2].(string)
		at, _ := r.Values[3].(time.Time)
		reason, _ := r.Values[4].(string)
		c := graph.ProfileChange{At: graph.Clean(at), Reason: reason}
		if ms, ok := r.Values[5].([]any); ok {
			c.Members = make([]string, 0, len(ms))
			for _, m := range ms {
				k, ok := m.(string)
				if !ok {
					return nil, fmt.Errorf("read history: member %v is not a key", m)
				}
				c.Members = append(c.Members, k)
			}
		}
		switch kind {
		case relMergedInto:
			c.Kind, c.From, c.Into = graph.ChangeMerge, a, b
		case relSplitFrom:
			c.Kind, c.From, c.Into = graph.ChangeSplit, b, a
		default:
			return nil, fmt.Errorf("read history: unexpected relationship %q", kind)
		}
		out = append(out, c)
	}
	// Entries of one write share a time; ordering them by profile id keeps
	// the order stable from call to call.
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if !x.At.Equal(y.At) {
			return x.At.Before(y.At)
		}
		if x.From != y.From {
			return x.From < y.From
		}
		return x.Into < y.Into
	})
	return out, nil
}
