package ingest_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestOnCommitNamesChangedProfiles: after a micro-batch commits, OnCommit
// gets the profiles its stored events are in and those it merged away,
// each once; a batch that stores nothing (duplicates, rejections) calls it
// with nothing, so not at all.
func TestOnCommitNamesChangedProfiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		var mu sync.Mutex
		var calls [][]string
		h := newHarness(t, s, ingest.Config{OnCommit: func(ids []string) {
			mu.Lock()
			calls = append(calls, slices.Clone(ids))
			mu.Unlock()
		}})
		got := func() [][]string {
			mu.Lock()
			defer mu.Unlock()
			out := calls
			calls = nil
			return out
		}
		ctx := context.Background()
		if _, err := h.coll.Submit(ctx, []graph.Event{event("o-1", "ann"), event("o-2", "bob"), event("o-3", "ann")}); err != nil {
			t.Fatal(err)
		}
		want := []string{pidOf("ann"), pidOf("bob")}
		slices.Sort(want)
		if c := got(); len(c) != 1 || !slices.Equal(c[0], want) {
			t.Fatalf("OnCommit calls %v, want one with %v", c, want)
		}
		// A device seen alone, then with ann: its profile is merged away.
		dev := graph.Event{ID: "o-4", Type: "track", Name: "e", Source: "test", Identifiers: []graph.IdentifierRef{{Type: graph.TypeAnonymousID, Value: "d1"}}}
		if _, err := h.coll.Submit(ctx, []graph.Event{dev}); err != nil {
			t.Fatal(err)
		}
		got()
		login := event("o-5", "ann")
		login.Identifiers = append(login.Identifiers, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "d1"})
		if _, err := h.coll.Submit(ctx, []graph.Event{login}); err != nil {
			t.Fatal(err)
		}
		want = []string{pidOf("ann"), graph.ProfileIDFor("anonymous_id:d1", 0)}
		slices.Sort(want)
		if c := got(); len(c) != 1 || !slices.Equal(c[0], want) {
			t.Fatalf("OnCommit after the merge: %v, want one call with %v (the survivor and the profile merged away)", c, want)
		}
		// Duplicates only: nothing changed.
		if _, err := h.coll.Submit(ctx, []graph.Event{event("o-1", "ann")}); err != nil {
			t.Fatal(err)
		}
		if c := got(); len(c) != 0 {
			t.Errorf("OnCommit after a duplicate: %v, want no call", c)
		}
	})
}
