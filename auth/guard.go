package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
)

// CacheTTL is the longest the guard trusts what it read from the store: a
// key found by its hash, and a key count of zero. A key revoked on another
// replica is therefore refused within a second.
const CacheTTL = 500 * time.Millisecond

// Defaults of `cdp serve`.
const (
	DefaultRateLimit = 500  // requests per second per key and kind
	DefaultBurst     = 1000 // requests a key may send at once
)

// storeTimeout bounds the store reads and writes the guard makes on its
// own behalf (the key count, touches), apart from the request's context.
const storeTimeout = 5 * time.Second

// Config configures a Guard.
type Config struct {
	// Store holds the keys.
	Store access.Store
	// Required enforces keys even when the store holds none: the server is
	// bound to a non-loopback address, or keys are required by the operator.
	Required bool
	// RateLimit is the requests per second each key may make, per kind of
	// endpoint (GraphQL, collector, other); 0 means no limit.
	RateLimit float64
	// Burst is the size of each bucket; 0 means max(1, RateLimit) rounded up.
	Burst int
	// Logger receives the guard's own failures (store errors, touches).
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// kind is a family of endpoints with a bucket of its own for each key.
type kind uint8

const (
	kindGraphQL kind = iota
	kindCollector
	kindOther
)

type bucket struct {
	keyID string
	kind  kind
}

type cachedKey struct {
	key access.Key
	at  time.Time
}

type touchState struct {
	last    time.Time     // the last use recorded, or begun to be
	running chan struct{} // closed when the touch in flight ends; nil when none
}

// Guard authenticates requests; see the package documentation. It is safe
// for concurrent use.
type Guard struct {
	store    access.Store
	required bool
	limit    rate.Limit // 0: unlimited
	burst    int
	log      zerolog.Logger
	now      func() time.Time

	// enforced is set once Required or once a key was counted: from then
	// on no store read decides the mode.
	enforced atomic.Bool

	countMu   sync.Mutex
	zeroAt    time.Time // when the count last read zero
	zeroKnown bool
	// failAt and failErr are the last failed count, answered again for
	// failWait to the callers that waited behind it, so that a stalled
	// store costs them one storeTimeout, not one each in turn.
	failAt  time.Time
	failErr error

	mu       sync.Mutex
	gen      uint64               // bumped by Invalidate: a lookup begun before it is not cached
	cache    map[string]cachedKey // by hash
	limiters map[bucket]*rate.Limiter
	touches  map[string]*touchState // by key id
	// closed is set by Close: no touch starts after it.
	closed bool
}

// New builds a guard.
//
// Errors: a nil store, or a negative RateLimit or Burst.
func New(cfg Config) (*Guard, error) {
	if cfg.Store == nil {
		return nil, errors.New("auth: a store is required")
	}
	if cfg.RateLimit < 0 || math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0) {
		return nil, fmt.Errorf("auth: rate limit %v is not a number of requests per second of at least 0", cfg.RateLimit)
	}
	if cfg.Burst < 0 {
		return nil, fmt.Errorf("auth: burst %d is negative", cfg.Burst)
	}
	g := &Guard{
		store: cfg.Store, required: cfg.Required, limit: rate.Limit(cfg.RateLimit), burst: cfg.Burst,
		log: cfg.Logger, now: cfg.Now,
		cache: map[string]cachedKey{}, limiters: map[bucket]*rate.Limiter{}, touches: map[string]*touchState{},
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.burst == 0 {
		g.burst = max(1, int(math.Ceil(cfg.RateLimit)))
	}
	g.enforced.Store(cfg.Required)
	return g, nil
}

// KeyCreated tells the guard that a key was just stored: keys are
// enforced from now on, without waiting for the next count.
func (g *Guard) KeyCreated() {
	if !g.enforced.Swap(true) {
		g.log.Info().Msg("an API key was created: every request needs a key from now on")
	}
}

// Enforced reports whether requests need a key: the guard is Required, or
// the store holds a key (or once did, as seen by this guard), or the store
// could not say (fail closed). A count of zero is trusted for CacheTTL.
func (g *Guard) Enforced(ctx context.Context) bool {
	enforced, _ := g.Enforcement(ctx)
	return enforced
}

// Enforcement is Enforced, with the error when the store could not say
// (enforced is then true: fail closed). A request without a key is then
// told to retry (503) rather than refused as unauthenticated (401): while
// the store is down an open server must not look like one that needs keys,
// since clients drop what a 401 refused.
func (g *Guard) Enforcement(ctx context.Context) (bool, error) {
	if g.enforced.Load() {
		return true, nil
	}
	// One reader at a time: callers arriving during a read wait for it and
	// reuse its answer, so an open server reads the count at most every
	// CacheTTL however busy it is.
	g.countMu.Lock()
	defer g.countMu.Unlock()
	if g.enforced.Load() {
		return true, nil
	}
	now := g.now()
	if g.zeroKnown && fresh(now, g.zeroAt) {
		return false, nil
	}
	if g.failErr != nil {
		if d := now.Sub(g.failAt); d >= 0 && d < failWait {
			return true, g.failErr
		}
	}
	// The count serves every caller waiting, not just this request: a
	// client that goes away must not cancel it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	n, err := g.store.CountKeys(cctx)
	if err != nil {
		g.log.Warn().Err(err).Msg("counting API keys failed; requests need a key until the store answers")
		g.failAt, g.failErr = g.now(), err
		return true, err
	}
	g.failErr = nil
	if n > 0 {
		g.enforced.Store(true)
		g.log.Info().Int("keys", n).Msg("an API key exists: every request needs a key from now on")
		return true, nil
	}
	g.zeroAt, g.zeroKnown = now, true
	return false, nil
}

// unavailable is the refusal of a request without a key while the store
// cannot say whether keys are needed.
var unavailable = &refusal{
	status: http.StatusServiceUnavailable, code: CodeUnavailable, retryAfter: time.Second,
	msg: "the store is unavailable, so whether this server needs an API key cannot be checked; retry shortly",
}

// Open reports whether the server is in open mode: no key needed, every
// caller holds every scope.
func (g *Guard) Open(ctx context.Context) bool { return !g.Enforced(ctx) }

// Invalidate forgets what the guard cached of the key with id keyID, so
// its next request reads it from the store: the server that revokes a key
// calls it, and refuses the key at once.
func (g *Guard) Invalidate(keyID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gen++
	for h, c := range g.cache {
		if c.key.ID == keyID {
			delete(g.cache, h)
		}
	}
}

// Wait blocks until the touches in flight (records of a key's last use)
// have ended. Call it before closing the store.
func (g *Guard) Wait() {
	g.mu.Lock()
	var running []chan struct{}
	for _, st := range g.touches {
		if st.running != nil {
			running = append(running, st.running)
		}
	}
	g.mu.Unlock()
	for _, c := range running {
		<-c
	}
}

// Close is Wait for a guard about to lose its store: once it returns, no
// touch starts any more, so a request still authenticated afterwards (a
// subscription's message on a connection the server's shutdown does not
// wait for) writes nothing to a closed store. Keys are still checked; only
// the record of their last use is skipped, as a touch within
// access.TouchInterval of the last one is.
func (g *Guard) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.Wait()
}

