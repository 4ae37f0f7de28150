package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/telemetry"
	"github.com/idgraph/cdp/server"
)

// storeFlags are shared by every command that opens a store.
type storeFlags struct {
	dataDir   string
	neo4jURI  string
	neo4jUser string
	neo4jPass string
	neo4jDB   string
	neo4jCA   string
	timeout   time.Duration
	// noUpgrade leaves an embedded file of an older layout as it is and
	// refuses it (embedded.ErrOlderLayout) instead of upgrading it.
	noUpgrade bool
	// readOnly opens a store without writing to it: a Neo4j one with
	// NoWritesAtOpen (its schema checked, not applied, and unfinished
	// audience deletions left as they are), an embedded one read only
	// (embedded.Options.ReadOnly: one of an older layout refused).
	readOnly bool
	// checkIdentity, when set, is given the Neo4j database's identity
	// (neo4jstore.Config.CheckIdentity) before anything is written to it.
	checkIdentity func(identity string) error
}

// caFileUsage describes every command's --neo4j-ca-file.
const caFileUsage = "PEM file of certificate authorities that bolt+s:// and neo4j+s:// trust besides the system's (a private CA, a self-signed Neo4j)"

func (s *storeFlags) register(fs *flagSet) {
	fs.str(&s.dataDir, "data-dir", "CDP_DATA_DIR", "./data", "folder of the embedded store (used unless --neo4j-uri is set)")
	fs.str(&s.neo4jURI, "neo4j-uri", "NEO4J_URI", "", "Neo4j Bolt URI, e.g. bolt://127.0.0.1:7687; when set, Neo4j is the store")
	fs.str(&s.neo4jUser, "neo4j-user", "NEO4J_USER", "", "Neo4j user (empty: no authentication)")
	fs.str(&s.neo4jPass, "neo4j-password", "NEO4J_PASSWORD", "", "Neo4j password")
	fs.str(&s.neo4jDB, "neo4j-database", "NEO4J_DATABASE", "neo4j", "Neo4j database name")
	fs.str(&s.neo4jCA, "neo4j-ca-file", "NEO4J_CA_FILE", "", caFileUsage)
	fs.duration(&s.timeout, "store-timeout", "CDP_STORE_TIMEOUT", defaultStoreTimeout, "how long to wait at start for Neo4j to answer (retrying with backoff while it refuses connections)")
}

// defaultStoreTimeout covers a Neo4j started at the same moment (docker
// compose, an orchestrator): a cold Neo4j takes 10-30 s to open Bolt.
const defaultStoreTimeout = 60 * time.Second

// checkNeo4jURI refuses as bad usage a Neo4j URI that Open does not take
// (another scheme, text that is not a URL, or an address no server can
// have or not the one meant: no host, a port outside 1 to 65535, user
// information cut short; URIAddressProblem), one holding user
// information (which Open refuses, credentials having flags of their
// own), and a CA file beside a URI that checks no certificate: a
// configuration to fix, found before any store is opened or port bound.
// flag and caFlag name the flags (with their dashes); a password in uri
// is shown as xxxxx.
func checkNeo4jURI(flag, uri, caFlag, caFile string) error {
	// The user and password have flags of their own: --neo4j-user and
	// --neo4j-password beside --neo4j-uri, --from-neo4j-user ... beside
	// --from-neo4j-uri.
	base := strings.TrimSuffix(flag, "-uri")
	creds := ""
	if strings.Contains(uri, "@") {
		creds = fmt.Sprintf(", and a user and password with %s-user and %s-password, not in the URI", base, base)
	}
	scheme := neo4jstore.URIScheme(uri)
	if !neo4jstore.KnownScheme(scheme) {
		return usagef("%s %q is not a Neo4j URI: give bolt://HOST:PORT or neo4j://HOST:PORT (+s or +ssc for TLS)%s",
			flag, neo4jstore.RedactURI(uri), creds)
	}
	if p := neo4jstore.URIAddressProblem(uri); p != "" {
		return usagef("%s %q has %s: give bolt://HOST:PORT or neo4j://HOST:PORT%s", flag, neo4jstore.RedactURI(uri), p, creds)
	}
	if neo4jstore.URIUserInfo(uri) {
		// The driver reads no credentials from the URI: it would connect
		// without them, and the ones written there would go unseen.
		return usagef("%s %q holds user information, which is not read from it: give the user and password with %s-user and %s-password (or their environment variables), and the URI without them",
			flag, neo4jstore.HideUserInfo(uri), base, base)
	}
	if caFile != "" && !neo4jstore.ChecksCertificate(scheme) {
		return usagef("%s needs a bolt+s:// or neo4j+s:// %s, whose certificate it checks", caFlag, flag)
	}
	return nil
}

