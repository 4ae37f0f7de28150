package resolver

import (
	"github.com/idgraph/cdp/graph"
)

// Resolver is the root of the resolver tree. It holds no request state:
// per-request state (dataloaders) travels in the context.
type Resolver struct {
	engine *graph.Engine
	ingest Ingester
	cfg    Config
}
