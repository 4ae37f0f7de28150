// Package app wires the service: the engine on a store, the collector, the
// GraphQL handler and the HTTP server with its metrics. `cdp serve` and
// `cdp bench` both build the service here, so what the benchmark measures
// is what runs.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/console"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/telemetry"
	"github.com/idgraph/cdp/privacy"
	"github.com/idgraph/cdp/resolver"
	"github.com/idgraph/cdp/server"
)

// Config is everything the service is built from. Start from Defaults.
type Config struct {
	// Store is the open store; the caller closes it after Close.
	Store graph.Store
	// Rules are the identity rules; nil means graph.DefaultRules.
	Rules *graph.Rules
	// Listener is where the server accepts connections (server.Listen).
	Listener net.Listener
	// Collector configures group commit and write keys (Committers 0
	// means 1); Logger and Registerer are set from the fields below.
	Collector ingest.Config
	// GraphQL configures the GraphQL handler; Logger and Parse are set
	// here, Parse to the collector's, so the ingest mutation parses and
	// counts messages as the collector does.
	GraphQL resolver.Config
	// GraphiQL serves the GraphiQL page at /graphiql.
	GraphiQL bool
	Logger   zerolog.Logger
	// Registry receives the service's metrics and is served at /metrics;
	// nil means a new one with the Go and process collectors.
	Registry *prometheus.Registry
	// Auth configures API keys.
	Auth Auth
	// Feed configures the change feed, which the store keeps when it
	// implements graph.FeedStore.
	Feed FeedConfig
	// Keys holds the API keys and the audit log; nil means Store, which
	// must then implement access.Store. It is set apart only when Store
	// is a wrapper that hides it (the benchmark's timing wrapper).
	Keys access.Store
	// Suppression holds the suppression list; nil means Store, which must
	// then implement privacy.SuppressionStore. Like Keys, it is set apart
	// only when Store is a wrapper that hides it.
	Suppression privacy.SuppressionStore
	// Audiences and Consent hold audiences and the consent ledger; nil
	// means Store, which must then implement audience.Store and
	// privacy.ConsentStore. Set apart only beside a wrapper, like Keys.
	Audiences audience.Store
	Consent   privacy.ConsentStore
	// Destinations configures webhook destinations, delivered when the
	// store implements destination.Store and graph.FeedStore.
	Destinations DestinationConfig
	// AudienceRefresh is how often the audiences that time alone changes
	// (event windows, windowed computed traits, expiring consent) are
	// evaluated again; 0 means DefaultAudienceRefresh, a negative value
	// never.
	AudienceRefresh time.Duration
}

// Auth configures API keys, their rate limits and the audit log's
// retention.
type Auth struct {
	// Required enforces keys even on loopback with no key stored. Keys are
	// always enforced on a non-loopback listener, and once a key exists.
	Required bool
	// RateLimit is each key's requests per second, for GraphQL and the
	// collector apart; 0 means none. Burst is the bucket size.
	RateLimit float64
	Burst     int
	// MetricsListener, when set, serves /metrics without keys instead of
	// the main listener (where it needs metrics:read); Close closes it.
	MetricsListener net.Listener
	// AuditRetention is how long audit entries are kept: older ones are
	// pruned at Start and every hour. 0 means DefaultAuditRetention.
	AuditRetention time.Duration
}

// FeedConfig configures the change feed.
type FeedConfig struct {
	// Retention is how long entries are kept: older ones are trimmed at
	// Start and every minute, in small transactions. 0 means
	// DefaultFeedRetention; negative, never.
	Retention time.Duration
	// TrimEvery is how often the feed is trimmed; 0 means every minute.
	TrimEvery time.Duration
	// Poll is how often this process reads the feed for its subscribers
	// (besides right after its own commits); 0 means feedhub.DefaultPoll.
	Poll time.Duration
	// Buffer bounds the changes waiting for one subscriber; past it the
	// subscriber is ended as too slow. 0 means feedhub.DefaultBuffer.
	Buffer int
	// PerKey caps the subscriptions one API key holds at once; 0 means
	// feedhub.DefaultPerKey, negative no cap.
	PerKey int
}

