package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/idgraph/cdp/bench"
	"github.com/idgraph/cdp/graph/neo4jstore"
)

const benchSoakHelp = `
Holds the service at a fixed rate for a long time and watches it for growth:
every --every it prints the process's resident memory (all of it, its own
anonymous memory, and the pages of mapped files such as the embedded store's
file), Go heap in use, goroutines (the fewest seen over half a second, in
a pause of the load with no request in flight) and the messages
acknowledged so far. At
the end it compares the last sample with the first taken after 2 minutes (the
service has warmed up by then): the goal is the anonymous resident memory and
the goroutines both within 10%; mapped file pages grow with the stored data
and are reported, not judged. The service runs in this process on a
fresh store, as "cdp bench" runs it (on Neo4j EVERY NODE of the database is
deleted first); the generated messages are held in memory from the start.

  cdp bench soak --duration 10m --rate 1000
  cdp bench soak --store neo4j --duration 10m --rate 500`

func runBenchSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		store, tmp, logLevel string
		n4                   neo4jstore.Config
		duration, every      time.Duration
		rate, lookupRate     float64
		clients, batch, seed int
		asJSON, lock         bool
	)
	fs := newFlagSet("bench soak", stderr, benchSoakHelp)
	registerBenchStore(fs, &store, &n4, &lock)
	fs.duration(&duration, "duration", "CDP_SOAK_DURATION", 10*time.Minute, "how long the load is held")
	fs.float(&rate, "rate", "CDP_SOAK_RATE", 500, "messages per second")
	fs.float(&lookupRate, "lookup-rate", "CDP_SOAK_LOOKUP_RATE", 20, "GraphQL profile lookups per second beside the messages (0: none)")
	fs.duration(&every, "every", "CDP_SOAK_EVERY", 30*time.Second, "time between two samples")
	fs.integer(&clients, "clients", "CDP_BENCH_CLIENTS", 4, "concurrent HTTP clients")
	fs.integer(&batch, "batch", "CDP_BENCH_BATCH", 20, "messages per /v1/batch request")
	fs.integer(&seed, "seed", "CDP_BENCH_SEED", 1, "population seed")
	fs.boolean(&asJSON, "json", "", false, "print the result as one JSON object on the last line")
	fs.str(&tmp, "tmp-dir", "CDP_BENCH_TMP_DIR", "", "where the embedded store goes (removed afterwards)")
	fs.str(&logLevel, "log-level", "CDP_LOG_LEVEL", "warn", "server log level: debug, info, warn or error")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if store != bench.StoreEmbedded && store != bench.StoreNeo4j {
		return usagef("--store %q is not embedded or neo4j", store)
	}
	if store == bench.StoreNeo4j {
		if err := checkNeo4jURI("--neo4j-uri", n4.URI, "--neo4j-ca-file", n4.CAFile); err != nil {
			return err
		}
	}
	if duration <= 0 {
		return usagef("--duration must be positive, got %s", duration)
	}
	if every <= 0 {
		return usagef("--every must be positive, got %s", every)
	}
	// Written so that NaN fails too; Inf is no rate either.
	if !(rate > 0) || math.IsInf(rate, 0) {
		return usagef("--rate must be a positive finite number, got %v", rate)
	}
	if !(lookupRate >= 0) || math.IsInf(lookupRate, 0) {
		return usagef("--lookup-rate must be a finite number of at least 0, got %v", lookupRate)
	}
	if err := checkCounts(atLeast{"--clients", clients, 1}, atLeast{"--batch", batch, 1}, atLeast{"--seed", seed, 0}); err != nil {
		return err
	}
	log, err := newLogger(logLevel, "json", stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%8s  %9s  %9s  %9s  %9s  %10s  %12s  %8s\n", "seconds", "RSS MiB", "anon MiB", "file MiB", "heap MiB", "goroutines", "acknowledged", "lookups")
	res, err := bench.Soak(ctx, bench.SoakConfig{
		Bench: bench.Config{
			Store: store, Neo4j: n4, Neo4jLock: lock, Clients: clients, Batch: batch,
			TempDir: tmp, Log: log, Progress: stderr,
		},
		Duration: duration, Rate: rate, LookupRate: lookupRate, Every: every, Seed: uint64(seed),
		OnSample: func(s bench.SoakSample) {
			fmt.Fprintf(stdout, "%8.0f  %9.1f  %9.1f  %9.1f  %9.1f  %10d  %12d  %8d\n", s.Seconds, float64(s.RSSBytes)/(1<<20),
				float64(s.RSSAnonBytes)/(1<<20), float64(s.RSSFileBytes)/(1<<20), float64(s.HeapInuse)/(1<<20), s.Goroutines, s.Sent, s.Lookups)
		},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "store %s (%s), %.0f s at %.0f messages/s (target %.0f), %d requests retried after 429/503\n",
		res.Store, res.StoreVersion, res.DurationSeconds, res.AchievedRate, res.TargetRate, res.Refused)
	if res.Judged {
		verdict := "MISSED"
		if res.Met() {
			verdict = "ok"
		}
		fmt.Fprintf(stdout, "drift after warm-up: own resident memory (anon) %+.1f%%, goroutines %+.1f%% (goal within ±%.0f%%) %s; mapped file pages %+.1f%% (the store's file, not judged)\n",
			100*res.RSSDrift, 100*res.GoroutineDrift, 100*bench.GoalSoakDrift, verdict, 100*res.FileDrift)
	} else {
		fmt.Fprintf(stdout, "drift not judged: the run needs samples after %s of warm-up and a later one\n", bench.SoakWarmup)
	}
	if asJSON {
		line, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", line)
	}
	return nil
}
