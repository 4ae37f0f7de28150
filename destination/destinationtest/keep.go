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

// Two updates whose UpdatedAt fall in the same microsecond (or a clock
// set back) are two versions all the same: an update stores an UpdatedAt
// after the one it replaces, so that the version a caller read names one
// definition, and an update made on the first is refused once the second
// is stored.
func testUpdateSameMicrosecond(t *testing.T, s Store) {
	ctx := context.Background()
	d := dest(1)
	d.Name, d.UpdatedAt = "first", at(5)
	_, err := s.CreateDestination(ctx, d)
	must(t, err)
	second := d
	second.Name = "second" // saved in the microsecond of the first
	_, err = s.UpdateDestination(ctx, second)
	must(t, err)
	read, err := s.Destination(ctx, d.ID)
	must(t, err)
	if read.Name != "second" || !read.UpdatedAt.After(at(5)) {
		t.Fatalf("an update in the microsecond of the version it replaces stored %q with updatedAt %v, want \"second\" after %v", read.Name, read.UpdatedAt, at(5))
	}
	onFirst := d
	onFirst.Name, onFirst.UpdatedAt, onFirst.IfUpdatedAt = "on first", at(6), at(5)
	_, err = s.UpdateDestination(ctx, onFirst)
	if changed := (*destination.ChangedError)(nil); !errors.As(err, &changed) || !changed.UpdatedAt.Equal(read.UpdatedAt) {
		t.Fatalf("an update on the first version: %v, want a *ChangedError naming %v", err, read.UpdatedAt)
	}
	back := d
	back.Name, back.UpdatedAt, back.IfUpdatedAt = "set back", at(2), read.UpdatedAt
	got, err := s.UpdateDestination(ctx, back)
	must(t, err)
	if got.Name != "set back" || !got.UpdatedAt.After(read.UpdatedAt) {
		t.Fatalf("an update dated before the stored version returned %q with updatedAt %v, want after %v", got.Name, got.UpdatedAt, read.UpdatedAt)
	}
	if b, err := s.Destination(ctx, d.ID); err != nil || !b.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("read back %v, %v; want updatedAt %v as returned", b.UpdatedAt, err, got.UpdatedAt)
	}
}
