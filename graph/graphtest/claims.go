package graphtest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// Digests as the collector writes them (hex SHA-256), and one that is not.
const (
	digestA = "0000000000000000000000000000000000000000000000000000000000000a0a"
	digestB = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
	digestC = "sha1:legacy-form"
)

var errRollback = errors.New("test rolls the claim back")

// testEventClaims checks Tx.ClaimEvents and the digest and message id an
// event is stored with: a claim reports, for each id already stored, the
// digest stored with it ("" for an event stored without one), and nothing
// for a new id; the fields read back as written.
func testEventClaims(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	k := key(user("C1"))
	events := []graph.Event{
		{ID: "web/m1", MessageID: "m1", Digest: digestA, Type: "track", Source: "web", Timestamp: at(1), ReceivedAt: at(1), Keys: []string{k}},
		{ID: "crm/m1", MessageID: "m1", Digest: digestC, Type: "track", Source: "crm", Timestamp: at(2), ReceivedAt: at(2), Keys: []string{k}},
		{ID: "old-id", Type: "track", Source: "web", Timestamp: at(3), ReceivedAt: at(3), Keys: []string{k}}, // stored before digests
		{ID: "web/m4", MessageID: "other", Digest: digestB, Type: "track", Source: "web", Timestamp: at(4), ReceivedAt: at(4), Keys: []string{k}},
	}
	claims := make([]graph.EventClaim, len(events))
	for i, e := range events {
		claims[i] = graph.EventClaim{ID: e.ID, Digest: e.Digest}
	}
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		stored, err := tx.ClaimEvents(ctx, claims)
		if err != nil {
			return err
		}
		if len(stored) != 0 {
			return errors.New("a claim on an empty store reports stored events: " + strings.Join(slices.Sorted(maps.Keys(stored)), ", "))
		}
		if _, err := tx.LockIdentifiers(ctx, []graph.IdentifierSeen{{Key: k, Type: graph.TypeUserID, Value: "C1", First: at(1), Last: at(4)}}, true); err != nil {
			return err
		}
		return tx.Apply(ctx, &graph.Write{At: at(5), Events: events})
	})
	if err != nil {
		t.Fatal(err)
	}

	want := map[string]string{"web/m1": digestA, "crm/m1": digestC, "old-id": "", "web/m4": digestB}
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		stored, err := tx.ClaimEvents(ctx, append(claims, graph.EventClaim{ID: "web/new", Digest: digestA}, graph.EventClaim{ID: "web/m1", Digest: digestB}))
		if err != nil {
			return err
		}
		if !maps.Equal(stored, want) {
			t.Errorf("claim of stored ids and one new = %q, want %q", stored, want)
		}
		return errRollback // web/new is not written
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("update: %v", err)
	}
	// The rolled-back claim left nothing behind.
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		stored, err := tx.ClaimEvents(ctx, []graph.EventClaim{{ID: "web/new"}})
		if _, ok := stored["web/new"]; err == nil && ok {
			t.Error("an id claimed by a rolled-back transaction reads as stored")
		}
		if err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("update: %v", err)
	}

	var got map[string]graph.Event
	if err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) (err error) {
		got, err = tx.Events(ctx, []string{"web/m1", "crm/m1", "old-id", "web/m4"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		g := got[e.ID]
		if g.ID != e.ID || g.MessageID != e.MessageID || g.Digest != e.Digest || g.Source != e.Source {
			t.Errorf("event %s reads back as id %q, message id %q, digest %q, source %q; want %q, %q, %q, %q",
				e.ID, g.ID, g.MessageID, g.Digest, g.Source, e.ID, e.MessageID, e.Digest, e.Source)
		}
	}
}

// testDuplicateConflicts checks the engine's use of the claims: an event
// whose id is stored (or came earlier in the batch) is a duplicate when its
// digest is the same, or unknown on either side, and a conflict that
// changes nothing when it differs.
func testDuplicateConflicts(t *testing.T, open Opener) {
	e := newEngine(t, open)
	with := func(ev graph.Event, digest string) graph.Event {
		ev.Digest = digest
		return ev
	}
	res := apply(t, e, with(ev("web/x", 1, user("A")), digestA), ev("web/legacy", 2, user("A")))
	if res.Stored != 2 {
		t.Fatalf("first batch: %+v", res)
	}
	res = apply(t, e,
		with(ev("web/x", 1, user("A")), digestA),                         // 0 a retry: duplicate
		with(ev("web/x", 3, user("A"), email("x@example.com")), digestB), // 1 other content: conflict
		ev("web/x", 4, user("A")),                                        // 2 no digest: duplicate
		with(ev("web/legacy", 2, user("A")), digestB),                    // 3 stored without digest: duplicate
		with(ev("web/y", 5, user("A")), digestA),                         // 4 new: stored
		with(ev("web/y", 6, user("A"), email("y@example.com")), digestB), // 5 earlier in the batch, other content: conflict
		with(ev("web/y", 5, user("A")), digestA),                         // 6 earlier in the batch, same content: duplicate
	)
	wantStatus := []string{graph.StatusDuplicate, graph.StatusConflict, graph.StatusDuplicate, graph.StatusDuplicate,
		graph.StatusStored, graph.StatusConflict, graph.StatusDuplicate}
	for i, r := range res.Results {
		if r.Status != wantStatus[i] {
			t.Errorf("event %d: %+v, want %s", i, r, wantStatus[i])
		}
		if r.Status == graph.StatusConflict && !strings.HasPrefix(r.Reason, graph.ReasonDuplicateConflict) {
			t.Errorf("event %d: reason %q, want it to start with %s", i, r.Reason, graph.ReasonDuplicateConflict)
		}
	}
	if res.Stored != 1 || res.Duplicates != 4 || res.Conflicts != 2 || res.Rejected != 0 {
		t.Errorf("counts %+v, want 1 stored, 4 duplicates, 2 conflicts", res)
	}
	// A copy of what is stored that comes after a conflicting copy in the
	// batch is judged against what is stored, as it would be in a batch
	// of its own: a duplicate, not a conflict with the conflicting copy.
	res = apply(t, e,
		with(ev("web/x", 3, user("A"), email("x@example.com")), digestB), // 0 other content than stored: conflict
		with(ev("web/x", 1, user("A")), digestA),                         // 1 what is stored: duplicate
		with(ev("web/x", 3, user("A"), email("x@example.com")), digestB), // 2 as 0: conflict
		ev("web/x", 4, user("A")),                                        // 3 no digest: duplicate
	)
	wantStatus = []string{graph.StatusConflict, graph.StatusDuplicate, graph.StatusConflict, graph.StatusDuplicate}
	for i, r := range res.Results {
		if r.Status != wantStatus[i] {
			t.Errorf("after a conflicting copy, event %d: %+v, want %s", i, r, wantStatus[i])
		}
	}
	if res.Stored != 0 || res.Duplicates != 2 || res.Conflicts != 2 || res.Rejected != 0 {
		t.Errorf("after a conflicting copy: counts %+v, want 2 duplicates, 2 conflicts", res)
	}
	// The conflicts changed nothing: their identifiers were not stored and
	// the stored events kept their content.
	for _, v := range []string{"x@example.com", "y@example.com"} {
		if _, err := e.ProfileByIdentifier(context.Background(), email(v)); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("a conflicting event stored %s: %v", v, err)
		}
	}
	evs, err := e.Events(context.Background(), []string{"web/x", "web/y"})
	if err != nil {
		t.Fatal(err)
	}
	if evs["web/x"].Digest != digestA || !evs["web/x"].Timestamp.Equal(at(1)) || evs["web/y"].Digest != digestA || !evs["web/y"].Timestamp.Equal(at(5)) {
		t.Errorf("stored events changed: %+v", evs)
	}
}
