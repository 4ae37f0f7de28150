package bench

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// stores are the stores the wrapper runs the suite on.
func stores() map[string]graphtest.Opener {
	return map[string]graphtest.Opener{"embedded": storetest.Embedded, "neo4j": storetest.Neo4j}
}

// TestTimedStoreConformance runs the conformance suite through the timing
// wrapper the benchmark measures with, on both stores: a store method the
// wrapper fails to forward, or forwards wrongly, fails the suite. Every
// method the suite calls must also show in the wrapper's times.
func TestTimedStoreConformance(t *testing.T) {
	graphtest.RunWrapped(t, stores(), func(s graph.Store) *timedStore { return newTimedStore(s) },
		func(wrapped []*timedStore) map[string]int {
			timed := map[string]int{}
			for _, s := range wrapped {
				for _, m := range s.take() {
					timed[m.Method] += m.Calls
				}
			}
			return timed
		},
		[]string{"Update", "View", "Identifiers", "Profiles", "Members", "LookupProfiles", "Links", "LinksBetween", "Rejected",
			"Journeys", "Events", "ProfilesPage", "CountProfiles", "Changes", "ClaimEvents", "LockIdentifiers", "LockProfiles", "Apply", "TakenProfileIDs"})
}

// The optional readers the intelligence scans use pass through the
// wrapper, on both stores: the scan-read suite (which fails on a store
// without them) runs on timed stores, and each shows in their times.
func TestTimedStoreScanReads(t *testing.T) {
	for name, open := range stores() {
		t.Run(name, func(t *testing.T) {
			var timed *timedStore
			graphtest.RunScanReads(t, func(t *testing.T) graph.Store {
				timed = newTimedStore(open(t))
				return timed
			})
			if t.Failed() || timed == nil {
				return
			}
			seen := map[string]int{}
			for _, m := range timed.take() {
				seen[m.Method] += m.Calls
			}
			if seen["MemberKeys"] == 0 || seen["ProfileIDs"] == 0 {
				t.Errorf("the wrapper did not see MemberKeys and ProfileIDs: %v", seen)
			}
		})
	}
}

// The wrapper reads one snapshot where the store under it does
// (graphtest.CheckSnapshot on the timed embedded store).
func TestTimedStoreSnapshots(t *testing.T) {
	s, err := embedded.OpenWith(t.TempDir(), embedded.Options{InitialMmapSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	graphtest.CheckSnapshot(t, newTimedStore(s))
}
