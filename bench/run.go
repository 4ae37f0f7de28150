package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/ingest"
)

// Store kinds.
const (
	StoreEmbedded = "embedded"
	StoreNeo4j    = "neo4j"
)

// Config is one bench run.
type Config struct {
	// Store is StoreEmbedded or StoreNeo4j.
	Store string
	// Neo4j says where Neo4j is; every node of its database is deleted.
	Neo4j neo4jstore.Config
	// Neo4jLock takes the machine-wide lock the Neo4j tests take
	// ($TMPDIR/cdp-neo4j-test.lock) for the whole run, so that tests
	// sharing the instance wait instead of seeing it emptied.
	Neo4jLock bool
	// Gen sizes the population.
	Gen GenConfig
	// Clients is the number of concurrent HTTP clients (and raw writers).
	Clients int
	// Batch is the number of messages per HTTP request and per raw write
	// transaction.
	Batch int
	// ServerBatch and QueueSize are the collector's group-commit settings;
	// zero means the defaults of `cdp serve`.
	ServerBatch int
	QueueSize   int
	// Committers is the collector's parallel commits; 0 means 1, as in
	// cdp serve.
	Committers int
	// IngestRounds is the number of pairs of ingest passes (raw and
	// through the service) behind ingest_ratio (0: 1). The pairs before
	// the last run on fresh stores, in flipping order; the last is raw
	// then service on the run's store, which the later measures read.
	// Each rate is the median of its passes.
	IngestRounds int
	// Lookups is the number of identifiers looked up each way.
	Lookups int
	// MergeN is N of the merge-scaling graphs (N and 8N links). Zero skips
	// merge scaling.
	MergeN int
	// EraseEvents is the number of events of the person the erasure
	// measure builds and erases, EraseRounds times (0: 3); zero events
	// skip it; otherwise at least MinEraseEvents.
	EraseEvents int
	EraseRounds int
	// SuppressionHashes is the length of the suppression list the
	// suppression measure compares with an empty one, over
	// SuppressionRounds pairs of passes (0: 2); zero hashes skip it. Each
	// pass sends the first SuppressionEvents messages of the population
	// (0, or more than it holds: all of them).
	SuppressionHashes int
	SuppressionEvents int
	SuppressionRounds int
	// AudienceCounts is the number of times the audience count measure
	// counts CountFilter with keep.Keeper.Preview and with the plain scan,
	// on the run's store after the main ingest; zero skips it.
	AudienceCounts int
	// Audiences and ComputedTraits are what the membership measure
	// defines, against none, over AudienceRounds pairs of passes (0: 2);
	// both zero skip it. Each pass sends the first AudienceEvents messages
	// of the population (0, or more than it holds: all of them).
	Audiences      int
	ComputedTraits int
	AudienceRounds int
	AudienceEvents int
	// IntelEvents sizes the intelligence measure's own population (about
	// that many events, see intel.go), stored on a fresh store after the
	// others; zero skips it.
	IntelEvents int
	// SubscriptionLatencies is the number of events the subscription
	// measure sends one at a time to time their arrival at subscribers (0
	// skips it); SubscriptionRounds the pairs of ingest passes with one
	// stalled subscriber and with none (0 skips them), each sending the
	// first SubscriptionEvents messages (0: all).
	SubscriptionLatencies int
	SubscriptionRounds    int
	SubscriptionEvents    int
	// TempDir holds the embedded stores and the raw bbolt file; "" means
	// the system's temporary folder. Everything made there is removed.
	TempDir string
	// Log receives the server's logs; Progress one line per phase (nil:
	// none).
	Log      zerolog.Logger
	Progress io.Writer
}

