// Package graphtest is the conformance suite every graph.Store must pass.
// A store runs it from a small test file:
//
//	func TestConformance(t *testing.T) { graphtest.Run(t, storetest.Embedded) }
//
// A behaviour tested on one store only is tested on none: every check here
// runs on every store, against a real database.
package graphtest
