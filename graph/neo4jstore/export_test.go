package neo4jstore

import (
	"context"
	"strings"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
)

// PlannedQuery is a query of the store with parameters that make the planner
// see the shapes it sees in use.
type PlannedQuery struct {
	Name   string
	Cypher string
	Params map[string]any
}

// HotQueries are the queries run for every ingested batch and every profile
// read; plan_test.go checks that each reaches its nodes through an index.
func HotQueries() []PlannedQuery {
	keys := []any{"user_id:a", "email:a@example.com"}
	ids := []any{"p_a", "p_b"}
	return []PlannedQuery{
		{"ClaimEvents", qClaimEvents.text, map[string]any{"claims": []any{map[string]any{"id": "web/m1", "digest": "d1"}}, "nonce": "n"}},
		{"LockIdentifiers(create)", qLockCreate.text, map[string]any{"rows": []any{map[string]any{
			"key": "user_id:a", "type": "user_id", "value": "a", "first": nil, "last": nil, "sources": []any{"web"}}}}},
		{"LockIdentifiers(existing)", qLockExisting.text, map[string]any{"keys": keys}},
		{"LockProfiles", qLockProfiles.text, map[string]any{"ids": ids}},
		{"Identifiers", qIdentifiers.text, map[string]any{"keys": keys}},
		{"Profiles", qProfiles.text, map[string]any{"ids": ids}},
		{"Members", qMembers.text, map[string]any{"ids": ids}},
		{"LookupProfiles", qLookup[0], map[string]any{"keys": keys}},
		{"LookupProfiles(members)", qLookup[1], map[string]any{"keys": keys}},
		{"Links", qLinks, map[string]any{"keys": keys}},
		{"LinksBetween", qLinksBetween.text, map[string]any{"pairs": []any{[]any{"email:a@example.com", "user_id:a"}}}},
		{"Rejected", qRejected, map[string]any{"keys": keys}},
		{"Events", qEvents, map[string]any{"ids": ids}},
		{"EventsBy", qEventsBy, map[string]any{"keys": keys}},
		{"Journeys", qJourneys[0], map[string]any{"ids": ids, "types": []any{}, "channels": []any{},
			"from": nil, "to": nil, "afterTs": nil, "afterID": nil, "limit": int64(10)}},
		{"Journeys(noPayload)", qJourneys[1], map[string]any{"ids": ids, "types": []any{}, "channels": []any{},
			"from": nil, "to": nil, "afterTs": nil, "afterID": nil, "limit": int64(10)}},
		{"MemberKeys", qMemberKeys, map[string]any{"ids": ids}},
		{"Changes", qChanges, map[string]any{"ids": ids}},
		// One row for every step, so that each step's plan is exercised.
		{"Apply", qApply, map[string]any{
			"profiles": []any{map[string]any{
				"id": "p_a", "createdAt": nil, "updatedAt": nil, "size": int64(1), "counts": nil, "mergedInto": nil}},
			"deleteIdentifiers": keys,
			"assign":            []any{map[string]any{"key": "user_id:a", "pid": "p_a"}},
			"links": []any{map[string]any{
				"a": "email:a@example.com", "b": "user_id:a", "source": "web", "evidence": "m1",
				"firstSeen": nil, "lastSeen": nil, "count": int64(1)}},
			"deleteLinks":    []any{map[string]any{"a": "email:a@example.com", "b": "user_id:a"}},
			"deleteRejected": []any{map[string]any{"a": "email:a@example.com", "b": "user_id:a"}},
			"rejected": []any{map[string]any{
				"a": "email:a@example.com", "b": "user_id:a", "source": "rules", "reason": "r", "at": nil, "evidence": "m1"}},
			"events": []any{map[string]any{"id": "m1", "keys": keys, "props": map[string]any{
				"type": "track", "name": nil, "channel": nil, "source": nil, "timestamp": nil, "receivedAt": nil,
				"properties": nil, "traits": nil, "claim": nil}}},
			"scrubEvents":    []any{map[string]any{"id": "m1", "properties": "{}", "traits": nil, "slots": map[string]any{}}},
			"traits":         []any{map[string]any{"key": "user_id:a", "traits": "{}", "slots": map[string]any{}}},
			"changes":        []any{map[string]any{"from": "p_a", "into": "p_b", "split": false, "at": nil, "reason": "r", "members": []any{"user_id:a"}}},
			"rewriteChanges": []any{map[string]any{"a": "p_a", "b": "p_b", "rel": "MERGED_INTO", "at": nil, "reason": "r2", "members": []any{}}},
			"deleteProfiles": ids,
			"retireProfiles": []any{strings.Repeat("a", 64)},
		}},
		{"TakenProfileIDs", qTakenProfileIDs.text, map[string]any{"cands": []any{
			map[string]any{"id": "p_a", "hash": strings.Repeat("a", 64)}, map[string]any{"id": "p_b", "hash": nil}}}},
		{"PutConsent", qPutConsent, map[string]any{"rows": []any{map[string]any{
			"id": "cns_00000000000000000000000000000001", "purpose": "email", "status": "GRANTED", "at": nil,
			"source": "web", "legalBasis": "CONSENT", "identifier": "user_id:a", "proofText": nil, "proofVersion": nil,
			"proofChannel": nil, "proofCollector": nil, "proofEventId": nil, "expiresAt": nil, "receivedAt": nil}}}},
		{"ConsentOf", qConsentOf, map[string]any{"keys": keys}},
		{"DeleteConsent", qDeleteConsent, map[string]any{"keys": keys}},
	}
}

