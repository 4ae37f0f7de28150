package neo4jstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// schemaItem is one constraint or index of the model.
type schemaItem struct {
	what string // shown by cdp migrate
	stmt string
}

// schema is every constraint and index the store relies on. The unique
// constraints are also the indexes behind every lookup by key or id, and the
// ordered walk of ProfilesPage.
var schema = []schemaItem{
	{"constraint identifier_key: (:Identifier).key is unique",
		cypher(`CREATE CONSTRAINT identifier_key IF NOT EXISTS FOR (i:{{Identifier}}) REQUIRE i.{{key}} IS UNIQUE`)},
	{"constraint profile_id: (:Profile).id is unique",
		cypher(`CREATE CONSTRAINT profile_id IF NOT EXISTS FOR (p:{{Profile}}) REQUIRE p.{{id}} IS UNIQUE`)},
	{"constraint event_id: (:Event).id is unique",
		cypher(`CREATE CONSTRAINT event_id IF NOT EXISTS FOR (e:{{Event}}) REQUIRE e.{{id}} IS UNIQUE`)},
	// Analysts select events by time range across all profiles.
	{"index event_timestamp: (:Event).timestamp",
		cypher(`CREATE INDEX event_timestamp IF NOT EXISTS FOR (e:{{Event}}) ON (e.{{timestamp}})`)},
	// Audience filters find a window's events of one name (filter.go),
	// and so do analysts.
	{"index event_name_timestamp: (:Event).name, timestamp",
		cypher(`CREATE INDEX event_name_timestamp IF NOT EXISTS FOR (e:{{Event}}) ON (e.{{name}}, e.{{timestamp}})`)},
	// Analysts count and list identifiers by type.
	{"index identifier_type: (:Identifier).type",
		cypher(`CREATE INDEX identifier_type IF NOT EXISTS FOR (i:{{Identifier}}) ON (i.{{type}})`)},
	// Access: a request's key is found by the hash of its secret.
	{"constraint api_key_id: (:ApiKey).id is unique",
		cypher(`CREATE CONSTRAINT api_key_id IF NOT EXISTS FOR (k:{{ApiKey}}) REQUIRE k.{{id}} IS UNIQUE`)},
	{"constraint api_key_hash: (:ApiKey).hash is unique",
		cypher(`CREATE CONSTRAINT api_key_hash IF NOT EXISTS FOR (k:{{ApiKey}}) REQUIRE k.{{hash}} IS UNIQUE`)},
	// Revoking a key finds the keys it created.
	{"index api_key_created_by: (:ApiKey).createdBy",
		cypher(`CREATE INDEX api_key_created_by IF NOT EXISTS FOR (k:{{ApiKey}}) ON (k.{{createdBy}})`)},
	{"constraint audit_entry_id: (:AuditEntry).id is unique",
		cypher(`CREATE CONSTRAINT audit_entry_id IF NOT EXISTS FOR (a:{{AuditEntry}}) REQUIRE a.{{id}} IS UNIQUE`)},
	// The audit log is read newest first, and pruned, by time.
	{"index audit_entry_at: (:AuditEntry).at",
		cypher(`CREATE INDEX audit_entry_at IF NOT EXISTS FOR (a:{{AuditEntry}}) ON (a.{{at}})`)},
	{"index audit_entry_key: (:AuditEntry).keyId",
		cypher(`CREATE INDEX audit_entry_key IF NOT EXISTS FOR (a:{{AuditEntry}}) ON (a.{{keyId}})`)},
	// Suppression: ingestion looks every identifier's hash up, and the
	// secret is made once however many servers race to make it.
	{"constraint suppressed_hash: (:Suppressed).hash is unique",
		cypher(`CREATE CONSTRAINT suppressed_hash IF NOT EXISTS FOR (s:{{Suppressed}}) REQUIRE s.{{hash}} IS UNIQUE`)},
	{"constraint suppression_key_id: (:SuppressionKey).id is unique",
		cypher(`CREATE CONSTRAINT suppression_key_id IF NOT EXISTS FOR (k:{{SuppressionKey}}) REQUIRE k.{{id}} IS UNIQUE`)},
	// Retired profile ids: a new profile's candidate id is looked up by
	// its hash, and a hash is kept once however many erasures race.
	{"constraint retired_profile_id_hash: (:RetiredProfileId).hash is unique",
		cypher(`CREATE CONSTRAINT retired_profile_id_hash IF NOT EXISTS FOR (r:{{RetiredProfileId}}) REQUIRE r.{{hash}} IS UNIQUE`)},
	// Consent: a record is put idempotently by id, and a profile's ledger
	// is read, and erased, by its identifiers' keys. consentHistory asks
	// whether any record holds a purpose the rules no longer name.
	{"constraint consent_id: (:Consent).id is unique",
		cypher(`CREATE CONSTRAINT consent_id IF NOT EXISTS FOR (c:{{Consent}}) REQUIRE c.{{id}} IS UNIQUE`)},
	{"index consent_identifier: (:Consent).identifier",
		cypher(`CREATE INDEX consent_identifier IF NOT EXISTS FOR (c:{{Consent}}) ON (c.{{identifier}})`)},
	{"index consent_purpose: (:Consent).purpose",
		cypher(`CREATE INDEX consent_purpose IF NOT EXISTS FOR (c:{{Consent}}) ON (c.{{purpose}})`)},
	// Erasure receipts: a receipt id is written once, and the list is
	// read newest first, by time.
	{"constraint erasure_receipt_id: (:ErasureReceipt).id is unique",
		cypher(`CREATE CONSTRAINT erasure_receipt_id IF NOT EXISTS FOR (r:{{ErasureReceipt}}) REQUIRE r.{{id}} IS UNIQUE`)},
	{"index erasure_receipt_at: (:ErasureReceipt).at",
		cypher(`CREATE INDEX erasure_receipt_at IF NOT EXISTS FOR (r:{{ErasureReceipt}}) ON (r.{{at}})`)},
	// Audiences: found and paged by id; members by audience (paged by
	// profile id) and by profile; the log by audience, newest first.
	{"constraint audience_id: (:Audience).id is unique",
		cypher(`CREATE CONSTRAINT audience_id IF NOT EXISTS FOR (a:{{Audience}}) REQUIRE a.{{id}} IS UNIQUE`)},
	{"constraint audience_member: (:AudienceMember).audienceId, profileId is unique",
		cypher(`CREATE CONSTRAINT audience_member IF NOT EXISTS FOR (m:{{AudienceMember}}) REQUIRE (m.{{audienceId}}, m.{{profileId}}) IS UNIQUE`)},
	{"index audience_member_profile: (:AudienceMember).profileId",
		cypher(`CREATE INDEX audience_member_profile IF NOT EXISTS FOR (m:{{AudienceMember}}) ON (m.{{profileId}})`)},
	{"index audience_change: (:AudienceChange).audienceId, at, seq",
		cypher(`CREATE INDEX audience_change IF NOT EXISTS FOR (c:{{AudienceChange}}) ON (c.{{audienceId}}, c.{{at}}, c.{{seq}})`)},
	// Erasure deletes every change naming an erased profile; a data export
	// lists them (ChangesOf).
	{"index audience_change_profile: (:AudienceChange).profileId",
		cypher(`CREATE INDEX audience_change_profile IF NOT EXISTS FOR (c:{{AudienceChange}}) ON (c.{{profileId}})`)},
	// A deleted audience's tombstone, one per audience, found by its id
	// until its members and log are all removed (DeleteAudience).
	{"constraint audience_deletion: (:AudienceDeletion).audienceId is unique",
		cypher(`CREATE CONSTRAINT audience_deletion IF NOT EXISTS FOR (t:{{AudienceDeletion}}) REQUIRE t.{{audienceId}} IS UNIQUE`)},
	// Computed traits: a definition by name; values by profile, by name
	// (deleting a trait) and by expiry (the refresher).
	{"constraint computed_trait_name: (:ComputedTrait).name is unique",
		cypher(`CREATE CONSTRAINT computed_trait_name IF NOT EXISTS FOR (c:{{ComputedTrait}}) REQUIRE c.{{name}} IS UNIQUE`)},
	{"constraint computed_value: (:ComputedValue).profileId, name is unique",
		cypher(`CREATE CONSTRAINT computed_value IF NOT EXISTS FOR (v:{{ComputedValue}}) REQUIRE (v.{{profileId}}, v.{{name}}) IS UNIQUE`)},
	{"index computed_value_name: (:ComputedValue).name",
		cypher(`CREATE INDEX computed_value_name IF NOT EXISTS FOR (v:{{ComputedValue}}) ON (v.{{name}})`)},
	{"index computed_value_expires: (:ComputedValue).expires",
		cypher(`CREATE INDEX computed_value_expires IF NOT EXISTS FOR (v:{{ComputedValue}}) ON (v.{{expires}})`)},
	// Profile facts: found by profile id.
	{"constraint profile_facts: (:ProfileFacts).profileId is unique",
		cypher(`CREATE CONSTRAINT profile_facts IF NOT EXISTS FOR (f:{{ProfileFacts}}) REQUIRE f.{{profileId}} IS UNIQUE`)},
	// The change feed: batches found by their first and last Seq, trimmed
	// by time; one counter.
	{"constraint feed_batch_first: (:FeedBatch).first is unique",
		cypher(`CREATE CONSTRAINT feed_batch_first IF NOT EXISTS FOR (b:{{FeedBatch}}) REQUIRE b.{{first}} IS UNIQUE`)},
	{"index feed_batch_last: (:FeedBatch).last",
		cypher(`CREATE INDEX feed_batch_last IF NOT EXISTS FOR (b:{{FeedBatch}}) ON (b.{{last}})`)},
	{"index feed_batch_at: (:FeedBatch).at",
		cypher(`CREATE INDEX feed_batch_at IF NOT EXISTS FOR (b:{{FeedBatch}}) ON (b.{{at}})`)},
	{"constraint feed_counter_id: (:FeedCounter).id is unique",
		cypher(`CREATE CONSTRAINT feed_counter_id IF NOT EXISTS FOR (c:{{FeedCounter}}) REQUIRE c.{{id}} IS UNIQUE`)},
	// Webhook destinations (destination.go): found and paged by id; their
	// deliveries by destination and number, and by status (the in-flight
	// one, dead letters, a page of one status).
	{"constraint destination_id: (:Destination).id is unique",
		cypher(`CREATE CONSTRAINT destination_id IF NOT EXISTS FOR (d:{{Destination}}) REQUIRE d.{{id}} IS UNIQUE`)},
	{"constraint delivery_number: (:Delivery).destinationId, number is unique",
		cypher(`CREATE CONSTRAINT delivery_number IF NOT EXISTS FOR (x:{{Delivery}}) REQUIRE (x.{{destinationId}}, x.{{number}}) IS UNIQUE`)},
	{"index delivery_status: (:Delivery).destinationId, status, number",
		cypher(`CREATE INDEX delivery_status IF NOT EXISTS FOR (x:{{Delivery}}) ON (x.{{destinationId}}, x.{{status}}, x.{{number}})`)},
}

