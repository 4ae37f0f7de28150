package embedded_test

import (
	"os"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy/erasuretest"
)

// TestErasureConformance scans the bytes of the database file: an erased
// value must not be left anywhere in it, freed pages included.
func TestErasureConformance(t *testing.T) {
	erasuretest.Run(t, storetest.Embedded, func(t *testing.T, s graph.Store) string {
		t.Helper()
		b, err := os.ReadFile(s.(*embedded.Store).Path())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	})
}