// logger is the request's logger (it carries the request id), or the
// guard's.
func (g *Guard) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &g.log
}

// fresh reports whether something read at at may still be trusted at now.
// A clock that went back makes it stale.
// failWait is how long a failed count of the keys is answered again
// rather than read anew.
const failWait = time.Second

func fresh(now, at time.Time) bool {
	d := now.Sub(at)
	return d >= 0 && d < CacheTTL
}

// refusal is why a request is refused: the HTTP status, the error code and
// a message that names no secret.
type refusal struct {
	status     int
	code       string
	msg        string
	scope      access.Scope  // with FORBIDDEN
	retryAfter time.Duration // with 429 and 503: whole seconds, at least 1
}

// Error codes of a refusal, as extensions.code.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeRateLimited     = "RATE_LIMITED"
	CodeUnavailable     = "UNAVAILABLE"
)

func unauthenticated(format string, args ...any) *refusal {
	return &refusal{status: http.StatusUnauthorized, code: CodeUnauthenticated, msg: fmt.Sprintf(format, args...)}
}

// authenticate returns the usable key whose secret is secret.
func (g *Guard) authenticate(ctx context.Context, secret string) (access.Key, *refusal) {
	if err := access.CheckSecret(secret); err != nil {
		return access.Key{}, unauthenticated("%s", graph.ErrorMessage(err))
	}
	k, ok, err := g.keyByHash(ctx, access.HashSecret(secret))
	switch {
	case err != nil:
		g.logger(ctx).Error().Err(err).Msg("reading an API key failed")
		return access.Key{}, &refusal{
			status: http.StatusServiceUnavailable, code: CodeUnavailable, retryAfter: time.Second,
			msg: "the API key cannot be checked now: the store is unavailable; retry shortly",
		}
	case !ok:
		return access.Key{}, unauthenticated("unknown API key")
	case !k.RevokedAt.IsZero():
		return access.Key{}, unauthenticated("API key %s was revoked", k.ID)
	case !k.Usable(g.now()):
		return access.Key{}, unauthenticated("API key %s expired at %s", k.ID, k.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return k, nil
}

// keyByHash is the store's KeyByHash behind a cache of at most CacheTTL.
// Unknown hashes are not cached: they cost memory and can be varied at will.
func (g *Guard) keyByHash(ctx context.Context, hash string) (access.Key, bool, error) {
	now := g.now()
	g.mu.Lock()
	c, hit := g.cache[hash]
	gen := g.gen
	g.mu.Unlock()
	if hit && fresh(now, c.at) {
		return c.key, true, nil
	}
	k, ok, err := g.store.KeyByHash(ctx, hash)
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case err != nil:
		return access.Key{}, false, err
	case !ok:
		delete(g.cache, hash)
		return access.Key{}, false, nil
	}
	// A key invalidated while it was being read may be the old record.
	if g.gen == gen {
		g.cache[hash] = cachedKey{key: k, at: now}
	}
	return k, true, nil
}

// allow takes a token from the key's bucket of kind k, or says how long
// until one is there.
func (g *Guard) allow(keyID string, k kind) *refusal {
	if g.limit == 0 {
		return nil
	}
	now := g.now()
	b := bucket{keyID, k}
	g.mu.Lock()
	l := g.limiters[b]
	if l == nil {
		l = rate.NewLimiter(g.limit, g.burst)
		g.limiters[b] = l
	}
	g.mu.Unlock()
	if l.AllowN(now, 1) {
		return nil
	}
	wait := time.Duration((1 - l.TokensAt(now)) / float64(g.limit) * float64(time.Second))
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	return &refusal{
		status: http.StatusTooManyRequests, code: CodeRateLimited, retryAfter: time.Duration(secs) * time.Second,
		msg: fmt.Sprintf("API key %s is over its rate limit of %g requests per second (bursts of %d); retry after %d s",
			keyID, float64(g.limit), g.burst, secs),
	}
}

// touch records the key's use, at most once per access.TouchInterval and
// with at most one write in flight per key, in the background: the request
// does not wait for it, and a failure is only logged.
func (g *Guard) touch(k access.Key) {
	now := g.now()
	g.mu.Lock()
	st := g.touches[k.ID]
	if st == nil {
		st = &touchState{}
		g.touches[k.ID] = st
	}
	last := st.last
	if k.LastUsedAt.After(last) {
		last = k.LastUsedAt // recorded by another replica
	}
	if g.closed || st.running != nil || (!last.IsZero() && now.Sub(last) < access.TouchInterval) {
		g.mu.Unlock()
		return
	}
	done := make(chan struct{})
	st.last, st.running = now, done
	g.mu.Unlock()
	go func() {
		defer func() {
			g.mu.Lock()
			st.running = nil
			g.mu.Unlock()
			close(done)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		if err := g.store.TouchKey(ctx, k.ID, now); err != nil {
			g.log.Warn().Err(err).Str("key_id", k.ID).Msg("recording an API key's last use failed")
		}
	}()
}
