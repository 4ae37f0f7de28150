package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestConformance(t *testing.T) { graphtest.Run(t, storetest.Embedded) }

// TestConformanceViewsRetried runs the whole suite with every read
// transaction's function run twice, as a store that retries may: every
// caller must answer as if it ran once. The embedded store never retries
// itself, and is quick enough to run the suite twice.
func TestConformanceViewsRetried(t *testing.T) {
	graphtest.Run(t, graphtest.RetryViews(storetest.Embedded))
}

// TestScanReads checks the optional reads a scan makes (ProfileIDs,
// MemberKeys, Journeys without payload).
func TestScanReads(t *testing.T) { graphtest.RunScanReads(t, storetest.Embedded) }

func TestCorrections(t *testing.T) { graphtest.RunCorrections(t, storetest.Embedded) }