// PageQueries are the four shapes of ProfilesPage and the two of
// ProfileIDs, each of which must walk the Profile.id index in order rather
// than sort, and the dump's page of retired profile ids, which must walk
// the RetiredProfileId.hash index so.
func PageQueries() []PlannedQuery {
	var out []PlannedQuery
	for rev, byRev := range qProfilesPage {
		for bounded, q := range byRev {
			p := map[string]any{"after": "", "limit": int64(10)}
			if bounded == 1 {
				p["before"] = "p_z"
			}
			out = append(out, PlannedQuery{Name: []string{"ProfilesPage", "ProfilesPage(reverse)"}[rev] + []string{"", "(before)"}[bounded], Cypher: q, Params: p})
		}
	}
	for bounded, q := range qProfileIDs {
		p := map[string]any{"after": "", "limit": int64(10)}
		if bounded == 1 {
			p["before"] = "p_z"
		}
		out = append(out, PlannedQuery{Name: "ProfileIDs" + []string{"", "(before)"}[bounded], Cypher: q, Params: p})
	}
	out = append(out, PlannedQuery{Name: "DumpRetiredIDs", Cypher: qPage[dump.RetiredIDs], Params: map[string]any{"after": "", "limit": int64(10)}})
	return out
}

// ConsentPurposeQuery is ConsentPurposeStored's query; it must seek the
// consent_purpose index rather than scan every record.
func ConsentPurposeQuery() string { return qConsentPurposeStored }

// CountQuery is CountProfiles' query; it must read only the count store.
func CountQuery() string { return qCountProfiles }

// ApplyChunks exposes how Apply cuts a Write's rows into statements: the
// rows of each step, in the order of applySteps, cut at size rows.
func ApplyChunks(lists [][]any, size int) []map[string]any { return applyChunks(lists, size) }

// ApplyParams names the parameter of each step of Apply, in order.
func ApplyParams() []string {
	out := make([]string, len(applySteps))
	for i, s := range applySteps {
		out[i] = s.param
	}
	return out
}

// ChunkRows is the most rows one Apply statement carries.
const ChunkRows = chunkRows

// SetApplyChunkRows makes Apply cut at n rows until restore is called.
func SetApplyChunkRows(n int) (restore func()) {
	old := applyChunkRows
	applyChunkRows = n
	return func() { applyChunkRows = old }
}

