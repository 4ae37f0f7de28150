package intel_test

import (
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/bench"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/intel"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkScan times the 3-step funnel and the LINEAR attribution of
// cdp bench's intelligence measure (bench.IntelFunnel,
// bench.IntelAttribution) over its population (bench.IntelPopulation: per
// person web views under an anonymous id, an app login linking a user id
// and a loyalty card, an in-store purchase under the card) of about
// CDP_INTEL_EVENTS events (default 100000), stored once per run in an
// embedded store (CDP_INTEL_STORE=neo4j: the test Neo4j) under the bench
// rules. CDP_INTEL_DIR keeps the embedded store in that folder, and a later
// run with the same folder times the store it finds there:
//
//	CDP_INTEL_EVENTS=1000000 go test ./intel -run '^$' -bench Scan -benchtime 1x
//
// On Neo4j, CDP_INTEL_KEEP=1 does the same with the test Neo4j: the run
// does not empty it, and when it holds any profile it times what it
// holds. A run without it empties the Neo4j and stores the population,
// which stays there until another test empties it: store with one such
// run, then time with CDP_INTEL_KEEP=1.
func BenchmarkScan(b *testing.B) {
	n := 100_000
	if v := os.Getenv("CDP_INTEL_EVENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	var st graph.Store
	kept := os.Getenv("CDP_INTEL_DIR") != ""
	if os.Getenv("CDP_INTEL_STORE") == "neo4j" {
		kept = os.Getenv("CDP_INTEL_KEEP") == "1"
		if kept {
			st = storetest.OpenNeo4jAsIs(b)
		} else {
			st = storetest.Open(b, "neo4j")
		}
	} else {
		dir := os.Getenv("CDP_INTEL_DIR")
		if dir == "" {
			dir = b.TempDir()
		}
		es, err := embedded.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer es.Close(ctx)
		st = es
	}
	rules, err := bench.Rules()
	if err != nil {
		b.Fatal(err)
	}
	e := graph.NewEngine(st, rules)
	evs, _, _ := bench.IntelPopulation(n, 1)
	if kept {
		var live int
		if err := st.View(ctx, func(ctx context.Context, tx graph.ReadTx) (err error) {
			live, err = tx.CountProfiles(ctx)
			return err
		}); err != nil {
			b.Fatal(err)
		}
		if live > 0 {
			evs = nil // stored by an earlier run
		}
	}
	t0 := time.Now()
	for i := 0; i < len(evs); i += 500 {
		if _, err := e.ApplyBatch(ctx, evs[i:min(i+500, len(evs))]); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("stored %d events in %s", len(evs), time.Since(t0))
	b.Run("funnel", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			f := intel.NewFunnel(bench.IntelFunnel)
			if err := intel.ScanWith(ctx, st, e, intel.ScanOptions{Properties: bench.IntelFunnel.ReadsProperties()}, func(_ string, evs []graph.Event) error { f.Add(evs); return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(f.Result().Steps[2].Count), "completed")
			b.ReportMetric(cpuSeconds()-cpu0, "cpu-s")
		}
	})
	b.Run("attribution", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 := cpuSeconds()
		for b.Loop() {
			a := intel.NewAttribution(bench.IntelAttribution)
			if err := intel.ScanWith(ctx, st, e, intel.ScanOptions{Properties: bench.IntelAttribution.ReadsProperties()}, func(_ string, evs []graph.Event) error { a.Add(evs); return nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(a.Result().Conversions), "conversions")
			b.ReportMetric(cpuSeconds()-cpu0, "cpu-s")
		}
	})
	ev, ok := st.(intel.Evaluator)
	if !ok {
		return
	}
	// The same queries as one Cypher statement each (intel.Evaluator).
	prio, dprio := e.Normalizer().Priorities()
	scope := audience.FilterQuery{Now: graph.Now(), Priorities: prio, DefaultPriority: dprio}
	b.Run("funnel-cypher", func(b *testing.B) {
		for b.Loop() {
			r, err := ev.EvalFunnel(ctx, bench.IntelFunnel, scope)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(r.Steps[2].Count), "completed")
		}
	})
	b.Run("attribution-cypher", func(b *testing.B) {
		for b.Loop() {
			r, err := ev.EvalAttribution(ctx, bench.IntelAttribution, scope)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(r.Conversions), "conversions")
		}
	})
}

// cpuSeconds is the process's CPU time so far, user and system: what a
// run cost whatever else the machine was doing.
func cpuSeconds() float64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()).Seconds()
}
