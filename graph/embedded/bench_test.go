package embedded_test

import (
	"testing"

	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkApplyBatch: see graphtest.BenchApplyBatch. It lives in the
// external test package: graphtest imports storetest, which imports this
// package.
func BenchmarkApplyBatch(b *testing.B) { graphtest.BenchApplyBatch(b, storetest.OpenEmbedded(b)) }