// AudienceQueries are the audience store's queries that must reach their
// nodes through an index (ComputedTraits reads every definition, at most
// audience.MaxComputedTraits, and the locks a put that creates takes,
// LockComputedTraitsToCreate and LockAudiencesToCreate, every definition
// and audience, at most MaxAudiences: they are left out).
func AudienceQueries() []PlannedQuery {
	id := "seg_00000000000000000000000000000001"
	id2 := "seg_00000000000000000000000000000002"
	pids := []any{"p_a", "p_b"}
	row := func(p string, seq int64) map[string]any { return map[string]any{"p": p, "seq": seq} }
	return append([]PlannedQuery{
		{"AudienceTaken", qAudienceTaken, map[string]any{"id": id}},
		{"DeleteAudience", qDeleteAudience, map[string]any{"id": id, "at": nil}},
		{"AudienceDeletions", qAudienceDeletions, map[string]any{"after": "", "limit": int64(deletionsPage)}},
		{"LockAudienceDeletion", qLockAudienceDeletion, map[string]any{"id": id}},
		{"DeleteAudienceMembers", qDeleteAudienceMembers, map[string]any{"id": id, "limit": int64(deleteChunk)}},
		{"DeleteAudienceChanges", qDeleteAudienceChanges, map[string]any{"id": id, "limit": int64(deleteChunk)}},
		{"DeleteAudienceDeletion", qDeleteAudienceDeletion, map[string]any{"id": id}},
		{"Audiences", qAudiences, map[string]any{"ids": []any{id}}},
		{"AudiencePage", qAudiencePage, map[string]any{"after": "", "limit": int64(10)}},
		{"LockAudience", qLockAudience, map[string]any{"id": id, "at": nil, "pids": pids}},
		{"ApplyMembership", qApplyMembership, map[string]any{"id": id, "at": nil, "seq": int64(2), "size": int64(1),
			"enter": []any{row("p_a", 1)}, "exit": []any{row("p_b", 2)}, "entered": "ENTERED", "exited": "EXITED"}},
		{"AudienceMembers", qAudienceMembers, map[string]any{"id": id, "after": "", "limit": int64(10)}},
		{"AudienceChanges", qAudienceChanges, map[string]any{"id": id, "upper": auditMaxTime, "afterSeq": nil, "limit": int64(10)}},
		{"MembersOfAudiences", qMembersOfAudiences, map[string]any{"ids": []any{id, id2}, "after": "", "limit": int64(10)}},
		{"ChangesOfAudiences", qChangesOfAudiences, map[string]any{"ids": []any{id, id2}, "upper": auditMaxTime, "afterSeq": nil, "limit": int64(10)}},
		{"MembershipsOf", qMembershipsOf, map[string]any{"pids": pids}},
		{"ChangesOf", qChangesOf, map[string]any{"pids": pids, "afterAt": nil, "afterAudience": nil, "afterSeq": nil, "limit": int64(10)}},
		{"ChangesOf(after)", qChangesOf, map[string]any{"pids": pids, "afterAt": auditMaxTime, "afterAudience": id, "afterSeq": int64(3), "limit": int64(10)}},
		{"ComputedTraitTaken", qComputedTraitTaken, map[string]any{"name": "orders"}},
		{"DeleteComputedTrait", qDeleteComputedTrait, map[string]any{"name": "orders"}},
		{"PutComputedValues", qPutComputedValues, map[string]any{"rows": []any{map[string]any{
			"p": "p_a", "n": "orders", "v": "1", "at": nil, "exp": nil}}}},
		{"DeleteComputedValues", qDeleteComputedValues, map[string]any{"pids": pids}},
		{"ComputedValues", qComputedValues, map[string]any{"pids": pids}},
		{"ExpiringValues", qExpiringValues, map[string]any{"before": nil, "limit": int64(10)}},
		{"ForgetProfiles", qForgetProfiles, map[string]any{"erased": pids, "changed": []any{"p_c"}}},
		{"KeepLocked", qKeepLocked, map[string]any{"pids": pids}},
		{"KeepPutFacts", qKeepPutFacts, map[string]any{"rows": []any{map[string]any{"p": "p_a", "d": []byte{1}}}, "live": pids}},
		{"KeepLockAudiences", qKeepLockAudiences, map[string]any{"at": nil, "auds": []any{map[string]any{"id": id, "pids": pids, "check": pids}},
			"versions": []any{id}, "defs": []any{"orders"}}},
		{"KeepApply", qKeepApply, map[string]any{"at": nil, "entered": "ENTERED", "exited": "EXITED", "rows": []any{map[string]any{
			"id": id, "seq": int64(2), "size": int64(1), "enter": []any{row("p_a", 1)}, "exit": []any{row("p_b", 2)}}}}},
	}, audienceRefQueries()...)
}

