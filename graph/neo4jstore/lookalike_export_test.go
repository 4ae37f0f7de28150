package neo4jstore

import "github.com/idgraph/cdp/audience"

// CompiledLookalike is the statement of a lookalike pass and its
// parameters.
func CompiledLookalike(audienceID string, scope audience.FilterQuery) (string, map[string]any, error) {
	q, params, _, err := compileLookalike(audienceID, scope)
	return q, params, err
}
