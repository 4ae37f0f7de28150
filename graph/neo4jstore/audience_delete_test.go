package neo4jstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// delAud is audience n of these tests.
func delAud(n int) audience.Audience {
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	return audience.Audience{ID: fmt.Sprintf("%s%032x", audience.AudienceIDPrefix, 0xde1e7e00+n), Name: fmt.Sprintf("deleted %d", n),
		Filter:    audience.Filter{Trait: &audience.TraitCondition{Name: "plan", Op: audience.OpEQ, Value: "pro"}},
		CreatedAt: at, UpdatedAt: at}
}

// fillAudience stores a with members members (profiles p_<tag>_00...) and
// a log of members+2*exits entries: all enter, the first exits leave, and
// come back.
func fillAudience(t *testing.T, s audience.Store, a audience.Audience, tag string, members, exits int) {
	t.Helper()
	ctx := context.Background()
	storetest.Must(t, s.PutAudience(ctx, a))
	var all []string
	for i := range members {
		all = append(all, fmt.Sprintf("p_%s_%02d", tag, i))
	}
	at := a.CreatedAt
	storetest.Must(t, s.ApplyMembership(ctx, a.ID, all, nil, at.Add(time.Minute)))
	storetest.Must(t, s.ApplyMembership(ctx, a.ID, nil, all[:exits], at.Add(2*time.Minute)))
	storetest.Must(t, s.ApplyMembership(ctx, a.ID, all[:exits], nil, at.Add(3*time.Minute)))
}

// leftOf counts, as an analyst would, the members, log entries and
// tombstones of audience id.
func leftOf(t *testing.T, sess neo4j.SessionWithContext, id string) (members, changes, tombstones int64) {
	t.Helper()
	p := map[string]any{"id": id}
	members, _ = single(t, sess, `MATCH (m:AudienceMember {audienceId: $id}) RETURN count(m)`, p).(int64)
	changes, _ = single(t, sess, `MATCH (c:AudienceChange {audienceId: $id}) RETURN count(c)`, p).(int64)
	tombstones, _ = single(t, sess, `MATCH (x:AudienceDeletion {audienceId: $id}) RETURN count(x)`, p).(int64)
	return members, changes, tombstones
}

func listed(t *testing.T, s audience.Store, id string) bool {
	t.Helper()
	got, err := s.Audiences(context.Background(), []string{id})
	storetest.Must(t, err)
	_, byID := got[id]
	page, err := s.AudiencePage(context.Background(), audience.Page{Limit: audience.MaxPage})
	storetest.Must(t, err)
	inPage := false
	for _, a := range page {
		inPage = inPage || a.ID == id
	}
	if byID != inPage {
		t.Fatalf("audience %s: Audiences says %v, AudiencePage %v", id, byID, inPage)
	}
	return byID
}

// openDeleting opens the test store with DeleteAudience cut at chunk
// nodes per transaction, once Open's own pass over unfinished deletions
// is done.
func openDeleting(t *testing.T, chunk int) *neo4jstore.Store {
	t.Helper()
	t.Cleanup(neo4jstore.SetDeleteChunk(chunk)) // runs after the store is closed
	s := storetest.Neo4j(t).(*neo4jstore.Store)
	<-neo4jstore.AudienceDeletionsAtOpen(s)
	return s
}

// deleteStopped deletes the audience id and stops the deletion as a
// process would that ended after the first chunk's transaction: it
// checks that DeleteAudience reports the audience deleted, with the
// stop, and returns that error.
func deleteStopped(t *testing.T, s *neo4jstore.Store, id string) error {
	t.Helper()
	errStop := errors.New("stopped between chunks")
	var chunks int
	restore := neo4jstore.SetBeforeDeleteChunk(func(string) error {
		if chunks++; chunks > 1 {
			return errStop
		}
		return nil
	})
	ok, err := s.DeleteAudience(context.Background(), id)
	restore()
	if !ok || !errors.Is(err, errStop) {
		t.Fatalf("stopped DeleteAudience = %v, %v; want true and the stop", ok, err)
	}
	return err
}

