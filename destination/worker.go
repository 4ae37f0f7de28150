package destination

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
)

// DeliverAction is the audit action of an attempt that sends personal
// values unmasked.
const DeliverAction = "destination.deliver"

// Worker defaults.
const (
	DefaultPoll      = 250 * time.Millisecond
	DefaultLeaseTTL  = 30 * time.Second
	DefaultTimeout   = 10 * time.Second
	DefaultRetryBase = time.Second
	DefaultRetryMax  = time.Hour
	// DefaultKeepDelivered is how long delivered batches stay listed.
	DefaultKeepDelivered = 7 * 24 * time.Hour
	// listEvery is how often the worker looks for new destinations;
	// pruneEvery how often a destination's old delivered batches go.
	listEvery  = time.Second
	pruneEvery = time.Hour
	// errorWait is the least wait after a store failure, so that an
	// outage is not hammered at the poll's pace; it doubles with each
	// failure in a row, up to errorWaitMax, and only the first failure of
	// a run is logged (and the recovery after it).
	errorWait    = time.Second
	errorWaitMax = 30 * time.Second
)

// WorkerConfig configures a Worker.
type WorkerConfig struct {
	Store    Store
	Feed     graph.FeedStore
	Profiles Profiles
	// AllowPrivate lets deliveries reach loopback, private and link-local
	// addresses (--destinations-allow-private).
	AllowPrivate bool
	// Holder names this process in leases; empty means host, pid and a
	// random suffix.
	Holder string
	// Poll is how often an idle destination looks at the feed; LeaseTTL
	// how long a lease lasts unless renewed (a dead holder's destinations
	// move to another process after it); Timeout bounds one POST;
	// RetryBase and RetryMax bound the backoff between attempts. Zero
	// means the defaults above.
	Poll, LeaseTTL, Timeout, RetryBase, RetryMax time.Duration
	// KeepDelivered is how long delivered batches stay listed by
	// destinationDeliveries; 0 means DefaultKeepDelivered.
	KeepDelivered time.Duration
	Logger        zerolog.Logger
	// Registerer receives cdp_webhook_attempts_total; nil: not counted.
	Registerer prometheus.Registerer
	// Audit, when set, receives one entry (action DeliverAction) before
	// each attempt that sends personal values unmasked (IncludePII),
	// naming the profiles; an attempt whose entry cannot be written is
	// not made.
	Audit access.Store
}

// Worker delivers the feed to every stored destination: one goroutine per
// destination, which works only while this process holds its lease.
type Worker struct {
	cfg      WorkerConfig
	client   *http.Client
	attempts *prometheus.CounterVec
	cancel   context.CancelFunc
	done     sync.WaitGroup

	mu      sync.Mutex
	running map[string]bool
	// kicked is closed, and replaced, by Kick.
	kicked chan struct{}

	// headMu guards the cached feed head, and is held across its read
	// from the store; Kick never takes it (it runs in the committer,
	// which must not wait on a store read), but raises headKick, which
	// makes the cached head stale.
	headMu   sync.Mutex
	headSeq  uint64
	headAt   time.Time
	headGen  uint64
	headKick atomic.Uint64
	// gen is raised by Recheck: idle destinations read their state again.
	gen atomic.Uint64
}

// Recheck makes every destination of this worker read its own state again
// now (a batch replayed, a definition changed), rather than within
// recheckPolls polls.
func (w *Worker) Recheck() {
	w.gen.Add(1)
	w.Kick()
}

// Kick wakes every idle destination of this worker to look at the feed now
// rather than at its next poll: the service calls it after each commit of
// ingested events, so that they leave within moments. Changes committed by
// other processes are found by polling.
func (w *Worker) Kick() {
	w.headKick.Add(1)
	w.mu.Lock()
	close(w.kicked)
	w.kicked = make(chan struct{})
	w.mu.Unlock()
}

func (w *Worker) kickedChan() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.kicked
}

