package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/idgraph/cdp/bench"
	"github.com/idgraph/cdp/graph/neo4jstore"
)

const benchHelp = `
Measures the service against the physical limit of its store, in one run:
  1. ingest: events/s through the real HTTP collector (C clients posting
     Segment /v1/batch) next to raw batched writes of the same events with
     no resolution; ingest_ratio = resolved / raw.
  2. lookup: p50/p99 of profileByIdentifier through GraphQL over HTTP next
     to one raw indexed read of the same identifier; lookup_p99_ratio.
  3. merge scaling: chains and stars of N and 8N links through the engine;
     chain_scaling_ratio = time(8N) / time(N).
  4. quality: pairwise precision, recall and f1 of the resolved profiles
     against the generated truth, and overmerged_people.
  5. erasure: forgetProfile of a person of 10 identifiers and
     --erase-events events, built on the run's store --erase-rounds times;
     erase_seconds_median and erase_seconds_max.
  6. suppression: ingest through HTTP of the first --suppression-events
     messages with an empty suppression list and with
     --suppression-hashes hashes, alternating (none, list, list, none, ...), on fresh stores;
     suppression_ingest_ratio = list / none.
  7. audience count: previewAudience's count (keep.Keeper.Preview) of a
     3-condition filter (trait "name" exists, an "Order Completed" within
     P30D, consent "email" GRANTED) over every profile of the run's store,
     --audience-counts times, next to a plain in-memory scan of the same
     data; audience_count_ms and audience_count_scan_ratio. The population
     carries no consent: half of the profiles get a GRANTED record first.
  8. membership: ingest through HTTP of the first --audience-events
     messages with --audiences audiences and --computed-traits computed
     traits defined and with none, alternating, on fresh stores;
     membership_ingest_ratio = with / none, and the seconds the shutdown
     takes to evaluate the membership queue after the last acknowledgement.
  9. intelligence: a population of its own of about --intel-events events
     (web views under an anonymous id, an app login linking a user id and
     a loyalty card, in-store purchases under the card; a hidden group
     sharing a trait and tent views in the app, who buy more), on a fresh
     store: the seconds of a 3-step cross-channel funnel and of a LINEAR
     attribution, the funnel's completions per profile and per identifier,
     and lookalike's precision at K finding the half of the hidden group
     left out of its seed, next to a random pick's.
  10. subscriptions: --subscription-latencies events sent one at a time,
     each timed from the change's time (stamped in its transaction) to its
     arrival at a GraphQL subscriber on the committing service and on a
     second service on the same store (which polls the feed);
     subscription_local_p50_ms, _p99_ms and subscription_remote_*. Then
     ingest through HTTP of the first --subscription-events messages with
     one stalled subscriber (it reads nothing) and with none, alternating,
     on fresh stores; subscription_ingest_ratio = stalled / none.
The population is generated (see "cdp bench gen -h"). The embedded store
runs in a temporary folder; on Neo4j EVERY NODE of the database is deleted,
before and after. With --json the last line of stdout is one JSON object.

  cdp bench gen --people N --seed S --out DIR   writes the population only
  cdp bench soak --duration 10m --rate N        holds a fixed rate and watches memory and goroutines`

const benchGenHelp = `
Writes a generated population to DIR: events.ndjson (Segment messages, one
per line, in delivery order, duplicate deliveries included), truth.csv
(key,person,role for every identifier the events carry: key is
type:normalized value; role is own, shared or junk) and rules.json (the
identity rules the bench runs with: the defaults plus a blocklist of
placeholders). The same flags always give the same bytes.`

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "gen" {
		return report(stderr, "bench gen", runBenchGen(args[1:], stdout, stderr))
	}
	if len(args) > 0 && args[0] == "soak" {
		return report(stderr, "bench soak", runBenchSoak(ctx, args[1:], stdout, stderr))
	}
	return report(stderr, "bench", runBenchMeasure(ctx, args, stdout, stderr))
}