// TestDeleteAudienceInChunks: DeleteAudience removes an audience with its
// members and its longer log in transactions of at most the chunk's
// number of nodes, leaves no tombstone, touches no other audience, and
// appends the caller's audit entry once.
func TestDeleteAudienceInChunks(t *testing.T) {
	const chunk = 3
	s := openDeleting(t, chunk)
	sess := rawSession(t)
	ctx := context.Background()
	a, b := delAud(1), delAud(2)
	fillAudience(t, s, a, "a", 10, 5) // 10 members, 20 log entries
	fillAudience(t, s, b, "b", 4, 2)  // 4 members, 8 log entries
	if m, c, x := leftOf(t, sess, a.ID); m != 10 || c != 20 || x != 0 {
		t.Fatalf("before: %d members, %d log entries, %d tombstones; want 10, 20, 0", m, c, x)
	}

	// Before each chunk's transaction: what the previous one deleted.
	var txs int
	prev := int64(-1)
	t.Cleanup(neo4jstore.SetBeforeDeleteChunk(func(id string) error {
		if id != a.ID {
			return fmt.Errorf("a chunk of audience %s, not of %s", id, a.ID)
		}
		m, c, _ := leftOf(t, sess, id)
		if prev >= 0 && prev-(m+c) > chunk {
			return fmt.Errorf("one transaction deleted %d nodes, more than %d", prev-(m+c), chunk)
		}
		prev = m + c
		txs++
		return nil
	}))

	entry := access.AuditEntry{ID: access.NewAuditID(), At: time.Now(), Action: "deleteAudience", Outcome: access.OutcomeOK}
	ok, err := s.DeleteAudience(access.WithAuditInWrite(ctx, entry), a.ID)
	if err != nil || !ok {
		t.Fatalf("DeleteAudience = %v, %v; want true, nil", ok, err)
	}
	if m, c, x := leftOf(t, sess, a.ID); m != 0 || c != 0 || x != 0 {
		t.Fatalf("after: %d members, %d log entries, %d tombstones of the deleted audience left", m, c, x)
	}
	if want := (10 + 20 + chunk - 1) / chunk; txs < want {
		t.Fatalf("%d transactions deleted 30 nodes, %d at a time; want at least %d", txs, chunk, want)
	}
	if listed(t, s, a.ID) || !listed(t, s, b.ID) {
		t.Fatalf("after: deleted audience listed %v, other audience listed %v; want false, true", listed(t, s, a.ID), listed(t, s, b.ID))
	}
	if m, c, x := leftOf(t, sess, b.ID); m != 4 || c != 8 || x != 0 {
		t.Fatalf("the other audience has %d members, %d log entries, %d tombstones; want 4, 8, 0", m, c, x)
	}
	es, err := s.Audit(ctx, access.AuditQuery{Action: "deleteAudience", Limit: access.MaxPage})
	storetest.Must(t, err)
	if len(es) != 1 || es[0].ID != entry.ID {
		t.Fatalf("audit entries %+v; want the one entry of the call", es)
	}

	ok, err = s.DeleteAudience(ctx, a.ID)
	if err != nil || ok {
		t.Fatalf("second DeleteAudience = %v, %v; want false, nil", ok, err)
	}
	if _, err := s.DeleteAudience(ctx, "seg_nope"); graph.ErrorCode(err) != graph.EINVALID {
		t.Fatalf("DeleteAudience of a bad id: %v; want INVALID", err)
	}
}

