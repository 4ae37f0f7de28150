package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/telemetry"
	"github.com/idgraph/cdp/privacy"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxBatch        = 500
	DefaultMaxWait         = 5 * time.Millisecond
	DefaultQueueSize       = 20000
	DefaultMaxRequestBytes = 500 << 10
	// MaxContextCopies bounds what a batch-level context adds: its size
	// times the batch's messages, into each of which it is merged, may be
	// at most this many times MaxRequestBytes (5,000 KiB by default).
	MaxContextCopies     = 10
	DefaultRetryAfter    = time.Second
	DefaultCommitTimeout = 30 * time.Second
	// DefaultSource is the source of events when no write keys are
	// configured.
	DefaultSource = "default"
)

// Errors of Submit besides the store's own. Both carry the graph code
// EUNAVAILABLE, so a caller that only maps domain codes (the GraphQL layer)
// still tells the client to retry; errors.Is tells them apart.
var (
	// ErrOverloaded means the queue is full; the caller should answer 429
	// and the client retry later.
	ErrOverloaded error = &retryError{"too many events waiting to be stored; retry later"}
	// ErrClosed means the collector is shutting down; answer 503.
	ErrClosed error = &retryError{"the collector is shutting down; retry later"}
)

type retryError struct{ msg string }

func (e *retryError) Error() string { return e.msg }

func (e *retryError) Unwrap() error { return &graph.Error{Code: graph.EUNAVAILABLE, Message: e.msg} }

// Config configures a Collector. Zero fields take the defaults above.
type Config struct {
	MaxBatch  int           // events per store transaction
	MaxWait   time.Duration // how long a micro-batch waits to fill
	QueueSize int           // events waiting for commit before Submit answers ErrOverloaded
	// WriteKeys maps static write keys to their source names. Empty: any
	// key is accepted (source "default", or the source header's) unless
	// Keys enforces API keys.
	WriteKeys       map[string]string
	MaxMessageBytes int           // per message
	MaxRequestBytes int           // per request, after gunzip; also caps the compressed body
	RetryAfter      time.Duration // Retry-After on 429 and 503
	// CommitTimeout bounds one micro-batch's commit, so a hung store turns
	// into 503s instead of requests that never end.
	CommitTimeout time.Duration
	// Committers is how many micro-batches may commit at once (default 1).
	// The embedded store takes one writer at a time, so more only queue at
	// its lock. Neo4j runs them in parallel, its locks keeping overlapping
	// batches serializable (a deadlock is retried); but micro-batches
	// formed at the same moment mostly share identifiers, so on the
	// machine of docs/BENCHMARKS.md two committers wrote no faster than
	// one and cost Neo4j more CPU in lock waits ("Ingest, Neo4j").
	Committers int
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // may be nil
	// Keys checks API keys (access.Key with events:write) sent as write
	// keys: a key with the "cdp_" prefix, as the Basic auth user name or
	// as writeKey in the body, is refused with the status it gives (429
	// with Retry-After) or labels the events with its source. Static
	// WriteKeys keep working beside it. Nil: only WriteKeys count.
	Keys KeyChecker
	// Suppression, when set, is the list of erased identifiers: every
	// micro-batch looks the hashes of its events' identifiers up in one
	// call, inside its own write transaction and before anything is
	// written, so it sees every erasure committed before it; an event
	// carrying any suppressed identifier is not stored and gets a
	// rejected result with Reason ReasonSuppressed (counted in
	// cdp_ingest_events_suppressed_total). Nil: nothing is suppressed. A
	// list that cannot be read fails the micro-batch as the store being
	// down would (503): no event is stored unchecked.
	Suppression SuppressionChecker
	// OnCommit, when set, is called by the committer after each
	// micro-batch commits, with the profiles it changed: those its stored
	// events are in, and those it merged away (graph.BatchResult.Merged).
	// It must not block: derived state (audience membership) queues them.
	OnCommit func(profileIDs []string)
}

// SuppressionChecker is the suppression list as the collector uses it;
// *privacy.SuppressionList implements it.
type SuppressionChecker interface {
	// Hash returns the hash of an identifier's normalized graph key
	// ("email:ann@example.com"), as the list keeps it.
	Hash(key string) string
	// SuppressedIn returns the hashes among hashes that are on the list,
	// read inside tx, in one round trip.
	SuppressedIn(ctx context.Context, tx graph.Tx, hashes []string) (map[string]bool, error)
}

// ReasonSuppressed is the Reason of the result of an event dropped because
// it carries a suppressed identifier.
const ReasonSuppressed = "suppressed"