func (c *Config) defaults() error {
	switch c.Store {
	case "":
		c.Store = StoreEmbedded
	case StoreEmbedded, StoreNeo4j:
	default:
		return fmt.Errorf("store %q is not embedded or neo4j", c.Store)
	}
	if c.Clients <= 0 {
		c.Clients = 4
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Committers <= 0 {
		c.Committers = 1
	}
	if c.ServerBatch <= 0 {
		c.ServerBatch = ingest.DefaultMaxBatch
	}
	if c.QueueSize <= 0 {
		c.QueueSize = ingest.DefaultQueueSize
	}
	if c.QueueSize < c.Clients*c.Batch {
		return fmt.Errorf("queue size %d is smaller than clients × batch (%d): the bench would only measure 429s", c.QueueSize, c.Clients*c.Batch)
	}
	if c.Lookups <= 0 {
		c.Lookups = 2000
	}
	if c.IngestRounds < 0 {
		return fmt.Errorf("ingest rounds must not be negative, got %d", c.IngestRounds)
	}
	if c.IngestRounds == 0 {
		c.IngestRounds = 1
	}
	if c.MergeN < 0 {
		return fmt.Errorf("merge N must not be negative, got %d", c.MergeN)
	}
	if c.EraseEvents < 0 || c.EraseRounds < 0 || c.SuppressionHashes < 0 || c.SuppressionEvents < 0 || c.SuppressionRounds < 0 {
		return errors.New("erasure and suppression sizes must not be negative")
	}
	if c.EraseEvents > 0 && c.EraseEvents < MinEraseEvents {
		return fmt.Errorf("erase events must be 0 (skip) or at least %d, got %d", MinEraseEvents, c.EraseEvents)
	}
	if c.EraseRounds == 0 {
		c.EraseRounds = 3
	}
	if c.SuppressionRounds == 0 {
		c.SuppressionRounds = 2
	}
	if c.AudienceCounts < 0 || c.Audiences < 0 || c.ComputedTraits < 0 || c.AudienceRounds < 0 || c.AudienceEvents < 0 {
		return errors.New("audience counts, audiences, computed traits, rounds and events must not be negative")
	}
	if c.Audiences > audience.MaxAudiences || c.ComputedTraits > audience.MaxComputedTraits {
		return fmt.Errorf("a store keeps at most %d audiences and %d computed traits, got %d and %d", audience.MaxAudiences, audience.MaxComputedTraits, c.Audiences, c.ComputedTraits)
	}
	if c.AudienceRounds == 0 {
		c.AudienceRounds = 2
	}
	if c.IntelEvents < 0 {
		return errors.New("intel events must not be negative")
	}
	if c.SubscriptionLatencies < 0 || c.SubscriptionRounds < 0 || c.SubscriptionEvents < 0 {
		return errors.New("subscription latencies, rounds and events must not be negative")
	}
	if c.Gen.People <= 0 {
		if c.Gen.Events <= 0 {
			return errors.New("give the number of events or of people")
		}
		c.Gen.People = max(1, c.Gen.Events/EventsPerPerson)
	}
	if c.Store == StoreNeo4j && c.Neo4j.URI == "" {
		c.Neo4j.URI = "bolt://127.0.0.1:7687"
	}
	if c.Store == StoreNeo4j && c.Neo4j.Database == "" {
		c.Neo4j.Database = neo4jstore.DefaultDatabase
	}
	return nil
}

func (c *Config) logf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "bench: "+format+"\n", args...)
	}
}

