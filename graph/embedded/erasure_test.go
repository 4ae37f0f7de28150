package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy/erasuretest"
)

// TestErasureConformance scans the bytes of the database file: an erased
// value must not be left anywhere in it, freed pages included.
func TestErasureConformance(t *testing.T) { erasuretest.Run(t, storetest.Embedded) }
