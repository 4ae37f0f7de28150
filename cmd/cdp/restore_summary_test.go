package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The line cdp restore (and cdp backup) ends with counts the live
// profiles and, apart from them, the profiles merged away: a store of one
// live profile that two merged into reads "1 live profiles, 1 merged
// away", never "1 profiles (1 merged away)", which would read as one
// profile in all, merged away itself.
func TestRestoreSummaryCountsMergedProfilesApart(t *testing.T) {
	ctx := context.Background()
	dir, st := copySource(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := func(id string, min int, ids ...graph.IdentifierRef) graph.Event {
		ts := at.Add(time.Duration(min) * time.Minute)
		return graph.Event{ID: "test/" + id, MessageID: id, Type: "identify", Source: "test", Timestamp: ts, ReceivedAt: ts, Identifiers: ids}
	}
	u1, a1 := graph.IdentifierRef{Type: "user_id", Value: "u1"}, graph.IdentifierRef{Type: "anonymous_id", Value: "a1"}
	eng := graph.NewEngine(st, nil)
	for _, e := range []graph.Event{ev("e1", 0, u1), ev("e2", 1, a1), ev("e3", 2, u1, a1)} {
		if _, err := eng.ApplyBatch(ctx, []graph.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	storetest.Must(t, st.Close(ctx))

	stdout, stderr, code := runCDP(t, nil, "restore", "--data-dir", t.TempDir(), filepath.Join(dir, "cdp.db"))
	if want := "2 identifiers, 1 live profiles, 1 merged away, 3 events, 0 API keys"; code != 0 || !strings.Contains(stdout, want) {
		t.Fatalf("cdp restore: exit %d, %q (stderr %q); want it to say %q", code, stdout, stderr, want)
	}
}