// Run generates the population and measures everything on the configured
// store. Quality does not depend on timing: the same config gives the same
// f1 and overmerged_people on every run and every store.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	res := &Result{Machine: machineFacts(), Store: cfg.Store, Config: runFacts(cfg)}
	tmp, err := os.MkdirTemp(cfg.TempDir, "cdp-bench-")
	if err != nil {
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)

	if cfg.Store == StoreNeo4j && cfg.Neo4jLock {
		cfg.logf("waiting for the Neo4j lock %s", neo4jLockPath())
		unlock, err := lockNeo4j()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}

	start := time.Now()
	ds, err := Generate(cfg.Gen)
	if err != nil {
		return nil, err
	}
	res.Population = ds.Stats
	res.GenSeconds = time.Since(start).Seconds()
	cfg.logf("generated %d people, %d messages in %.1fs", ds.Stats.People, len(ds.Messages), res.GenSeconds)
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	work, err := prepare(ds, rules, cfg.Batch)
	if err != nil {
		return nil, err
	}

	// Raw baseline first, on an empty database (Neo4j, through the
	// store's own driver) or its own file.
	store, err := openStore(ctx, cfg, filepath.Join(tmp, "store"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = store.Close(context.WithoutCancel(ctx)) }()
	// n4 writes the raw baselines on Neo4j; passN4 is the store the
	// measures' passes empty and reuse on Neo4j (nil: a new embedded
	// store each pass, see passStore).
	var n4 *neo4jRaw
	var passN4 graph.Store
	if s, ok := store.(*neo4jstore.Store); ok {
		n4, passN4 = newNeo4jRaw(s), s
	}
	info, err := store.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("store info: %w", err)
	}
	res.StoreVersion = info.Version

	// The pairs before the last flip their order (..., raw then service,
	// service then raw, and raw then service last), so that a drift of
	// the machine weighs on both sides alike.
	var svcRates, rawRates []float64
	for pair := 0; pair < cfg.IngestRounds-1; pair++ {
		serviceFirst := (cfg.IngestRounds-1-pair)%2 == 1
		for step := range 2 {
			dir := filepath.Join(tmp, fmt.Sprintf("ingest-%d-%d", pair, step))
			if (step == 0) == serviceFirst {
				cfg.logf("ingest pair %d/%d: service, on a fresh store", pair+1, cfg.IngestRounds)
				d, err := serviceIngestPass(ctx, cfg, passN4, dir, work, rules)
				if err != nil {
					return nil, fmt.Errorf("ingest pair %d through HTTP: %w", pair+1, err)
				}
				svcRates = append(svcRates, float64(len(ds.Messages))/d.Seconds())
			} else {
				cfg.logf("ingest pair %d/%d: raw", pair+1, cfg.IngestRounds)
				d, err := rawIngestPass(ctx, cfg, store, n4, dir, work)
				if err != nil {
					return nil, fmt.Errorf("ingest pair %d, raw: %w", pair+1, err)
				}
				rawRates = append(rawRates, float64(len(ds.Messages))/d.Seconds())
			}
		}
	}

	cfg.logf("raw ingest: %d messages, %d writers, %d per transaction", len(ds.Messages), cfg.Clients, cfg.Batch)
	rawDur, err := rawIngestPass(ctx, cfg, store, n4, filepath.Join(tmp, "raw"), work)
	if err != nil {
		return nil, fmt.Errorf("raw ingest: %w", err)
	}
	res.Ingest.RawSeconds = rawDur.Seconds()
	rawRates = append(rawRates, float64(len(ds.Messages))/rawDur.Seconds())

	timed := newTimedStore(store)
	svc, err := startService(ctx, timed, rules, cfg)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = svc.stop(context.WithoutCancel(ctx))
		}
	}()
	cfg.logf("service ingest: %d messages from %d clients, %d per request, to %s", len(ds.Messages), cfg.Clients, cfg.Batch, svc.url)
	sent, err := sendAll(ctx, svc.url, work.bodies, cfg.Clients)
	if err != nil {
		return nil, fmt.Errorf("ingest through HTTP: %w", err)
	}
	res.Ingest.Seconds = sent.elapsed.Seconds()
	svcRates = append(svcRates, float64(len(ds.Messages))/sent.elapsed.Seconds())
	res.Ingest.Rounds = cfg.IngestRounds
	res.Ingest.PerSecond, res.Ingest.RawPerSecond = median(svcRates), median(rawRates)
	res.Ingest.Runs, res.Ingest.RawRuns = roundAll(svcRates), roundAll(rawRates)
	res.Ingest.Stored, res.Ingest.Duplicates, res.Ingest.Rejected, res.Ingest.Retries = sent.stored, sent.duplicates, sent.rejected, sent.retries
	res.Ingest.Messages = len(ds.Messages)
	res.Ingest.Ratio = res.Ingest.PerSecond / res.Ingest.RawPerSecond
	res.Ingest.StoreTime = timed.take()
	if want := work.storable; sent.stored != want {
		return nil, fmt.Errorf("the service stored %d events; %d distinct messages carry a usable identifier", sent.stored, want)
	}

	cfg.logf("quality: reading every profile back")
	part, err := readPartition(ctx, svc.Engine)
	if err != nil {
		return nil, fmt.Errorf("reading the partition: %w", err)
	}
	res.Quality = Score(ds.Truth, part)
	for k := range part {
		if _, ok := ds.Truth.Row(k); !ok {
			res.Quality.Unknown++
		}
	}

	timed.take() // reading the partition back is not a lookup
	sample := lookupSample(ds.Truth, part, cfg.Lookups, cfg.Gen.Seed)
	cfg.logf("lookups: %d through GraphQL, then raw", len(sample))
	// Each timed pass of lookup_p99_vs_floor starts settled (see settle).
	if err := settle(ctx, settleWait); err != nil {
		return nil, err
	}
	gc0 := gcCycles()
	svcLat, err := serviceLookups(ctx, svc.url, "", sample, part)
	if err != nil {
		return nil, fmt.Errorf("profileByIdentifier: %w", err)
	}
	svcGC := gcCycles() - gc0
	res.Lookup.StoreTime = timed.take()
	if res.Auth, err = authLookups(ctx, cfg, store, rules, svc.url, sample, part); err != nil {
		return nil, err
	}
	timed.take() // the auth passes are not part of the lookup's store time
	if err := settle(ctx, settleWait); err != nil {
		return nil, err
	}
	gc0 = gcCycles()
	floor, err := httpFloor(ctx, svc.url, len(sample))
	if err != nil {
		return nil, fmt.Errorf("healthz: %w", err)
	}
	floorGC := gcCycles() - gc0
	stopped = true
	if err := svc.stop(ctx); err != nil {
		return nil, err
	}
	var rawLat []time.Duration
	if cfg.Store == StoreNeo4j {
		if err = settle(ctx, 0); err == nil {
			gc0 = gcCycles()
			rawLat, err = n4.lookups(ctx, sample, part)
		}
	} else {
		// bbolt locks its file: the raw reads open it read-only once the
		// store is closed.
		if err = store.Close(ctx); err == nil {
			if err = settle(ctx, 0); err == nil {
				gc0 = gcCycles()
				rawLat, err = rawEmbeddedLookups(ctx, filepath.Join(tmp, "store", embedded.FileName), sample, part)
			}
		}
	}
	rawGC := gcCycles() - gc0
	if err != nil {
		return nil, fmt.Errorf("raw lookups: %w", err)
	}
	storeTime := res.Lookup.StoreTime
	res.Lookup = lookupResult(svcLat, rawLat, floor)
	res.Lookup.StoreTime = storeTime
	res.Lookup.GCCycles, res.Lookup.HTTPGCCycles, res.Lookup.RawGCCycles = svcGC, floorGC, rawGC

	if cfg.AudienceCounts > 0 {
		// On the run's store, before the erasure adds anybody.
		as := store
		if cfg.Store == StoreEmbedded {
			if as, err = embedded.Open(filepath.Join(tmp, "store")); err != nil {
				return nil, fmt.Errorf("reopening the store for the audience count: %w", err)
			}
		}
		res.AudienceCount, err = audienceCount(ctx, cfg, as, rules)
		if cfg.Store == StoreEmbedded {
			if cerr := as.Close(ctx); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("audience count: %w", err)
		}
	}

	if cfg.EraseEvents > 0 {
		// On the run's store: its population is the other people's data.
		es := store
		if cfg.Store == StoreEmbedded {
			if es, err = embedded.Open(filepath.Join(tmp, "store")); err != nil {
				return nil, fmt.Errorf("reopening the store for the erasure: %w", err)
			}
		}
		res.Erase, err = eraseRounds(ctx, cfg, es, rules)
		if cfg.Store == StoreEmbedded {
			if cerr := es.Close(ctx); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("erasure: %w", err)
		}
	}

	if cfg.MergeN > 0 {
		for _, shape := range []string{"chain", "star"} {
			for _, n := range []int{cfg.MergeN, 8 * cfg.MergeN} {
				cfg.logf("merge scaling: %s of %d links, resolved then raw", shape, n)
				dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", shape, n))
				d, err := mergeRun(ctx, cfg, store, dir, shape, n)
				if err != nil {
					return nil, fmt.Errorf("merge scaling, %s of %d links: %w", shape, n, err)
				}
				raw, err := rawLinkRun(ctx, cfg, n4, dir+"-raw", shape, n)
				if err != nil {
					return nil, fmt.Errorf("raw links, %s of %d links: %w", shape, n, err)
				}
				res.Merge.record(shape, n == cfg.MergeN, d, raw)
			}
		}
		res.Merge.N = cfg.MergeN
		res.Merge.ratios()
	}
	if cfg.SuppressionHashes > 0 {
		if res.Suppression, err = suppressionPasses(ctx, cfg, passN4, tmp, ds, rules); err != nil {
			return nil, fmt.Errorf("suppression: %w", err)
		}
	}
	if cfg.Audiences > 0 || cfg.ComputedTraits > 0 {
		if res.Membership, err = membershipPasses(ctx, cfg, passN4, tmp, ds, rules); err != nil {
			return nil, fmt.Errorf("membership: %w", err)
		}
	}
	if cfg.IntelEvents > 0 {
		// On a fresh store: the measure's own population alone.
		is := store
		if cfg.Store == StoreNeo4j {
			err = emptyNeo4j(ctx, store)
		} else {
			is, err = embedded.Open(filepath.Join(tmp, "intel"))
		}
		if err != nil {
			return nil, fmt.Errorf("intelligence store: %w", err)
		}
		res.Intel, err = intelMeasure(ctx, cfg, is, rules)
		if cfg.Store == StoreEmbedded {
			if cerr := is.Close(ctx); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("intelligence: %w", err)
		}
	}
	if cfg.SubscriptionLatencies > 0 || cfg.SubscriptionRounds > 0 {
		if res.Subscriptions, err = subscriptionMeasure(ctx, cfg, passN4, tmp, ds, rules); err != nil {
			return nil, fmt.Errorf("subscriptions: %w", err)
		}
	}
	if cfg.Store == StoreNeo4j {
		if err := emptyNeo4j(ctx, store); err != nil {
			return nil, err
		}
	}
	res.TotalSeconds = time.Since(start).Seconds()
	return res, nil
}

