package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// standingEngine is an engine over s whose clock stands at tHook.
func standingEngine(s graph.Store) *graph.Engine {
	e := graph.NewEngine(s, nil)
	e.Now = func() time.Time { return tHook }
	return e
}

// TestStandingClockKeepsFirstSeenOrder: with a clock that does not move
// between batches, a profile started in a later batch is still dated after
// every profile started before, so "the older survives a tie" keeps meaning
// "seen first". e1 and e2 are seen in one batch, a1 in the next, then an
// event links e2 and a1: e2 was seen before a1, so e2's profile survives,
// as it would with any moving clock.
func TestStandingClockKeepsFirstSeenOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := standingEngine(s)
		email := func(v string) graph.IdentifierRef { return graph.IdentifierRef{Type: graph.TypeEmail, Value: v} }
		anon := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "a1"}
		ev := func(id string, refs ...graph.IdentifierRef) graph.Event {
			return graph.Event{ID: id, Type: "track", Name: "Viewed", Source: "web", Timestamp: tHook, Identifiers: refs}
		}
		for _, batch := range [][]graph.Event{
			{ev("m1", email("e1@x.io")), ev("m2", email("e2@x.io"))},
			{ev("m3", anon)},
			{ev("m4", email("e2@x.io"), anon)},
		} {
			if _, err := e.ApplyBatch(ctx, batch); err != nil {
				t.Fatalf("ApplyBatch: %v", err)
			}
		}
		want := graph.ProfileIDFor(graph.TypeEmail+":e2@x.io", 0)
		for _, ref := range []graph.IdentifierRef{email("e2@x.io"), anon} {
			p, err := e.ProfileByIdentifier(ctx, ref)
			if err != nil {
				t.Fatalf("ProfileByIdentifier(%v): %v", ref, err)
			}
			if p.ID != want {
				t.Errorf("%v is in %s, want e2's profile %s (e2 was seen before a1)", ref, p.ID, want)
			}
		}
		// e1 and e2, seen in one batch, are dated one microsecond apart.
		e1, err := e.ProfileByIdentifier(ctx, email("e1@x.io"))
		if err != nil {
			t.Fatalf("ProfileByIdentifier(e1): %v", err)
		}
		e2, err := e.ProfileByIdentifier(ctx, email("e2@x.io"))
		if err != nil {
			t.Fatalf("ProfileByIdentifier(e2): %v", err)
		}
		if !e1.CreatedAt.Equal(tHook) || !e2.CreatedAt.Equal(tHook.Add(time.Microsecond)) {
			t.Errorf("e1 and e2's profiles created at %v and %v, want %v and a microsecond later", e1.CreatedAt, e2.CreatedAt, tHook)
		}
	})
}

// TestClockBehindAnotherProcess: a process whose clock runs an hour behind
// the one that created e1's profile still dates the profiles of a batch
// touching e1 after it. Its batch carries a1 alone, then e1 with a1: e1
// was seen first, so e1's profile survives the tie.
func TestClockBehindAnotherProcess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		ahead, behind := graph.NewEngine(s, nil), graph.NewEngine(s, nil)
		ahead.Now = func() time.Time { return tHook.Add(time.Hour) }
		behind.Now = func() time.Time { return tHook }
		e1 := graph.IdentifierRef{Type: graph.TypeEmail, Value: "e1@x.io"}
		a1 := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "a1"}
		ev := func(id string, refs ...graph.IdentifierRef) graph.Event {
			return graph.Event{ID: id, Type: "track", Name: "Viewed", Source: "web", Timestamp: tHook, Identifiers: refs}
		}
		if _, err := ahead.ApplyBatch(ctx, []graph.Event{ev("m1", e1)}); err != nil {
			t.Fatalf("ApplyBatch, clock ahead: %v", err)
		}
		if _, err := behind.ApplyBatch(ctx, []graph.Event{ev("m2", a1), ev("m3", e1, a1)}); err != nil {
			t.Fatalf("ApplyBatch, clock behind: %v", err)
		}
		want := graph.ProfileIDFor(graph.TypeEmail+":e1@x.io", 0)
		for _, ref := range []graph.IdentifierRef{e1, a1} {
			p, err := behind.ProfileByIdentifier(ctx, ref)
			if err != nil {
				t.Fatalf("ProfileByIdentifier(%v): %v", ref, err)
			}
			if p.ID != want {
				t.Errorf("%v is in %s, want e1's profile %s (e1 was seen first)", ref, p.ID, want)
			}
		}
		// The other process's hour ahead held for that batch only: a batch
		// touching nothing of it is dated by this process's own clock.
		if _, err := behind.ApplyBatch(ctx, []graph.Event{ev("m4", graph.IdentifierRef{Type: graph.TypeUserID, Value: "u9"})}); err != nil {
			t.Fatalf("ApplyBatch: %v", err)
		}
		p, err := behind.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "u9"})
		if err != nil {
			t.Fatalf("ProfileByIdentifier(u9): %v", err)
		}
		if !p.CreatedAt.Before(tHook.Add(time.Minute)) {
			t.Errorf("u9's profile created at %v, want this process's time, %v and a few microseconds", p.CreatedAt, tHook)
		}
	})
}

