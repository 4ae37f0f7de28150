// Package bench measures the service against the physical limits of its
// store, in one run: ingest throughput through the real HTTP collector next
// to raw batched writes, profileByIdentifier latency through GraphQL next to
// one raw indexed read, merge scaling on adversarial chains and stars, and
// the quality of the resolved partition against a generated ground truth.
//
// The population generator (Generate) is deterministic for a seed: the same
// Config always gives the same bytes. It writes Segment-spec NDJSON events,
// the truth file mapping every identifier key to its person, and the rules
// file the bench runs the engine with. `cdp bench gen` and `cdp bench` are
// the command-line faces of this package; docs/BENCHMARKS.md has figures.
package bench
