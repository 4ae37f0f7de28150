package neo4jstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// qKeepLocked takes the write lock of each stored profile among $pids, in
// id order, and returns them as read under the lock. Holding it until
// commit orders the keeper's write with a merge (which labels the profile
// Merged), an erasure (which deletes it) or any other write of it:
// either commits first and the keeper then sees the profile gone or
// changed, or it waits for the keeper and then changes what the keeper
// wrote in its own transaction. The lock rewrites id, which no
// transaction changes (see write.go): the value is read before the lock
// is granted.
var qKeepLocked = cypher(`
UNWIND $pids AS pid
MATCH (p:{{Profile}} { {{id}}: pid })
USING INDEX SEEK p:{{Profile}}({{id}})
SET p.{{id}} = p.{{id}}
RETURN collect(p { .* }) AS ps`)

// qKeepPutFacts is qPutFacts for the rows of live profiles only; it
// returns the facts each replaced, to tell whether computed values
// changed.
var qKeepPutFacts = cypher(`
UNWIND $rows AS r
WITH r WHERE r.p IN $live
MERGE (f:{{ProfileFacts}} { {{profileId}}: r.p })
WITH r, f, f.{{data}} AS old
SET f.{{data}} = r.d
RETURN r.p AS p, old`)

// qKeepLockAudiences is qLockAudience for several audiences, in id order,
// that also returns, of each audience's profiles to check, those it holds a log
// entry for after $at, or a member row since after $at (one seek of the
// (audienceId, at, seq) index reads only the entries logged after $at:
// those of rounds evaluated after this one, none mostly), and then,
// each one's UpdatedAt, read under its lock; then the UpdatedAt of the
// other audiences of $versions and of the computed trait definitions of
// $defs, and how many are stored (the count store's: no scan).
var qKeepLockAudiences = cypher(`
CALL () {
  UNWIND $auds AS x
  MATCH (a:{{Audience}} { {{id}}: x.id })
  USING INDEX SEEK a:{{Audience}}({{id}})
  SET a.{{refreshedAt}} = $at
  WITH a, x
  CALL (x) {
    UNWIND x.pids AS p
    MATCH (m:{{AudienceMember}} { {{audienceId}}: x.id, {{profileId}}: p })
    USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
    RETURN collect(m.{{profileId}}) AS present,
      collect(CASE WHEN m.{{since}} > $at AND p IN x.check THEN p END) AS since
  }
  CALL (x) {
    MATCH (c:{{AudienceChange}} { {{audienceId}}: x.id })
    USING INDEX SEEK c:{{AudienceChange}}({{audienceId}}, {{at}}, {{seq}})
    WHERE c.{{at}} > $at AND c.{{seq}} IS NOT NULL AND c.{{profileId}} IN x.check
    RETURN collect(DISTINCT c.{{profileId}}) AS logged
  }
  RETURN collect([x.id, a.{{seq}}, a.{{size}}, present, since + logged, a.{{updatedAt}}]) AS locked
}
CALL () {
  UNWIND $versions AS v
  MATCH (a:{{Audience}} { {{id}}: v })
  USING INDEX SEEK a:{{Audience}}({{id}})
  RETURN collect([v, a.{{updatedAt}}]) AS versions
}
CALL () {
  UNWIND $defs AS n
  MATCH (c:{{ComputedTrait}} { {{name}}: n })
  USING INDEX SEEK c:{{ComputedTrait}}({{name}})
  RETURN collect([n, c.{{updatedAt}}]) AS defs
}
RETURN locked, versions, defs, COUNT { MATCH (:{{ComputedTrait}}) } AS ndefs`)

// qKeepApply is qApplyMembership for several audiences.
var qKeepApply = cypher(`
UNWIND $rows AS r
MATCH (a:{{Audience}} { {{id}}: r.id })
USING INDEX SEEK a:{{Audience}}({{id}})
SET a.{{seq}} = r.seq, a.{{size}} = r.size
WITH r
CALL (r) {
  UNWIND r.enter AS e
  CREATE (:{{AudienceMember}} { {{audienceId}}: r.id, {{profileId}}: e.p, {{since}}: $at })
  CREATE (:{{AudienceChange}} { {{audienceId}}: r.id, {{profileId}}: e.p, {{kind}}: $entered, {{at}}: $at, {{seq}}: e.seq })
}
CALL (r) {
  UNWIND r.exit AS x
  MATCH (m:{{AudienceMember}} { {{audienceId}}: r.id, {{profileId}}: x.p })
  USING INDEX SEEK m:{{AudienceMember}}({{audienceId}}, {{profileId}})
  DELETE m
  CREATE (:{{AudienceChange}} { {{audienceId}}: r.id, {{profileId}}: x.p, {{kind}}: $exited, {{at}}: $at, {{seq}}: x.seq })
}
RETURN count(*) AS n`)

