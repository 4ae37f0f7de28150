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
)

// A batch taken before an erasure of one identifier and sent after it
// (the erasure committed while the worker held the batch) names no event
// the erasure deleted: the EVENT_ADDED entry of the event only the erased
// email carried goes, that of the event the email shared with the user id
// (scrubbed, kept) stays, and so does that of an event of the user id.
func TestBatchBuiltAfterAnErasureNamesNoDeletedEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		d := create(t, s, "https://hooks.example.com/cdp", func(d *destination.Destination) {
			d.Kinds = []graph.FeedKind{graph.FeedEventAdded, graph.FeedForgotten}
		})
		ann := graph.IdentifierRef{Type: graph.TypeUserID, Value: "ann"}
		email := graph.IdentifierRef{Type: graph.TypeEmail, Value: "ann@example.com"}
		track := func(id string, min int, ids ...graph.IdentifierRef) graph.Event {
			at := tEv.Add(time.Duration(min) * time.Minute)
			return graph.Event{ID: "web/" + id, Type: "track", Name: "Viewed", Source: "web", Timestamp: at, ReceivedAt: at, Identifiers: ids}
		}
		_, err := e.ApplyBatch(ctx, []graph.Event{track("shared", 0, ann, email), track("mailonly", 1, email), track("useronly", 2, ann)})
		storetest.Must(t, err)
		pa, err := e.ProfileByIdentifier(ctx, ann)
		storetest.Must(t, err)

		// The worker's take, as it runs it: the lease, the feed read, then
		// the batch.
		now := time.Now()
		dl := takeBatch(t, s, d, now)
		show := func(kind, profile, event string) string { return fmt.Sprintf("%s %s %s", kind, profile, event) }
		var taken []string
		for _, en := range dl.Entries {
			taken = append(taken, show(string(en.Kind), en.ProfileID, en.EventID))
		}
		wantTaken := []string{
			show("EVENT_ADDED", pa.ID, "web/shared"),
			show("EVENT_ADDED", pa.ID, "web/mailonly"),
			show("EVENT_ADDED", pa.ID, "web/useronly"),
		}
		if !slices.Equal(taken, wantTaken) {
			t.Fatalf("the batch taken holds %q, want %q", taken, wantTaken)
		}

		// Ann's email is erased while the batch is held: the event only it
		// carried is deleted; her profile stays.
		_, err = e.ForgetIdentifier(ctx, email, "asked by mail", nil)
		storetest.Must(t, err)
		if evs, err := e.Events(ctx, []string{"web/shared", "web/mailonly", "web/useronly"}); err != nil || len(evs) != 2 || evs["web/mailonly"].ID != "" {
			t.Fatalf("after the erasure the store holds events %v (%v), want web/shared and web/useronly", slices.Sorted(func(yield func(string) bool) {
				for id := range evs {
					if !yield(id) {
						return
					}
				}
			}), err)
		}
		p := destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules())}
		body, n, _, err := p.Build(ctx, d, dl, now)
		storetest.Must(t, err)
		var got []string
		for _, en := range decode(t, body).Entries {
			got = append(got, show(en.Kind, en.ProfileID, en.EventID))
		}
		want := []string{show("EVENT_ADDED", pa.ID, "web/shared"), show("EVENT_ADDED", pa.ID, "web/useronly")}
		if !slices.Equal(got, want) || n != len(want) {
			t.Errorf("the batch built after the erasure holds %d entries %q, want %q", n, got, want)
		}
		if strings.Contains(string(body), "mailonly") {
			t.Errorf("the batch built after the erasure names the deleted event: %s", body)
		}
	})
}
