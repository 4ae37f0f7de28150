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

// A batch taken before an erasure and sent after it (the erasure
// committed while the worker held the batch, which the erasure's own
// redaction of stored batches cannot reach) names no erased profile: not
// as an entry's profile, and not among another entry's previous ids. A
// split off the erased profile, left naming no other profile, goes, as
// the erasure makes it go from the feed and from stored batches; the
// FORGOTTEN entry of an earlier erasure of part of the profile is sent.
func TestBatchBuiltAfterAnErasureNamesNoErasedPreviousID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		d := create(t, s, "https://hooks.example.com/cdp", func(d *destination.Destination) {
			d.Kinds = []graph.FeedKind{graph.FeedEventAdded, graph.FeedSplit, graph.FeedForgotten}
		})
		ann, dev := graph.IdentifierRef{Type: graph.TypeUserID, Value: "ann"}, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "dev-1"}
		email := graph.IdentifierRef{Type: graph.TypeEmail, Value: "ann@example.com"}
		track := func(id string, min int, ids ...graph.IdentifierRef) graph.Event {
			at := tEv.Add(time.Duration(min) * time.Minute)
			return graph.Event{ID: "web/" + id, Type: "track", Name: "Viewed", Source: "web", Timestamp: at, ReceivedAt: at, Identifiers: ids}
		}
		_, err := e.ApplyBatch(ctx, []graph.Event{track("m0", 0, ann, email), track("m1", 0, ann, dev)})
		storetest.Must(t, err)
		pa, err := e.ProfileByIdentifier(ctx, ann)
		storetest.Must(t, err)
		// The device is not Ann's: it splits off her profile, then sends
		// an event of its own.
		_, err = e.UnlinkIdentifiers(ctx, ann, dev, "a shared kiosk")
		storetest.Must(t, err)
		pd, err := e.ProfileByIdentifier(ctx, dev)
		storetest.Must(t, err)
		if p, err := e.ProfileByIdentifier(ctx, ann); err != nil || p.ID != pa.ID || pd.ID == pa.ID {
			t.Fatalf("after the unlink Ann is %+v (%v), the device %s; want Ann to keep %s and the device apart", p, err, pd.ID, pa.ID)
		}
		_, err = e.ApplyBatch(ctx, []graph.Event{track("m2", 1, dev)})
		storetest.Must(t, err)
		// Ann's email is erased: her profile stays, with a FORGOTTEN entry.
		_, err = e.ForgetIdentifier(ctx, email, "asked by mail", nil)
		storetest.Must(t, err)

		// The worker's take, as it runs it: the lease, the feed read, then
		// the batch.
		now := time.Now()
		dl := takeBatch(t, s, d, now)
		show := func(ps []destination.PayloadEntry) []string {
			var out []string
			for _, p := range ps {
				out = append(out, fmt.Sprintf("%s %s %v %s", p.Kind, p.ProfileID, p.PreviousIDs, p.EventID))
			}
			return out
		}
		taken := make([]destination.PayloadEntry, 0, len(dl.Entries))
		for _, en := range dl.Entries {
			taken = append(taken, destination.PayloadEntry{Kind: string(en.Kind), ProfileID: en.ProfileID, PreviousIDs: en.PreviousIDs, EventID: en.EventID})
		}
		wantTaken := []string{
			fmt.Sprintf("EVENT_ADDED %s [] web/m0", pa.ID),
			fmt.Sprintf("EVENT_ADDED %s [] web/m1", pa.ID),
			fmt.Sprintf("SPLIT %s [%s] ", pd.ID, pa.ID),
			fmt.Sprintf("EVENT_ADDED %s [] web/m2", pd.ID),
			fmt.Sprintf("FORGOTTEN %s [] ", pa.ID),
		}
		if got := show(taken); !slices.Equal(got, wantTaken) {
			t.Fatalf("the batch taken holds %q, want %q", got, wantTaken)
		}

		// Ann is erased while the batch is held; then it is built.
		_, err = e.ForgetProfile(ctx, pa.ID, "erasure request", nil)
		storetest.Must(t, err)
		p := destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules())}
		body, n, _, err := p.Build(ctx, d, dl, now)
		storetest.Must(t, err)
		sent := decode(t, body).Entries
		got := show(sent)
		want := []string{fmt.Sprintf("EVENT_ADDED %s [] web/m2", pd.ID), fmt.Sprintf("FORGOTTEN %s [] ", pa.ID)}
		if !slices.Equal(got, want) || n != len(want) {
			t.Errorf("the batch built after the erasure holds %d entries %q, want %q", n, got, want)
		}
		// Only the FORGOTTEN entry names Ann, and carries no profile.
		if len(sent) == len(want) && (sent[1].Profile != nil || strings.Count(string(body), pa.ID) != 1) {
			t.Errorf("the batch built after the erasure names the erased profile %s beyond its FORGOTTEN entry: %s", pa.ID, body)
		}
	})
}

// takeBatch takes d's next batch as the worker does: the lease, the feed
// read from d's cursor, then the batch, holding up to 100 entries.
func takeBatch(t *testing.T, s store, d destination.Destination, now time.Time) destination.Delivery {
	t.Helper()
	ctx := context.Background()
	if _, ok, err := s.AcquireLease(ctx, d.ID, "test", now, time.Minute); err != nil || !ok {
		t.Fatalf("the lease: %v %v", ok, err)
	}
	head, err := s.FeedHead(ctx)
	storetest.Must(t, err)
	entries, err := s.Feed(ctx, d.Cursor, d.Kinds, 100)
	storetest.Must(t, err)
	dl, made, err := s.TakeBatch(ctx, d.ID, "test", d.Cursor, head, entries, now)
	storetest.Must(t, err)
	if !made {
		t.Fatal("no batch was taken")
	}
	return dl
}
