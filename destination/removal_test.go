package destination_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// A destination filtered by purpose or by audience still hears of an
// erasure (FORGOTTEN) and, filtered by purpose, of the withdrawal that
// takes a profile out of GRANTED (CONSENT_CHANGED), so that it drops its
// copy; such an entry carries the profile id alone, never the profile,
// even to a destination that includes personal data.
func TestFilteredDestinationsHearOfRemovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		const seg = "seg_00000000000000000000000000000007"
		kinds := []graph.FeedKind{graph.FeedEventAdded, graph.FeedConsentChanged, graph.FeedForgotten, graph.FeedAudienceEntered}
		byPurpose, withPII, byAudience := newReceiver(t, func(int) int { return 200 }), newReceiver(t, func(int) int { return 200 }),
			newReceiver(t, func(int) int { return 200 })
		create(t, s, byPurpose.srv.URL, func(d *destination.Destination) { d.Kinds, d.Purpose = kinds, "email" })
		pii := create(t, s, withPII.srv.URL, func(d *destination.Destination) { d.Kinds, d.Purpose, d.IncludePII = kinds, "email", true })
		create(t, s, byAudience.srv.URL, func(d *destination.Destination) { d.Kinds, d.AudienceIDs = kinds, []string{seg} })

		// ann, bob and dee grant email an hour ago; cal says nothing.
		now := time.Now().UTC()
		record := func(email string, st privacy.Status, at time.Time) privacy.Record {
			return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: st, At: at, Source: "web",
				LegalBasis: privacy.BasisConsent, Identifier: "email:" + email, ReceivedAt: at}
		}
		storetest.Must(t, s.PutConsent(ctx, []privacy.Record{record("ann@example.com", privacy.StatusGranted, now.Add(-time.Hour)),
			record("bob@example.com", privacy.StatusGranted, now.Add(-time.Hour)), record("dee@example.com", privacy.StatusGranted, now.Add(-time.Hour))}))
		res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "ann", "ann@example.com"), event("m2", "bob", "bob@example.com"),
			event("m3", "cal", "cal@example.com"), event("m4", "dee", "dee@example.com")})
		storetest.Must(t, err)
		ann, bob, cal, dee := res.Results[0].ProfileID, res.Results[1].ProfileID, res.Results[2].ProfileID, res.Results[3].ProfileID
		// bob withdraws, cal denies (never having granted), each with its
		// CONSENT_CHANGED, as setConsent writes them; dee enters seg.
		consent := func(pid string, r privacy.Record) {
			storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
				if err := privacy.PutConsentInTx(ctx, tx, []privacy.Record{r}); err != nil {
					return err
				}
				return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: r.ReceivedAt, Kind: graph.FeedConsentChanged, ProfileID: pid}})
			}))
		}
		consent(bob, record("bob@example.com", privacy.StatusWithdrawn, now))
		consent(cal, record("cal@example.com", privacy.StatusDenied, now))
		storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: now, Kind: graph.FeedAudienceEntered, ProfileID: dee, AudienceID: seg}})
		}))
		// ann is erased.
		_, err = e.ForgetProfile(ctx, ann, "test erasure", nil)
		storetest.Must(t, err)

		// Everything is in the feed before the worker starts: each
		// destination sends one batch.
		startWorker(t, s, e, true)
		sent := func(r *receiver) []destination.PayloadEntry {
			t.Helper()
			waitFor(t, "a delivery", func() bool { return len(r.requests()) == 1 })
			return decode(t, r.requests()[0].body).Entries
		}
		show := func(es []destination.PayloadEntry) []string {
			var out []string
			for _, en := range es {
				p := "no profile"
				if en.Profile != nil {
					var email string
					for _, id := range en.Profile.Identifiers {
						if id.Type == graph.TypeEmail {
							email = id.Value
						}
					}
					p = fmt.Sprintf("profile %s %s", email, en.Profile.Traits["name"])
				}
				out = append(out, en.Kind+" "+en.ProfileID+" "+p)
			}
			return out
		}
		// Purpose email: dee's event and audience entry (granted); bob's
		// withdrawal and ann's erasure, bare; not bob's, cal's or ann's
		// events, nor cal's denial.
		want := []string{"EVENT_ADDED " + dee + " profile d***@example.com ***", "CONSENT_CHANGED " + bob + " no profile",
			"AUDIENCE_ENTERED " + dee + " profile d***@example.com ***", "FORGOTTEN " + ann + " no profile"}
		if got := show(sent(byPurpose)); !slices.Equal(got, want) {
			t.Errorf("the destination for purpose email got\n%q\nwant\n%q", got, want)
		}
		want[0] = "EVENT_ADDED " + dee + " profile dee@example.com Ann Lee"
		want[2] = "AUDIENCE_ENTERED " + dee + " profile dee@example.com Ann Lee"
		if got := show(sent(withPII)); !slices.Equal(got, want) {
			t.Errorf("the destination for purpose email with personal data got\n%q\nwant\n%q", got, want)
		}
		if body := string(withPII.requests()[0].body); strings.Contains(body, "bob@") || strings.Contains(body, "cal@") {
			t.Error("a removal carried personal data of a profile that does not grant the purpose")
		}
		// Its audit entry names the one profile it sent personal data of.
		logged, err := gs.(access.Store).Audit(ctx, access.AuditQuery{Action: destination.DeliverAction, Limit: 10})
		storetest.Must(t, err)
		if len(logged) != 1 || logged[0].ProfileCount != 1 || !strings.Contains(logged[0].Reason, pii.ID) {
			t.Errorf("audit entries of unmasked deliveries: %+v, want one of 1 profile naming %s", logged, pii.ID)
		}
		// Audience seg: dee's entry and ann's erasure, bare.
		want = []string{"AUDIENCE_ENTERED " + dee + " profile d***@example.com ***", "FORGOTTEN " + ann + " no profile"}
		if got := show(sent(byAudience)); !slices.Equal(got, want) {
			t.Errorf("the destination for audience %s got\n%q\nwant\n%q", seg, got, want)
		}
	})
}

