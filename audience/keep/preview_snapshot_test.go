package keep_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
)

// Two strangers: F, the profile of the smaller id, bought; L, of the
// larger id (two identifiers, so it survives a merge), only viewed. A
// preview of "bought" reads one profile a page, and once it has evaluated
// F's page a sign-in merging F into L commits. The count is of one state:
// 1 before the merge (F) as after it (L, holding F's order). Reading L's
// page after the merge counted the person twice, as F and again as L.
// Neo4j counts a filter in one statement (audience.FilterCounter), which
// no commit splits: the merge then commits after it, and the count is 1
// all the same.
func TestPreviewCountsAPersonMergedMeanwhileOnce(t *testing.T) {
	stores := map[string]func(t *testing.T) graph.Store{
		"embedded": func(t *testing.T) graph.Store {
			// A memory map the file never outgrows: the merge, committed
			// while the preview holds its snapshot, need not wait for it.
			s, err := embedded.OpenWith(t.TempDir(), embedded.Options{InitialMmapSize: 64 << 20})
			storetest.Must(t, err)
			t.Cleanup(func() { _ = s.Close(context.Background()) })
			return s
		},
		"neo4j": storetest.Neo4j,
	}
	for _, name := range []string{"embedded", "neo4j"} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, stores[name](t), t0)
			e.apply(ev("v1", t0.Add(-3*time.Hour), "Viewed", nil, nil, "anonymous_id:pv-1"))
			e.apply(ev("v2", t0.Add(-3*time.Hour), "Viewed", nil, nil, "anonymous_id:pv-2"))
			keys := map[string]string{e.profile("anonymous_id:pv-1"): "anonymous_id:pv-1", e.profile("anonymous_id:pv-2"): "anonymous_id:pv-2"}
			ids := sorted(e.profile("anonymous_id:pv-1"), e.profile("anonymous_id:pv-2"))
			f, l := keys[ids[0]], keys[ids[1]]
			e.apply(ev("buy", t0.Add(-2*time.Hour), "Order Completed", nil, nil, f),
				ev("dev", t0.Add(-2*time.Hour), "Viewed", nil, nil, l, "device_id:pv-l"))
			merged := false
			defer keep.SetPreviewPages(1, func(page []string) {
				if !merged && slices.Equal(page, ids[:1]) {
					merged = true
					e.apply(ev("link", t0.Add(-time.Hour), "Signed In", nil, nil, f, l))
				}
			})()
			n, _, err := e.k.Preview(context.Background(), &audience.Filter{Event: &audience.EventCondition{Name: "Order Completed"}}, "", 0)
			storetest.Must(t, err)
			if name == "embedded" && !merged {
				t.Fatal("the merge was not made between the pages")
			}
			if !merged {
				e.apply(ev("link", t0.Add(-time.Hour), "Signed In", nil, nil, f, l))
			}
			if got := e.profile(f); got != ids[1] {
				t.Fatalf("the sign-in left F in %s, not in L's %s", got, ids[1])
			}
			if n != 1 {
				t.Fatalf("preview during the merge counted %d; want 1", n)
			}
		})
	}
}
