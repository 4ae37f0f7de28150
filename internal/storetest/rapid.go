package storetest

import (
	"flag"
	"fmt"
	"sync"
)

var (
	checksOnce sync.Once
	checksSet  bool // whether the command line set -rapid.checks
)

// WithRapidChecks runs fn with -rapid.checks set to n unless the command
// line set it: a property that writes to a real store runs fewer examples
// by default than rapid's 100.
func WithRapidChecks(n int, fn func()) {
	checksOnce.Do(func() {
		flag.Visit(func(f *flag.Flag) { checksSet = checksSet || f.Name == "rapid.checks" })
	})
	if !checksSet {
		old := flag.Lookup("rapid.checks").Value.String()
		_ = flag.Set("rapid.checks", fmt.Sprint(n))
		defer func() { _ = flag.Set("rapid.checks", old) }()
	}
	fn()
}