// TestNoProfileUpdatedBeforeCreated: a batch whose events each start a
// profile dates them a microsecond apart, and the write after all of them:
// no profile's updatedAt is before its createdAt.
func TestNoProfileUpdatedBeforeCreated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := standingEngine(s)
		var batch []graph.Event
		for _, u := range []string{"u1", "u2", "u3"} {
			batch = append(batch, userEvent("m-"+u, u))
		}
		if _, err := e.ApplyBatch(ctx, batch); err != nil {
			t.Fatalf("ApplyBatch: %v", err)
		}
		for i, u := range []string{"u1", "u2", "u3"} {
			p, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: u})
			if err != nil {
				t.Fatalf("ProfileByIdentifier(%s): %v", u, err)
			}
			if want := tHook.Add(time.Duration(i) * time.Microsecond); !p.CreatedAt.Equal(want) || p.UpdatedAt.Before(p.CreatedAt) {
				t.Errorf("%s's profile created at %v, updated at %v; want created at %v and updated no earlier", u, p.CreatedAt, p.UpdatedAt, want)
			}
		}
	})
}

// TestMergeDatedAfterItsProfiles: with a clock that does not move, a
// manual merge of profiles a batch dated a microsecond apart is dated
// after both: the survivor is not updated before it was created, nor
// before its last update.
func TestMergeDatedAfterItsProfiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := standingEngine(s)
		var batch []graph.Event
		for _, v := range []string{"e1@x.io", "e2@x.io", "e3@x.io"} {
			batch = append(batch, graph.Event{ID: "m-" + v, Type: "track", Name: "Viewed", Source: "web", Timestamp: tHook,
				Identifiers: []graph.IdentifierRef{{Type: graph.TypeEmail, Value: v}}})
		}
		if _, err := e.ApplyBatch(ctx, batch); err != nil {
			t.Fatalf("ApplyBatch: %v", err)
		}
		// e2's profile (created a microsecond after e1's) is the older of
		// the two merged, so it survives.
		e2, e3 := graph.ProfileIDFor("email:e2@x.io", 0), graph.ProfileIDFor("email:e3@x.io", 0)
		p, err := e.MergeProfiles(ctx, []string{e2, e3}, "same person")
		if err != nil {
			t.Fatalf("MergeProfiles: %v", err)
		}
		if p.ID != e2 || !p.CreatedAt.Equal(tHook.Add(time.Microsecond)) {
			t.Fatalf("survivor %s created at %v, want e2's profile, created at %v", p.ID, p.CreatedAt, tHook.Add(time.Microsecond))
		}
		if last := tHook.Add(2 * time.Microsecond); !p.UpdatedAt.After(last) {
			t.Errorf("the merge is dated %v, want after the batch's write at %v", p.UpdatedAt, last)
		}
	})
}
