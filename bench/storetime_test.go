package bench

import (
	"flag"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestTimedStoreConformance runs the conformance suite through the timing
// wrapper the benchmark measures with, on both stores: a store method the
// wrapper fails to forward, or forwards wrongly, fails the suite. Every
// method the suite calls must also show in the wrapper's times.
func TestTimedStoreConformance(t *testing.T) {
	for _, name := range []string{"embedded", "neo4j"} {
		open := storetest.Factories()[name]
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var wrapped []*timedStore
			graphtest.Run(t, func(t *testing.T) graph.Store {
				s := newTimedStore(open(t))
				mu.Lock()
				wrapped = append(wrapped, s)
				mu.Unlock()
				return s
			})
			if t.Failed() || len(wrapped) == 0 {
				return // failed, or the store was skipped
			}
			if run := flag.Lookup("test.run").Value.String(); strings.Contains(run, "/") {
				t.Log("part of the suite ran: not checking which methods were timed")
				return
			}
			timed := map[string]int{}
			for _, s := range wrapped {
				for _, m := range s.take() {
					timed[m.Method] += m.Calls
				}
			}
			want := []string{"Update", "View", "Identifiers", "Profiles", "Members", "LookupProfiles", "Links", "LinksBetween", "Rejected",
				"Journeys", "Events", "ProfilesPage", "CountProfiles", "Changes", "ClaimEvents", "LockIdentifiers", "LockProfiles", "Apply"}
			for _, m := range want {
				if timed[m] == 0 {
					t.Errorf("the suite ran without the wrapper timing %s; timed: %v", m, slices.Sorted(maps.Keys(timed)))
				}
			}
		})
	}
}
