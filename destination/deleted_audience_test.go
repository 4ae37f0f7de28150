package destination_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
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
		s, e := open(t, gs)
		ctx := context.Background()
		const seg, other = "seg_00000000000000000000000000000021", "seg_00000000000000000000000000000022"
		now := time.Now().UTC()
		for _, a := range []audience.Audience{{ID: seg, Name: "newsletter", Purpose: "email"}, {ID: other, Name: "everyone"}} {
			a.Static, a.CreatedAt, a.UpdatedAt = true, now, now
			storetest.Must(t, s.PutAudience(ctx, a))
		}
		withdrawn := make(chan struct{})
		rcv := newReceiver(t, func(n int) int {
			if n == 1 {
				<-withdrawn
				return 500
			}
			return 200
		})
		// No audienceIds: the destination follows every audience, and
		// none is kept from deletion by it.
		create(t, s, rcv.srv.URL, func(d *destination.Destination) {
			d.Kinds = []graph.FeedKind{graph.FeedAudienceEntered, graph.FeedAudienceExited}
			d.IncludePII = true
		})
		record := func(email string, st privacy.Status, at time.Time) privacy.Record {
			return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: st, At: at, Source: "web",
				LegalBasis: privacy.BasisConsent, Identifier: "email:" + email, ReceivedAt: at}
		}
		storetest.Must(t, s.PutConsent(ctx, []privacy.Record{record("ann@example.com", privacy.StatusGranted, now.Add(-time.Hour)),
			record("bob@example.com", privacy.StatusGranted, now.Add(-time.Hour))}))
		res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "ann", "ann@example.com"), event("m2", "bob", "bob@example.com")})
		storetest.Must(t, err)
		ann, bob := res.Results[0].ProfileID, res.Results[1].ProfileID
		appendFeed := func(es ...graph.FeedEntry) {
			t.Helper()
			storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return graph.AppendFeed(ctx, tx, es) }))
		}
		appendFeed(graph.FeedEntry{At: now, Kind: graph.FeedAudienceEntered, ProfileID: ann, AudienceID: seg},
			graph.FeedEntry{At: now, Kind: graph.FeedAudienceEntered, ProfileID: bob, AudienceID: seg},
			graph.FeedEntry{At: now, Kind: graph.FeedAudienceEntered, ProfileID: bob, AudienceID: other})

		startWorker(t, s, e, true)
		waitFor(t, "the first attempt", func() bool { return len(rcv.requests()) == 1 })
		storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			if err := privacy.PutConsentInTx(ctx, tx, []privacy.Record{record("bob@example.com", privacy.StatusWithdrawn, now)}); err != nil {
				return err
			}
			return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: now, Kind: graph.FeedConsentChanged, ProfileID: bob}})
		}))
		deleted, err := s.DeleteAudience(ctx, seg)
		storetest.Must(t, err)
		if !deleted {
			t.Fatal("audience seg was not deleted")
		}
		close(withdrawn)

		show := func(body []byte) []string {
			t.Helper()
			var out []string
			for _, en := range decode(t, body).Entries {
				p := "no profile"
				if en.Profile != nil {
					p = "profile"
					for _, id := range en.Profile.Identifiers {
						if id.Type == graph.TypeEmail {
							p += " " + id.Value
						}
					}
				}
				out = append(out, en.Kind+" "+en.ProfileID+" "+en.AudienceID+" "+p)
			}
			return out
		}
		waitFor(t, "the retry", func() bool { return len(rcv.requests()) == 2 })
		want := []string{"AUDIENCE_ENTERED " + bob + " " + other + " profile bob@example.com"}
		if got := show(rcv.requests()[1].body); !slices.Equal(got, want) {
			t.Errorf("the retry after bob's withdrawal and seg's deletion sent\n%q\nwant\n%q", got, want)
		}

		// An exit from the deleted audience (written before the deletion,
		// say) goes bare.
		appendFeed(graph.FeedEntry{At: now, Kind: graph.FeedAudienceExited, ProfileID: bob, AudienceID: seg})
		waitFor(t, "the exit", func() bool { return len(rcv.requests()) == 3 })
		want = []string{"AUDIENCE_EXITED " + bob + " " + seg + " no profile"}
		if got := show(rcv.requests()[2].body); !slices.Equal(got, want) {
			t.Errorf("bob's exit sent\n%q\nwant\n%q", got, want)
		}
		if body := string(rcv.requests()[2].body); strings.Contains(body, "bob@") {
			t.Error("the exit from a deleted audience carried personal data")
		}
	})
}
