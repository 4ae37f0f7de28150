package resolver

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// unreadableConsent is a consent store whose records cannot be read.
type unreadableConsent struct{ privacy.ConsentStore }

func (unreadableConsent) ConsentOf(context.Context, []string) (map[string][]privacy.Record, error) {
	return nil, errors.New("connection refused by db.internal:7687")
}

// When the consent a purposed audience's entry needs cannot be read,
// changes sends neither the entry nor anything after it: it ends with
// UNAVAILABLE and the cursor of the last change it sent, so the
// subscriber resumes before the entry and misses nothing. The store's
// own message is not shown. On both stores.
func TestChangesEndBeforeAnEntryWhoseConsentCannotBeRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		engine := graph.NewEngine(s, nil)
		hub := feedhub.New(feedhub.Config{Feed: s.(graph.FeedStore), Poll: 10 * time.Millisecond})
		hub.Start(ctx)
		t.Cleanup(hub.Close)
		cfg := testConfig()
		cfg.Keys, cfg.Feed, cfg.Audiences = accessStore(s), hub, s.(audience.Store)
		cfg.Consent = unreadableConsent{s.(privacy.ConsentStore)}
		srv := httptest.NewServer(asOpen(NewHandler(engine, nil, cfg)))
		t.Cleanup(srv.Close)

		at := graph.Clean(time.Now().Add(-time.Hour))
		_, err := engine.ApplyBatch(ctx, []graph.Event{{ID: "test/u1", Type: "identify", Timestamp: at, ReceivedAt: at, Source: "test",
			Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "u1"}}}})
		storetest.Must(t, err)
		p, err := engine.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: "user_id", Value: "u1"})
		storetest.Must(t, err)
		now := graph.Now()
		plain, purposed := segID(1), segID(2)
		for id, purpose := range map[string]string{plain: "", purposed: "email"} {
			storetest.Must(t, s.(audience.Store).PutAudience(ctx, audience.Audience{ID: id, Name: "a" + id[len(id)-1:], Purpose: purpose,
				Filter: audience.Filter{Event: &audience.EventCondition{Name: "Bought"}}, CreatedAt: now, UpdatedAt: now}))
		}

		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		send, raw := dialGraphQLWS(t, wctx, srv.URL)
		recv := withoutPings(raw)
		send(`{"type":"subscribe","id":"c","payload":{"query":"subscription { changes(kinds: [AUDIENCE_ENTERED]) { cursor audienceId } }"}}`)
		for deadline := time.Now().Add(10 * time.Second); hub.Stats().Active != 1; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the subscription did not start")
			}
		}
		appendEntered := func(aid string) {
			storetest.Must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
				return graph.AppendFeed(ctx, tx, []graph.FeedEntry{{At: now, Kind: graph.FeedAudienceEntered, ProfileID: p.ID, AudienceID: aid}})
			}))
			hub.Wake()
		}
		// An audience without a purpose needs no consent: its entry is sent.
		appendEntered(plain)
		m := recv()
		data, _ := m["payload"].(map[string]any)["data"].(map[string]any)
		c, _ := data["changes"].(map[string]any)
		if m["type"] != "next" || c == nil || c["audienceId"] != plain {
			t.Fatalf("got %v, want the entry of %s", m, plain)
		}
		sent := c["cursor"]
		appendEntered(purposed)
		appendEntered(plain)
		m = recv()
		if m["type"] != "error" && m["type"] != "next" {
			t.Fatalf("got %v, want the subscription's end", m)
		}
		payload := fmt.Sprint(m["payload"])
		if m["type"] == "next" {
			errs, _ := m["payload"].(map[string]any)["errors"].([]any)
			if len(errs) == 0 {
				t.Fatalf("got %v: an entry after one whose consent could not be read", m)
			}
		}
		for _, want := range []string{"UNAVAILABLE", fmt.Sprint(sent)} {
			if !strings.Contains(payload, want) {
				t.Errorf("end %s lacks %s", payload, want)
			}
		}
		if strings.Contains(payload, "db.internal") {
			t.Errorf("end %s shows the store's own message", payload)
		}
	})
}