// DestinationConfig configures webhook destinations.
type DestinationConfig struct {
	// AllowPrivate lets destinations use loopback, private and link-local
	// addresses (--destinations-allow-private); refused otherwise, when a
	// destination is saved and at every connection.
	AllowPrivate bool
	// Poll is how often an idle destination looks at the feed; 0 means
	// destination.DefaultPoll. RetryBase is the backoff's first wait; 0
	// means destination.DefaultRetryBase.
	Poll      time.Duration
	RetryBase time.Duration
}

// DefaultAuditRetention is how long audit entries are kept by default.
const DefaultAuditRetention = 400 * 24 * time.Hour

// pruneEvery is how often the audit log is pruned.
const pruneEvery = time.Hour

// Defaults returns the configuration `cdp serve` runs with when given no
// flags (Store, Listener and Logger aside).
func Defaults() Config {
	return Config{
		Collector: ingest.Config{
			MaxBatch:      ingest.DefaultMaxBatch,
			MaxWait:       ingest.DefaultMaxWait,
			QueueSize:     ingest.DefaultQueueSize,
			CommitTimeout: ingest.DefaultCommitTimeout,
		},
		GraphQL: resolver.Config{
			MaxComplexity:    resolver.DefaultMaxComplexity,
			MaxDepth:         resolver.DefaultMaxDepth,
			MaxSelections:    resolver.DefaultMaxSelections,
			MaxResponseBytes: resolver.DefaultMaxResponseBytes,
			Introspection:    true,
			Suggestions:      true,
		},
		Auth: Auth{
			RateLimit:      auth.DefaultRateLimit,
			Burst:          auth.DefaultBurst,
			AuditRetention: DefaultAuditRetention,
		},
		Logger: zerolog.Nop(),
	}
}

// Service is the wired service, serving once Start is called.
type Service struct {
	Engine    *graph.Engine
	Collector *ingest.Collector
	Server    *server.Server
	Registry  *prometheus.Registry
	// Guard authenticates requests; the revokeApiKey resolver calls its
	// Invalidate.
	Guard *auth.Guard
	// Feed tails the change feed for the subscriptions; nil when the store
	// keeps no feed.
	Feed *feedhub.Hub

	keys      access.Store
	audit     *resolver.AuditWriter
	members   *memberships
	hooks     *destination.Worker // nil when the store keeps no destinations
	retention time.Duration
	feed      graph.FeedStore
	feedKeep  time.Duration
	feedEvery time.Duration
	log       zerolog.Logger

	started    bool
	done       chan struct{}
	serveErr   error
	stopPrune  context.CancelFunc
	pruneEnded sync.WaitGroup
}

