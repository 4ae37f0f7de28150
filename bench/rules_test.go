package bench

import (
	"testing"

	"github.com/idgraph/cdp/graph"
)

// The bench rules are the built-in rules plus more: their top-level
// blocked list replaces the built-in one, so it must repeat every
// built-in value, or a placeholder the service drops would link people in
// the bench.
func TestRulesBlockTheBuiltInValues(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	n := graph.NewNormalizer(rules)
	for _, v := range graph.DefaultRules().Blocked {
		for _, typ := range []string{graph.TypeUserID, graph.TypeAnonymousID, graph.TypeDeviceID} {
			if got, why := n.Normalize(graph.IdentifierRef{Type: typ, Value: v}); why != graph.DropBlocked {
				t.Errorf("%s %q under the bench rules: key %q, drop %q; want blocked", typ, v, got.Key(), why)
			}
		}
	}
}
