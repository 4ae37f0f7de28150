package neo4jstore_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func ref(typ, v string) graph.IdentifierRef { return graph.IdentifierRef{Type: typ, Value: v} }

func event(id string, minute int, refs ...graph.IdentifierRef) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: "Viewed", Channel: "web", Source: "test",
		Timestamp: t0.Add(time.Duration(minute) * time.Minute), Identifiers: refs}
}

func neo4jStore(t *testing.T) *neo4jstore.Store {
	t.Helper()
	return storetest.Neo4j(t).(*neo4jstore.Store)
}

func TestMigrateIsIdempotent(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	for run := 1; run <= 2; run++ {
		applied, err := s.Migrate(ctx)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		// 28 items, the retired ids' 1, the feed's 4, the destinations'
		// 3, the keys' creators' 1 and the slots data migration.
		if len(applied) != 39 {
			t.Fatalf("run %d applied %v, want 39 items", run, applied)
		}
		// Open migrated already, so nothing is new.
		for _, a := range applied {
			if !strings.HasPrefix(a, "present ") {
				t.Fatalf("run %d: %q, want every item present", run, a)
			}
		}
	}
	sess := rawSession(t)
	var names []string
	res, err := sess.Run(ctx, "SHOW INDEXES YIELD name, state WHERE name IN $names RETURN name, state",
		map[string]any{"names": []any{"identifier_key", "profile_id", "event_id", "event_timestamp", "event_name_timestamp", "identifier_type",
			"api_key_id", "api_key_hash", "api_key_created_by", "audit_entry_id", "audit_entry_at", "audit_entry_key",
			"suppressed_hash", "suppression_key_id", "retired_profile_id_hash", "consent_id", "consent_identifier", "consent_purpose",
			"erasure_receipt_id", "erasure_receipt_at",
			"audience_id", "audience_member", "audience_member_profile", "audience_change", "audience_change_profile", "audience_deletion",
			"computed_trait_name", "computed_value", "computed_value_name", "computed_value_expires", "profile_facts",
			"destination_id", "delivery_number", "delivery_status"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := res.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Values[1] != "ONLINE" {
			t.Fatalf("index %v is %v", r.Values[0], r.Values[1])
		}
		names = append(names, r.Values[0].(string))
	}
	if len(names) != 34 {
		t.Fatalf("indexes online: %v, want all thirty-four", names)
	}
	// The unique constraints hold.
	_, err = sess.Run(ctx, "CREATE (:Identifier {key: 'k'}), (:Identifier {key: 'k'})", nil)
	if err == nil {
		t.Fatal("two identifiers with one key were accepted")
	}
}

func TestDeleteAllKeepsSchema(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	e := graph.NewEngine(s, nil)
	if _, err := e.ApplyBatch(ctx, []graph.Event{event("m1", 1, ref(graph.TypeUserID, "A"), ref(graph.TypeEmail, "a@example.com"))}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	sess := rawSession(t)
	// Only the marks of the data migrations stay: an empty graph needs
	// none.
	if n := single(t, sess, "MATCH (n) WHERE NOT n:Migration RETURN count(n)", nil); n != int64(0) {
		t.Fatalf("%v nodes left", n)
	}
	if n := single(t, sess, "MATCH (n:Migration {id: 'slots-1'}) RETURN count(n)", nil); n != int64(1) {
		t.Fatalf("%v slots-1 marks, want 1", n)
	}
	if n := single(t, sess, "SHOW CONSTRAINTS YIELD name WHERE name IN ['identifier_key', 'profile_id', 'event_id'] RETURN count(*)", nil); n != int64(3) {
		t.Fatalf("%v of 3 constraints left", n)
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: "bolt://127.0.0.1:1"})
	if err == nil {
		_ = s.Close(ctx)
		t.Fatal("Open succeeded against a closed port")
	}
	if graph.ErrorCode(err) != graph.EUNAVAILABLE || !strings.Contains(err.Error(), "bolt://127.0.0.1:1") {
		t.Fatalf("err = %v (code %s), want unavailable naming the URI", err, graph.ErrorCode(err))
	}
}

func TestPingInfoClose(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != "neo4j" || !strings.HasPrefix(info.Version, "5.") {
		t.Fatalf("info = %+v", info)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		_, err := tx.CountProfiles(ctx)
		return err
	})
	if err == nil {
		t.Fatal("a closed store served a read")
	}
}

// TestGraphModel checks what analysts see in Neo4j after ingestion, a merge,
// a refusal and a split.
func TestGraphModel(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	e := graph.NewEngine(s, nil)
	u1, u2 := ref(graph.TypeUserID, "U1"), ref(graph.TypeUserID, "U2")
	mail, a1, b := ref(graph.TypeEmail, "ann@example.com"), ref(graph.TypeAnonymousID, "A1"), ref(graph.TypeAnonymousID, "B")
	withTraits := event("e1", 1, u1, mail, a1)
	withTraits.Traits = map[string]any{"plan": "pro"}
	withTraits.Properties = map[string]any{"path": "/"}
	for _, batch := range [][]graph.Event{
		{withTraits, event("e2", 2, b)},
		{event("e3", 3, b, mail)}, // merges B's profile into U1's
		{event("e4", 4, u2, a1)},  // refused: two user ids
	} {
		if _, err := e.ApplyBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	sess := rawSession(t)
	checks := []struct {
		what  string
		query string
		want  any
	}{
		{"identifiers", "MATCH (i:Identifier) RETURN count(i)", int64(5)},
		{"identifiers not IN exactly one profile",
			"MATCH (i:Identifier) WHERE COUNT { (i)-[:IN]->(:Profile) } <> 1 RETURN count(i)", int64(0)},
		{"identifiers in merged profiles", "MATCH (:Identifier)-[:IN]->(p:Merged) RETURN count(p)", int64(0)},
		{"LINKED edges", "MATCH (:Identifier)-[l:LINKED]->(:Identifier) RETURN count(l)", int64(3)},
		{"LINKED edges not from the smaller key", "MATCH (a)-[:LINKED]->(b) WHERE NOT a.key < b.key RETURN count(*)", int64(0)},
		{"BY edges", "MATCH (:Event)-[r:BY]->(:Identifier) RETURN count(r)", int64(8)},
		{"merged profiles", "MATCH (p:Profile:Merged)-[:MERGED_INTO]->(q:Profile) WHERE p.mergedInto = q.id AND NOT q:Merged RETURN count(p)", int64(1)},
		{"live profiles", "MATCH (p:Profile) WHERE NOT p:Merged AND p.mergedInto IS NULL RETURN count(p)", int64(2)},
		{"refusal U2 -> A1", "MATCH (:Identifier {key: 'user_id:U2'})-[r:REJECTED_LINK]->(:Identifier {key: 'anonymous_id:A1'}) RETURN r.evidence + ' ' + r.source", "e4 rules"},
		{"claims left", "MATCH (e:Event) WHERE e.claim IS NOT NULL RETURN count(e)", int64(0)},
		{"identifier times", "MATCH (i:Identifier {key: 'email:ann@example.com'}) RETURN valueType(i.firstSeen) + ' ' + valueType(i.lastSeen)", "ZONED DATETIME NOT NULL ZONED DATETIME NOT NULL"},
		{"times as datetime('...Z') writes them", "MATCH (e:Event {id: 'e1'}) RETURN e.timestamp = datetime('2026-01-01T12:01:00Z')", true},
		{"identifier seen", "MATCH (i:Identifier {key: 'email:ann@example.com'}) RETURN i.lastSeen > i.firstSeen AND i.sources = ['test']", true},
		{"event properties", "MATCH (e:Event {id: 'e1'}) RETURN valueType(e.timestamp) + ' ' + e.properties + ' ' + e.traits", `ZONED DATETIME NOT NULL {"path":"/"} {"plan":"pro"}`},
		{"identifier traits", "MATCH (i:Identifier {key: 'user_id:U1'}) RETURN valueType(i.traits)", "STRING NOT NULL"},
		{"profile counts", "MATCH (p:Profile)<-[:IN]-(:Identifier {key: 'user_id:U1'}) RETURN p.counts + ' ' + p.size", `{"anonymous_id":2,"email":1,"user_id":1} 4`},
	}
	for _, c := range checks {
		if got := single(t, sess, c.query, nil); got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, got, c.want)
		}
	}
	// A split: the new part points at the original.
	before, err := e.ProfileByIdentifier(ctx, u1)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := e.UnlinkIdentifiers(ctx, u1, mail, "test split")
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].ID != before.ID {
		t.Fatalf("split into %+v", parts)
	}
	got := single(t, sess, "MATCH (n:Profile)-[s:SPLIT_FROM]->(o:Profile) RETURN n.id + ' ' + o.id + ' ' + s.reason", nil)
	if want := parts[1].ID + " " + before.ID + " unlinked user_id:U1 and email:ann@example.com: test split"; got != want {
		t.Fatalf("SPLIT_FROM: %v, want %v", got, want)
	}
	var n int
	if err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) (err error) {
		n, err = tx.CountProfiles(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := single(t, sess, "MATCH (p:Profile) WHERE NOT p:Merged RETURN count(p)", nil); int64(n) != want {
		t.Fatalf("CountProfiles = %d, want %v", n, want)
	}
}

// TestDeadlockIsRetried makes two writers lock an identifier and a profile
// in opposite orders. Neo4j aborts one with a transient deadlock error; the
// store's Update must rerun it and both must succeed.
func TestDeadlockIsRetried(t *testing.T) {
	s := neo4jStore(t)
	e := graph.NewEngine(s, nil)
	ctx := context.Background()
	res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", 1, ref(graph.TypeUserID, "A")), event("m2", 1, ref(graph.TypeUserID, "B"))})
	if err != nil {
		t.Fatal(err)
	}
	pid := res.Results[1].ProfileID
	seen := []graph.IdentifierSeen{{Key: "user_id:A", Type: graph.TypeUserID, Value: "A"}}
	lockIdent := func(ctx context.Context, tx graph.Tx) error {
		_, err := tx.LockIdentifiers(ctx, seen, false)
		return err
	}
	lockProf := func(ctx context.Context, tx graph.Tx) error {
		_, err := tx.LockProfiles(ctx, []string{pid})
		return err
	}
	var attempts atomic.Int32
	var firstLocks sync.WaitGroup
	firstLocks.Add(2)
	run := func(first, second func(context.Context, graph.Tx) error) error {
		var once sync.Once
		return s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			attempts.Add(1)
			if err := first(ctx, tx); err != nil {
				return err
			}
			// Only the first attempt waits for the other writer; a rerun
			// goes straight through.
			once.Do(func() { firstLocks.Done(); firstLocks.Wait() })
			return second(ctx, tx)
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- run(lockIdent, lockProf) }()
	go func() { errs <- run(lockProf, lockIdent) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a writer failed: %v", err)
		}
	}
	if n := attempts.Load(); n < 3 {
		t.Fatalf("%d attempts: no deadlock happened, or it was not retried", n)
	}
}