// NewWorker returns a worker; Start starts it.
func NewWorker(cfg WorkerConfig) *Worker {
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	if cfg.KeepDelivered <= 0 {
		cfg.KeepDelivered = DefaultKeepDelivered
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomHex()[:8])
	}
	w := &Worker{cfg: cfg, client: NewClient(cfg.AllowPrivate, cfg.Timeout), running: map[string]bool{}, kicked: make(chan struct{})}
	w.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdp_webhook_attempts_total",
		Help: "Webhook delivery attempts, by what they left: delivered, failed (to be retried) or dead.",
	}, []string{"outcome"})
	for _, o := range []Status{Delivered, Failed, Dead} {
		w.attempts.WithLabelValues(outcomeLabel(o))
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(w.attempts); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				w.attempts = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return w
}

func outcomeLabel(s Status) string { return strings.ToLower(string(s)) }

// NewClient returns the HTTP client deliveries use: no proxy, no
// redirects followed, and, unless allowPrivate, every dialed address
// checked by DialControl.
func NewClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = DialControl
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = d.DialContext
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Holder is the name this worker takes leases under.
func (w *Worker) Holder() string { return w.cfg.Holder }

// Start delivers in the background until Close.
func (w *Worker) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done.Add(1)
	go w.run(ctx)
}

