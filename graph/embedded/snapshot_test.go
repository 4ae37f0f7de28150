package embedded

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
)

// Reads under a Snapshot see what was committed when it began, whichever
// goroutine makes them, while a write outside it commits; a write under
// it is refused, and so is a read under it once it has ended
// (graphtest.CheckSnapshot).
func TestSnapshotReadsOneState(t *testing.T) {
	s, err := OpenWith(t.TempDir(), Options{InitialMmapSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	graphtest.CheckSnapshot(t, s)
}
