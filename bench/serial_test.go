package bench

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The bench's store wrappers say what the store under them says about its
// writes, so the engine measured does what it does unwrapped (one
// suppression read per batch on the embedded store, two on Neo4j).
func TestWrappersKeepSerialWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		want := graph.SerialWrites(s)
		if _, embedded := s.(interface{ Path() string }); embedded != want {
			t.Fatalf("%T: SerialWrites %v", s, want)
		}
		if got := graph.SerialWrites(newTimedStore(s)); got != want {
			t.Errorf("timed %T: SerialWrites %v, want %v", s, got, want)
		}
		if got := graph.SerialWrites(&countingStore{Store: s}); got != want {
			t.Errorf("counting %T: SerialWrites %v, want %v", s, got, want)
		}
	})
}
