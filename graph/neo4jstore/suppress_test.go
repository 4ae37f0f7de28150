package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy/suppresstest"
)

func TestSuppressConformance(t *testing.T) { suppresstest.Run(t, storetest.Neo4j) }
