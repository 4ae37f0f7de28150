package destinationtest

import (
	"context"
	"strings"
	"testing"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
)

// testStoredNames: a name with a C1 control character, which stores took
// before the rule against them, is loaded as it is (cdp copy of an older
// store) and kept by an update that gives it back unchanged; a create, and
// an update that gives such a name anew, are refused naming the name, and
// change nothing. C0 controls were never taken, so a load refuses them.
func testStoredNames(t *testing.T, s Store) {
	ctx := context.Background()
	loader := s.(destination.Loader)
	const old = "crm \u0085legacy\u009b" // NEL and CSI, as an older version stored them
	d := dest(1)
	d.Name = old
	must(t, loader.LoadDestinations(ctx, []destination.Destination{d}))
	got, err := s.Destination(ctx, id(1))
	must(t, err)
	if got.Name != old {
		t.Fatalf("loaded name %q reads back as %q", old, got.Name)
	}

	// An update that keeps the name changes the rest.
	u := dest(1)
	u.Name, u.URL, u.UpdatedAt = old, "https://other.example.com/x", at(30)
	got, err = s.UpdateDestination(ctx, u)
	must(t, err)
	if got.Name != old || got.URL != "https://other.example.com/x" {
		t.Fatalf("update keeping the name: name %q url %q, want %q and the new URL", got.Name, got.URL, old)
	}

	// A name given anew is checked as a new one, even with the C1
	// characters of the stored name; nothing is changed.
	for _, name := range []string{"crm \u0085legacy", "other\u009b2J", old + " "} {
		r := dest(1)
		r.Name, r.URL = name, "https://third.example.com/"
		_, err = s.UpdateDestination(ctx, r)
		wantCode(t, err, graph.EINVALID, "rename to "+name)
		if !strings.Contains(err.Error(), "name") || !strings.Contains(err.Error(), "control character") {
			t.Errorf("rename to %q: error %q does not say the name holds a control character", name, err)
		}
	}
	got, err = s.Destination(ctx, id(1))
	must(t, err)
	if got.Name != old || got.URL != "https://other.example.com/x" {
		t.Fatalf("after the refused renames: name %q url %q, want %q and https://other.example.com/x", got.Name, got.URL, old)
	}
	// A clean new name is taken.
	r := dest(1)
	r.Name = "crm renamed"
	got, err = s.UpdateDestination(ctx, r)
	must(t, err)
	if got.Name != "crm renamed" {
		t.Fatalf("rename to %q: stored %q", "crm renamed", got.Name)
	}
	// Once renamed, the old name is a new name again.
	r.Name = old
	_, err = s.UpdateDestination(ctx, r)
	wantCode(t, err, graph.EINVALID, "rename back to the C1 name")

	// A create with such a name is refused, as a load with a C0 control.
	c := dest(2)
	c.Name = old
	_, err = s.CreateDestination(ctx, c)
	wantCode(t, err, graph.EINVALID, "create with a C1 name")
	c.Name = "crm\x1b[2J"
	err = loader.LoadDestinations(ctx, []destination.Destination{c})
	wantCode(t, err, graph.EINVALID, "load with a C0 name")
	if _, err := s.Destination(ctx, id(2)); graph.ErrorCode(err) != graph.ENOTFOUND {
		t.Fatalf("a refused destination was stored: %v", err)
	}
}
