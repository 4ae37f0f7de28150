package destination_test

import (
	"context"
	"slices"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// An audience deleted while a batch holding its entries waits takes its
// purpose with it, so the purpose can no longer be held when the batch is
// sent: its AUDIENCE_ENTERED entries are left out, and its AUDIENCE_EXITED
// entries go bare. Here bob entered seg (purpose email) while he granted
// email and the batch failed; before the retry he withdrew and seg was
// deleted. The retry must not send his entry into seg with his profile
// (nor ann's, whose audience is gone); his entry into other (no purpose,
// still stored) goes as before, and his exit from seg carries nothing of
// him.
func TestDeletedAudienceEntriesCarryNoProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		const seg, other = "seg_00000000000000000000000000000021", "seg_00000000000000000000000000000022"
		// No audienceIds: the destination follows every audience, and
		// none is kept from deletion by it.
		r := runPurpose(t, gs, seg, other, nil, func(ctx context.Context, s store) {
			deleted, err := s.DeleteAudience(ctx, seg)
			storetest.Must(t, err)
			if !deleted {
				t.Fatal("audience seg was not deleted")
			}
		})
		waitFor(t, "the retry", func() bool { return len(r.rcv.requests()) == 2 })
		want := []string{"AUDIENCE_ENTERED " + r.bob + " " + other + " profile bob@example.com"}
		if got := sentEntries(t, r.rcv.requests()[1].body); !slices.Equal(got, want) {
			t.Errorf("the retry after bob's withdrawal and seg's deletion sent\n%q\nwant\n%q", got, want)
		}

		// An exit from the deleted audience (written before the deletion,
		// say) goes bare.
		r.bobExitsBare(t, seg)
	})
}
