package resolver

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// stores are the stores the wrapper runs the suite on.
func stores() map[string]graphtest.Opener {
	return map[string]graphtest.Opener{"embedded": storetest.Embedded, "neo4j": storetest.Neo4j}
}

// TestCountingStoreConformance runs the conformance suite through the
// counting wrapper these tests measure store calls with, on both stores: a
// store method the wrapper fails to forward, or forwards wrongly, fails the
// suite. Every read the suite makes must also be counted.
func TestCountingStoreConformance(t *testing.T) {
	graphtest.RunWrapped(t, stores(), newCountingStore,
		func(wrapped []*countingStore) map[string]int {
			counted := map[string]int{}
			for _, s := range wrapped {
				views, calls := s.reset()
				counted["View"] += int(views)
				for m, n := range calls {
					counted[m] += n
				}
			}
			return counted
		},
		[]string{"View", "Identifiers", "Profiles", "Members", "LookupProfiles", "Links", "LinksBetween", "Rejected", "Journeys",
			"Events", "ProfilesPage", "CountProfiles", "Changes"})
}