func runBenchGen(args []string, stdout, stderr io.Writer) error {
	var people, events, seed int
	var out string
	fs := newFlagSet("bench gen", stderr, benchGenHelp)
	fs.integer(&people, "people", "", 10000, "number of people (visitors who never identify come on top: one in ten)")
	fs.integer(&events, "events", "", 0, "number of messages, duplicates included; 0 means 10 per person")
	fs.integer(&seed, "seed", "", 1, "seed: the same seed gives the same files")
	fs.str(&out, "out", "", "", "output folder (required)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if out == "" {
		return usagef("--out is required: the folder to write events.ndjson, truth.csv and rules.json to")
	}
	if err := checkCounts(atLeast{"--people", people, 1}, atLeast{"--events", events, 0}, atLeast{"--seed", seed, 0}); err != nil {
		return err
	}
	start := time.Now()
	ds, err := bench.Generate(bench.GenConfig{People: people, Events: events, Seed: uint64(seed)})
	if err != nil {
		return err
	}
	if err := ds.Write(out); err != nil {
		return err
	}
	s := ds.Stats
	fmt.Fprintf(stdout, "wrote %s: %d messages (%d duplicate deliveries, %d junk), %d people (%d registered), %d visitors, %d identifiers in the truth, in %.1fs\n",
		out, s.Messages, s.Duplicates, s.JunkMessages, s.People, s.Registered, s.Visitors, ds.Truth.Len(), time.Since(start).Seconds())
	return nil
}

// registerBenchStore registers the flags that choose the store a bench
// runs on, shared by cdp bench and cdp bench soak.
func registerBenchStore(fs *flagSet, store *string, n4 *neo4jstore.Config, lock *bool) {
	fs.str(store, "store", "CDP_BENCH_STORE", bench.StoreEmbedded, "store to measure: embedded or neo4j")
	fs.str(&n4.URI, "neo4j-uri", "NEO4J_URI", "bolt://127.0.0.1:7687", "Neo4j Bolt URI (with --store neo4j); its database is emptied")
	fs.str(&n4.User, "neo4j-user", "NEO4J_USER", "", "Neo4j user (empty: no authentication)")
	fs.str(&n4.Password, "neo4j-password", "NEO4J_PASSWORD", "", "Neo4j password")
	fs.str(&n4.Database, "neo4j-database", "NEO4J_DATABASE", "neo4j", "Neo4j database name")
	fs.str(&n4.CAFile, "neo4j-ca-file", "NEO4J_CA_FILE", "", caFileUsage)
	fs.boolean(lock, "neo4j-lock", "CDP_BENCH_NEO4J_LOCK", true, "hold the Neo4j test lock ($TMPDIR/cdp-neo4j-test.lock) for the run, so tests sharing the instance wait")
}