// New wires the service on cfg.Store and cfg.Listener. It starts the
// collector's committers; Close stops them.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Listener == nil {
		return nil, errors.New("app: a store and a listener are required")
	}
	keys := cfg.Keys
	if keys == nil {
		var ok bool
		if keys, ok = cfg.Store.(access.Store); !ok {
			return nil, fmt.Errorf("app: the store %T holds no API keys (it does not implement access.Store)", cfg.Store)
		}
	}
	retention := cfg.Auth.AuditRetention
	if retention <= 0 {
		retention = DefaultAuditRetention
	}
	loopback := server.Loopback(cfg.Listener)
	guard, err := auth.New(auth.Config{
		Store: keys, Required: cfg.Auth.Required || !loopback,
		RateLimit: cfg.Auth.RateLimit, Burst: cfg.Auth.Burst, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	nkeys, err := keys.CountKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("count API keys: %w", err)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	engine := graph.NewEngine(cfg.Store, cfg.Rules)
	if err := reg.Register(telemetry.StoreErrors); err != nil && !isAlreadyRegistered(err) {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := reg.Register(dropCollector(engine.Normalizer())); err != nil {
		return nil, fmt.Errorf("app: metrics: %w", err)
	}
	cc := cfg.Collector
	cc.Logger, cc.Registerer = cfg.Logger, reg
	cc.Keys = guard
	// Erased people stay erased: the collector drops messages carrying an
	// identifier on the suppression list, which erasures add to.
	ss := cfg.Suppression
	if ss == nil {
		var ok bool
		if ss, ok = cfg.Store.(privacy.SuppressionStore); !ok {
			return nil, fmt.Errorf("app: the store %T keeps no suppression list (it does not implement privacy.SuppressionStore)", cfg.Store)
		}
	}
	list, err := privacy.OpenSuppressionList(ctx, ss)
	if err != nil {
		return nil, fmt.Errorf("open the suppression list: %w", err)
	}
	if cc.Suppression == nil {
		cc.Suppression = list
	}
	// Audience membership is kept current in the background: the profiles
	// each micro-batch changed are evaluated within moments.
	aud, cs := cfg.Audiences, cfg.Consent
	if aud == nil {
		var ok bool
		if aud, ok = cfg.Store.(audience.Store); !ok {
			return nil, fmt.Errorf("app: the store %T keeps no audiences (it does not implement audience.Store)", cfg.Store)
		}
	}
	if cs == nil {
		var ok bool
		if cs, ok = cfg.Store.(privacy.ConsentStore); !ok {
			return nil, fmt.Errorf("app: the store %T keeps no consent ledger (it does not implement privacy.ConsentStore)", cfg.Store)
		}
	}
	every := cfg.AudienceRefresh
	switch {
	case every == 0:
		every = DefaultAudienceRefresh
	case every < 0:
		every = 0
	}
	members := newMemberships(keep.New(engine, aud, cs, nil).WithProgress(passProgress(cfg.Logger)), every, roundGapFor(aud), cfg.Logger)
	members.catchUp = func(ctx context.Context) bool {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		page, err := aud.AudiencePage(ctx, audience.Page{Limit: 1})
		if err != nil || len(page) > 0 {
			return true
		}
		defs, err := aud.ComputedTraits(ctx)
		return err != nil || len(defs) > 0
	}
	// Webhook destinations: delivered by every process, each destination
	// by one at a time under a lease; a commit wakes this process's
	// deliveries at once.
	var hooks *destination.Worker
	var hookStore destination.Store
	if ds, ok := cfg.Store.(destination.Store); ok {
		if fs, ok := cfg.Store.(graph.FeedStore); ok {
			hookStore = ds
			hooks = destination.NewWorker(destination.WorkerConfig{
				Store: ds, Feed: fs, AllowPrivate: cfg.Destinations.AllowPrivate, Logger: cfg.Logger,
				Poll: cfg.Destinations.Poll, RetryBase: cfg.Destinations.RetryBase, Registerer: reg, Audit: keys,
				Profiles: destination.Profiles{Engine: engine, Consent: cs, Masker: access.NewMasker(engine.Normalizer().Rules()), Audiences: aud},
			})
		}
	}
	onCommit := members.touch
	if hooks != nil {
		onCommit = func(ids []string) { members.touch(ids); hooks.Kick() }
	}
	if next := cc.OnCommit; next != nil {
		cc.OnCommit = func(ids []string) { onCommit(ids); next(ids) }
	} else {
		cc.OnCommit = onCommit
	}
	// Subscriptions: one tailer of the feed per process, woken by this
	// process's commits and polling for the others'.
	feedStore, _ := cfg.Store.(graph.FeedStore)
	var hub *feedhub.Hub
	if feedStore != nil {
		hub = feedhub.New(feedhub.Config{Feed: feedStore, Poll: cfg.Feed.Poll, Buffer: cfg.Feed.Buffer, PerKey: cfg.Feed.PerKey, Logger: cfg.Logger})
		if err := reg.Register(hubCollector(hub)); err != nil && !isAlreadyRegistered(err) {
			return nil, fmt.Errorf("app: metrics: %w", err)
		}
		next := cc.OnCommit
		cc.OnCommit = func(ids []string) { next(ids); hub.Wake() }
	}
	coll := ingest.New(engine, cc)
	gc := cfg.GraphQL
	gc.Logger, gc.Registerer = cfg.Logger, reg
	gc.Parse = coll.Parse
	// The key store answers the key and audit fields; a key revoked here is
	// dropped from the guard's cache at once; entries of unmasked reads are
	// written in the background, in batches.
	auditW := resolver.NewAuditWriter(keys, cfg.Logger)
	gc.Keys, gc.Audit, gc.OnRevoke, gc.OnCreate = keys, auditW, guard.Invalidate, guard.KeyCreated
	gc.Eraser = privacy.NewEraser(engine, list)
	gc.OnProfilesChanged, gc.OnAudiencesChanged = members.touch, members.refreshAll
	gc.Settle = func(ctx context.Context) {
		if !members.settle(ctx, settleWait) {
			cfg.Logger.Debug().Msg("audiences: counting before the membership queue caught up")
		}
	}
	gc.Audiences, gc.Consent = aud, cs
	if hub != nil {
		gc.Feed = hub
		gc.Authenticate = func(ctx context.Context, authz string) (access.Principal, error) {
			p, code, msg := guard.Authenticate(ctx, authz)
			if code != "" {
				return p, &resolver.AuthRefusal{Code: code, Msg: msg}
			}
			return p, nil
		}
		gc.KeyUsable = guard.StillUsable
		changed := gc.OnProfilesChanged
		gc.OnProfilesChanged = func(ids []string) { changed(ids); hub.Wake() }
	}
	if hooks != nil {
		gc.Destinations, gc.DestinationsAllowPrivate = hookStore, cfg.Destinations.AllowPrivate
		gc.OnDestinationsChanged = hooks.Recheck
	}
	gqlHandler := resolver.NewHandler(engine, coll, gc)
	routes := server.Routes{
		Collector: coll.Handler(), GraphQL: guard.GraphQL(gqlHandler),
		// A key refused for want of scope appends its audit entry.
		Privacy: guard.RequireAudited(access.ScopePrivacyRead, server.PrivacyRefusals(keys, cfg.Logger), server.PrivacyHandler(privacy.NewExporter(engine).WithMemberships(audience.Memberships(aud)).WithComputed(audience.ComputedOf(aud)).WithAudienceChanges(audience.ChangeLog(aud)), keys, cfg.Logger)),
		// Raw personal values also need pii:read, which the handler checks.
		Audiences: guard.RequireAudited(access.ScopeAudiencesRead, server.AudienceRefusals(keys, cfg.Logger), server.AudienceHandler(server.AudienceExport{
			Engine: engine, Audiences: aud, Consent: cs, Audit: keys, Log: cfg.Logger,
		})),
	}
	if cfg.GraphiQL {
		routes.GraphiQL = resolver.GraphiQL("/graphql")
	}
	// The console is a client that needs a key wherever keys are enforced,
	// so it is served whenever the server runs.
	routes.Console = console.Handler(console.Options{Open: guard.Open, GraphiQL: routes.GraphiQL != nil})
	feedKeep := cfg.Feed.Retention
	if feedKeep == 0 {
		feedKeep = DefaultFeedRetention
	}
	srv := server.New(server.Config{
		Addr: cfg.Listener.Addr().String(), Logger: cfg.Logger, Gatherer: reg,
		Guard: guard, MetricsListener: cfg.Auth.MetricsListener, Origins: cfg.GraphQL.Origins,
		CollectorKeyed: len(cfg.Collector.WriteKeys) > 0,
	}, cfg.Listener, cfg.Store, routes)
	logMode(cfg.Logger, cfg.Auth.Required, loopback, nkeys)
	return &Service{
		Engine: engine, Collector: coll, Server: srv, Registry: reg, Guard: guard,
		keys: keys, audit: auditW, retention: retention, log: cfg.Logger, done: make(chan struct{}),
		members: members, hooks: hooks, feed: feedStore, Feed: hub, feedKeep: feedKeep, feedEvery: cmp.Or(cfg.Feed.TrimEvery, feedTrimEvery),
	}, nil
}

// logMode says at start who the server will answer.
func logMode(log zerolog.Logger, required, loopback bool, nkeys int) {
	switch {
	case nkeys > 0:
		log.Info().Int("keys", nkeys).Msg("API keys are enforced: every request but /healthz, /readyz and the console's files (/console/) needs a key")
	case !required && loopback:
		log.Warn().Msg("open mode: no API key exists, so any caller on this machine (Host localhost, 127.0.0.1 or [::1]) " +
			"holds every scope, personal data included; create the first key with " +
			"`cdp keys create --name admin --scopes keys:admin,...` or the GraphQL mutation createApiKey, which turns keys on")
	default:
		why := "the server is bound to a non-loopback address"
		if required {
			why = "--auth=required"
		}
		log.Error().Str("reason", why).Msg("API keys are enforced and none exists: nothing but /healthz, /readyz and the console's static files will answer " +
			"(401) until a key exists; create one with `cdp keys create` on the same store")
	}
}

// Start serves in the background until Close, or until the server fails:
// Done is then closed, and Close reports the failure.
func (s *Service) Start() {
	s.started = true
	ctx, cancel := context.WithCancel(context.Background())
	s.stopPrune = cancel
	s.pruneEnded.Add(1)
	go s.pruneAudit(ctx)
	if s.feed != nil && s.feedKeep > 0 {
		s.pruneEnded.Add(1)
		go s.trimFeed(ctx, s.feed, s.feedKeep, s.feedEvery)
	}
	s.members.start()
	if s.Feed != nil {
		s.Feed.Start(ctx)
	}
	if s.hooks != nil {
		s.hooks.Start()
	}
	go func() {
		s.serveErr = s.Server.Serve()
		close(s.done)
	}()
}

// Done is closed when the server has stopped serving.
func (s *Service) Done() <-chan struct{} { return s.done }

// Close shuts the service down in the order that loses nothing: stop
// accepting connections and let the requests in flight finish (each waits
// for its commit), then commit what is still queued. It also reports the
// error the server stopped with, if it failed on its own. The store stays
// open.
func (s *Service) Close(ctx context.Context) error {
	shutdownErr := s.Server.Shutdown(ctx)
	// Subscriptions (hijacked connections, which Shutdown does not wait
	// for) end with their connections.
	if s.Feed != nil {
		s.Feed.Close()
	}
	if s.stopPrune != nil {
		s.stopPrune()
		s.pruneEnded.Wait()
	}
	var errs []error
	// Deliveries in flight end (a batch cut short stays in flight in the
	// store, sent again by the next holder) and leases are released.
	if s.hooks != nil {
		if err := s.hooks.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping webhook deliveries: %w", err))
		}
	}
	// Records of a key's last use still in flight land before the caller
	// closes the store, and none starts after.
	s.Guard.Close()
	// Entries of the reads answered are written before the store closes.
	if err := s.audit.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flushing audit entries: %w", err))
	}
	if err := s.Collector.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flushing pending writes: %w", err))
	}
	// The last commits' profiles are evaluated before the store closes.
	if s.started {
		if err := s.members.close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("evaluating audience membership: %w", err))
		}
	}
	if shutdownErr != nil {
		errs = append(errs, fmt.Errorf("waiting for requests in flight: %w", shutdownErr))
	}
	if s.started {
		// Serve returns as soon as Shutdown begins.
		<-s.done
		if s.serveErr != nil {
			errs = append(errs, s.serveErr)
		}
	}
	return errors.Join(errs...)
}

