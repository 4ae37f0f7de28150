package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/access/accesstest"
	"github.com/idgraph/cdp/internal/storetest"
)

func TestAccessConformance(t *testing.T) { accesstest.Run(t, storetest.Neo4j) }
