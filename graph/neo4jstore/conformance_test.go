package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestConformance(t *testing.T) { graphtest.Run(t, storetest.Neo4j) }
