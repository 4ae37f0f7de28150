package resolver

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// audienceChanged checks an audience's purpose for the entries waiting
// together: 60 profiles entering an audience for email at once cost its
// subscriber a few reads of the store, not two or more each. On both
// stores; which entries are sent is worked by hand: the 30 profiles that
// grant email, in the feed's order, then the exit that closes the test.
func TestAudienceChangedReadsPerBatchNotPerEntry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		cs := newCountingStore(s)
		engine := graph.NewEngine(cs, nil)
		hub := feedhub.New(feedhub.Config{Feed: s.(graph.FeedStore), Poll: 10 * time.Millisecond})
		hub.Start(ctx)
		t.Cleanup(hub.Close)
		cfg := testConfig()
		cfg.Keys, cfg.Feed, cfg.Audiences, cfg.Consent = accessStore(s), hub, s.(audience.Store), s.(privacy.ConsentStore)
		srv := httptest.NewServer(asOpen(NewHandler(engine, nil, cfg)))
		t.Cleanup(srv.Close)

		const n = 60
		at := graph.Clean(time.Now().Add(-time.Hour))
		pids := make([]string, n)
		var recs []privacy.Record
		for i := range n {
			u := fmt.Sprintf("u%02d", i)
			if _, err := engine.ApplyBatch(ctx, []graph.Event{{ID: "test/" + u, Type: "identify", Timestamp: at, ReceivedAt: at, Source: "test",
				Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: u}}}}); err != nil {
				t.Fatal(err)
			}
			p, err := engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: u})
			storetest.Must(t, err)
			pids[i] = p.ID
			status := privacy.StatusGranted
			if i%2 == 1 {
				status = privacy.StatusWithdrawn
			}
			recs = append(recs, privacy.Record{ID: privacy.NewRecordID(), Purpose: "email", Status: status, At: at, Source: "test",
				LegalBasis: privacy.BasisConsent, Identifier: "user_id:" + u, ReceivedAt: at})
		}
		storetest.Must(t, s.(privacy.ConsentStore).PutConsent(ctx, recs))
		now := graph.Now()
		aid := segID(1)
		storetest.Must(t, s.(audience.Store).PutAudience(ctx, audience.Audience{ID: aid, Name: "news", Purpose: "email",
			Filter: audience.Filter{Event: &audience.EventCondition{Name: "Bought"}}, CreatedAt: now, UpdatedAt: now}))

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		send, recv := dialGraphQLWS(t, wctx, srv.URL)
		send(`{"type":"subscribe","id":"a","payload":{"query":"subscription { audienceChanged(audienceId: \"` + aid + `\") { kind profileId } }"}}`)
		for deadline := time.Now().Add(10 * time.Second); hub.Stats().Active != 1; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the subscription did not start")
			}
		}
		var entries []graph.FeedEntry
		for _, pid := range pids {
			entries = append(entries, graph.FeedEntry{At: now, Kind: graph.FeedAudienceEntered, ProfileID: pid, AudienceID: aid})
		}
		entries = append(entries, graph.FeedEntry{At: now, Kind: graph.FeedAudienceExited, ProfileID: pids[0], AudienceID: aid})
		cs.reset()
		storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return graph.AppendFeed(ctx, tx, entries) }))
		hub.Wake()
		var want, got []string
		for i := 0; i < n; i += 2 {
			want = append(want, "ENTERED "+pids[i])
		}
		want = append(want, "EXITED "+pids[0])
		for range want {
			m := recv()
			data, _ := m["payload"].(map[string]any)["data"].(map[string]any)
			c, _ := data["audienceChanged"].(map[string]any)
			if m["type"] != "next" || c == nil {
				t.Fatalf("got %v, want an audience change", m)
			}
			got = append(got, fmt.Sprintf("%v %v", c["kind"], c["profileId"]))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("sent:\n%v\nwant:\n%v", got, want)
		}
		views, calls := cs.reset()
		if views > 10 {
			t.Errorf("%d entries admitted in %d reads of the store (%s), want a few", n, views, describe(calls))
		}
	})
}
