package audiencetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// ReplaceAudience replaces a stored audience's definition and keeps what
// PutAudience keeps; of an audience not stored, never stored or deleted,
// it is ENOTFOUND and stores nothing. Given the UpdatedAt the caller
// read, it refuses with a *ChangedError (ECONFLICT) when another is
// stored, and stores nothing. Raced against DeleteAudience of the
// same audience, the two end as one serial order would: the audience is
// gone, and the replace succeeded (it came first) or is ENOTFOUND (the
// deletion came first).
func testReplaceAudience(t *testing.T, s Store) {
	a := aud(1)
	wantCode(t, replaceAud(s, a, time.Time{}), graph.ENOTFOUND, "ReplaceAudience of an audience never stored")
	if _, ok := getAud(t, s, a.ID); ok {
		t.Fatal("ReplaceAudience of an audience never stored stored it")
	}
	putAud(t, s, a)
	apply(t, s, a.ID, []string{"p1"}, nil, at(2))
	r := a
	r.Name, r.Description, r.Filter, r.Purpose, r.UpdatedAt = "renamed", "", simple("team"), "", at(3)
	r.CreatedAt = at(9) // not the stored one: kept all the same
	must(t, replaceAud(s, r, time.Time{}))
	got, ok := getAud(t, s, a.ID)
	if !ok || got.Name != "renamed" || got.Description != "" || got.Purpose != "" || !got.CreatedAt.Equal(at(0)) ||
		!got.UpdatedAt.Equal(at(3)) || got.Size != 1 || !got.RefreshedAt.Equal(at(2)) {
		t.Fatalf("after ReplaceAudience: %+v, %v", got, ok)
	}
	// An update made on the version read before r is refused, and one made
	// on r's is stored.
	v := r
	v.Name, v.UpdatedAt = "on an old read", at(4)
	err := replaceAud(s, v, at(1))
	if changed := (*audience.ChangedError)(nil); !errors.As(err, &changed) || !changed.UpdatedAt.Equal(at(3)) {
		t.Fatalf("ReplaceAudience on an old version: %v, want a *ChangedError naming %v", err, at(3))
	}
	wantCode(t, err, graph.ECONFLICT, "ReplaceAudience on an old version")
	if got, _ := getAud(t, s, a.ID); got.Name != "renamed" || !got.UpdatedAt.Equal(at(3)) {
		t.Fatalf("ReplaceAudience on an old version stored %+v", got)
	}
	v.Name = "on the stored version"
	must(t, replaceAud(s, v, at(3)))
	if got, _ := getAud(t, s, a.ID); got.Name != "on the stored version" || !got.UpdatedAt.Equal(at(4)) {
		t.Fatalf("ReplaceAudience on the stored version stored %+v", got)
	}
	if deleted, err := s.DeleteAudience(bg, a.ID); err != nil || !deleted {
		t.Fatalf("DeleteAudience: %v, %v", deleted, err)
	}
	wantCode(t, replaceAud(s, r, time.Time{}), graph.ENOTFOUND, "ReplaceAudience of a deleted audience")
	if _, ok := getAud(t, s, a.ID); ok {
		t.Fatal("ReplaceAudience of a deleted audience stored it again")
	}

	for round := range 20 {
		a := aud(100 + round)
		putAud(t, s, a)
		r := a
		r.Name = "renamed"
		var replaced, deleteErr error
		var deleted bool
		start := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); <-start; replaced = replaceAud(s, r, time.Time{}) }()
		go func() { defer wg.Done(); <-start; deleted, deleteErr = s.DeleteAudience(bg, a.ID) }()
		close(start)
		wg.Wait()
		if deleteErr != nil || !deleted {
			t.Fatalf("round %d: DeleteAudience: %v, %v", round, deleted, deleteErr)
		}
		if replaced != nil && graph.ErrorCode(replaced) != graph.ENOTFOUND {
			t.Fatalf("round %d: ReplaceAudience: %v, want nil or ENOTFOUND", round, replaced)
		}
		if got, ok := getAud(t, s, a.ID); ok {
			t.Fatalf("round %d: audience stored after its deletion (ReplaceAudience: %v): %+v", round, replaced, got)
		}
	}

	// Two replaces that would close a cycle between them: exactly one is
	// refused, as PutAudience refuses it (testCycleRaces), and neither
	// fails otherwise (on Neo4j a deadlock of their locks is run again).
	for round := range 6 {
		n := 200 + 2*round
		putAud(t, s, aud(n), aud(n+1))
		puts := []audience.Audience{withFilter(n, namesAudience(aid(n+1))), withFilter(n+1, namesAudience(aid(n)))}
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, put := range puts {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; errs[i] = replaceAud(s, put, time.Time{}) }()
		}
		close(start)
		wg.Wait()
		refused := 0
		for i, err := range errs {
			if err != nil {
				if cycle := (*audience.CycleError)(nil); !errors.As(err, &cycle) {
					t.Fatalf("round %d: replace %d failed with %v, want a cycle refused", round, i, err)
				}
				refused++
			}
		}
		if refused != 1 {
			t.Fatalf("round %d: %d replaces refused (%v), want exactly one", round, refused, errs)
		}
	}
	checkNoCycles(t, s)
}

// Two writes whose UpdatedAt fall in the same microsecond (or a clock set
// back) are two versions all the same: a replace stores an UpdatedAt
// after the one it replaces, so that the version an editor read names one
// definition, and an edit made on the first is refused once the second
// is stored.
func testReplaceAudienceSameMicrosecond(t *testing.T, s Store) {
	a := aud(1)
	a.Name, a.UpdatedAt = "first", at(5)
	putAud(t, s, a)
	second := a
	second.Name = "second" // saved in the microsecond of the first
	v, err := s.ReplaceAudience(bg, second, time.Time{})
	must(t, err)
	got, _ := getAud(t, s, a.ID)
	if got.Name != "second" || !got.UpdatedAt.After(at(5)) {
		t.Fatalf("a replace in the microsecond of the version it replaces stored %q with updatedAt %v, want \"second\" after %v", got.Name, got.UpdatedAt, at(5))
	}
	if !v.Equal(got.UpdatedAt) {
		t.Fatalf("ReplaceAudience returned the version %v, but stored %v", v, got.UpdatedAt)
	}
	// An editor who read "first" saves on its version: refused.
	e := a
	e.Name, e.UpdatedAt = "on first", at(6)
	err = replaceAud(s, e, at(5))
	if changed := (*audience.ChangedError)(nil); !errors.As(err, &changed) || !changed.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("ReplaceAudience on the first version: %v, want a *ChangedError naming %v", err, got.UpdatedAt)
	}
	// A clock set back: the version still moves on.
	back := a
	back.Name, back.UpdatedAt = "set back", at(2)
	must(t, replaceAud(s, back, got.UpdatedAt))
	if b, _ := getAud(t, s, a.ID); b.Name != "set back" || !b.UpdatedAt.After(got.UpdatedAt) {
		t.Fatalf("a replace dated before the stored version stored %q with updatedAt %v, want after %v", b.Name, b.UpdatedAt, got.UpdatedAt)
	}
}

// replaceAud is ReplaceAudience without the version it returns.
func replaceAud(s Store, a audience.Audience, ifUpdatedAt time.Time) error {
	_, err := s.ReplaceAudience(bg, a, ifUpdatedAt)
	return err
}