// KeyChecker lets the collector accept the service's API keys as write
// keys, beside the static WriteKeys.
type KeyChecker interface {
	// Enforced reports whether every request needs a key: once the store
	// holds one, or when the server requires keys. When it does and no
	// static write keys are set, a request without a known key is refused
	// with 401.
	Enforced(ctx context.Context) bool
	// WriteKey checks secret, an API key secret ("cdp_..."): known, usable,
	// holding events:write, and within the collector's rate limit. It
	// returns the source that labels the key's events, or the HTTP status
	// (401, 403 or 429) and a message naming no secret; retryAfter is set
	// with 429.
	WriteKey(ctx context.Context, secret string) (source string, status int, msg string, retryAfter time.Duration)
}

func (c *Config) defaults() {
	if c.MaxBatch <= 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxWait <= 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.Committers <= 0 {
		c.Committers = 1
	}
}

// Collector queues events from concurrent callers and commits them in
// micro-batches, one engine transaction each, answering every caller only
// after its events are committed.
type Collector struct {
	engine *graph.Engine
	cfg    Config
	log    zerolog.Logger
	m      *metrics
	// purposes are the consent purposes of the engine's rules; nil when
	// they are unusable, and then no consent is read from messages.
	purposes *privacy.Purposes

	mu     sync.Mutex
	queued int // events submitted and not yet resolved
	closed bool
	queue  chan *request

	runCtx    context.Context // cancelled only when Close gives up waiting
	cancelRun context.CancelFunc
	done      chan struct{} // closed when the committers have drained the queue
}

// request is one Submit call. After it is queued only the committer that
// takes it touches it, until done is closed.
type request struct {
	events  []graph.Event
	results []graph.EventResult
	err     error
	pending int
	done    chan struct{}
	// hook is the call's graph.EventsHook, nil for none; a request with
	// one is never split over micro-batches, so that the hook sees all of
	// its results in one transaction. ctx is the call's context, whose
	// values the hook sees.
	hook graph.EventsHook
	ctx  context.Context
}

// New starts a collector over engine. Close it to flush.
func New(engine *graph.Engine, cfg Config) *Collector {
	cfg.defaults()
	c := &Collector{
		engine: engine,
		cfg:    cfg,
		log:    cfg.Logger,
		// Every queued request holds at least one queued event, and queued
		// events never exceed QueueSize except for one oversized request
		// into an empty queue, so a send never blocks.
		queue: make(chan *request, cfg.QueueSize+1),
		done:  make(chan struct{}),
	}
	c.runCtx, c.cancelRun = context.WithCancel(context.Background())
	c.m = newMetrics(cfg.Registerer, c.depth, c.log)
	c.purposes = PurposesOf(engine, c.log)
	switch {
	case len(cfg.WriteKeys) > 0:
	case cfg.Keys == nil:
		c.log.Warn().Msg("ingest: no write keys configured; any write key is accepted and events get source \"default\"")
	default:
		c.log.Info().Msg("ingest: no static write keys; API keys with events:write are write keys, and while keys are not enforced any other key is accepted with source \"default\"")
	}
	var wg sync.WaitGroup
	for range cfg.Committers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run()
		}()
	}
	go func() {
		wg.Wait()
		close(c.done)
	}()
	return c
}

func (c *Collector) depth() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return float64(c.queued)
}

// Parse is ParseMessage with the collector's limits, counting the message
// as received and, when invalid, as rejected. The HTTP handler and the
// GraphQL mutation both parse through it so the metrics see every message.
func (c *Collector) Parse(raw []byte, env Envelope) (graph.Event, error) {
	if env.MaxBytes == 0 {
		env.MaxBytes = c.cfg.MaxMessageBytes
	}
	c.m.received.Inc()
	ev, err := parseMessage(raw, env)
	if err != nil {
		c.m.rejected.WithLabelValues(err.Reason).Inc()
		return graph.Event{}, err
	}
	return ev, nil
}

