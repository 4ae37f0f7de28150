package destinationtest

import (
	"context"
	"errors"
	"testing"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
)

// An update's Keep takes the secret, headers and URL stored when the
// update runs, not those the caller passed (read before another update
// changed them); a kept URL that is no longer shown as the one passed is
// refused with a *ShownURLChangedError, and nothing is written. An update
// whose IfUpdatedAt is not the stored UpdatedAt is refused with a
// *ChangedError (ECONFLICT), and nothing is written.
func testKeep(t *testing.T, s Store) {
	ctx := context.Background()
	d := dest(1)
	d.URL = "https://hooks.example.com/cdp?token=one"
	_, err := s.CreateDestination(ctx, d)
	must(t, err)
	// Another update changes them, after the caller read d.
	changed := d
	changed.URL, changed.Secret, changed.Headers, changed.UpdatedAt = "https://hooks.example.com/cdp?token=two", "rotated-secret-0123", map[string]string{"X-Tenant": "t2"}, at(10)
	_, err = s.UpdateDestination(ctx, changed)
	must(t, err)

	stale := d // what the caller read, renamed
	stale.Name, stale.UpdatedAt = "renamed", at(20)
	stale.Keep = destination.Keep{Secret: true, Headers: true, URL: true}
	got, err := s.UpdateDestination(ctx, stale)
	must(t, err)
	want := changed
	want.Name, want.UpdatedAt = "renamed", at(20)
	want.Kinds = []graph.FeedKind{graph.FeedEventAdded, graph.FeedMerged} // read back sorted
	sameDef(t, "updated keeping the stored fields", got, want)
	read, err := s.Destination(ctx, d.ID)
	must(t, err)
	sameDef(t, "read back", read, want)

	moved := changed
	moved.URL, moved.UpdatedAt = "https://elsewhere.example.com/cdp?token=three", at(30)
	_, err = s.UpdateDestination(ctx, moved)
	must(t, err)
	stale.UpdatedAt = at(40)
	_, err = s.UpdateDestination(ctx, stale)
	if changedURL := (*destination.ShownURLChangedError)(nil); !errors.As(err, &changedURL) {
		t.Fatalf("a kept URL shown otherwise now: %v, want a *ShownURLChangedError", err)
	}
	wantCode(t, err, graph.EINVALID, "kept URL shown otherwise")
	read, err = s.Destination(ctx, d.ID)
	must(t, err)
	want = moved // as moved wrote it, its name included
	want.Kinds = []graph.FeedKind{graph.FeedEventAdded, graph.FeedMerged}
	sameDef(t, "after the refused update", read, want)

	// Made on the version read before moved, an update is refused whole;
	// made on moved's, it is stored.
	onOld := moved
	onOld.Name, onOld.UpdatedAt, onOld.IfUpdatedAt = "on an old read", at(50), at(10)
	_, err = s.UpdateDestination(ctx, onOld)
	if changed := (*destination.ChangedError)(nil); !errors.As(err, &changed) || !changed.UpdatedAt.Equal(at(30)) {
		t.Fatalf("an update on an old version: %v, want a *ChangedError naming %v", err, at(30))
	}
	wantCode(t, err, graph.ECONFLICT, "update on an old version")
	read, err = s.Destination(ctx, d.ID)
	must(t, err)
	sameDef(t, "after the update on an old version", read, want)
	onOld.IfUpdatedAt = at(30)
	_, err = s.UpdateDestination(ctx, onOld)
	must(t, err)
	read, err = s.Destination(ctx, d.ID)
	must(t, err)
	want.Name, want.UpdatedAt = "on an old read", at(50)
	sameDef(t, "after the update on the stored version", read, want)
}
