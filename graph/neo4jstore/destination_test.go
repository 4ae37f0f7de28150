package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/destination/destinationtest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestDestinationConformance(t *testing.T) { destinationtest.Run(t, storetest.Neo4j) }
