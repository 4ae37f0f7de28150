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
		ev := viewedEvent
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
		ev := viewedEvent
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
		// This process's later stamps start past that hour too, so that a
		// profile it creates next is never dated before one it created
		// under the floor (else batching would decide merges; see
		// TestFloorDoesNotDateLaterProfilesEarlier): u9's batch, touching
		// nothing of e1, is dated just past the hour-ahead batch.
		if _, err := behind.ApplyBatch(ctx, []graph.Event{ev("m4", graph.IdentifierRef{Type: graph.TypeUserID, Value: "u9"})}); err != nil {
			t.Fatalf("ApplyBatch: %v", err)
		}
		p, err := behind.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "u9"})
		if err != nil {
			t.Fatalf("ProfileByIdentifier(u9): %v", err)
		}
		if floor := tHook.Add(time.Hour); !p.CreatedAt.After(floor) || !p.CreatedAt.Before(floor.Add(time.Millisecond)) {
			t.Errorf("u9's profile created at %v, want just past the batch dated after %v", p.CreatedAt, floor)
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

// TestFloorDoesNotDateLaterProfilesEarlier: README, "Batching does not
// change ids": a new profile is dated "never earlier than a profile the
// process dated before", and "the same events in the same order give every
// identifier the same profile id however they were batched".
//
// Another process (clock an hour ahead) stored e1. This process (clock
// standing at tHook) then sees e1 again, a1, a2, and finally a1 with a2.
// a1 was seen before a2 by this very process, so a1's profile is the older
// and survives the tie: a2 must end in ID(a1), whichever way the events
// were batched.
func TestFloorDoesNotDateLaterProfilesEarlier(t *testing.T) {
	e1 := graph.IdentifierRef{Type: graph.TypeEmail, Value: "e1@x.io"}
	a1 := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "a1"}
	a2 := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "a2"}
	ev := viewedEvent
	want := graph.ProfileIDFor("anonymous_id:a1", 0)
	for name, batches := range map[string][][]graph.Event{
		"e1 and a1 in one batch": {{ev("m2", e1), ev("m3", a1)}, {ev("m4", a2)}, {ev("m5", a1, a2)}},
		"one event a batch":      {{ev("m2", e1)}, {ev("m3", a1)}, {ev("m4", a2)}, {ev("m5", a1, a2)}},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s graph.Store) {
				ctx := context.Background()
				ahead, behind := graph.NewEngine(s, nil), graph.NewEngine(s, nil)
				ahead.Now = func() time.Time { return tHook.Add(time.Hour) }
				behind.Now = func() time.Time { return tHook }
				if _, err := ahead.ApplyBatch(ctx, []graph.Event{ev("m1", e1)}); err != nil {
					t.Fatal(err)
				}
				for _, b := range batches {
					if _, err := behind.ApplyBatch(ctx, b); err != nil {
						t.Fatal(err)
					}
				}
				p, err := behind.ProfileByIdentifier(ctx, a2)
				if err != nil {
					t.Fatal(err)
				}
				if p.ID != want {
					t.Errorf("a1 and a2 are in %s, want a1's profile %s (this process saw a1 first)", p.ID, want)
				}
			})
		})
	}
}

// TestSeedWithHashSameIDsHoweverBatched: README "Batching does not
// change ids": "The same events in the same order thus give every
// identifier the same profile id however they were batched". An anonymous
// id "x#1" seeded ProfileIDFor("anonymous_id:x#1", 0), which was the same
// id as ProfileIDFor("anonymous_id:x", 1): once x's first id was taken (x
// seeded a profile and was removed from it), the events "x" then "x#1"
// got other ids in one batch than one at a time.
func TestSeedWithHashSameIDsHoweverBatched(t *testing.T) {
	x := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "x"}
	xh := graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "x#1"}
	u := graph.IdentifierRef{Type: graph.TypeUserID, Value: "u"}
	ev := viewedEvent
	run := func(t *testing.T, s graph.Store, batches [][]graph.Event) (string, string) {
		ctx := context.Background()
		e := standingEngine(s)
		if _, err := e.ApplyBatch(ctx, []graph.Event{ev("m0", x, u)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.RemoveIdentifier(ctx, x, "not u's device"); err != nil {
			t.Fatal(err)
		}
		for _, b := range batches {
			if _, err := e.ApplyBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		px, err := e.ProfileByIdentifier(ctx, x)
		if err != nil {
			t.Fatal(err)
		}
		ph, err := e.ProfileByIdentifier(ctx, xh)
		if err != nil {
			t.Fatal(err)
		}
		return px.ID, ph.ID
	}
	for _, name := range []string{"embedded", "neo4j"} {
		t.Run(name, func(t *testing.T) {
			var x1, h1, x2, h2 string
			t.Run("one event a batch", func(t *testing.T) {
				x1, h1 = run(t, storetest.Factories()[name](t), [][]graph.Event{{ev("m1", x)}, {ev("m2", xh)}})
			})
			t.Run("one batch", func(t *testing.T) {
				x2, h2 = run(t, storetest.Factories()[name](t), [][]graph.Event{{ev("m1", x), ev("m2", xh)}})
			})
			if x1 != x2 || h1 != h2 {
				t.Errorf("one event a batch: x in %s, x#1 in %s; one batch: x in %s, x#1 in %s", x1, h1, x2, h2)
			}
		})
	}
}
