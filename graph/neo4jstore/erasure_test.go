package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy/erasuretest"
)

// TestErasureConformance scans every property of every node and
// relationship: an erased value must not be left in any of them.
func TestErasureConformance(t *testing.T) { erasuretest.Run(t, storetest.Neo4j) }