// keepProfiles is how many profiles one Keep of the keeper writes
// (audience.KeepSplit). Keep holds each one's lock until it commits, and
// ingest's LockProfiles waits for it. In parts of 100 rather than rounds
// of up to 500, ingest with 20 audiences and 10 computed traits ran at
// 0.70 to 0.98 of its rate with none in three runs (median 0.81),
// against 0.59 to 0.85 in five runs of one write per round (median
// 0.76); the keeper then caught up 3.0 to 4.4 s after the last event
// instead of 0.8 to 1.2 s (docs/BENCHMARKS.md, "Kept membership in
// parts").
const keepProfiles = 100

// KeepProfiles implements audience.KeepSplit.
func (s *Store) KeepProfiles() int { return keepProfiles }

// Keep implements audience.Store: one transaction of at most six
// statements, whatever the number of audiences and profiles. The
// audiences' locks are taken, and the definitions and later log entries
// read under them, before any fact is written.
func (s *Store) Keep(ctx context.Context, w audience.KeepWrite) ([]string, error) {
	enc, err := audience.CheckKeep(w)
	if err != nil {
		return nil, err
	}
	if len(w.Facts) == 0 && len(w.DeleteFacts) == 0 && len(w.Changes) == 0 {
		return nil, nil
	}
	at := graph.Clean(w.At).In(utc)
	// Every profile that gets facts or enters an audience must be live,
	// and every one the keeper read must be as it read it.
	var pids []string
	for i := range w.Facts {
		pids = append(pids, w.Facts[i].ProfileID)
	}
	for _, c := range w.Changes {
		pids = append(pids, c.Enter...)
	}
	for id := range w.Read {
		pids = append(pids, id)
	}
	// Locks are taken in id order.
	slices.Sort(pids)
	pids = slices.Compact(pids)
	changes := slices.Clone(w.Changes)
	slices.SortFunc(changes, func(a, b audience.MembershipChange) int { return strings.Compare(a.AudienceID, b.AudienceID) })
	var stale []string
	_, err = s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		stale = nil
		live, skip := map[string]bool{}, map[string]bool{}
		if len(pids) > 0 {
			recs, err := t.query(ctx, qKeepLocked, map[string]any{"pids": uniq(pids)})
			if err != nil {
				return nil, fmt.Errorf("keep audiences: %w", err)
			}
			if len(recs) > 0 {
				l, _ := recs[0].Values[0].([]any)
				for _, v := range l {
					p, err := decodeProfile(v)
					if err != nil {
						return nil, err
					}
					if !w.Fresh(p.ID, p.UpdatedAt) {
						skip[p.ID] = true
						stale = append(stale, p.ID)
					}
					if p.Live() {
						live[p.ID] = true
					}
				}
			}
		}
		// Under the audiences' locks: a round evaluated on definitions no
		// longer stored writes only its Static changes; one that another,
		// evaluated later, wrote before leaves out the profiles it changes
		// too.
		stored := map[string]membershipState{}
		if len(changes) > 0 || w.ChecksDefinitions() {
			auds := make([]any, 0, len(changes))
			versions := maps.Clone(w.Audiences)
			for _, c := range changes {
				delete(versions, c.AudienceID) // read under its lock
				pids := uniq(append(slices.Clone(c.Enter), c.Exit...))
				check := pids
				if c.Static {
					check = []any{}
				}
				auds = append(auds, map[string]any{"id": c.AudienceID, "pids": pids, "check": check})
			}
			recs, err := t.query(ctx, qKeepLockAudiences, map[string]any{
				"auds": auds, "at": at, "versions": uniq(slices.Sorted(maps.Keys(versions))), "defs": uniq(slices.Sorted(maps.Keys(w.Computed))),
			})
			if err != nil {
				return nil, fmt.Errorf("keep audiences: %w", err)
			}
			if len(recs) != 1 {
				return nil, fmt.Errorf("keep audiences: %d rows", len(recs))
			}
			locked, _ := recs[0].Values[0].([]any)
			var later []string
			current := true
			for _, l := range locked {
				row, _ := l.([]any)
				if len(row) != 6 {
					return nil, fmt.Errorf("keep audiences: a malformed row")
				}
				id, _ := row[0].(string)
				seq, _ := row[1].(int64)
				size, _ := row[2].(int64)
				present, _ := row[3].([]any)
				stored[id] = newMembershipState(seq, size, present)
				if !w.AudienceCurrent(id, recTime(row[5])) {
					current = false
				}
				ls, _ := row[4].([]any)
				for _, p := range ls {
					if p, ok := p.(string); ok {
						later = append(later, p)
					}
				}
			}
			read, _ := recs[0].Values[1].([]any)
			for _, v := range read {
				row, _ := v.([]any)
				if len(row) != 2 {
					return nil, fmt.Errorf("keep audiences: a malformed version")
				}
				id, _ := row[0].(string)
				if !w.AudienceCurrent(id, recTime(row[1])) {
					current = false
				}
			}
			if w.Computed != nil {
				defs := map[string]time.Time{}
				l, _ := recs[0].Values[2].([]any)
				for _, v := range l {
					row, _ := v.([]any)
					if len(row) != 2 {
						return nil, fmt.Errorf("keep audiences: a malformed definition")
					}
					name, _ := row[0].(string)
					defs[name] = recTime(row[1])
				}
				// Those of w.Computed stored, and no other.
				n, _ := recs[0].Values[3].(int64)
				current = current && int(n) == len(defs) && w.ComputedCurrent(defs)
			}
			if !current {
				later = w.Evaluated()
			}
			for _, p := range later {
				if !skip[p] {
					skip[p] = true
					stale = append(stale, p)
				}
			}
		}
		slices.Sort(stale)
		stale = slices.Compact(stale)
		del := slices.DeleteFunc(slices.Clone(w.DeleteFacts), func(id string) bool { return skip[id] })
		if len(del) > 0 {
			if err := deleteFacts(ctx, t, del); err != nil {
				return nil, err
			}
		}
		var rows []any
		var liveIDs []any
		next := map[string]*audience.Facts{}
		for i := range w.Facts {
			if p := w.Facts[i].ProfileID; live[p] && !skip[p] {
				rows = append(rows, map[string]any{"p": p, "d": enc[i]})
				next[p] = &w.Facts[i]
			}
		}
		for p := range live {
			if !skip[p] {
				liveIDs = append(liveIDs, p)
			}
		}
		var feed []graph.FeedEntry
		if len(rows) > 0 {
			recs, err := t.query(ctx, qKeepPutFacts, map[string]any{"rows": rows, "live": liveIDs})
			if err != nil {
				return nil, fmt.Errorf("put profile facts: %w", err)
			}
			// A profile given twice keeps its last facts, compared with
			// those stored before this write.
			seen := map[string]bool{}
			for _, r := range recs {
				p, _ := r.Values[0].(string)
				if seen[p] {
					continue
				}
				seen[p] = true
				old, _ := r.Values[1].([]byte)
				changed, err := audience.ComputedChanged(p, old, next[p])
				if err != nil {
					return nil, err
				}
				if changed {
					feed = append(feed, graph.FeedEntry{At: at, Kind: graph.FeedComputedChanged, ProfileID: p})
				}
			}
			slices.SortFunc(feed, func(a, b graph.FeedEntry) int { return strings.Compare(a.ProfileID, b.ProfileID) })
		}
		if len(changes) == 0 {
			return nil, appendFeed(ctx, t, feed)
		}
		var apply []any
		for _, c := range changes {
			st, ok := stored[c.AudienceID]
			if !ok {
				continue // deleted since the keeper read it
			}
			c = c.Checked(skip)
			enter := slices.DeleteFunc(slices.Clone(c.Enter), func(p string) bool { return !live[p] })
			ins, outs := st.apply(enter, c.Exit)
			if len(ins) == 0 && len(outs) == 0 {
				continue
			}
			apply = append(apply, map[string]any{"id": c.AudienceID, "seq": st.seq, "size": st.size, "enter": ins, "exit": outs})
			feed = append(feed, membershipFeed(c.AudienceID, at, ins, outs)...)
		}
		if len(apply) == 0 {
			return nil, appendFeed(ctx, t, feed)
		}
		err = t.exec(ctx, qKeepApply, map[string]any{
			"rows": apply, "at": at, "entered": audience.Entered, "exited": audience.Exited,
		})
		if err != nil {
			return nil, fmt.Errorf("keep audiences: %w", err)
		}
		return nil, appendFeed(ctx, t, feed)
	})
	if err != nil {
		return nil, err
	}
	return stale, nil
}

// membershipState is an audience's seq and size and which of some
// profiles are its members, as read under its lock.
type membershipState struct {
	seq, size int64
	member    map[string]bool
}

func newMembershipState(seq, size int64, present []any) membershipState {
	st := membershipState{seq: seq, size: size, member: make(map[string]bool, len(present))}
	for _, p := range present {
		if s, ok := p.(string); ok {
			st.member[s] = true
		}
	}
	return st
}

// apply works out the rows of qApplyMembership and qKeepApply: entering
// non-members and exiting members, each with its change's seq, and
// advances seq and size.
func (st *membershipState) apply(enter, exit []string) (ins, outs []any) {
	for _, p := range enter {
		if st.member[p] {
			continue
		}
		st.member[p] = true
		st.seq++
		st.size++
		ins = append(ins, map[string]any{"p": p, "seq": st.seq})
	}
	for _, p := range exit {
		if !st.member[p] {
			continue
		}
		st.member[p] = false
		st.seq++
		st.size--
		outs = append(outs, map[string]any{"p": p, "seq": st.seq})
	}
	return ins, outs
}
