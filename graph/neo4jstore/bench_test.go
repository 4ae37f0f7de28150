package neo4jstore_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkApplyBatch: see graphtest.BenchApplyBatch.
//
//	go test ./graph/neo4jstore/ -run '^$' -bench ApplyBatch -benchtime 100x
func BenchmarkApplyBatch(b *testing.B) { graphtest.BenchApplyBatch(b, storetest.OpenNeo4j(b)) }