// A destination filtered by purpose and audience hears of the exit of a
// profile that does not grant the purpose now, bare, whatever ended the
// grant: an expired grant writes no CONSENT_CHANGED entry, so the keeper's
// AUDIENCE_EXITED is the only word of it. A profile that never granted
// exits bare too (its records may no longer show a grant it had: see
// TestFilteredDestinationsHearOfExitsAfterAGrantIsSplitAway); the exits
// of an audience the destination does not follow are not sent; a profile
// that still grants exits with its profile.
func TestFilteredDestinationsHearOfLapsedExits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		const seg, other = "seg_00000000000000000000000000000007", "seg_00000000000000000000000000000008"
		rcv := newReceiver(t, func(int) int { return 200 })
		create(t, s, rcv.srv.URL, func(d *destination.Destination) {
			d.Kinds = []graph.FeedKind{graph.FeedAudienceEntered, graph.FeedAudienceExited}
			d.Purpose, d.AudienceIDs = "email", []string{seg}
		})
		now := time.Now().UTC()
		grant := func(email string, at, expires time.Time) privacy.Record {
			return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: privacy.StatusGranted, At: at, Source: "web",
				LegalBasis: privacy.BasisConsent, Identifier: "email:" + email, ReceivedAt: at, ExpiresAt: expires}
		}
		withdrawn := grant("bob@example.com", now.Add(-time.Minute), time.Time{})
		withdrawn.Status = privacy.StatusWithdrawn
		// eve's grant expired an hour ago; bob withdrew his; cal never
		// granted; dee grants.
		storetest.Must(t, s.PutConsent(ctx, []privacy.Record{
			grant("eve@example.com", now.Add(-2*time.Hour), now.Add(-time.Hour)),
			grant("bob@example.com", now.Add(-2*time.Hour), time.Time{}), withdrawn,
			grant("dee@example.com", now.Add(-2*time.Hour), time.Time{}),
		}))
		res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "eve", "eve@example.com"), event("m2", "bob", "bob@example.com"),
			event("m3", "cal", "cal@example.com"), event("m4", "dee", "dee@example.com")})
		storetest.Must(t, err)
		eve, bob, cal, dee := res.Results[0].ProfileID, res.Results[1].ProfileID, res.Results[2].ProfileID, res.Results[3].ProfileID
		var feed []graph.FeedEntry
		for _, x := range []struct {
			pid, aud string
		}{{eve, seg}, {bob, seg}, {cal, seg}, {dee, other}, {dee, seg}} {
			feed = append(feed, graph.FeedEntry{At: now, Kind: graph.FeedAudienceExited, ProfileID: x.pid, AudienceID: x.aud})
		}
		storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return graph.AppendFeed(ctx, tx, feed) }))

		startWorker(t, s, e, true)
		waitFor(t, "a delivery", func() bool { return len(rcv.requests()) == 1 })
		var got []string
		for _, en := range decode(t, rcv.requests()[0].body).Entries {
			p := "no profile"
			if en.Profile != nil {
				p = "profile"
			}
			got = append(got, en.Kind+" "+en.ProfileID+" "+en.AudienceID+" "+p)
		}
		want := []string{"AUDIENCE_EXITED " + eve + " " + seg + " no profile", "AUDIENCE_EXITED " + bob + " " + seg + " no profile",
			"AUDIENCE_EXITED " + cal + " " + seg + " no profile", "AUDIENCE_EXITED " + dee + " " + seg + " profile"}
		if !slices.Equal(got, want) {
			t.Errorf("the destination for purpose email and audience %s got\n%q\nwant\n%q", seg, got, want)
		}
		if body := string(rcv.requests()[0].body); strings.Contains(body, "eve@") || strings.Contains(body, "bob@") || strings.Contains(body, "cal@") {
			t.Error("a removal carried personal data")
		}
	})
}