// name is the item's name in Neo4j: the word after CREATE CONSTRAINT or
// CREATE INDEX.
func (it schemaItem) name() string { return strings.Fields(it.stmt)[2] }

// isConstraint reports whether the item is a constraint (whose index has
// the constraint's name) rather than an index alone.
func (it schemaItem) isConstraint() bool { return strings.Fields(it.stmt)[1] == "CONSTRAINT" }

// qConstraintNames lists the database's constraints; qIndexStates its
// indexes (a constraint's under the constraint's name) with their state.
const (
	qConstraintNames = `SHOW CONSTRAINTS YIELD name RETURN collect(name)`
	qIndexStates     = `SHOW INDEXES YIELD name, state RETURN collect([name, state])`
)

// SchemaGaps names what Migrate would still have to do, reading only:
// each constraint or index of the model the database lacks, each index
// not online yet, and each data migration not applied. None: the schema
// is current.
func (s *Store) SchemaGaps(ctx context.Context) ([]string, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		cons, err := t.query(ctx, qConstraintNames, nil)
		if err != nil {
			return nil, fmt.Errorf("list constraints: %w", err)
		}
		idx, err := t.query(ctx, qIndexStates, nil)
		if err != nil {
			return nil, fmt.Errorf("list indexes: %w", err)
		}
		done, err := t.query(ctx, qMigrationDone, map[string]any{"id": slotsMigration})
		if err != nil {
			return nil, fmt.Errorf("read the data migrations: %w", err)
		}
		var constraints []string
		if len(cons) == 1 {
			names, _ := cons[0].Values[0].([]any)
			for _, v := range names {
				n, _ := v.(string)
				constraints = append(constraints, n)
			}
		}
		state := map[string]string{}
		if len(idx) == 1 {
			pairs, _ := idx[0].Values[0].([]any)
			for _, v := range pairs {
				pair, _ := v.([]any)
				if len(pair) == 2 {
					n, _ := pair[0].(string)
					st, _ := pair[1].(string)
					state[n] = st
				}
			}
		}
		var gaps []string
		for _, it := range schema {
			kind := "index"
			if it.isConstraint() {
				kind = "constraint"
				if !slices.Contains(constraints, it.name()) {
					gaps = append(gaps, "no constraint "+it.name())
					continue
				}
			}
			switch st, ok := state[it.name()]; {
			case !ok:
				gaps = append(gaps, "no index "+it.name())
			case st != "ONLINE":
				gaps = append(gaps, fmt.Sprintf("%s %s is %s, not online", kind, it.name(), strings.ToLower(st)))
			}
		}
		if len(done) != 1 || done[0].Values[0] != true {
			gaps = append(gaps, "data migration "+slotsMigration+" not applied")
		}
		return gaps, nil
	})
	if err != nil {
		return nil, s.classify(fmt.Errorf("read the schema: %w", err))
	}
	return out.([]string), nil
}