// TestDeleteAudienceFinishesAfterAStop: a deletion stopped after the
// audience's own transaction (an error between chunks, a context
// cancelled) leaves the audience gone for readers and writers, with
// members and log left under its tombstone; reopening the store, or the
// next DeleteAudience of any id, finishes it, also when both run at once.
func TestDeleteAudienceFinishesAfterAStop(t *testing.T) {
	const chunk = 3
	s := openDeleting(t, chunk)
	sess := rawSession(t)
	ctx := context.Background()
	a, b, c := delAud(1), delAud(2), delAud(3)
	fillAudience(t, s, a, "a", 10, 5) // 30 nodes
	fillAudience(t, s, b, "b", 4, 2)
	fillAudience(t, s, c, "c", 10, 5)

	// The stop: the first chunk's transaction runs, then the deletion
	// fails as a process would that ended there.
	if msg := deleteStopped(t, s, a.ID).Error(); !strings.Contains(msg, a.ID) || strings.Contains(msg, "p_a_") {
		t.Fatalf("the error %q should name the audience and no profile", msg)
	}
	checkStopped := func(x audience.Audience, tag string, wantLeft int64) {
		t.Helper()
		if listed(t, s, x.ID) {
			t.Fatalf("audience %s is listed while its deletion is unfinished", x.ID)
		}
		// A data export lists none of its log entries left.
		var pids []string
		for i := range 10 {
			pids = append(pids, fmt.Sprintf("p_%s_%02d", tag, i))
		}
		if got, err := s.ChangesOf(ctx, pids, audience.ProfileChangePage{Limit: audience.MaxPage}); err != nil || len(got) != 0 {
			t.Fatalf("ChangesOf the members of an audience being deleted = %v, %v; want none", got, err)
		}
		if m, c, n := leftOf(t, sess, x.ID); m+c != wantLeft || n != 1 {
			t.Fatalf("stopped: %d members and %d log entries left, %d tombstones; want %d nodes and 1", m, c, n, wantLeft)
		}
		if err := s.ApplyMembership(ctx, x.ID, []string{"p_new"}, nil, x.CreatedAt.Add(time.Hour)); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Fatalf("ApplyMembership to an audience being deleted: %v; want NOT_FOUND", err)
		}
		if err := s.PutAudience(ctx, x); graph.ErrorCode(err) != graph.ECONFLICT {
			t.Fatalf("PutAudience of an audience being deleted: %v; want CONFLICT", err)
		}
	}
	checkStopped(a, "a", 30-chunk)

	// Reopened (as a restarted process) while this process deletes
	// another audience: both finish the deletion, taking turns.
	var wg sync.WaitGroup
	var reopenErr, deleteErr error
	var deleted bool
	var s2 *neo4jstore.Store
	wg.Add(2)
	go func() {
		defer wg.Done()
		s2, reopenErr = neo4jstore.Open(ctx, storetest.Neo4jConfig())
		if reopenErr == nil {
			<-neo4jstore.AudienceDeletionsAtOpen(s2)
		}
	}()
	go func() {
		defer wg.Done()
		deleted, deleteErr = s.DeleteAudience(ctx, delAud(9).ID)
	}()
	wg.Wait()
	if reopenErr != nil {
		t.Fatal(reopenErr)
	}
	defer s2.Close(ctx)
	if deleteErr != nil || deleted {
		t.Fatalf("DeleteAudience of an unknown audience = %v, %v; want false, nil", deleted, deleteErr)
	}
	if m, c, n := leftOf(t, sess, a.ID); m+c+n != 0 {
		t.Fatalf("after reopening: %d members, %d log entries, %d tombstones left", m, c, n)
	}

	// Stopped by its context, cancelled between chunks; finished by the
	// next DeleteAudience, of an id never stored.
	cctx, cancel := context.WithCancel(ctx)
	chunks := 0
	restore := neo4jstore.SetBeforeDeleteChunk(func(string) error {
		if chunks++; chunks > 2 {
			cancel()
		}
		return nil
	})
	ok, err := s.DeleteAudience(cctx, c.ID)
	restore()
	cancel()
	if !ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled DeleteAudience = %v, %v; want true and the cancellation", ok, err)
	}
	checkStopped(c, "c", 30-2*chunk)
	if ok, err := s.DeleteAudience(ctx, delAud(8).ID); err != nil || ok {
		t.Fatalf("DeleteAudience of an unknown audience = %v, %v; want false, nil", ok, err)
	}
	if m, c, n := leftOf(t, sess, c.ID); m+c+n != 0 {
		t.Fatalf("after the next DeleteAudience: %d members, %d log entries, %d tombstones left", m, c, n)
	}
	// Once finished, the id may be stored again.
	storetest.Must(t, s.PutAudience(ctx, c))

	if !listed(t, s, b.ID) {
		t.Fatal("the other audience is gone")
	}
	if m, c, n := leftOf(t, sess, b.ID); m != 4 || c != 8 || n != 0 {
		t.Fatalf("the other audience has %d members, %d log entries, %d tombstones; want 4, 8, 0", m, c, n)
	}
}