func openStore(ctx context.Context, cfg Config, dir string) (graph.Store, error) {
	if cfg.Store == StoreEmbedded {
		return embedded.Open(dir)
	}
	s, err := neo4jstore.Open(ctx, cfg.Neo4j)
	if err != nil {
		return nil, err
	}
	if err := emptyNeo4j(ctx, s); err != nil {
		_ = s.Close(ctx)
		return nil, err
	}
	return s, nil
}

// rawIngestPass writes work with no resolution: on Neo4j (n4 not nil)
// into store's database, emptied before and after; otherwise into a new
// bbolt file in dir, removed after.
func rawIngestPass(ctx context.Context, cfg Config, store graph.Store, n4 *neo4jRaw, dir string, work *workload) (time.Duration, error) {
	if n4 != nil {
		if err := emptyNeo4j(ctx, store); err != nil {
			return 0, err
		}
		d, err := n4.ingest(ctx, work, cfg.Clients)
		if err != nil {
			return 0, err
		}
		return d, emptyNeo4j(ctx, store)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	return rawEmbeddedIngest(ctx, filepath.Join(dir, "raw.db"), work, cfg.Clients)
}

// serviceIngestPass sends work through the service on a fresh store (see
// passStore) and returns the time the sending took.
func serviceIngestPass(ctx context.Context, cfg Config, n4 graph.Store, dir string, work *workload, rules *graph.Rules) (time.Duration, error) {
	store, done, err := passStore(ctx, n4, dir)
	if err != nil {
		return 0, err
	}
	defer done()
	svc, err := startService(ctx, store, rules, cfg)
	if err != nil {
		return 0, err
	}
	sent, err := sendAll(ctx, svc.url, work.bodies, cfg.Clients)
	if stopErr := svc.stop(ctx); err == nil {
		err = stopErr
	}
	if err != nil {
		return 0, err
	}
	if sent.stored != work.storable {
		return 0, fmt.Errorf("the service stored %d events; %d distinct messages carry a usable identifier", sent.stored, work.storable)
	}
	return sent.elapsed, nil
}

func emptyNeo4j(ctx context.Context, s graph.Store) error {
	n, ok := s.(*neo4jstore.Store)
	if !ok {
		return nil
	}
	if err := n.DeleteAll(ctx); err != nil {
		return fmt.Errorf("emptying Neo4j: %w", err)
	}
	return nil
}

func neo4jLockPath() string { return filepath.Join(os.TempDir(), "cdp-neo4j-test.lock") }

// lockNeo4j takes the lock internal/storetest takes around every Neo4j test.
func lockNeo4j() (func(), error) {
	f, err := os.OpenFile(neo4jLockPath(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("Neo4j lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("Neo4j lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// readPartition returns identifier key -> profile id for every identifier
// of every live profile.
func readPartition(ctx context.Context, e *graph.Engine) (map[string]string, error) {
	out := map[string]string{}
	q := graph.PageQuery{Limit: graph.MaxPage}
	for {
		page, err := e.Profiles(ctx, q)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(page.Profiles))
		for i, p := range page.Profiles {
			ids[i] = p.ID
		}
		members, err := e.Members(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			for _, m := range members[id] {
				if prev, dup := out[m.Key]; dup {
					return nil, fmt.Errorf("identifier %s is in profiles %s and %s", m.Key, prev, id)
				}
				out[m.Key] = id
			}
		}
		if !page.HasNext || len(ids) == 0 {
			return out, nil
		}
		q.After = ids[len(ids)-1]
	}
}

func machineFacts() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}
