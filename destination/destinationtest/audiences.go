package destinationtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
)

// testAudienceRefs: a destination may only send stored audiences, checked
// by the store on create and on update, and an audience a destination
// sends cannot be deleted (DeleteAudience refuses with the destination's
// id) until no destination sends it.
func testAudienceRefs(t *testing.T, s Store) {
	ctx := context.Background()
	missing := "seg_" + fmt.Sprintf("%032x", 8)

	d := dest(1)
	d.AudienceIDs = []string{sentAudience, missing}
	_, err := s.CreateDestination(ctx, d)
	wantMissing(t, "create naming an audience not stored", err, missing)
	_, err = s.Destination(ctx, d.ID)
	wantCode(t, err, graph.ENOTFOUND, "the refused destination read back")

	_, err = s.CreateDestination(ctx, dest(1))
	must(t, err)
	_, err = s.DeleteAudience(ctx, sentAudience)
	var inUse *audience.InUseError
	if !errors.As(err, &inUse) || graph.ErrorCode(err) != graph.ECONFLICT {
		t.Fatalf("DeleteAudience of an audience a destination sends: %v, want an InUseError (CONFLICT)", err)
	}
	if inUse.Audience != sentAudience || len(inUse.Users) != 0 || !slices.Equal(inUse.Destinations, []string{id(1)}) {
		t.Fatalf("refusal %+v, want audience %s sent by destination %s", *inUse, sentAudience, id(1))
	}
	got, err := s.Audiences(ctx, []string{sentAudience})
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("after the refused delete, %d audiences of id %s, want 1", len(got), sentAudience)
	}

	// A second destination: the refusal names both, in id order.
	_, err = s.CreateDestination(ctx, dest(3))
	must(t, err)
	_, err = s.DeleteAudience(ctx, sentAudience)
	if !errors.As(err, &inUse) || !slices.Equal(inUse.Destinations, []string{id(1), id(3)}) {
		t.Fatalf("DeleteAudience with two destinations sending it: %v, want both named", err)
	}

	// An update is checked as a create is, and changes nothing when refused.
	u := dest(1)
	u.AudienceIDs = []string{missing}
	_, err = s.UpdateDestination(ctx, u)
	wantMissing(t, "update naming an audience not stored", err, missing)
	stored, err := s.Destination(ctx, id(1))
	must(t, err)
	if !slices.Equal(stored.AudienceIDs, []string{sentAudience}) {
		t.Fatalf("after the refused update, audienceIds %v, want [%s]", stored.AudienceIDs, sentAudience)
	}

	// Once neither sends it, the audience can go; then no destination may
	// name it.
	u.AudienceIDs = nil
	_, err = s.UpdateDestination(ctx, u)
	must(t, err)
	ok, err := s.DeleteDestination(ctx, id(3))
	if err != nil || !ok {
		t.Fatalf("DeleteDestination: %v, %v", ok, err)
	}
	ok, err = s.DeleteAudience(ctx, sentAudience)
	if err != nil || !ok {
		t.Fatalf("DeleteAudience once no destination sends it: %v, %v; want true", ok, err)
	}
	_, err = s.CreateDestination(ctx, dest(2))
	wantMissing(t, "create naming the deleted audience", err, sentAudience)
	_, err = s.UpdateDestination(ctx, dest(1))
	wantMissing(t, "update naming the deleted audience", err, sentAudience)
	// The audiences are checked before the id, on both stores: an id
	// stored, or one not stored, does not change the answer.
	_, err = s.CreateDestination(ctx, dest(1))
	wantMissing(t, "create of a stored id naming the deleted audience", err, sentAudience)
	_, err = s.UpdateDestination(ctx, dest(9))
	wantMissing(t, "update of an id not stored naming the deleted audience", err, sentAudience)

	// A destination stored before deletions were checked (here loaded as
	// a copy loads it) may name an audience deleted since: deleting that
	// audience again is no conflict, it is simply not stored; saving the
	// destination asks for the id to go.
	old := dest(5)
	old.AudienceIDs = []string{missing}
	loader, ok := s.(destination.Loader)
	if !ok {
		t.Fatalf("%T does not load destinations", s)
	}
	must(t, loader.LoadDestinations(ctx, []destination.Destination{old}))
	ok, err = s.DeleteAudience(ctx, missing)
	if err != nil || ok {
		t.Fatalf("DeleteAudience of an audience not stored that a destination names: %v, %v; want false, no error", ok, err)
	}
	_, err = s.UpdateDestination(ctx, old)
	wantMissing(t, "update keeping the id of an audience not stored", err, missing)
}

func wantMissing(t *testing.T, what string, err error, id string) {
	t.Helper()
	var m *destination.MissingAudienceError
	if !errors.As(err, &m) || m.Audience != id || graph.ErrorCode(err) != graph.ENOTFOUND {
		t.Fatalf("%s: %v, want a MissingAudienceError (NOT_FOUND) for %s", what, err, id)
	}
}

// testAudienceRace: a DeleteAudience and a CreateDestination that sends
// the audience, run at once, never both succeed; whichever commits
// second sees the other: the destination is refused for the missing
// audience, or the delete for the destination.
func testAudienceRace(t *testing.T, s Store) {
	ctx := context.Background()
	const rounds = 15
	for r := range rounds {
		aud := "seg_" + fmt.Sprintf("%032x", 100+r)
		must(t, s.PutAudience(ctx, audience.Audience{ID: aud, Name: "race", Static: true, CreatedAt: at(0), UpdatedAt: at(0)}))
		d := dest(100 + r)
		d.AudienceIDs = []string{aud}
		var (
			wg            sync.WaitGroup
			start         = make(chan struct{})
			deleted       bool
			delErr, crErr error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			deleted, delErr = s.DeleteAudience(ctx, aud)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, crErr = s.CreateDestination(ctx, d)
		}()
		close(start)
		wg.Wait()
		var inUse *audience.InUseError
		var missing *destination.MissingAudienceError
		switch {
		case delErr == nil && crErr == nil:
			t.Fatalf("round %d: both the delete (%v) and the destination sending the audience were stored", r, deleted)
		case delErr == nil && !errors.As(crErr, &missing):
			t.Fatalf("round %d: audience deleted, destination refused with %v, want a MissingAudienceError", r, crErr)
		case crErr == nil && !errors.As(delErr, &inUse):
			t.Fatalf("round %d: destination stored, delete refused with %v, want an InUseError", r, delErr)
		case delErr != nil && crErr != nil:
			t.Fatalf("round %d: both refused: delete %v, create %v", r, delErr, crErr)
		}
		got, err := s.Audiences(ctx, []string{aud})
		must(t, err)
		_, derr := s.Destination(ctx, d.ID)
		if len(got) == 0 && derr == nil {
			t.Fatalf("round %d: a destination is stored that sends the deleted audience %s", r, aud)
		}
		if derr == nil {
			if _, err := s.DeleteDestination(ctx, d.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}
