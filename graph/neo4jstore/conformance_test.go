package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestConformance(t *testing.T) { graphtest.Run(t, storetest.Neo4j) }

// TestScanReads checks the optional reads a scan makes (ProfileIDs,
// MemberKeys, Journeys without payload).
func TestScanReads(t *testing.T) { graphtest.RunScanReads(t, storetest.Neo4j) }

func TestCorrections(t *testing.T) { graphtest.RunCorrections(t, storetest.Neo4j) }