// Submit queues events for group commit and returns when the micro-batches
// holding them are committed, with one result per event in order. A
// rejected result's Reason says why (e.g. no usable identifier).
//
// Errors: ErrOverloaded when the queue is full (answer 429), ErrClosed
// while shutting down (503), an error with graph code EUNAVAILABLE when the
// store is down (503), ctx's error when ctx ends first. Once queued, events
// are committed even if ctx ends; the caller just does not hear the
// outcome. On any error some events may have been committed: a retry is
// safe because duplicates (same event id and content) change nothing. An
// event whose id is stored with other content gets graph.StatusConflict.
//
// When ctx carries a graph.EventsHook, the hook runs inside the
// transaction of the micro-batch that holds the call's events, after the
// write and before the commit, with this call's results only, in order
// (the micro-batch may hold other calls, each with its own hook). Such a
// call is never split over micro-batches: it goes whole into one, even
// past MaxBatch. The hook gets a context with the transaction's deadline
// and cancellation and the values of ctx (a request id, a logger). If it
// fails, the micro-batch is rolled back, Submit returns the hook's error
// (and none of the call's events is stored), and the other calls of the
// micro-batch are committed again without it. With a hook and no events,
// the hook runs alone in a transaction of its own.
func (c *Collector) Submit(ctx context.Context, events []graph.Event) ([]graph.EventResult, error) {
	hook := graph.EventsHookFrom(ctx)
	if len(events) == 0 {
		if hook == nil {
			return nil, nil
		}
		return c.hookAlone(ctx)
	}
	r := &request{
		events:  events,
		results: make([]graph.EventResult, len(events)),
		pending: len(events),
		done:    make(chan struct{}),
		hook:    hook,
		ctx:     ctx,
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		c.m.refused.WithLabelValues("closed").Add(float64(len(events)))
		return nil, ErrClosed
	case ctx.Err() != nil:
		c.mu.Unlock()
		return nil, ctx.Err()
	case c.queued > 0 && c.queued+len(events) > c.cfg.QueueSize:
		c.mu.Unlock()
		c.m.refused.WithLabelValues("overloaded").Add(float64(len(events)))
		return nil, ErrOverloaded
	}
	select {
	case c.queue <- r:
		c.queued += len(events)
	default:
		c.mu.Unlock()
		c.m.refused.WithLabelValues("overloaded").Add(float64(len(events)))
		return nil, ErrOverloaded
	}
	c.mu.Unlock()

	select {
	case <-r.done:
		if r.err != nil {
			return nil, r.err
		}
		return r.results, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hookAlone runs the hook of a call without events in a transaction of its
// own: there is nothing to share with other calls.
func (c *Collector) hookAlone(ctx context.Context) ([]graph.EventResult, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CommitTimeout)
	defer cancel()
	if _, err := c.engine.ApplyBatch(ctx, nil); err != nil {
		return nil, err
	}
	return nil, nil
}

// CountUnknownConsent adds n to cdp_ingest_consent_unknown_categories_total
// for consent read outside the collector's endpoints (the GraphQL ingest
// mutation submits through the collector and counts here).
func (c *Collector) CountUnknownConsent(n int) {
	if n > 0 {
		c.m.consentUnknown.Add(float64(n))
	}
}

// Close stops accepting events and waits until everything queued is
// committed, or until ctx ends; then it returns ctx's error at once, and the
// events still waiting fail with ErrClosed as the committer gets to them
// (a store call that ignores cancellation cannot hold Close up).
func (c *Collector) Close(ctx context.Context) error {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.cancelRun()
		return ctx.Err()
	}
}

// segment is the part of a request that goes into one micro-batch.
type segment struct {
	req    *request
	off, n int
}

// run is one committer: it forms micro-batches from the queue and commits
// them one after another. A request is taken whole by one committer (a
// large one over several of its batches), so only that goroutine touches it
// until its done channel is closed.
func (c *Collector) run() {
	var cur *request // request partly taken into a batch
	off := 0
	for {
		if cur == nil {
			r, ok := <-c.queue
			if !ok {
				return
			}
			cur, off = r, 0
		}
		var segs []segment
		size := 0
		// take moves as much of cur as fits into the batch. A request with
		// a hook goes whole or not at all: when it does not fit into a
		// batch that holds others it waits for the next batch, which takes
		// it whole even past MaxBatch.
		take := func() {
			n := min(len(cur.events)-off, c.cfg.MaxBatch-size)
			if cur.hook != nil && n < len(cur.events) {
				if size > 0 {
					return
				}
				n = len(cur.events)
			}
			segs = append(segs, segment{req: cur, off: off, n: n})
			size += n
			off += n
			if off == len(cur.events) {
				cur = nil
			}
		}
		take()
		if cur == nil && size < c.cfg.MaxBatch {
			timer := time.NewTimer(c.cfg.MaxWait)
		fill:
			for size < c.cfg.MaxBatch {
				select {
				case r, ok := <-c.queue:
					if !ok {
						break fill
					}
					cur, off = r, 0
					take()
					if cur != nil {
						break fill
					}
				case <-timer.C:
					break fill
				}
			}
			timer.Stop()
		}
		c.commit(segs, size)
	}
}