func runBenchMeasure(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		store, cpuprofile, tmp, logLevel string
		n4                               neo4jstore.Config
		events, people, seed             int
		clients, batch, lookups, mergeN  int
		ingestRounds                     int
		serverBatch, queueSize           int
		committers                       int
		eraseEvents, eraseRounds         int
		supHashes, supEvents, supRounds  int
		audCounts, audN, ctN, audRounds  int
		audEvents, intelEvents           int
		subLat, subRounds, subEvents     int
		asJSON, lock                     bool
	)
	fs := newFlagSet("bench", stderr, benchHelp)
	registerBenchStore(fs, &store, &n4, &lock)
	fs.integer(&events, "events", "CDP_BENCH_EVENTS", 100000, "messages to ingest, duplicate deliveries included")
	fs.integer(&people, "people", "CDP_BENCH_PEOPLE", 0, "people in the population; 0 means events / 10")
	fs.integer(&seed, "seed", "CDP_BENCH_SEED", 1, "population seed")
	fs.integer(&clients, "clients", "CDP_BENCH_CLIENTS", 4, "concurrent HTTP clients (and raw writers)")
	fs.integer(&batch, "batch", "CDP_BENCH_BATCH", 100, "messages per /v1/batch request and per raw transaction")
	fs.integer(&serverBatch, "server-batch", "CDP_BATCH_SIZE", 500, "most events per store transaction in the service (group commit), as cdp serve --batch-size")
	fs.integer(&queueSize, "queue-size", "CDP_QUEUE_SIZE", 20000, "most events waiting for commit in the service, as cdp serve --queue-size")
	fs.integer(&committers, "committers", "CDP_COMMITTERS", 0, "micro-batches the service commits at once, as cdp serve --committers (0 means 1)")
	fs.integer(&ingestRounds, "ingest-rounds", "CDP_BENCH_INGEST_ROUNDS", 1, "pairs of ingest passes (raw and through the service) behind ingest_ratio, each rate the median of its passes; the pairs before the last run on fresh stores, in flipping order")
	fs.integer(&lookups, "lookups", "CDP_BENCH_LOOKUPS", 2000, "identifiers looked up each way")
	fs.integer(&mergeN, "merge-n", "CDP_BENCH_MERGE_N", 2000, "N of the merge-scaling chains and stars (N and 8N links); 0 skips them")
	fs.integer(&eraseEvents, "erase-events", "CDP_BENCH_ERASE_EVENTS", 10000, "events of the person the erasure measure builds and erases (at least 20); 0 skips it")
	fs.integer(&eraseRounds, "erase-rounds", "CDP_BENCH_ERASE_ROUNDS", 3, "people built and erased, one after another")
	fs.integer(&supHashes, "suppression-hashes", "CDP_BENCH_SUPPRESSION_HASHES", 100000, "hashes on the suppression list, against an empty one; 0 skips the suppression measure")
	fs.integer(&supEvents, "suppression-events", "CDP_BENCH_SUPPRESSION_EVENTS", 50000, "messages of the population sent in each suppression pass; 0 means all")
	fs.integer(&supRounds, "suppression-rounds", "CDP_BENCH_SUPPRESSION_ROUNDS", 2, "passes each way (empty list, full list), in pairs of flipping order: none, list, list, none, ...")
	fs.integer(&audCounts, "audience-counts", "CDP_BENCH_AUDIENCE_COUNTS", 5, "times the audience count measure counts its filter (Preview and the plain scan); 0 skips it")
	fs.integer(&audN, "audiences", "CDP_BENCH_AUDIENCES", 20, "audiences defined in the membership measure's passes, against none; 0 with --computed-traits 0 skips it")
	fs.integer(&ctN, "computed-traits", "CDP_BENCH_COMPUTED_TRAITS", 10, "computed traits defined in the membership measure's passes")
	fs.integer(&audRounds, "audience-rounds", "CDP_BENCH_AUDIENCE_ROUNDS", 2, "membership passes each way (none, defined), in pairs of flipping order")
	fs.integer(&audEvents, "audience-events", "CDP_BENCH_AUDIENCE_EVENTS", 50000, "messages of the population sent in each membership pass; 0 means all")
	fs.integer(&intelEvents, "intel-events", "CDP_BENCH_INTEL_EVENTS", 1000000, "events of the intelligence measure's own population (funnel, attribution, lookalike) on a fresh store; 0 skips it")
	fs.integer(&subLat, "subscription-latencies", "CDP_BENCH_SUBSCRIPTION_LATENCIES", 500, "events the subscription measure times one at a time from commit to a subscriber; 0 skips it")
	fs.integer(&subRounds, "subscription-rounds", "CDP_BENCH_SUBSCRIPTION_ROUNDS", 2, "ingest passes each way (no subscriber, one stalled), in pairs of flipping order; 0 skips them")
	fs.integer(&subEvents, "subscription-events", "CDP_BENCH_SUBSCRIPTION_EVENTS", 50000, "messages of the population sent in each subscription pass; 0 means all")
	fs.boolean(&asJSON, "json", "", false, "print the result as one JSON object on the last line")
	fs.str(&cpuprofile, "cpuprofile", "", "", "write a CPU profile of the whole run (server included) to this file")
	fs.str(&tmp, "tmp-dir", "CDP_BENCH_TMP_DIR", "", "where the embedded stores and the raw bbolt file go (removed afterwards); default the system's temporary folder")
	fs.str(&logLevel, "log-level", "CDP_LOG_LEVEL", "warn", "server log level: debug, info, warn or error")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (did you mean \"cdp bench gen\"?)", fs.Arg(0))
	}
	if store != bench.StoreEmbedded && store != bench.StoreNeo4j {
		return usagef("--store %q is not embedded or neo4j", store)
	}
	if store == bench.StoreNeo4j {
		if err := checkNeo4jURI("--neo4j-uri", n4.URI, "--neo4j-ca-file", n4.CAFile); err != nil {
			return err
		}
	}
	if err := checkCounts(
		atLeast{"--events", events, 1}, atLeast{"--people", people, 0}, atLeast{"--seed", seed, 0},
		atLeast{"--clients", clients, 1}, atLeast{"--batch", batch, 1}, atLeast{"--lookups", lookups, 1},
		atLeast{"--merge-n", mergeN, 0}, atLeast{"--server-batch", serverBatch, 1}, atLeast{"--ingest-rounds", ingestRounds, 1},
		atLeast{"--erase-events", eraseEvents, 0}, atLeast{"--erase-rounds", eraseRounds, 1},
		atLeast{"--suppression-hashes", supHashes, 0}, atLeast{"--suppression-events", supEvents, 0}, atLeast{"--suppression-rounds", supRounds, 1},
		atLeast{"--audience-counts", audCounts, 0}, atLeast{"--audiences", audN, 0}, atLeast{"--computed-traits", ctN, 0},
		atLeast{"--audience-events", audEvents, 0}, atLeast{"--audience-rounds", audRounds, 1},
		atLeast{"--intel-events", intelEvents, 0},
		atLeast{"--subscription-latencies", subLat, 0}, atLeast{"--subscription-rounds", subRounds, 0}, atLeast{"--subscription-events", subEvents, 0},
	); err != nil {
		return err
	}
	if eraseEvents > 0 && eraseEvents < bench.MinEraseEvents {
		return usagef("--erase-events must be 0 or at least %d, got %d", bench.MinEraseEvents, eraseEvents)
	}
	if queueSize < clients*batch || queueSize < serverBatch {
		return usagef("--queue-size %d must hold --clients × --batch (%d) and --server-batch (%d) events", queueSize, clients*batch, serverBatch)
	}
	log, err := newLogger(logLevel, "json", stderr)
	if err != nil {
		return err
	}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(ctx, bench.Config{
		Store:                 store,
		Neo4j:                 n4,
		Neo4jLock:             lock,
		Gen:                   bench.GenConfig{People: people, Events: events, Seed: uint64(seed)},
		Clients:               clients,
		Batch:                 batch,
		ServerBatch:           serverBatch,
		QueueSize:             queueSize,
		Committers:            committers,
		IngestRounds:          ingestRounds,
		Lookups:               lookups,
		MergeN:                mergeN,
		EraseEvents:           eraseEvents,
		EraseRounds:           eraseRounds,
		SuppressionHashes:     supHashes,
		SuppressionEvents:     supEvents,
		SuppressionRounds:     supRounds,
		AudienceCounts:        audCounts,
		Audiences:             audN,
		ComputedTraits:        ctN,
		AudienceRounds:        audRounds,
		AudienceEvents:        audEvents,
		SubscriptionLatencies: subLat,
		SubscriptionRounds:    subRounds,
		SubscriptionEvents:    subEvents,
		IntelEvents:           intelEvents,
		TempDir:               tmp,
		Log:                   log,
		Progress:              stderr,
	})
	if err != nil {
		return err
	}
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	if asJSON {
		line, err := res.JSON()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", line)
	}
	return nil
}

// atLeast is a count flag and the least value it takes.
type atLeast struct {
	flag       string
	value, min int
}

// checkCounts refuses the first count below its bound, naming that flag,
// its bound and the value given.
func checkCounts(cs ...atLeast) error {
	for _, c := range cs {
		if c.value >= c.min {
			continue
		}
		if c.min == 0 {
			return usagef("%s must not be negative, got %d", c.flag, c.value)
		}
		return usagef("%s must be at least %d, got %d", c.flag, c.min, c.value)
	}
	return nil
}