// Close stops the worker: it cancels attempts in flight (their batches
// stay in flight, to be sent again under the same delivery id by whichever
// process takes the destination next), waits, bounded by ctx, for its
// goroutines to end, and releases its leases, so another process takes its
// destinations at once.
func (w *Worker) Close(ctx context.Context) error {
	if w.cancel == nil {
		return nil
	}
	w.cancel()
	ch := make(chan struct{})
	go func() { w.done.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Worker) run(ctx context.Context) {
	defer w.done.Done()
	t := time.NewTicker(listEvery)
	defer t.Stop()
	// failures counts the listings that failed in a row: only the first
	// of an outage is logged, and the recovery after it, as each
	// destination's own store failures are.
	failures := 0
	for {
		after := ""
		for ctx.Err() == nil {
			page, err := w.cfg.Store.DestinationPage(ctx, after, MaxPage)
			if err != nil {
				if ctx.Err() == nil {
					if failures++; failures == 1 {
						w.cfg.Logger.Warn().Err(err).Msg("destinations: listing destinations failed; retrying every second, not logged again until it works")
					}
				}
				break
			}
			if failures > 0 {
				w.cfg.Logger.Info().Int("failures", failures).Msg("destinations: listing destinations works again")
				failures = 0
			}
			for _, d := range page {
				w.mu.Lock()
				if !w.running[d.ID] {
					w.running[d.ID] = true
					w.done.Add(1)
					go w.serve(ctx, d.ID)
				}
				w.mu.Unlock()
			}
			if len(page) < MaxPage {
				break
			}
			after = page[len(page)-1].ID
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// serve works on destination id while this process holds its lease, until
// ctx ends or the destination is deleted.
func (w *Worker) serve(ctx context.Context, id string) {
	defer w.done.Done()
	defer func() {
		w.mu.Lock()
		delete(w.running, id)
		w.mu.Unlock()
	}()
	log := w.cfg.Logger.With().Str("destination", id).Logger()
	var lease Lease
	var pruned time.Time
	var idle idleState
	// failures counts the store failures in a row; failed logs the first
	// and gives the wait after it.
	failures := 0
	failed := func(err error, what string) time.Duration {
		failures++
		if failures == 1 {
			log.Warn().Err(err).Msgf("destinations: %s failed; retrying with backoff, not logged again until it works", what)
		}
		return min(errorWait<<min(failures-1, 5), errorWaitMax)
	}
	worked := func() {
		if failures > 0 {
			log.Info().Int("failures", failures).Msg("destinations: the store answers again")
			failures = 0
		}
	}
	defer func() {
		if lease.Holder != "" {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = w.cfg.Store.ReleaseLease(rctx, id, w.cfg.Holder)
		}
	}()
	for ctx.Err() == nil {
		kicked := w.kickedChan()
		now := time.Now()
		wait := w.cfg.Poll
		if !lease.HeldBy(w.cfg.Holder, now.Add(w.cfg.LeaseTTL/2)) {
			l, held, err := w.cfg.Store.AcquireLease(ctx, id, w.cfg.Holder, now, w.cfg.LeaseTTL)
			switch {
			case graph.ErrorCode(err) == graph.ENOTFOUND:
				return
			case err != nil:
				lease = Lease{}
				if ctx.Err() == nil {
					wait = max(wait, failed(err, "taking the lease"))
				}
			case !held:
				// Another process delivers it; look again when its lease
				// would expire if it died.
				lease, idle = Lease{}, idleState{}
				wait = min(max(time.Until(l.Expires), w.cfg.Poll), w.cfg.LeaseTTL)
			default:
				lease = l
			}
			if err == nil {
				worked()
			}
		}
		if lease.Holder != "" && time.Since(pruned) > pruneEvery {
			pruned = time.Now()
			w.prune(ctx, id, log)
		}
		if lease.Holder != "" {
			next, err := w.step(ctx, id, &idle, &lease)
			switch {
			case graph.ErrorCode(err) == graph.ENOTFOUND:
				return
			case graph.ErrorCode(err) == graph.ECONFLICT:
				// The lease was lost, or another process moved on: take
				// the lease again and read afresh.
				lease, idle = Lease{}, idleState{}
			case err != nil:
				if ctx.Err() == nil {
					wait = max(wait, failed(err, "delivering"))
				}
			default:
				worked()
				wait = next
			}
		}
		if wait <= 0 {
			continue
		}
		if lease.Holder != "" {
			wait = min(wait, w.cfg.LeaseTTL/2) // renew in time
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-kicked:
			t.Stop()
		}
	}
}

// prune deletes the destination's batches delivered longer than
// KeepDelivered ago, a page at a time.
func (w *Worker) prune(ctx context.Context, id string, log zerolog.Logger) {
	before := time.Now().Add(-w.cfg.KeepDelivered)
	for ctx.Err() == nil {
		n, err := w.cfg.Store.PruneDelivered(ctx, id, before, MaxPage)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn().Err(err).Msg("destinations: pruning delivered batches failed; retrying within the hour")
			}
			return
		}
		if n < MaxPage {
			return
		}
	}
}

// step does one unit of work on destination id under this process's
// lease: the in-flight delivery's attempt when it is due, or the next
// batch of the feed. It returns how long to wait before the next step.
func (w *Worker) step(ctx context.Context, id string, idle *idleState, lease *Lease) (time.Duration, error) {
	if idle.gen == w.gen.Load() && idle.at.After(time.Now().Add(-w.cfg.Poll*recheckPolls)) {
		// Idle a moment ago: the shared feed head says whether there is
		// anything new, without reading the destination.
		head, err := w.head(ctx)
		if err != nil {
			return 0, err
		}
		if head <= idle.cursor {
			return w.cfg.Poll, nil
		}
	}
	idle.at = time.Time{}
	gen := w.gen.Load()
	d, err := w.cfg.Store.Destination(ctx, id)
	if err != nil {
		return 0, err
	}
	dl, ok, err := w.cfg.Store.InFlight(ctx, id)
	if err != nil {
		return 0, err
	}
	if ok {
		if wait := time.Until(dl.NextAttempt); wait > 0 {
			return min(wait, w.cfg.Poll*4), nil
		}
		return 0, w.attempt(ctx, d, dl, lease)
	}
	head, err := w.cfg.Feed.FeedHead(ctx)
	if err != nil {
		return 0, err
	}
	if head <= d.Cursor {
		idle.at, idle.cursor, idle.gen = time.Now(), d.Cursor, gen
		return w.cfg.Poll, nil
	}
	if err := graph.CheckResume(ctx, w.cfg.Feed, d.Cursor); err != nil {
		var ce *graph.CursorExpiredError
		if !errors.As(err, &ce) {
			return 0, err
		}
		// The batch taken next moves the cursor past them: said once.
		w.cfg.Logger.Warn().Str("destination", id).Uint64("first_seq", ce.After+1).Uint64("last_seq", ce.Trimmed).
			Msg("destinations: feed entries were trimmed (--feed-retention) before this destination reached them; they are not delivered")
	}
	entries, err := w.cfg.Feed.Feed(ctx, d.Cursor, d.Kinds, d.BatchSize)
	if err != nil {
		return 0, err
	}
	// Fewer than a batch: the read reached the end of the feed, which was
	// at head or later.
	through := head
	if len(entries) > 0 {
		through = max(through, entries[len(entries)-1].Seq)
		if len(entries) == d.BatchSize {
			through = entries[len(entries)-1].Seq
		}
	}
	// Removals (erasure, withdrawn consent) pass: Build decides.
	entries = slices.DeleteFunc(entries, func(e graph.FeedEntry) bool { return !Selects(d, e) })
	dl, made, err := w.cfg.Store.TakeBatch(ctx, id, w.cfg.Holder, d.Cursor, through, entries, time.Now())
	if err != nil || !made {
		return 0, err
	}
	return 0, w.attempt(ctx, d, dl, lease)
}

// idleState is what a destination's goroutine remembers of its last look:
// when it found nothing to do (zero: not idle), at which cursor.
type idleState struct {
	at     time.Time
	cursor uint64
	gen    uint64 // the worker's gen then
}

// recheckPolls is how many polls an idle destination relies on the shared
// feed head alone before it reads its own state again (a replay, an
// update, or a batch another process left in flight).
const recheckPolls = 20

// head returns the feed head, read at most once per half poll for all the
// worker's destinations; Kick forces a new read.
func (w *Worker) head(ctx context.Context) (uint64, error) {
	w.headMu.Lock()
	defer w.headMu.Unlock()
	// Loaded before the read: a Kick while it runs makes the next call
	// read again.
	kick := w.headKick.Load()
	if !w.headAt.IsZero() && w.headGen == kick && time.Since(w.headAt) < w.cfg.Poll/2 {
		return w.headSeq, nil
	}
	h, err := w.cfg.Feed.FeedHead(ctx)
	if err != nil {
		return 0, err
	}
	w.headSeq, w.headAt, w.headGen = h, time.Now(), kick
	return h, nil
}

// attempt sends dl once under lease, this process's lease on d, and
// records the outcome.
func (w *Worker) attempt(ctx context.Context, d Destination, dl Delivery, lease *Lease) error {
	now := time.Now()
	body, n, profiles, err := w.cfg.Profiles.Build(ctx, d, dl, now)
	if err != nil {
		return err
	}
	var o Outcome
	if n == 0 {
		// Consent left nothing to send.
		o = Outcome{Status: Delivered, Attempts: dl.Attempts}
	} else {
		if d.IncludePII && w.cfg.Audit != nil && len(profiles) > 0 {
			// Personal values leave unmasked: the audit log says so
			// before they do, or they do not leave.
			e := access.AuditEntry{ID: access.NewAuditID(), At: graph.Now(), Action: DeliverAction, Outcome: access.OutcomeOK,
				Reason: fmt.Sprintf("destination %s; delivery %s; attempt %d", d.ID, dl.ID, dl.Attempts+1)}
			e.SetProfiles(profiles)
			if err := w.cfg.Audit.AppendAudit(ctx, []access.AuditEntry{e}); err != nil {
				return fmt.Errorf("audit the delivery of personal data: %w", err)
			}
		}
		if err := w.holdThrough(ctx, d.ID, dl, lease); err != nil {
			return err
		}
		code, retryAfter, errText, blocked := w.post(ctx, d, dl.ID, body)
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: the batch stays in flight
		}
		end := time.Now()
		o = w.outcome(dl, d.MaxAttempts, code, retryAfter, errText, blocked, end)
		o.At = end
		w.attempts.WithLabelValues(outcomeLabel(o.Status)).Inc()
		ev := w.cfg.Logger.Debug()
		if o.Status == Dead {
			ev = w.cfg.Logger.Warn()
		}
		ev.Str("destination", d.ID).Str("delivery", dl.ID).Int("attempt", o.Attempts).Int("status", code).
			Str("outcome", string(o.Status)).Str("error", errText).Msg("destinations: delivery attempted")
	}
	if o.At.IsZero() {
		o.At = time.Now()
	}
	return w.cfg.Store.RecordAttempt(ctx, d.ID, w.cfg.Holder, dl.Number, o)
}

// holdThrough makes sure, before a POST, that lease lasts as long as the
// POST may (Timeout), renewing it when it would end sooner: the batch was
// built, and its audit entry written, while the lease ran, and a process
// held up meanwhile past the lease's end must not send. Another process
// may have taken the destination over and sent this batch and later ones:
// a POST of it now would reach the receiver after them. ECONFLICT when
// another process holds the lease, or, once it ended, when dl is no
// longer the destination's delivery in flight as it was read (another
// process held the lease meanwhile, attempted or delivered dl, and may
// have given the lease up since).
func (w *Worker) holdThrough(ctx context.Context, id string, dl Delivery, lease *Lease) error {
	now := time.Now()
	if lease.HeldBy(w.cfg.Holder, now.Add(w.cfg.Timeout)) {
		return nil
	}
	lapsed := !lease.HeldBy(w.cfg.Holder, now)
	l, held, err := w.cfg.Store.AcquireLease(ctx, id, w.cfg.Holder, now, w.cfg.LeaseTTL)
	if err != nil {
		return err
	}
	if !held {
		*lease = Lease{}
		return graph.Errorf(graph.ECONFLICT, "the lease on destination %s passed to another process before the attempt", id)
	}
	*lease = l
	if lapsed {
		cur, ok, err := w.cfg.Store.InFlight(ctx, id)
		if err != nil {
			return err
		}
		if !ok || cur.Number != dl.Number || cur.Attempts != dl.Attempts {
			return graph.Errorf(graph.ECONFLICT, "the lease on destination %s ended before the attempt, and its delivery in flight changed meanwhile", id)
		}
	}
	return nil
}

// post sends one delivery and returns the answer's status code (0 for
// none), its Retry-After, and the failure as a text naming no URL, header
// or secret ("" on a 2xx), and whether the connection was refused because
// the address is not public.
func (w *Worker) post(ctx context.Context, d Destination, deliveryID string, body []byte) (int, time.Duration, string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "the URL cannot be requested", true
	}
	for k, v := range d.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cdp-webhooks/1")
	req.Header.Set(HeaderDeliveryID, deliveryID)
	req.Header.Set(HeaderSignature, Sign(d.Secret, time.Now(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, transportError(err), errors.Is(err, ErrBlocked)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, "", false
	}
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), time.Now()), "HTTP " + strconv.Itoa(resp.StatusCode), false
}