// checkNeo4j is checkNeo4jURI for --neo4j-uri, when it is set.
func (s *storeFlags) checkNeo4j() error {
	if s.neo4jURI == "" {
		return nil
	}
	return checkNeo4jURI("--neo4j-uri", s.neo4jURI, "--neo4j-ca-file", s.neo4jCA)
}

func (s *storeFlags) neo4jConfig() neo4jstore.Config {
	return neo4jstore.Config{URI: s.neo4jURI, User: s.neo4jUser, Password: s.neo4jPass, Database: s.neo4jDB, CAFile: s.neo4jCA,
		NoWritesAtOpen: s.readOnly, CheckIdentity: s.checkIdentity}
}

func (s *storeFlags) open(ctx context.Context, log zerolog.Logger) (graph.Store, error) {
	if s.neo4jURI != "" {
		st, err := s.openNeo4j(ctx, log)
		if err != nil {
			return nil, fmt.Errorf("neo4j store: %w", err)
		}
		return st, nil
	}
	st, err := embedded.OpenWith(s.dataDir, embedded.Options{NoUpgrade: s.noUpgrade, ReadOnly: s.readOnly, OnUpgrade: func(u embedded.Upgrade) {
		log.Warn().Str("file", u.Path).Uint64("from", u.From).Uint64("to", u.To).Str("backup", u.Backup).
			Msg("upgrading the embedded store's layout in place; the file as it was is kept as backup")
	}})
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	return st, nil
}

// openNeo4j opens the Neo4j store, waiting up to --store-timeout for Neo4j
// to answer: while it cannot be reached (refused connections, a database
// still starting) it tries again with backoff, logging what it waits for.
// A wrong configuration (bad URI, refused credentials) fails at once. The
// store it returns logs when Neo4j stops answering and when it is back.
func (s *storeFlags) openNeo4j(ctx context.Context, log zerolog.Logger) (*neo4jstore.Store, error) {
	cfg := s.neo4jConfig()
	cfg.OnAvailability = func(available bool, err error) {
		if available {
			log.Info().Msg("Neo4j answers again; serving requests")
			return
		}
		log.Warn().Err(err).Msg("Neo4j stopped answering; requests get 503 with Retry-After until it is back")
	}
	if err := s.checkNeo4j(); err != nil {
		return nil, err
	}
	if s.timeout <= 0 {
		return nil, usagef("--store-timeout must be positive, got %s", s.timeout)
	}
	start := time.Now()
	deadline := start.Add(s.timeout)
	wait := 250 * time.Millisecond
	// seen is the error of the last attempt the deadline did not cut
	// short: what Neo4j answered says more than the timeout that ended
	// the last attempt.
	var seen error
	for attempt := 1; ; attempt++ {
		// The deadline bounds the wait for Neo4j to answer, not the
		// schema and data migrations that follow (a large store's may
		// take long); ctx, a signal, ends either.
		cfg.ConnectDeadline = deadline
		st, err := neo4jstore.Open(ctx, cfg)
		if err == nil {
			if attempt > 1 {
				log.Info().Dur("waited", time.Since(start)).Msg("Neo4j answers; store open")
			}
			return st, nil
		}
		if ctx.Err() != nil {
			return nil, err // interrupted
		}
		if graph.ErrorCode(err) != graph.EUNAVAILABLE {
			return nil, err
		}
		left := time.Until(deadline)
		if left > 0 || seen == nil {
			seen = err
		}
		if left <= 0 {
			return nil, fmt.Errorf("Neo4j did not answer within --store-timeout %s: %w", s.timeout, seen)
		}
		wait = min(wait, left)
		log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Dur("waited", time.Since(start)).
			Dur("store_timeout", s.timeout).Msg("waiting for Neo4j to answer")
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, 5*time.Second)
	}
}

