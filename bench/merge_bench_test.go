package bench

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkMerge resolves shuffled chains and stars through the engine on
// the embedded store, for profiling the merge path:
//
//	go test -run '^$' -bench Merge -cpuprofile cpu.out ./bench
//
// `cdp bench` reports the scaling ratio; this only gives pprof a target.
func BenchmarkMerge(b *testing.B) {
	for _, shape := range []string{"chain", "star"} {
		for _, n := range []int{2000, 16000} {
			b.Run(fmt.Sprintf("%s-%d", shape, n), func(b *testing.B) {
				cfg := Config{Store: StoreEmbedded, Gen: GenConfig{Seed: 1}, ServerBatch: 500}
				for i := 0; i < b.N; i++ {
					d, err := mergeRun(context.Background(), cfg, nil, b.TempDir()+"/store", shape, n)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(d.elapsed.Seconds(), "apply-s")
					b.ReportMetric(float64(d.relabels), "relabels")
				}
			})
		}
	}
}