func (c *Collector) commit(segs []segment, size int) {
	var live []segment
	for _, s := range segs {
		if s.req.err != nil {
			// An earlier part of this request failed and its caller has
			// its answer; committing the rest would only help a retry that
			// will dedupe anyway.
			continue
		}
		live = append(live, s)
	}
	var res graph.BatchResult
	var err error
	for {
		events := make([]graph.Event, 0, size)
		for _, s := range live {
			events = append(events, s.req.events[s.off:s.off+s.n]...)
		}
		if len(events) == 0 {
			break
		}
		res, err = c.apply(events, hooksOf(live))
		var he *hookError
		if err == nil || !errors.As(err, &he) || len(live) == 1 {
			break
		}
		// One call's hook failed and rolled the whole micro-batch back:
		// that call gets the error, and the others, which did nothing
		// wrong, are committed again without it. Each round drops one
		// call, so this ends.
		i := slices.IndexFunc(live, func(s segment) bool { return s.req == he.req })
		if i < 0 {
			break
		}
		he.req.err = err
		c.m.refused.WithLabelValues(refusal(err)).Add(float64(live[i].n))
		live = slices.Delete(live, i, i+1)
	}
	at := 0
	for _, s := range live {
		if err != nil {
			if s.req.err == nil {
				s.req.err = err
			}
			c.m.refused.WithLabelValues(refusal(err)).Add(float64(s.n))
		} else {
			copy(s.req.results[s.off:s.off+s.n], res.Results[at:at+s.n])
		}
		at += s.n
	}
	if err == nil && c.cfg.OnCommit != nil {
		if ids := changedProfiles(res); len(ids) > 0 {
			c.cfg.OnCommit(ids)
		}
	}
	if err == nil {
		c.m.stored.Add(float64(res.Stored))
		c.m.duplicates.Add(float64(res.Duplicates))
		c.m.conflicts.Add(float64(res.Conflicts))
		for _, r := range res.Results {
			if r.Status == graph.StatusRejected && r.Reason == ReasonSuppressed {
				c.m.suppressed.Inc()
			} else if r.Status == graph.StatusRejected {
				reason := ReasonUnusableIdent
				if strings.HasPrefix(r.Reason, graph.ReasonUnknownType) {
					reason = graph.ReasonUnknownType
				}
				c.m.rejected.WithLabelValues(reason).Inc()
			}
		}
	}
	for _, s := range segs {
		s.req.pending -= s.n
		if s.req.pending == 0 {
			close(s.req.done)
		}
	}
	c.mu.Lock()
	c.queued -= size
	c.mu.Unlock()
}

