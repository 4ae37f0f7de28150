package app_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// audienceChanged holds the audience's purpose as Audience.changes does:
// an ENTERED of a profile that does not grant it when the entry is sent
// (the survivor of a static audience's member, put in its place before
// the keeper's purpose check, say) is not sent; EXITED entries are. On
// both stores, hand-worked: of the audience for email, bob (withdrawn),
// cal (grant expired) and a profile that does not exist enter, then ann
// (granting) enters and bob exits: the subscriber hears ann's entry and
// bob's exit only.
func TestAudienceChangedHoldsThePurpose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		pid, now := purposeSubjects(t, svc, st)
		var d struct {
			A struct {
				ID string `json:"id"`
			} `json:"createAudience"`
		}
		// Nobody has bought: the keeper enters nobody itself.
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "news", purpose: "email", filter: {event: {name: "Bought"}}}) { id } }`, &d)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("a", `subscription { audienceChanged(audienceId: "`+d.A.ID+`") { kind profileId } }`)
		waitActive(t, svc, 1)
		at := graph.Clean(now)
		entry := func(k graph.FeedKind, p string) graph.FeedEntry {
			return graph.FeedEntry{At: at, Kind: k, ProfileID: p, AudienceID: d.A.ID}
		}
		err := st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			return graph.AppendFeed(ctx, tx, []graph.FeedEntry{
				entry(graph.FeedAudienceEntered, pid["bob"]),
				entry(graph.FeedAudienceEntered, pid["cal"]),
				entry(graph.FeedAudienceEntered, "p_nobody"),
				entry(graph.FeedAudienceEntered, pid["ann"]),
				entry(graph.FeedAudienceExited, pid["bob"]),
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		svc.Feed.Wake()
		for _, want := range []string{"ENTERED " + pid["ann"], "EXITED " + pid["bob"]} {
			m, code, reason := w.readFor("a")
			var p struct {
				Data struct {
					C struct{ Kind, ProfileID string } `json:"audienceChanged"`
				} `json:"data"`
			}
			if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil {
				t.Fatalf("got %+v (close %d %s)", m, code, reason)
			}
			if got := p.Data.C.Kind + " " + p.Data.C.ProfileID; got != want {
				t.Fatalf("audienceChanged: %s, want %s", got, want)
			}
		}
	})
}

// changes and profileChanged hold an audience's purpose as audienceChanged
// does: an AUDIENCE_ENTERED of a purposed audience is sent only for a
// profile that grants the purpose when the entry is sent. Hand-worked, on
// both stores: of the audience for email, bob (withdrawn), cal (grant
// expired) and ann (granting) enter, then bob exits; an audience without
// a purpose sees bob enter. changes hears ann's entry, bob's exit and
// bob's entry of the audience without a purpose; profileChanged(bob)
// hears bob's exit and that entry.
func TestChangesHoldTheAudiencePurpose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		ctx := context.Background()
		svc, dial := startSubs(t, st, app.FeedConfig{}, nil)
		pid, now := purposeSubjects(t, svc, st)
		var news, all struct {
			A struct {
				ID string `json:"id"`
			} `json:"createAudience"`
		}
		// Nobody has bought: the keeper enters nobody itself.
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "news", purpose: "email", filter: {event: {name: "Bought"}}}) { id } }`, &news)
		gqlData(t, dial, "", `mutation { createAudience(input: {name: "all", filter: {event: {name: "Bought"}}}) { id } }`, &all)
		w, _ := dialWS(t, dial, nil)
		w.mustInit(nil)
		w.subscribe("c", `subscription { changes(kinds: [AUDIENCE_ENTERED, AUDIENCE_EXITED]) { kind profileId audienceId } }`)
		w.subscribe("p", `subscription { profileChanged(id: "`+pid["bob"]+`", kinds: [AUDIENCE_ENTERED, AUDIENCE_EXITED]) { kind profileId audienceId } }`)
		waitActive(t, svc, 2)
		at := graph.Clean(now)
		entry := func(k graph.FeedKind, p, a string) graph.FeedEntry {
			return graph.FeedEntry{At: at, Kind: k, ProfileID: p, AudienceID: a}
		}
		err := st.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			return graph.AppendFeed(ctx, tx, []graph.FeedEntry{
				entry(graph.FeedAudienceEntered, pid["bob"], news.A.ID),
				entry(graph.FeedAudienceEntered, pid["cal"], news.A.ID),
				entry(graph.FeedAudienceEntered, pid["ann"], news.A.ID),
				entry(graph.FeedAudienceExited, pid["bob"], news.A.ID),
				entry(graph.FeedAudienceEntered, pid["bob"], all.A.ID),
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		svc.Feed.Wake()
		heard := func(id, field string, want []string) {
			t.Helper()
			for _, want := range want {
				m, code, reason := w.readFor(id)
				var p struct {
					Data map[string]struct{ Kind, ProfileID, AudienceID string } `json:"data"`
				}
				if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil {
					t.Fatalf("%s: got %+v (close %d %s)", field, m, code, reason)
				}
				c := p.Data[field]
				if got := c.Kind + " " + c.ProfileID + " " + c.AudienceID; got != want {
					t.Fatalf("%s: %s, want %s", field, got, want)
				}
			}
		}
		heard("c", "changes", []string{
			"AUDIENCE_ENTERED " + pid["ann"] + " " + news.A.ID,
			"AUDIENCE_EXITED " + pid["bob"] + " " + news.A.ID,
			"AUDIENCE_ENTERED " + pid["bob"] + " " + all.A.ID,
		})
		heard("p", "profileChanged", []string{
			"AUDIENCE_EXITED " + pid["bob"] + " " + news.A.ID,
			"AUDIENCE_ENTERED " + pid["bob"] + " " + all.A.ID,
		})
	})
}

// purposeSubjects stores ann, bob and cal, each with a user id and an
// email, and their consent to email: ann grants it, bob has withdrawn it,
// cal's grant has expired. It returns their profile ids and the time the
// consent was recorded.
func purposeSubjects(t *testing.T, svc *app.Service, st graph.Store) (map[string]string, time.Time) {
	t.Helper()
	ctx := context.Background()
	pid := map[string]string{}
	for _, n := range []string{"ann", "bob", "cal"} {
		ev := graph.Event{ID: "web/i-" + n, Type: "identify", Timestamp: time.Now().Add(-time.Hour), Channel: "server", Source: "web",
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: n}, {Type: "email", Value: n + "@example.com"}}}
		if _, err := svc.Engine.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
			t.Fatal(err)
		}
		p, err := svc.Engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: n})
		if err != nil {
			t.Fatal(err)
		}
		pid[n] = p.ID
	}
	now := graph.Now()
	rec := func(n string, s privacy.Status, at, expires time.Time) privacy.Record {
		return privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: s, At: at, Source: "web",
			LegalBasis: privacy.BasisConsent, Identifier: "email:" + n + "@example.com", ReceivedAt: at, ExpiresAt: expires}
	}
	storetest.Must(t, st.(privacy.ConsentStore).PutConsent(ctx, []privacy.Record{
		rec("ann", privacy.StatusGranted, now.Add(-time.Hour), time.Time{}),
		rec("bob", privacy.StatusWithdrawn, now.Add(-time.Hour), time.Time{}),
		rec("cal", privacy.StatusGranted, now.Add(-time.Hour), now.Add(-time.Minute)),
	}))
	return pid, now
}