// Migrate applies the constraints and indexes idempotently and waits until
// every index is online, then applies the data migrations not applied yet
// (backfillSlots). It returns one line per item saying whether it was
// created (or applied) now or already present.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	var out []string
	for _, it := range schema {
		added, err := s.applySchemaItem(ctx, sess, it)
		if err != nil {
			return out, s.classify(fmt.Errorf("migrate %s: %w", it.what, err))
		}
		if added {
			out = append(out, "created "+it.what)
		} else {
			out = append(out, "present "+it.what)
		}
	}
	// A freshly created index is populated in the background; until it is
	// online, lookups would scan and the unique constraints could not
	// serialise concurrent MERGEs.
	res, err := sess.Run(ctx, "CALL db.awaitIndexes(300)", nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		return out, s.classify(fmt.Errorf("migrate: wait for indexes: %w", err))
	}
	line, err := s.backfillSlots(ctx)
	if err != nil {
		return out, err
	}
	return append(out, line), nil
}

// schemaTries bounds how many times applySchemaItem runs one statement.
const schemaTries = 10

// applySchemaItem runs the item's statement and reports whether it created
// something. Schema changes cannot share a transaction with data, and each
// is idempotent, so each runs on its own in auto-commit. Several processes
// opening a database that lacks the schema (replicas started together)
// run the same statements at once, and Neo4j answers the losers of that
// race with a deadlock or with "an equivalent rule already exists"
// although the statement says IF NOT EXISTS: both are run again, and the
// next run finds the item present.
func (s *Store) applySchemaItem(ctx context.Context, sess neo4j.SessionWithContext, it schemaItem) (bool, error) {
	for try := 1; ; try++ {
		res, err := sess.Run(ctx, it.stmt, nil)
		var sum neo4j.ResultSummary
		if err == nil {
			sum, err = res.Consume(ctx)
		}
		if err == nil {
			c := sum.Counters()
			return c.ConstraintsAdded()+c.IndexesAdded() > 0, nil
		}
		if try == schemaTries || !schemaRace(err) {
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, err
		case <-time.After(time.Duration(try) * 50 * time.Millisecond):
		}
	}
}

