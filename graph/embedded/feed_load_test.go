package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
)

// TestLoadFeedReplacesWhateverRecordsHeldTheSeqs: entries loaded in runs
// of 3 and then again as one run of 10 are held once each; a run loaded
// again inside a record replaces just its entries.
func TestLoadFeedReplacesWhateverRecordsHeldTheSeqs(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	entries := func(from, to int, kind graph.FeedKind) []graph.FeedEntry {
		var es []graph.FeedEntry
		for i := from; i <= to; i++ {
			es = append(es, graph.FeedEntry{Seq: uint64(i), At: at, Kind: kind, ProfileID: fmt.Sprintf("p%d", i)})
		}
		return es
	}
	read := func() string {
		es, err := s.Feed(ctx, 0, nil, graph.MaxFeedPage)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, e := range es {
			out += fmt.Sprintf("%d:%s ", e.Seq, e.Kind)
		}
		return out
	}
	for _, r := range [][2]int{{1, 3}, {4, 6}, {7, 9}, {10, 10}} {
		if err := s.LoadFeed(ctx, uint64(r[0]), uint64(r[1]), entries(r[0], r[1], graph.FeedEventAdded)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.LoadFeed(ctx, 1, 10, entries(1, 10, graph.FeedEventAdded)); err != nil {
		t.Fatal(err)
	}
	want := ""
	for i := 1; i <= 10; i++ {
		want += fmt.Sprintf("%d:%s ", i, graph.FeedEventAdded)
	}
	if got := read(); got != want {
		t.Fatalf("after runs of 3 and one of 10:\n got %s\nwant %s", got, want)
	}
	if err := s.LoadFeed(ctx, 4, 6, entries(4, 6, graph.FeedMerged)); err != nil {
		t.Fatal(err)
	}
	want = ""
	for i := 1; i <= 10; i++ {
		k := graph.FeedEventAdded
		if i >= 4 && i <= 6 {
			k = graph.FeedMerged
		}
		want += fmt.Sprintf("%d:%s ", i, k)
	}
	if got := read(); got != want {
		t.Fatalf("after 4 to 6 again:\n got %s\nwant %s", got, want)
	}
}