// FeedQueries are the change feed's reads and trim, with parameters that
// plan like real ones.
func FeedQueries() []PlannedQuery {
	return []PlannedQuery{
		{"Feed", qFeed, map[string]any{"after": int64(5), "limit": int64(feedBatchesPerRead)}},
		{"FeedHead", qFeedHead, map[string]any{"cid": feedCounterID}},
		{"TrimFeed", qTrimFeed, map[string]any{"before": nil, "limit": int64(10), "cid": feedCounterID}},
		{"FeedTrimmed", qFeedTrimmed, map[string]any{"cid": feedCounterID}},
		{"LockFeedAt", qLockFeedAt, map[string]any{"seqs": []any{int64(5), int64(7)}, "min": int64(5), "max": int64(7), "n": int64(3)}},
		{"FeedAt", qFeedAt, map[string]any{"seqs": []any{int64(5), int64(7)}, "min": int64(5), "max": int64(7), "n": int64(3), "cid": feedCounterID}},
	}
}

// CompiledFilter is the statement CountFilter runs for q.
func CompiledFilter(q audience.FilterQuery) (string, map[string]any, error) { return compileFilter(q) }

// WriteInView runs, inside a View's transaction, the write a test of the
// access modes needs: an Identifier node with key k. In a read
// transaction Neo4j refuses it.
func WriteInView(ctx context.Context, s *Store, k string) error {
	return s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		return tx.(*readTx).exec(ctx, qWriteProbe, map[string]any{"k": k})
	})
}

// WriteInUpdate runs the same write inside an Update's transaction.
func WriteInUpdate(ctx context.Context, s *Store, k string) error {
	return s.Update(ctx, func(ctx context.Context, t graph.Tx) error {
		return t.(*tx).exec(ctx, qWriteProbe, map[string]any{"k": k})
	})
}

var qWriteProbe = cypher(`CREATE (:{{Identifier}} { {{key}}: $k })`)

// SetHungAfter shortens how long probes may all be late before Neo4j
// counts as down, for a test; the returned func puts it back.
func SetHungAfter(d time.Duration) func() {
	old := hungAfter
	hungAfter = d
	return func() { hungAfter = old }
}

// SetDeleteChunk makes DeleteAudience delete at most n members and log
// entries per transaction until restore is called. Call it before the
// store is opened (Open's background pass reads it).
func SetDeleteChunk(n int) (restore func()) {
	old := deleteChunk
	deleteChunk = n
	return func() { deleteChunk = old }
}

// SetBeforeDeleteChunk makes f run before each transaction of
// DeleteAudience that deletes a chunk (and before the one that finds the
// deletion done), an error of f stopping the deletion there, until
// restore is called.
func SetBeforeDeleteChunk(f func(id string) error) (restore func()) {
	old := beforeDeleteChunk
	beforeDeleteChunk = f
	return func() { beforeDeleteChunk = old }
}

// AudienceDeletionsAtOpen is closed once the audience deletions Open found
// unfinished are finished.
func AudienceDeletionsAtOpen(s *Store) <-chan struct{} { return s.deletionsAtOpen }

// AccessWriteAround runs, in one accessWrite transaction, a statement,
// then between, then another statement, and returns the transaction's
// error.
func AccessWriteAround(ctx context.Context, s *Store, between func()) error {
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qWriteProbe, map[string]any{"k": "probe:access-1"}); err != nil {
			return nil, err
		}
		between()
		return nil, t.exec(ctx, qWriteProbe, map[string]any{"k": "probe:access-2"})
	})
	return err
}

// UseDatabase points s at another database of its Neo4j, as a database
// taken offline under a running store would look.
func UseDatabase(s *Store, db string) { s.db = db }

// WithholdPersonal is the expression paths uses to withhold a name x that
// looks like personal data, with its parameters.
const WithholdPersonal = withholdPersonal
