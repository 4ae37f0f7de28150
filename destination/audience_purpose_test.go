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

// purposeRun is the scenario the purpose tests share, on one store:
// audiences seg (purpose email) and other (none); a destination of their
// entries and exits with personal data; ann and bob granting email and
// entering seg, bob other too; a first attempt that fails, answered only
// once bob has withdrawn (as setConsent writes it) and between has run.
type purposeRun struct {
	ann, bob string
	now      time.Time
	rcv      *receiver
	feed     func(es ...graph.FeedEntry)
}

func runPurpose(t *testing.T, gs graph.Store, seg, other string, audienceIDs []string, between func(ctx context.Context, s store)) purposeRun {
	t.Helper()
	s, e := open(t, gs)
	ctx := context.Background()
	now := time.Now().UTC()
	for _, a := range []audience.Audience{{ID: seg, Name: "newsletter", Purpose: "email"}, {ID: other, Name: "everyone"}} {
		a.Static, a.CreatedAt, a.UpdatedAt = true, now, now
		storetest.Must(t, s.PutAudience(ctx, a))
	}
	// The first attempt fails, and its answer waits for bob's
	// withdrawal: the retry is sent after it.
	withdrawn := make(chan struct{})
	rcv := newReceiver(t, func(n int) int {
		if n == 1 {
			<-withdrawn
			return 500
		}
		return 200
	})
	create(t, s, rcv.srv.URL, func(d *destination.Destination) {
		d.Kinds = []graph.FeedKind{graph.FeedAudienceEntered, graph.FeedAudienceExited}
		d.AudienceIDs, d.IncludePII = audienceIDs, true
	})
	record := func(email string, st privacy.Status, at time.Time) privacy.Record {
		return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: st, At: at, Source: "web",
			LegalBasis: privacy.BasisConsent, Identifier: "email:" + email, ReceivedAt: at}
	}
	storetest.Must(t, s.PutConsent(ctx, []privacy.Record{record("ann@example.com", privacy.StatusGranted, now.Add(-time.Hour)),
		record("bob@example.com", privacy.StatusGranted, now.Add(-time.Hour))}))
	res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "ann", "ann@example.com"), event("m2", "bob", "bob@example.com")})
	storetest.Must(t, err)
	r := purposeRun{ann: res.Results[0].ProfileID, bob: res.Results[1].ProfileID, now: now, rcv: rcv}
	r.feed = func(es ...graph.FeedEntry) {
		t.Helper()
		storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return graph.AppendFeed(ctx, tx, es) }))
	}
	r.feed(graph.FeedEntry{At: now, Kind: graph.FeedAudienceEntered, ProfileID: r.ann, AudienceID: seg},
		graph.FeedEntry{At: now, Kind: graph.FeedAudienceEntered, ProfileID: r.bob, AudienceID: seg},
		graph.FeedEntry{At: now, Kind: graph.FeedAudienceEntered, ProfileID: r.bob, AudienceID: other})

	startWorker(t, s, e, true)
	waitFor(t, "the first attempt", func() bool { return len(rcv.requests()) == 1 })
	storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if err := privacy.PutConsentInTx(ctx, tx, []privacy.Record{record("bob@example.com", privacy.StatusWithdrawn, now)}); err != nil {
			return err
		}
		return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: now, Kind: graph.FeedConsentChanged, ProfileID: r.bob}})
	}))
	if between != nil {
		between(ctx, s)
	}
	close(withdrawn)
	return r
}

// bobExitsBare appends bob's exit from seg after the retry, and checks
// that the destination's third batch holds it alone, with nothing of him.
func (r purposeRun) bobExitsBare(t *testing.T, seg string) {
	t.Helper()
	r.feed(graph.FeedEntry{At: r.now, Kind: graph.FeedAudienceExited, ProfileID: r.bob, AudienceID: seg})
	waitFor(t, "the exit", func() bool { return len(r.rcv.requests()) == 3 })
	want := []string{"AUDIENCE_EXITED " + r.bob + " " + seg + " no profile"}
	if got := sentEntries(t, r.rcv.requests()[2].body); !slices.Equal(got, want) {
		t.Errorf("bob's exit sent\n%q\nwant\n%q", got, want)
	}
	if body := string(r.rcv.requests()[2].body); strings.Contains(body, "bob@") {
		t.Error("bob's exit carried his personal data")
	}
}

// sentEntries renders a batch's entries as KIND profile audience and the
// profile's emails, or "no profile".
func sentEntries(t *testing.T, body []byte) []string {
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

// An audience's purpose holds at the moment a batch is sent, whatever the
// destination's own purpose (here none): ann and bob entered audience seg
// (purpose email) while they granted email, and the batch holding their
// entries failed. Bob withdrew before it was sent again; the retry sends
// ann's entry with her profile and leaves bob's out, and his exit, which
// the keeper writes next, reaches the destination bare, carrying nothing
// of him. An audience without a purpose (other) is not held to anyone's
// consent.
func TestAudiencePurposeHoldsWhenABatchIsSent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		const seg, other = "seg_00000000000000000000000000000011", "seg_00000000000000000000000000000012"
		r := runPurpose(t, gs, seg, other, []string{seg, other}, nil)
		waitFor(t, "the retry", func() bool { return len(r.rcv.requests()) == 2 })
		want := []string{"AUDIENCE_ENTERED " + r.ann + " " + seg + " profile ann@example.com",
			"AUDIENCE_ENTERED " + r.bob + " " + other + " profile bob@example.com"}
		if got := sentEntries(t, r.rcv.requests()[1].body); !slices.Equal(got, want) {
			t.Errorf("the retry after bob's withdrawal sent\n%q\nwant\n%q", got, want)
		}

		// The keeper's exit of bob from seg: bare.
		r.bobExitsBare(t, seg)
	})
}