type serveFlags struct {
	store           storeFlags
	addr            string
	logLevel        string
	logFormat       string
	rules           string
	writeKeys       string
	batchSize       int
	batchWait       time.Duration
	queueSize       int
	commitTimeout   time.Duration
	committers      int
	graphiql        string
	introspection   bool
	maxComplexity   int
	maxDepth        int
	maxSelections   int
	maxResponse     int
	shutdownTimeout time.Duration
	auth            string
	rateLimit       float64
	rateBurst       int
	metricsAddr     string
	auditRetention  string
	audienceRefresh time.Duration
	feedRetention   string
	feedPoll        time.Duration
	subBuffer       int
	subsPerKey      int
	corsOrigins     string
	allowPrivate    bool
}

const serveHelp = `
Runs the HTTP server: the Segment-compatible collector under /v1/, GraphQL at
/graphql (GraphiQL at /graphiql), the web console at /console/, /healthz,
/readyz and /metrics. The store is the embedded one in --data-dir unless
--neo4j-uri is set.

API keys ("cdp keys create", or the GraphQL mutation createApiKey) are
enforced once the store holds one, always on a non-loopback --addr, and always
with --auth=required; then every request but /healthz, /readyz and the web
console's static files (/console/) needs one ("Authorization: Bearer cdp_..." for GraphQL and /metrics, the Segment write
key for the collector). On loopback with no key stored the server is open:
every caller holds every scope, and only Host localhost, 127.0.0.1 or [::1]
is answered. /metrics needs a key with metrics:read unless --metrics-addr
serves it on a listener of its own, without keys.`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serveFlags
	d := app.Defaults()
	fs := newFlagSet("serve", stderr, serveHelp)
	f.store.register(fs)
	fs.str(&f.addr, "addr", "CDP_ADDR", "127.0.0.1:8080", "address to listen on; loopback unless told otherwise")
	fs.str(&f.logLevel, "log-level", "CDP_LOG_LEVEL", "info", "debug, info, warn or error")
	fs.str(&f.logFormat, "log-format", "CDP_LOG_FORMAT", "json", "json or console")
	fs.str(&f.rules, "rules", "CDP_RULES", "", "identity rules file (JSON); built-in defaults when empty")
	fs.str(&f.writeKeys, "write-keys", "CDP_WRITE_KEYS", "", "comma-separated static write keys, each KEY or KEY=SOURCE, accepted beside API keys with events:write; empty: in open mode any write key is accepted")
	fs.integer(&f.batchSize, "batch-size", "CDP_BATCH_SIZE", d.Collector.MaxBatch, "most events per store transaction (group commit)")
	fs.duration(&f.batchWait, "batch-wait", "CDP_BATCH_WAIT", d.Collector.MaxWait, "how long a micro-batch waits to fill")
	fs.integer(&f.queueSize, "queue-size", "CDP_QUEUE_SIZE", d.Collector.QueueSize, "most events waiting for commit; beyond it clients get 429")
	fs.duration(&f.commitTimeout, "commit-timeout", "CDP_COMMIT_TIMEOUT", d.Collector.CommitTimeout, "longest a commit may take before its requests get 503")
	fs.integer(&f.committers, "committers", "CDP_COMMITTERS", 1, "micro-batches committed at once (0 means 1); more than 1 helps only a store whose transactions run side by side, on batches that share no identifier")
	fs.str(&f.graphiql, "graphiql", "CDP_GRAPHIQL", "auto", "serve GraphiQL at /graphiql: auto (only in open loopback mode: loopback --addr, --auth=auto and no key stored at start), true or false")
	fs.boolean(&f.introspection, "introspection", "CDP_INTROSPECTION", d.GraphQL.Introspection, "allow GraphQL introspection and field suggestions")
	fs.integer(&f.maxComplexity, "max-complexity", "CDP_MAX_COMPLEXITY", d.GraphQL.MaxComplexity, "GraphQL query complexity limit")
	fs.integer(&f.maxDepth, "max-depth", "CDP_MAX_DEPTH", d.GraphQL.MaxDepth, "GraphQL query depth limit")
	fs.integer(&f.maxSelections, "max-selections", "CDP_MAX_SELECTIONS", d.GraphQL.MaxSelections, "most field selections in a GraphQL document, counted before validation")
	fs.integer(&f.maxResponse, "max-response-bytes", "CDP_MAX_RESPONSE_BYTES", int(d.GraphQL.MaxResponseBytes), "largest GraphQL response in bytes; a larger one is replaced by a RESPONSE_TOO_LARGE error")
	fs.str(&f.feedRetention, "feed-retention", "CDP_FEED_RETENTION", "7d", "how long change feed entries are kept (trimmed every minute in small transactions): days such as 7d, or a duration such as 168h; 0 keeps them forever")
	fs.duration(&f.feedPoll, "feed-poll", "CDP_FEED_POLL", feedhub.DefaultPoll, "how often this process reads the change feed for its subscribers, seeing what other processes on the store committed (its own commits are read at once)")
	fs.integer(&f.subBuffer, "subscription-buffer", "CDP_SUBSCRIPTION_BUFFER", feedhub.DefaultBuffer, "most changes waiting for one GraphQL subscriber; past it the subscriber is ended (SLOW_CONSUMER) and resumes from its cursor")
	fs.integer(&f.subsPerKey, "subscriptions-per-key", "CDP_SUBSCRIPTIONS_PER_KEY", feedhub.DefaultPerKey, "most GraphQL subscriptions one API key may hold open at once (open mode counts as one key); 0: no cap")
	fs.str(&f.corsOrigins, "cors-origins", "CDP_CORS_ORIGINS", "", "comma-separated browser origins, beside the server's own, allowed to open a GraphQL websocket and, in open mode, to send requests that change something: hosts or patterns such as app.example.com, *.example.com or https://app.example.com; * allows any")
	fs.duration(&f.shutdownTimeout, "shutdown-timeout", "CDP_SHUTDOWN_TIMEOUT", 30*time.Second, "how long shutdown waits for requests in flight and pending writes")
	fs.str(&f.auth, "auth", "CDP_AUTH", "auto", "auto (API keys enforced once one exists, and always on a non-loopback --addr) or required (always)")
	fs.float(&f.rateLimit, "rate-limit", "CDP_RATE_LIMIT", d.Auth.RateLimit, "requests per second per API key, for GraphQL, for the collector and for the other endpoints apart; 0: no limit")
	fs.integer(&f.rateBurst, "rate-burst", "CDP_RATE_BURST", d.Auth.Burst, "most requests an API key may send at once (the size of each of its buckets)")
	fs.str(&f.metricsAddr, "metrics-addr", "CDP_METRICS_ADDR", "", "address of a listener serving /metrics without keys; empty: /metrics on --addr, needing metrics:read")
	fs.str(&f.auditRetention, "audit-retention", "CDP_AUDIT_RETENTION", "400d", "how long audit entries are kept: days such as 400d, or a duration such as 720h")
	fs.duration(&f.audienceRefresh, "audience-refresh", "CDP_AUDIENCE_REFRESH", app.DefaultAudienceRefresh, "how often audiences and computed values that time alone changes (event windows, expiring consent) are evaluated again; 0: never")
	fs.boolean(&f.allowPrivate, "destinations-allow-private", "CDP_DESTINATIONS_ALLOW_PRIVATE", false, "let webhook destinations reach loopback, private, link-local and other non-public addresses (on-premises receivers, tests); refused by default, when a destination is saved and at every connection")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	log, err := newLogger(f.logLevel, f.logFormat, stderr)
	if err != nil {
		return err
	}
	if f.committers < 0 {
		return usagef("--committers must not be negative, got %d", f.committers)
	}
	if f.batchSize < 1 {
		return usagef("--batch-size must be at least 1, got %d", f.batchSize)
	}
	if f.queueSize < f.batchSize {
		return usagef("--queue-size must be at least --batch-size (got %d and %d)", f.queueSize, f.batchSize)
	}
	if f.batchWait < 0 {
		return usagef("--batch-wait must not be negative, got %s", f.batchWait)
	}
	if f.maxSelections < 1 || f.maxResponse < 1 {
		return usagef("--max-selections and --max-response-bytes must be at least 1 (got %d and %d)", f.maxSelections, f.maxResponse)
	}
	// A zero or negative limit would be replaced by the default without a
	// word (or, for the shutdown, leave requests in flight no time).
	if f.maxComplexity < 1 || f.maxDepth < 1 {
		return usagef("--max-complexity and --max-depth must be at least 1 (got %d and %d)", f.maxComplexity, f.maxDepth)
	}
	if f.commitTimeout <= 0 {
		return usagef("--commit-timeout must be positive, got %s", f.commitTimeout)
	}
	if f.shutdownTimeout <= 0 {
		return usagef("--shutdown-timeout must be positive, got %s", f.shutdownTimeout)
	}
	keys, err := parseWriteKeys(f.writeKeys)
	if err != nil {
		return err
	}
	rules, err := loadRules(f.rules)
	if err != nil {
		return usagef("%v", err)
	}
	graphiql, err := parseGraphiQL(f.graphiql)
	if err != nil {
		return err
	}
	required, err := parseAuth(f.auth)
	if err != nil {
		return err
	}
	if f.rateLimit < 0 || math.IsNaN(f.rateLimit) || math.IsInf(f.rateLimit, 0) {
		return usagef("--rate-limit must be a number of requests per second of at least 0 (0: no limit), got %v", f.rateLimit)
	}
	if f.rateBurst < 1 {
		return usagef("--rate-burst must be at least 1, got %d", f.rateBurst)
	}
	retention, err := parseRetention("--audit-retention", f.auditRetention)
	if err != nil {
		return err
	}
	// Whichever the store, as cdp keys: a zero or negative wait is a
	// mistake, found before the port is bound or the store touched.
	if f.store.timeout <= 0 {
		return usagef("--store-timeout must be positive, got %s", f.store.timeout)
	}
	if err := f.store.checkNeo4j(); err != nil {
		return err
	}
	// Every other bad value too: it is bad usage (exit 2) whether the port
	// is free or not and the store answers or not, and a store is neither
	// created nor upgraded for a configuration that is refused.
	if f.audienceRefresh < 0 {
		return usagef("--audience-refresh %s is negative", f.audienceRefresh)
	}
	feedRetention := time.Duration(-1) // never trimmed
	if strings.TrimSpace(f.feedRetention) != "0" {
		if feedRetention, err = parseRetention("--feed-retention", f.feedRetention); err != nil {
			return err
		}
	}
	if f.feedPoll <= 0 {
		return usagef("--feed-poll must be positive, got %s", f.feedPoll)
	}
	if f.subBuffer < 1 {
		return usagef("--subscription-buffer must be at least 1, got %d", f.subBuffer)
	}
	if f.subsPerKey < 0 {
		return usagef("--subscriptions-per-key must not be negative (0: no cap), got %d", f.subsPerKey)
	}
	origins, err := parseOrigins(f.corsOrigins)
	if err != nil {
		return err
	}

	// Tracing's configuration (OTEL_*) is checked before the port too: a
	// variable it cannot use is bad usage whether the port is free or not.
	// Its defer runs after the store's and the listener's (defers run last
	// first): the store's last spans go too.
	stopTracing, err := telemetry.Setup(ctx, version, func(err error) {
		log.Warn().Err(err).Msg("tracing: spans not exported")
	})
	if err != nil {
		return usagef("tracing (OTEL_EXPORTER_OTLP_*): %v", err)
	}
	defer func() {
		tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(tctx); err != nil {
			log.Warn().Err(err).Msg("tracing: the last spans were not exported")
		}
	}()
	if telemetry.Enabled() {
		log.Info().Msg("tracing: exporting spans over OTLP/HTTP")
	}

	// Bind first: a port in use is reported before the store is touched.
	ln, err := server.Listen(f.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	var metricsLn net.Listener
	if f.metricsAddr != "" {
		if metricsLn, err = server.Listen(f.metricsAddr); err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		defer metricsLn.Close()
	}
	// Until the service is built (Neo4j may take up to --store-timeout to
	// answer), the port answers /healthz and tells everything else to come
	// back (503), rather than leaving connections unanswered.
	// The service's registry serves --metrics-addr from now on, with
	// cdp_starting 1 until the service is built.
	reg := prometheus.NewRegistry()
	starting := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cdp_starting",
		Help: "1 while cdp serve waits for its store at start-up and answers nothing but /healthz (and /metrics on --metrics-addr); 0 once it serves."})
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), starting)
	starting.Set(1)
	opening := log.Info().Str("addr", ln.Addr().String())
	if metricsLn != nil {
		opening = opening.Str("metrics_addr", metricsLn.Addr().String())
	}
	opening.Msg("opening the store")
	var handOnce sync.Once
	stopStarting := serveStarting(ln, required, log)
	stopMetrics := func() {}
	if metricsLn != nil {
		stopMetrics = serveStartingMetrics(metricsLn, reg)
	}
	handOver := func() { handOnce.Do(func() { stopStarting(); stopMetrics() }) }
	defer handOver()
	store, err := f.store.open(ctx, log)
	if err != nil {
		if ctx.Err() != nil {
			// SIGINT or SIGTERM while waiting for the store: a stop asked
			// for, with nothing accepted yet to flush, exits 0 as it does
			// once serving.
			log.Info().Msg("stopped before the store answered")
			return nil
		}
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := store.Close(cctx); err != nil {
			log.Error().Err(err).Msg("closing the store")
		}
	}()
	info, err := store.Info(ctx)
	if err != nil {
		return fmt.Errorf("store info: %w", err)
	}
	showGraphiQL := graphiql == "true"
	if graphiql == "auto" {
		// On only in open loopback mode: GraphiQL sends no key.
		open := !required && server.Loopback(ln)
		if ks, ok := store.(access.Store); ok && open {
			n, err := ks.CountKeys(ctx)
			if err != nil {
				return fmt.Errorf("count API keys: %w", err)
			}
			open = n == 0
		}
		showGraphiQL = open
	}

	cfg := app.Defaults()
	cfg.Store, cfg.Rules, cfg.Listener, cfg.Logger, cfg.Registry = store, rules, ln, log, reg
	cfg.Collector.MaxBatch = f.batchSize
	cfg.Collector.MaxWait = f.batchWait
	cfg.Collector.QueueSize = f.queueSize
	cfg.Collector.CommitTimeout = f.commitTimeout
	cfg.Collector.Committers = f.committers
	cfg.Collector.WriteKeys = keys
	cfg.GraphQL.MaxComplexity = f.maxComplexity
	cfg.GraphQL.MaxDepth = f.maxDepth
	cfg.GraphQL.MaxSelections = f.maxSelections
	cfg.GraphQL.MaxResponseBytes = int64(f.maxResponse)
	cfg.GraphQL.Introspection = f.introspection
	cfg.GraphQL.Suggestions = f.introspection
	cfg.GraphiQL = showGraphiQL
	cfg.AudienceRefresh = f.audienceRefresh
	if f.audienceRefresh == 0 {
		cfg.AudienceRefresh = -1 // never
	}
	cfg.Feed.Retention = feedRetention
	cfg.Feed.Poll, cfg.Feed.Buffer, cfg.Feed.PerKey = f.feedPoll, f.subBuffer, f.subsPerKey
	if f.subsPerKey == 0 {
		cfg.Feed.PerKey = -1 // no cap
	}
	cfg.GraphQL.Origins = origins
	cfg.Destinations.AllowPrivate = f.allowPrivate
	if f.allowPrivate {
		log.Warn().Msg("--destinations-allow-private: webhook destinations may reach loopback and private addresses")
	}
	cfg.Auth = app.Auth{
		Required: required, RateLimit: f.rateLimit, Burst: f.rateBurst,
		MetricsListener: metricsLn, AuditRetention: retention,
	}
	svc, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	handOver()
	svc.Start()
	starting.Set(0)
	ev := log.Info().Str("addr", svc.Server.Addr()).Str("store", info.Kind).Str("store_version", info.Version).
		Bool("graphiql", showGraphiQL)
	if m := svc.Server.MetricsAddr(); m != "" {
		ev = ev.Str("metrics_addr", m)
	}
	ev.Msg("listening")

	select {
	case <-svc.Done():
		// The server failed on its own: still commit what was accepted.
		sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
		defer cancel()
		return svc.Close(sctx)
	case <-ctx.Done():
	}

	// Stop accepting, let requests in flight finish (they wait for their
	// commits), then flush what is still queued, then close the store.
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := svc.Close(sctx); err != nil {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// loadRules reads the rules file at path, or gives the built-in rules when
// path is empty. Errors name the file, and the line and column or the field
// at fault.
func loadRules(path string) (*graph.Rules, error) {
	if path == "" {
		return graph.DefaultRules(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	r, err := graph.ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	return r, nil
}

func newLogger(level, format string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		return zerolog.Nop(), usagef("--log-level %q is not one of debug, info, warn, error", level)
	}
	var out io.Writer
	switch format {
	case "json":
		out = w
	case "console":
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Nop(), usagef("--log-format %q is not json or console", format)
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// parseWriteKeys reads "key1=source1,key2" into key -> source name.
func parseWriteKeys(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, src, ok := strings.Cut(item, "=")
		k, src = strings.TrimSpace(k), strings.TrimSpace(src)
		if !ok {
			src = "default"
		}
		if k == "" || src == "" {
			// Named by its position: the entry holds a key, a secret of
			// its source, and this error reaches the logs.
			what := "its source is empty"
			if k == "" {
				what = "its key is empty"
			}
			return nil, usagef("--write-keys entry %d (counting from 1; the entry is not repeated): %s; each entry must be KEY or KEY=SOURCE", i+1, what)
		}
		if err := ingest.ValidSource(src); err != nil {
			return nil, usagef("--write-keys: %v", err)
		}
		out[k] = src
	}
	return out, nil
}

// parseGraphiQL reads --graphiql as "auto", "true" or "false".
func parseGraphiQL(v string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "on", "1":
		return "true", nil
	case "false", "off", "0":
		return "false", nil
	case "auto", "":
		return "auto", nil
	default:
		return "", usagef("--graphiql %q is not auto, true or false", v)
	}
}

// parseAuth reads --auth and reports whether keys are required even on
// loopback with no key stored.
func parseAuth(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "auto", "":
		return false, nil
	case "required":
		return true, nil
	default:
		return false, usagef("--auth %q is not auto (keys enforced once one exists, and off loopback) or required (always)", v)
	}
}

// parseRetention reads the retention flag named flag (--audit-retention,
// --feed-retention): whole days such as "400d", or a Go duration such as
// "720h". It must be positive.
func parseRetention(flag, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	bad := func() (time.Duration, error) {
		return 0, usagef("%s %q is neither a number of days such as 400d nor a duration such as 720h, above zero", flag, v)
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		// Beyond 100 years the duration would near its limit (292 years).
		if err != nil || n < 1 || n > 36500 {
			return bad()
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return bad()
	}
	return d, nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s storeFlags
	fs := newFlagSet("migrate", stderr, "\nApplies the Neo4j constraints and indexes (idempotent). The embedded store needs no migration.")
	s.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if s.neo4jURI == "" {
		return usagef("--neo4j-uri (or NEO4J_URI) is required: only the Neo4j store has a schema to migrate")
	}
	st, err := s.openNeo4j(ctx, zerolog.New(stderr).With().Timestamp().Logger())
	if err != nil {
		return err
	}
	defer st.Close(context.Background())
	applied, err := st.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, a := range applied {
		fmt.Fprintln(stdout, a)
	}
	fmt.Fprintln(stdout, "schema up to date")
	return nil
}

// parseOrigins reads --cors-origins: comma-separated origins or host
// patterns (path.Match syntax), or * for any.
func parseOrigins(v string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if _, err := path.Match(strings.ToLower(o), ""); err != nil {
			return nil, usagef("--cors-origins: %q is not a valid origin pattern: %v", o, err)
		}
		out = append(out, o)
	}
	return out, nil
}
