package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/internal/storetest"
)

// --store-timeout bounds the wait for Neo4j to answer, not the schema and
// data migrations that opening the store runs once it answers: a
// migration still under way when the timeout runs out (a large slots-1
// backfill, a fresh database's indexes on a busy machine) goes on, and
// the command succeeds, instead of failing with "Neo4j did not answer
// within --store-timeout" about a Neo4j that answered at once.
//
// The migration is held back by a transaction of the test that holds the
// write lock of an identifier the slots-1 backfill must write; it is
// released once Neo4j reports that the backfill's transaction has waited
// longer than the store timeout.
func TestStoreTimeoutDoesNotCutAMigrationShort(t *testing.T) {
	st := storetest.OpenNeo4j(t) // the test lock, emptied
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	drv, db := st.Driver(), st.Database()
	exec := func(q string) {
		t.Helper()
		qctx, qcancel := context.WithTimeout(context.Background(), time.Minute)
		defer qcancel()
		if _, err := neo4j.ExecuteQuery(qctx, drv, q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(db)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// An identifier stored without slots, and slots-1 not yet applied.
	exec(`CREATE (:Identifier {key: 'user_id:held', type: 'user_id', value: 'held', traits: '{"plan":{"value":"gold","source":"test","at":"2026-03-01T10:00:00Z"}}'})`)
	exec(`MATCH (m:Migration) DETACH DELETE m`)
	t.Cleanup(func() { exec(`MATCH (i:Identifier {key: 'user_id:held'}) DETACH DELETE i`) })

	sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: db})
	defer sess.Close(context.WithoutCancel(ctx))
	holder, err := sess.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := holder.Run(ctx, `MATCH (i:Identifier {key: 'user_id:held'}) SET i.held = true RETURN count(i)`, nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			_ = holder.Rollback(context.WithoutCancel(ctx))
		}
	}
	defer release()

	const timeout = 2 * time.Second
	done := make(chan int, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"migrate", "--store-timeout", timeout.String()}, neo4jServeFlags()...), &stdout, &stderr)
	}()
	// Wait for exactly this: the command ended, or the backfill's write,
	// blocked by the holder, has waited longer than the store timeout
	// (Neo4j's own count of the transaction's time).
	code := -1
	for code < 0 {
		select {
		case code = <-done:
			continue
		case <-ctx.Done():
			t.Fatalf("cdp migrate did not end; stderr: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if released {
			continue
		}
		r, err := neo4j.ExecuteQuery(ctx, drv, `SHOW TRANSACTIONS YIELD currentQuery, status, elapsedTime
WHERE status STARTS WITH 'Blocked' AND currentQuery CONTAINS 'UNWIND $rows'
RETURN elapsedTime.milliseconds AS ms`, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(db))
		if err != nil {
			t.Fatalf("show transactions: %v", err)
		}
		for _, rec := range r.Records {
			if ms, _ := rec.Values[0].(int64); time.Duration(ms)*time.Millisecond > timeout+500*time.Millisecond {
				release()
			}
		}
	}
	if code != 0 {
		t.Fatalf("cdp migrate exit %d, want 0 (the migration outlived --store-timeout but Neo4j answered); stderr:\n%s", code, stderr.String())
	}
	if !released {
		t.Fatalf("cdp migrate ended before its backfill waited out --store-timeout; stdout:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "slots-1") {
		t.Errorf("cdp migrate does not report the data migration:\n%s", stdout.String())
	}
	var ok bool
	r, err := neo4j.ExecuteQuery(ctx, drv, `MATCH (i:Identifier {key: 'user_id:held'}) RETURN i.slotNames IS NOT NULL`, nil,
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(db))
	if err == nil && len(r.Records) == 1 {
		ok, _ = r.Records[0].Values[0].(bool)
	}
	if !ok {
		t.Errorf("the identifier has no slots after cdp migrate: %v", err)
	}
}

// neo4jServeFlags names the test Neo4j with the flags of cdp serve and
// cdp migrate.
func neo4jServeFlags() []string {
	cfg := storetest.Neo4jConfig()
	args := []string{"--neo4j-uri", cfg.URI}
	if cfg.Database != "" {
		args = append(args, "--neo4j-database", cfg.Database)
	}
	if cfg.User != "" {
		args = append(args, "--neo4j-user", cfg.User, "--neo4j-password", cfg.Password)
	}
	return args
}