// A destination filtered by purpose and audience holds pam as a member
// (her entry was sent with her profile: she grants email, on her email
// identifier). Then a correction takes that identifier, and its grant,
// out of her profile, which keeps its id: unlinkIdentifiers moves it to a
// new profile, removeIdentifier erases it. Her profile no longer grants
// email, and its records no longer show that it ever did; the keeper
// makes it exit the audience. The destination hears of that exit, bare,
// as it would of a withdrawal or an expiry; dee, who still grants, enters
// with her profile.
func TestFilteredDestinationsHearOfExitsAfterAGrantIsSplitAway(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		testExitAfterGrantLeaves(t, gs, func(ctx context.Context, e *graph.Engine) error {
			_, err := e.UnlinkIdentifiers(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "pam"},
				graph.IdentifierRef{Type: graph.TypeEmail, Value: "pam@example.com"}, "wrong email")
			return err
		})
	})
}

// As TestFilteredDestinationsHearOfExitsAfterAGrantIsSplitAway, the
// granting identifier erased by removeIdentifier.
func TestFilteredDestinationsHearOfExitsAfterAGrantIsRemoved(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		testExitAfterGrantLeaves(t, gs, func(ctx context.Context, e *graph.Engine) error {
			_, err := e.RemoveIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeEmail, Value: "pam@example.com"}, "wrong email")
			return err
		})
	})
}

func testExitAfterGrantLeaves(t *testing.T, gs graph.Store, correct func(context.Context, *graph.Engine) error) {
	s, e := open(t, gs)
	ctx := context.Background()
	const seg = "seg_00000000000000000000000000000007"
	rcv := newReceiver(t, func(int) int { return 200 })
	create(t, s, rcv.srv.URL, func(d *destination.Destination) {
		d.Kinds = []graph.FeedKind{graph.FeedAudienceEntered, graph.FeedAudienceExited}
		d.Purpose, d.AudienceIDs = "email", []string{seg}
	})
	now := time.Now().UTC()
	grant := func(email string) privacy.Record {
		return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: privacy.StatusGranted, At: now.Add(-time.Hour),
			Source: "web", LegalBasis: privacy.BasisConsent, Identifier: "email:" + email, ReceivedAt: now.Add(-time.Hour)}
	}
	storetest.Must(t, s.PutConsent(ctx, []privacy.Record{grant("pam@example.com"), grant("dee@example.com")}))
	// pam's device holds her profile together without her email.
	dev := graph.Event{ID: "web/m0", Type: "track", Source: "web", Timestamp: tEv, ReceivedAt: tEv,
		Identifiers: []graph.IdentifierRef{{Type: graph.TypeUserID, Value: "pam"}, {Type: graph.TypeAnonymousID, Value: "a-pam"}}}
	res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "pam", "pam@example.com"), dev, event("m2", "dee", "dee@example.com")})
	storetest.Must(t, err)
	pam, dee := res.Results[0].ProfileID, res.Results[2].ProfileID
	entered := []graph.FeedEntry{{At: now, Kind: graph.FeedAudienceEntered, ProfileID: pam, AudienceID: seg}}
	storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return graph.AppendFeed(ctx, tx, entered) }))

	w := startWorker(t, s, e, true)
	waitFor(t, "pam's entry", func() bool { return len(rcv.requests()) == 1 })
	if es := decode(t, rcv.requests()[0].body).Entries; len(es) != 1 || es[0].ProfileID != pam || es[0].Profile == nil {
		t.Fatalf("first delivery %+v, want pam's entry with her profile", es)
	}

	storetest.Must(t, correct(ctx, e))
	if p, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "pam"}); err != nil || p.ID != pam {
		t.Fatalf("pam's user id is in %s (%v), want %s", p.ID, err, pam)
	}
	// What the keeper writes then: pam exits seg; dee enters.
	later := []graph.FeedEntry{{At: now, Kind: graph.FeedAudienceExited, ProfileID: pam, AudienceID: seg},
		{At: now, Kind: graph.FeedAudienceEntered, ProfileID: dee, AudienceID: seg}}
	storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return graph.AppendFeed(ctx, tx, later) }))
	w.Kick()
	waitFor(t, "a second delivery", func() bool { return len(rcv.requests()) == 2 })
	var got []string
	for _, en := range decode(t, rcv.requests()[1].body).Entries {
		p := "no profile"
		if en.Profile != nil {
			p = "profile"
		}
		got = append(got, en.Kind+" "+en.ProfileID+" "+p)
	}
	want := []string{"AUDIENCE_EXITED " + pam + " no profile", "AUDIENCE_ENTERED " + dee + " profile"}
	if !slices.Equal(got, want) {
		t.Errorf("second delivery\n got %q\nwant %q (pam, sent as a member, no longer grants email)", got, want)
	}
	if body := string(rcv.requests()[1].body); strings.Contains(body, "pam") || strings.Contains(body, "a-pam") {
		t.Error("pam's exit carried personal data")
	}
}
