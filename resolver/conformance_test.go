package resolver

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

// TestCountingStoreConformance runs the conformance suite through the
// counting wrapper these tests measure store calls with, on both stores: a
// store method the wrapper fails to forward, or forwards wrongly, fails the
// suite. Every read the suite makes must also be counted.
func TestCountingStoreConformance(t *testing.T) {
	for _, name := range []string{"embedded", "neo4j"} {
		open := storetest.Factories()[name]
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var wrapped []*countingStore
			graphtest.Run(t, func(t *testing.T) graph.Store {
				s := newCountingStore(open(t))
				mu.Lock()
				wrapped = append(wrapped, s)
				mu.Unlock()
				return s
			})
			if t.Failed() || len(wrapped) == 0 {
				return // failed, or the store was skipped
			}
			if run := flag.Lookup("test.run").Value.String(); strings.Contains(run, "/") {
				t.Log("part of the suite ran: not checking which reads were counted")
				return
			}
			var views int64
			counted := map[string]int{}
			for _, s := range wrapped {
				v, calls := s.reset()
				views += v
				for m, n := range calls {
					counted[m] += n
				}
			}
			want := []string{"Identifiers", "Profiles", "Members", "LookupProfiles", "Links", "LinksBetween", "Rejected", "Journeys",
				"Events", "ProfilesPage", "CountProfiles", "Changes"}
			for _, m := range want {
				if counted[m] == 0 {
					t.Errorf("the suite ran without the wrapper counting %s; counted: %v", m, slices.Sorted(maps.Keys(counted)))
				}
			}
			if views == 0 {
				t.Error("the suite ran without the wrapper counting a read transaction")
			}
		})
	}
}