func transportError(err error) string {
	var ne net.Error
	var op *net.OpError
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	switch {
	case errors.Is(err, ErrBlocked):
		return "refused: the address is not public (allow private addresses with --destinations-allow-private)"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &dns):
		// Without the resolver's address, which tells the reader of
		// lastError about the server's network.
		return "connection error: lookup " + dns.Name + ": " + dns.Err
	case errors.As(err, &cert):
		// The receiver's certificate (expired, for another name, of an
		// unknown authority): the commonest fault of a receiver, and one
		// only its owner can mend. It names no address of this network.
		return "connection error: " + cert.Error()
	case errors.As(err, &op) && op.Err != nil:
		return "connection error: " + op.Err.Error()
	}
	return "connection error"
}

// retryAfter reads a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	// A number of seconds too large for a Duration waits as long as one can.
	const most = int64(math.MaxInt64 / time.Second)
	s, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err == nil && s >= 0:
		return time.Duration(min(s, most)) * time.Second
	case errors.Is(err, strconv.ErrRange) && v[0] != '-':
		return time.Duration(most) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Retryable reports whether an attempt that got code (0: no answer) is
// tried again: no answer, 408, 429 and 5xx. Any other answer but a 2xx,
// redirects included, is final.
func Retryable(code int) bool {
	return code == 0 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// outcome decides what an attempt of dl that got code (0: no answer, and
// blocked when the address was refused) leaves, with at most maxAttempts.
func (w *Worker) outcome(dl Delivery, maxAttempts, code int, after time.Duration, errText string, blocked bool, now time.Time) Outcome {
	o := Outcome{Attempts: dl.Attempts + 1, LastStatusCode: code, LastError: errText}
	switch {
	case code >= 200 && code < 300:
		o.Status = Delivered
		return o
	case blocked, !Retryable(code):
		o.Status = Dead
		return o
	}
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
	}
	next := now.Add(max(Backoff(w.cfg.RetryBase, w.cfg.RetryMax, o.Attempts), after))
	queued := dl.QueuedAt
	if queued.IsZero() {
		queued = dl.CreatedAt
	}
	if o.Attempts >= maxAttempts || next.After(queued.Add(MaxRetryWindow)) {
		o.Status = Dead
		return o
	}
	o.Status, o.NextAttempt = Failed, next
	return o
}

// Backoff is the wait after attempt n (1, 2, ...): base doubled each
// attempt, at most limit, then jittered to between half and all of it.
func Backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	return half + rand.N(d-half+1)
}
