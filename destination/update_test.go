package destination_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A destination whose kinds or audienceIds an update narrows while a
// batch is failing gets, when the receiver answers again, only what it
// selects now: the entries of a kind or an audience it no longer follows
// are not sent, with their profiles, from a batch taken before the
// update.
func TestUpdateNarrowsBatchesNotYetDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		const keep, drop = "seg_00000000000000000000000000000011", "seg_00000000000000000000000000000012"
		byKind, byAudience := newReceiver(t, func(int) int { return 503 }), newReceiver(t, func(int) int { return 503 })
		kd := create(t, s, byKind.srv.URL, func(d *destination.Destination) {
			d.Kinds, d.MaxAttempts = []graph.FeedKind{graph.FeedEventAdded, graph.FeedTraitsChanged}, destination.MaxMaxAttempts
		})
		ad := create(t, s, byAudience.srv.URL, func(d *destination.Destination) {
			d.Kinds, d.AudienceIDs, d.MaxAttempts = []graph.FeedKind{graph.FeedAudienceEntered}, []string{keep, drop}, destination.MaxMaxAttempts
		})
		res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "ann", "ann@example.com")})
		storetest.Must(t, err)
		ann := res.Results[0].ProfileID
		now := time.Now().UTC()
		storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: now, Kind: graph.FeedAudienceEntered, ProfileID: ann, AudienceID: keep},
				{At: now, Kind: graph.FeedAudienceEntered, ProfileID: ann, AudienceID: drop}})
		}))

		startWorker(t, s, e, true)
		kinds := func(r *receiver, i int) []string {
			var out []string
			for _, en := range decode(t, r.requests()[i].body).Entries {
				out = append(out, en.Kind+" "+en.AudienceID)
			}
			return out
		}
		waitFor(t, "first attempts", func() bool { return len(byKind.requests()) > 0 && len(byAudience.requests()) > 0 })
		// Taken before the update: every kind and audience then selected.
		if got, want := kinds(byKind, 0), []string{"EVENT_ADDED ", "TRAITS_CHANGED "}; !slices.Equal(got, want) {
			t.Fatalf("first attempt by kind: %q, want %q", got, want)
		}
		if got, want := kinds(byAudience, 0), []string{"AUDIENCE_ENTERED " + keep, "AUDIENCE_ENTERED " + drop}; !slices.Equal(got, want) {
			t.Fatalf("first attempt by audience: %q, want %q", got, want)
		}

		kd.Kinds = []graph.FeedKind{graph.FeedEventAdded}
		_, err = s.UpdateDestination(ctx, kd)
		storetest.Must(t, err)
		ad.AudienceIDs = []string{keep}
		_, err = s.UpdateDestination(ctx, ad)
		storetest.Must(t, err)
		// Two more attempts: the second was built after the first's
		// answer, so after the update.
		for _, r := range []*receiver{byKind, byAudience} {
			n := len(r.requests())
			waitFor(t, "two attempts after the update", func() bool { return len(r.requests()) >= n+2 })
			r.setStatus(func(int) int { return 200 })
		}
		for _, d := range []destination.Destination{kd, ad} {
			waitFor(t, "the batch delivered", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
		}
		last := func(r *receiver) int { return len(r.requests()) - 1 }
		if got, want := kinds(byKind, last(byKind)), []string{"EVENT_ADDED "}; !slices.Equal(got, want) {
			t.Errorf("after kinds were narrowed to EVENT_ADDED, the batch held %q, want %q", got, want)
		}
		if got, want := kinds(byAudience, last(byAudience)), []string{"AUDIENCE_ENTERED " + keep}; !slices.Equal(got, want) {
			t.Errorf("after audienceIds were narrowed to %s, the batch held %q, want %q", keep, got, want)
		}
	})
}
