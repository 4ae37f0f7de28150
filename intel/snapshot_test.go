package intel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
)

// On the embedded store a scan reads one snapshot: Lee viewed on the web,
// Sam bought in a store, two strangers when the scan begins. A merge of
// the two commits between the listing of the profiles and the reading of
// their events (in keep, which the scan asks after listing each page).
// The scan still counts what was committed when it began: two profiles,
// nobody past step 1. Reading the events after the merge made one of
// them a profile with no events and the other a completed funnel, an
// answer of neither state. Neo4j answers a funnel in one statement
// (intel.Evaluator), which no write splits.
func TestScanReadsOneSnapshot(t *testing.T) {
	ctx := context.Background()
	// A memory map the file never outgrows: the merge, committed while
	// the scan holds its snapshot, need not wait for it.
	s, err := embedded.OpenWith(t.TempDir(), embedded.Options{InitialMmapSize: 64 << 20})
	storetest.Must(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	e := graph.NewEngine(s, nil)
	for _, ev := range []graph.Event{
		event("l1", "Product Viewed", "web", 0, "anonymous_id:lee"),
		event("s1", "Order Completed", "store", 30, "user_id:sam"),
	} {
		if _, err := e.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	q := intel.FunnelQuery{Steps: []intel.EventMatch{{Name: "Product Viewed"}, {Name: "Order Completed"}}, Within: 24 * time.Hour}
	storetest.Must(t, q.Check())
	funnel := func(keep func(ctx context.Context, ids []string) ([]string, error)) (int, string) {
		f := intel.NewFunnel(q)
		from, to := q.Events()
		storetest.Must(t, intel.Scan(ctx, s, e, from, to, keep, func(_ string, evs []graph.Event) error {
			f.Add(evs)
			return nil
		}))
		got := f.Result()
		return got.Profiles, fmt.Sprint(counts(got))
	}
	merged := false
	profiles, steps := funnel(func(_ context.Context, ids []string) ([]string, error) {
		if !merged {
			merged = true
			if _, err := e.ApplyBatch(ctx, []graph.Event{event("link", "Signed In", "web", 60, "anonymous_id:lee", "user_id:sam")}); err != nil {
				return nil, err
			}
		}
		return ids, nil
	})
	if !merged || profiles != 2 || steps != "[1 0]" {
		t.Fatalf("the scan during the merge (made: %v) counted %d profiles, steps %s; want 2 profiles, steps [1 0]", merged, profiles, steps)
	}
	// The merge was committed: the next scan sees one person who viewed
	// and then bought.
	if profiles, steps := funnel(nil); profiles != 1 || steps != "[1 1]" {
		t.Fatalf("the scan after the merge counted %d profiles, steps %s; want 1 profile, steps [1 1]", profiles, steps)
	}
}

// A lookalike reads one snapshot too: the first pass's Subjects, read
// after a merge committed between the listing of the page and their
// read, are those of the two strangers of the listing, each with their
// own event. Reading them after the merge dropped Sam and gave Lee both
// events and the merge's.
func TestLookalikeReadsOneSnapshot(t *testing.T) {
	ctx := context.Background()
	s, err := embedded.OpenWith(t.TempDir(), embedded.Options{InitialMmapSize: 64 << 20})
	storetest.Must(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	e := graph.NewEngine(s, nil)
	lee, sam := graph.IdentifierRef{Type: "anonymous_id", Value: "lee"}, graph.IdentifierRef{Type: "user_id", Value: "sam"}
	for _, ev := range []graph.Event{
		event("l1", "Product Viewed", "web", 0, lee.Type+":"+lee.Value),
		event("s1", "Order Completed", "store", 30, sam.Type+":"+sam.Value),
	} {
		if _, err := e.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
			t.Fatal(err)
		}
	}
	pl, err := e.ProfileByIdentifier(ctx, lee)
	storetest.Must(t, err)
	ps, err := e.ProfileByIdentifier(ctx, sam)
	storetest.Must(t, err)
	merged := false
	seen := map[string]int{} // events of each Subject of the first pass
	subjects := func(sctx context.Context, ids []string) (map[string]*audience.Subject, error) {
		if !merged {
			merged = true
			if _, err := e.ApplyBatch(ctx, []graph.Event{event("link", "Signed In", "web", 60, "anonymous_id:lee", "user_id:sam")}); err != nil {
				return nil, err
			}
			subs, err := keep.Subjects(sctx, e, s, s, nil, ids, base)
			for id, sub := range subs {
				seen[id] = len(sub.Events)
			}
			return subs, err
		}
		return keep.Subjects(sctx, e, s, s, nil, ids, base)
	}
	_, err = intel.Lookalike(ctx, s, subjects, "seg_"+fmt.Sprintf("%032d", 7), nil, 5, "", base)
	// No audience was kept, so no seed: the first pass is all there is.
	storetest.WantCode(t, err, graph.EINVALID, "a lookalike of an empty audience")
	want := map[string]int{pl.ID: 1, ps.ID: 1}
	if !merged || fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("the first pass during the merge (made: %v) read Subjects with %v events; want %v", merged, seen, want)
	}
}