// pruneAudit deletes audit entries older than the retention now and every
// pruneEvery, until ctx ends.
func (s *Service) pruneAudit(ctx context.Context) {
	defer s.pruneEnded.Done()
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		before := time.Now().Add(-s.retention)
		n, err := s.keys.PruneAudit(ctx, before)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Error().Err(err).Msg("pruning the audit log failed; retrying within the hour")
		case n > 0:
			s.log.Info().Int("entries", n).Time("before", before).Msg("pruned audit entries past their retention")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// isAlreadyRegistered reports a collector the registry already has (a
// registry shared by two services in one process, as tests do).
func isAlreadyRegistered(err error) bool {
	var are prometheus.AlreadyRegisteredError
	return errors.As(err, &are)
}

// dropCollector exposes the normalizer's dropped-value counts.
func dropCollector(n *graph.Normalizer) prometheus.Collector {
	desc := prometheus.NewDesc("cdp_identifier_values_dropped_total", "Identifier values dropped during normalization, by reason.", []string{"reason"}, nil)
	return collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		for reason, c := range n.Drops() {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(c), reason)
		}
	}}
}

// hubCollector exposes the subscriptions' counts.
func hubCollector(h *feedhub.Hub) prometheus.Collector {
	active := prometheus.NewDesc("cdp_subscriptions_active", "GraphQL subscriptions open on this process.", nil, nil)
	slow := prometheus.NewDesc("cdp_subscriptions_slow_closed_total", "GraphQL subscriptions ended because their client fell behind.", nil, nil)
	return multiCollector{descs: []*prometheus.Desc{active, slow}, collect: func(ch chan<- prometheus.Metric) {
		st := h.Stats()
		ch <- prometheus.MustNewConstMetric(active, prometheus.GaugeValue, float64(st.Active))
		ch <- prometheus.MustNewConstMetric(slow, prometheus.CounterValue, float64(st.SlowClosed))
	}}
}

type multiCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c multiCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}
func (c multiCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