// TestLeftoversOfAStoppedDeletion: while a stopped deletion has left
// members of the deleted audience, MembershipsOf does not return them,
// and an erasure deletes the erased profile's leftover member too,
// whatever the deletion does later.
func TestLeftoversOfAStoppedDeletion(t *testing.T) {
	const chunk = 3
	s := openDeleting(t, chunk)
	sess := rawSession(t)
	ctx := context.Background()
	a, b := delAud(1), delAud(2)
	fillAudience(t, s, a, "a", 10, 5) // members p_a_00 to p_a_09
	fillAudience(t, s, b, "a", 4, 2)  // members p_a_00 to p_a_03 as well

	deleteStopped(t, s, a.ID)
	// The profiles whose member node of a is left, as an analyst finds them.
	res, err := sess.Run(ctx, `MATCH (m:AudienceMember {audienceId: $id}) RETURN m.profileId AS p ORDER BY p`, map[string]any{"id": a.ID})
	storetest.Must(t, err)
	recs, err := res.Collect(ctx)
	storetest.Must(t, err)
	var left []string
	for _, r := range recs {
		left = append(left, r.Values[0].(string))
	}
	if len(left) != 10-chunk {
		t.Fatalf("%d members of the deleted audience left (%v); want %d", len(left), left, 10-chunk)
	}

	// A profile left in a and in b, and one left in a alone.
	inBoth, inA := "", left[len(left)-1]
	for _, p := range left {
		if p <= "p_a_03" {
			inBoth = p
			break
		}
	}
	if inBoth == "" || inA <= "p_a_03" {
		t.Fatalf("left %v: want one of p_a_00 to p_a_03 and one after", left)
	}
	got, err := s.MembershipsOf(ctx, []string{inBoth, inA})
	storetest.Must(t, err)
	if ms := got[inBoth]; len(ms) != 1 || ms[0].AudienceID != b.ID {
		t.Fatalf("memberships of %s: %+v; want audience %s alone", inBoth, ms, b.ID)
	}
	if ms := got[inA]; len(ms) != 0 {
		t.Fatalf("memberships of %s: %+v; want none (its audience is deleted)", inA, ms)
	}

	// Both erased: every member node naming them goes, and b loses one.
	var forgot audience.Forgotten
	storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		var err error
		forgot, err = tx.(audience.TxForget).ForgetProfiles(ctx, []string{inBoth, inA}, nil)
		return err
	}))
	if forgot.Memberships != 1 {
		t.Fatalf("ForgetProfiles counted %d memberships; want 1 (of b)", forgot.Memberships)
	}
	for _, p := range []string{inBoth, inA} {
		if n := single(t, sess, `MATCH (m:AudienceMember {profileId: $p}) RETURN count(m)`, map[string]any{"p": p}); n != int64(0) {
			t.Fatalf("%v member nodes of erased %s left", n, p)
		}
	}
	if m, _, x := leftOf(t, sess, a.ID); m != int64(len(left)-2) || x != 1 {
		t.Fatalf("deleted audience: %d members and %d tombstones left; want %d and 1", m, x, len(left)-2)
	}
	auds, err := s.Audiences(ctx, []string{b.ID})
	storetest.Must(t, err)
	if size := auds[b.ID].Size; size != 3 {
		t.Fatalf("audience b has size %d after one of its 4 members was erased; want 3", size)
	}

	// The deletion still finishes.
	if _, err := s.DeleteAudience(ctx, delAud(9).ID); err != nil {
		t.Fatal(err)
	}
	if m, c, x := leftOf(t, sess, a.ID); m+c+x != 0 {
		t.Fatalf("after finishing: %d members, %d log entries, %d tombstones left", m, c, x)
	}
}
