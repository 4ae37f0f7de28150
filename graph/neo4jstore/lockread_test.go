package neo4jstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// holdLock runs q in a transaction of its own and keeps it open: the
// locks q took are held until the returned commit is called.
func holdLock(t *testing.T, sess neo4j.SessionWithContext, q string, params map[string]any) (commit func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Close(ctx) })
	res, err := tx.Run(ctx, q, params)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return func() {
		t.Helper()
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// Keep compares a profile's updatedAt as it stands once Keep holds its
// lock: a write that held the lock, and moved updatedAt, while Keep
// waited makes the profile stale, and its facts are left out.
func TestKeepReadsTheProfileAfterItsLock(t *testing.T) {
	s := storetest.Neo4j(t)
	st := s.(audience.Store)
	ctx := context.Background()
	eng := graph.NewEngine(s, nil)
	at := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	if _, err := eng.ApplyBatch(ctx, []graph.Event{{ID: "l1", Type: "track", Name: "Viewed", Channel: "web", Source: "test",
		Timestamp: at, ReceivedAt: at, Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "l-ann"}}}}); err != nil {
		t.Fatal(err)
	}
	p, err := eng.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "l-ann"})
	if err != nil {
		t.Fatal(err)
	}
	sess := rawSession(t)
	commit := holdLock(t, sess, `MATCH (p:Profile {id: $id}) SET p.updatedAt = $t`,
		map[string]any{"id": p.ID, "t": graph.Clean(p.UpdatedAt).Add(time.Second)})

	var stale []string
	done := make(chan error, 1)
	go func() {
		var err error
		stale, err = st.Keep(ctx, audience.KeepWrite{At: at, Read: map[string]time.Time{p.ID: graph.Clean(p.UpdatedAt)},
			Facts: []audience.Facts{{ProfileID: p.ID, Types: []string{"user_id"}}}})
		done <- err
	}()
	waitBlocked(t, done)
	commit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stale, []string{p.ID}) {
		t.Fatalf("Keep returned %v as stale, want [%s]: the profile was written while Keep waited for its lock", stale, p.ID)
	}
	if fs, err := st.Facts(ctx, []string{p.ID}); err != nil || len(fs) != 0 {
		t.Fatalf("facts after a stale Keep: %v, %v; want none", fs, err)
	}
}

// An erasure locks each audience its profiles are in before it deletes
// their memberships, and leaves the audience's seq as it stands then: a
// write that raised seq while the erasure waited keeps its value.
func TestForgetProfilesKeepsTheSeqItWaitedFor(t *testing.T) {
	s := storetest.Neo4j(t)
	st := s.(audience.Store)
	ctx := context.Background()
	const aid = "seg_000000000000000000000000000000f1"
	at := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	if err := st.PutAudience(ctx, audience.Audience{ID: aid, Name: "saved", Static: true, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := st.ApplyMembership(ctx, aid, []string{"p_member"}, nil, at); err != nil {
		t.Fatal(err)
	}
	sess := rawSession(t)
	if seq := single(t, sess, `MATCH (a:Audience {id: $id}) RETURN a.seq`, map[string]any{"id": aid}); seq != int64(1) {
		t.Fatalf("seq after one entry = %v, want 1", seq)
	}
	commit := holdLock(t, sess, `MATCH (a:Audience {id: $id}) SET a.seq = a.seq + 2`, map[string]any{"id": aid})

	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			_, err := audience.ForgetInTx(ctx, tx, []string{"p_member"}, nil)
			return err
		})
	}()
	waitBlocked(t, done)
	commit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sess2 := rawSession(t)
	if seq := single(t, sess2, `MATCH (a:Audience {id: $id}) RETURN a.seq`, map[string]any{"id": aid}); seq != int64(3) {
		t.Fatalf("seq after the erasure = %v, want 3 (1, raised by 2 while the erasure waited)", seq)
	}
	if n := single(t, sess2, `MATCH (m:AudienceMember {audienceId: $id}) RETURN count(m)`, map[string]any{"id": aid}); n != int64(0) {
		t.Fatalf("%v members left after the erasure, want 0", n)
	}
}
