package intel

// The reference and the drawing of random queries, for the differential
// test across the stores (package intel_test, which may import the
// stores: they import this package).
var (
	RefFunnel      = refFunnel
	RefAttribution = refAttribution
	RefPaths       = refPaths
	GenMatch       = genMatch
	GenWindow      = genWindow
	Show           = show
	T0             = t0
)