// changedProfiles returns, each once and sorted, the profiles of the
// stored events of res, the others the batch changed (an event it could
// not link is shared with them) and those it merged away.
func changedProfiles(res graph.BatchResult) []string {
	ids := slices.Concat(res.Merged, res.Touched)
	for _, r := range res.Results {
		if r.Status == graph.StatusStored && r.ProfileID != "" {
			ids = append(ids, r.ProfileID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// hookError marks the error of one request's hook, so that commit knows
// which call failed the micro-batch. It reads as the hook's own error.
type hookError struct {
	req *request
	err error
}

func (e *hookError) Error() string { return e.err.Error() }
func (e *hookError) Unwrap() error { return e.err }

// hookContext is what a request's hook runs with: the transaction's
// deadline, cancellation and values, then the values of the Submit call's
// context (its request id, logger, principal), which the call may have
// given up on by now.
type hookContext struct {
	context.Context
	call context.Context
}

func (c hookContext) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.call.Value(key)
}

// hooksOf returns the one hook of a micro-batch that runs each live
// request's hook with that request's results, or nil when none has one.
func hooksOf(live []segment) graph.EventsHook {
	if !slices.ContainsFunc(live, func(s segment) bool { return s.req.hook != nil }) {
		return nil
	}
	return func(ctx context.Context, tx graph.Tx, results []graph.EventResult) error {
		at := 0
		for _, s := range live {
			rs := results[at : at+s.n : at+s.n]
			at += s.n
			if s.req.hook == nil {
				continue
			}
			// A request with a hook is never split, so rs holds all of
			// its results, in order.
			if err := s.req.hook(hookContext{ctx, s.req.ctx}, tx, slices.Clone(rs)); err != nil {
				return &hookError{req: s.req, err: err}
			}
		}
		return nil
	}
}

// apply runs one micro-batch through the engine, with hook (nil for none)
// in its transaction. It never panics: a panic in a store would otherwise
// stop a committer and hang its callers.
func (c *Collector) apply(events []graph.Event, hook graph.EventsHook) (res graph.BatchResult, err error) {
	ctx, cancel := context.WithTimeout(c.runCtx, c.cfg.CommitTimeout)
	defer cancel()
	// A micro-batch gathers many requests: its span starts a trace of its
	// own, with the store transaction under it.
	ctx, span := telemetry.Start(ctx, "ingest.commit", attribute.Int("cdp.events", len(events)))
	// What this commit logs names its trace, as a request's lines do.
	log := c.log
	if tid := telemetry.TraceID(ctx); tid != "" {
		log = log.With().Str("trace_id", tid).Logger()
	}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			log.Error().Interface("panic", p).Msg("ingest: commit panicked")
			err = fmt.Errorf("commit panicked: %v", p)
		}
		span.SetAttributes(attribute.Int("cdp.stored", res.Stored), attribute.Int("cdp.duplicates", res.Duplicates))
		telemetry.End(span, err)
		c.m.batchSize.Observe(float64(len(events)))
		c.m.commitTime.Observe(time.Since(start).Seconds())
	}()
	res, err = c.applyUnsuppressed(ctx, events, hook)
	switch {
	case err == nil:
		if len(res.Results) != len(events) {
			return graph.BatchResult{}, fmt.Errorf("engine returned %d results for %d events", len(res.Results), len(events))
		}
		return res, nil
	case c.runCtx.Err() != nil:
		return res, ErrClosed
	case graph.ErrorCode(err) == graph.EUNAVAILABLE:
		log.Warn().Err(err).Int("events", len(events)).Msg("ingest: store unavailable; micro-batch not committed")
		return res, err
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn().Err(err).Int("events", len(events)).Dur("timeout", c.cfg.CommitTimeout).Msg("ingest: commit timed out; micro-batch not acknowledged")
		return res, graph.ErrUnavailable(err)
	case errors.As(err, new(*hookError)):
		log.Warn().Err(err).Int("events", len(events)).Msg("ingest: a request's events hook failed; micro-batch rolled back")
		return res, err
	}
	log.Error().Err(err).Int("events", len(events)).Msg("ingest: commit failed")
	return res, err
}

func refusal(err error) string {
	switch {
	case errors.Is(err, ErrClosed):
		return "closed"
	case graph.ErrorCode(err) == graph.EUNAVAILABLE:
		return "unavailable"
	}
	return "error"
}

// applyUnsuppressed runs the events through the engine, with hook (nil for
// none) in its transaction. With a suppression list, the events that carry
// a suppressed identifier are refused inside that transaction (see
// Config.Suppression): they get a rejected result with ReasonSuppressed,
// in the results and in what the hook sees.
func (c *Collector) applyUnsuppressed(ctx context.Context, events []graph.Event, hook graph.EventsHook) (graph.BatchResult, error) {
	if hook != nil {
		ctx = graph.WithEventsHook(ctx, hook)
	}
	if c.cfg.Suppression != nil {
		ctx = graph.WithEventFilter(ctx, c.suppressedEvents)
	}
	return c.engine.ApplyBatch(ctx, events)
}

// suppressedEvents is the engine's graph.EventFilter: it refuses the events
// that carry an identifier on the suppression list, in one call to the
// list for the whole micro-batch, by the very keys each event would be
// stored under (the engine has normalized them).
func (c *Collector) suppressedEvents(ctx context.Context, tx graph.Tx, events []graph.Event) ([]string, error) {
	list := c.cfg.Suppression
	reasons := make([]string, len(events))
	hashOf := map[string]string{} // key -> hash
	var hashes []string
	for i := range events {
		for _, k := range events[i].Keys {
			if _, ok := hashOf[k]; !ok {
				h := list.Hash(k)
				hashOf[k] = h
				hashes = append(hashes, h)
			}
		}
	}
	if len(hashes) == 0 {
		return reasons, nil
	}
	on, err := list.SuppressedIn(ctx, tx, hashes)
	if err != nil {
		return nil, fmt.Errorf("read the suppression list: %w", err)
	}
	if len(on) == 0 {
		return reasons, nil
	}
	for i := range events {
		if slices.ContainsFunc(events[i].Keys, func(k string) bool { return on[hashOf[k]] }) {
			reasons[i] = ReasonSuppressed
		}
	}
	return reasons, nil
}