// schemaRace reports whether err is how Neo4j answers a schema statement
// that ran at the same time as the same statement elsewhere.
func schemaRace(err error) bool {
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) {
		return false
	}
	switch ne.Code {
	case "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
		"Neo.ClientError.Schema.ConstraintAlreadyExists",
		"Neo.ClientError.Schema.IndexAlreadyExists":
		return true
	}
	return ne.IsRetriable()
}

// chunkRows is the most rows one statement handles: Apply sends at most
// this many UNWIND rows per statement, DeleteAll deletes this many per
// inner transaction. It bounds the memory a statement takes in Neo4j and
// the size of its parameters, while keeping an ingest batch (500 events by
// default) to one statement.
const chunkRows = 5000

// applyChunkRows is chunkRows for Apply; tests lower it to cut small Writes.
var applyChunkRows = chunkRows

// qDeleteAll empties the graph in two passes of small transactions:
// relationships first, so that no single transaction also has to detach a
// dense node (a profile with thousands of members, an identifier on
// thousands of events), whose relationships would all count against
// Neo4j's per-transaction memory limit at once.
var qDeleteAll = []string{
	fmt.Sprintf(`MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF %d ROWS`, chunkRows),
	fmt.Sprintf(`MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF %d ROWS`, chunkRows),
}

// DeleteAll deletes every node and relationship and keeps the schema. It is
// meant for tests and benchmarks.
func (s *Store) DeleteAll(ctx context.Context) error {
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	for _, q := range qDeleteAll {
		// CALL ... IN TRANSACTIONS needs an auto-commit transaction.
		res, err := sess.Run(ctx, q, nil)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		if err != nil {
			return s.classify(fmt.Errorf("delete all: %w", err))
		}
	}
	// An empty graph needs no data migration.
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, t.exec(ctx, qMarkMigration, map[string]any{"id": slotsMigration, "at": timeParam(time.Now())})
	})
	if err != nil {
		return fmt.Errorf("delete all: %w", err)
	}
	return nil
}

var qCountData = cypher(`MATCH (n) WHERE NOT n:{{Migration}} RETURN count(n) AS n`)

// CountData returns how many nodes the database holds besides the markers
// of data migrations done, which DeleteAll leaves: 0 for a database
// DeleteAll emptied, or one nothing was ever written to. It reads every
// node: meant for tests, before they empty a database.
func (s *Store) CountData(ctx context.Context) (int64, error) {
	v, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qCountData, nil)
		if err != nil || len(recs) != 1 {
			return int64(0), err
		}
		n, _ := recs[0].Values[0].(int64)
		return n, nil
	})
	if err != nil {
		return 0, fmt.Errorf("count nodes: %w", err)
	}
	return v.(int64), nil
}
