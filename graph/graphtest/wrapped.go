package graphtest

import (
	"flag"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// RunWrapped runs the whole suite on each store of stores (by name)
// through a wrapper (a store that times or counts calls, say): a method the
// wrapper fails to forward, or forwards wrongly, fails the suite. When the
// whole suite ran and passed on a store, calls(wrapped) must report, among
// the methods it saw called, every one of want.
func RunWrapped[W graph.Store](t *testing.T, stores map[string]Opener, wrap func(graph.Store) W, calls func([]W) map[string]int, want []string) {
	for _, name := range slices.Sorted(maps.Keys(stores)) {
		open := stores[name]
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var wrapped []W
			run(t, func(t *testing.T) graph.Store {
				s := wrap(open(t))
				mu.Lock()
				wrapped = append(wrapped, s)
				mu.Unlock()
				return s
			}, wrapperScale)
			if t.Failed() || len(wrapped) == 0 {
				return // failed, or the store was skipped
			}
			if run := flag.Lookup("test.run").Value.String(); strings.Contains(run, "/") {
				t.Log("part of the suite ran: not checking which methods the wrapper saw")
				return
			}
			seen := calls(wrapped)
			for _, m := range want {
				if seen[m] == 0 {
					t.Errorf("the suite ran without the wrapper seeing %s; seen: %v", m, slices.Sorted(maps.Keys(seen)))
				}
			}
		})
	}
}
