package resolver

import (
	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Resolver is the root of the resolver tree. It holds no request state:
// per-request state (dataloaders) travels in the context.
type Resolver struct {
	engine *graph.Engine
	ingest Ingester
	cfg    Config
	// mask masks the personal values the engine's rules name.
	mask *access.Masker
	// keys is Config.Keys; nil when keys are not served.
	keys access.Store
	// auditStore receives the audit entries written outside a mutation's
	// transaction; nil when no store can hold them.
	auditStore access.Store
	// corrector serves removeIdentifier: the engine's correction, the
	// consent records deleted with it, the store file scrubbed.
	corrector *privacy.Eraser
	// erasers holds the eraser opened when Config.Eraser is nil.
	erasers eraserState
	// queries is the endpoint's parsed-document cache, emptied by every
	// erasure (afterErasure).
	queries *queryCache
}
