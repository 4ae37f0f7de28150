package neo4jstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/redact"
)

// probeEvery is how often the store checks that Neo4j answers.
const probeEvery = time.Second

// hungAfter is how long every probe may go unanswered (each past its
// pingTimeout) before Neo4j counts as down though it accepts connections:
// a frozen server, or one behind a network that drops packets. A slow
// answer now and then is load, and a probe answered in between starts the
// count again. A variable, so that a test can shorten it.
var hungAfter = 15 * time.Second

// errStoreDown is the cause given to the transactions the health check
// stops when it finds Neo4j down.
var errStoreDown = errors.New("Neo4j stopped answering")

// health tracks whether Neo4j answers. Without it, every call made while
// Neo4j is down would wait out the driver's retries (30 s) before failing,
// holding its HTTP request and the collector's queue all that time. With
// it, once a probe finds Neo4j unreachable, calls fail at once with
// graph.ErrUnavailable and the transactions still retrying give up; the
// first probe that succeeds again lets calls through, with no restart.
type health struct {
	mu     sync.Mutex
	down   error           // nil while Neo4j answers
	ctx    context.Context // cancelled (cause errStoreDown) when Neo4j is found down
	cancel context.CancelCauseFunc
	notify func(available bool, err error)
}

func newHealth(notify func(bool, error)) *health {
	h := &health{notify: notify}
	h.ctx, h.cancel = context.WithCancelCause(context.Background())
	return h
}

// state gives the error to fail with while Neo4j is down (nil while it
// answers), and the context cancelled once it is found down.
func (h *health) state() (error, context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.down, h.ctx
}

func (h *health) set(err error) {
	h.mu.Lock()
	was := h.down
	switch {
	case err != nil && was == nil:
		h.down = err
		h.cancel(errStoreDown)
	case err == nil && was != nil:
		h.down = nil
		h.ctx, h.cancel = context.WithCancelCause(context.Background())
	}
	notify := h.notify
	h.mu.Unlock()
	if notify != nil && (err == nil) != (was == nil) {
		notify(err == nil, err)
	}
}

// watch probes Neo4j every probeEvery until ctx ends. A late probe
// changes nothing, unless every probe has been late for hungAfter.
func (s *Store) watch(ctx context.Context) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	var lateSince time.Time // when the run of late probes began
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		late, err := s.probe(ctx)
		if ctx.Err() != nil {
			return
		}
		if !late {
			lateSince = time.Time{}
			s.health.set(err)
			continue
		}
		if lateSince.IsZero() {
			lateSince = time.Now()
		}
		if d := time.Since(lateSince); d >= hungAfter {
			s.health.set(graph.ErrUnavailable(fmt.Errorf("Neo4j at %s has answered no probe for %s", s.uri, d.Round(time.Second))))
		}
	}
}

// probe reports Neo4j as down only when it cannot be reached twice in a
// row: one failure may be an idle connection the server closed, which the
// pool drops. A slow answer (the probe's deadline passing) is reported as
// late, neither up nor down: load, unless it lasts (see watch).
func (s *Store) probe(ctx context.Context) (late bool, err error) {
	for range 2 {
		pctx, cancel := context.WithTimeout(ctx, pingTimeout)
		err = s.ping(pctx)
		late = pctx.Err() != nil && ctx.Err() == nil
		cancel()
		if late {
			return true, nil
		}
		if err == nil || ctx.Err() != nil || !unreachable(err) {
			return false, nil
		}
	}
	return false, graph.ErrUnavailable(fmt.Errorf("Neo4j at %s does not answer: %w", s.uri, err))
}

// unreachable reports whether err means no connection could be had or
// kept.
func unreachable(err error) bool {
	var ce *neo4j.ConnectivityError
	var tel *neo4j.TransactionExecutionLimit
	return errors.As(err, &ce) || errors.As(err, &tel)
}

// guard starts a call: while Neo4j is known to be down it fails at once;
// otherwise it gives a context that is cancelled, as well as when ctx is,
// when Neo4j is found down during the call. done must be called after.
func (s *Store) guard(ctx context.Context) (context.Context, func(err error) error, error) {
	down, hctx := s.health.state()
	if down != nil {
		return nil, nil, down
	}
	cctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(hctx, func() { cancel(errStoreDown) })
	done := func(err error) error {
		stop()
		stopped := ctx.Err() == nil && errors.Is(context.Cause(cctx), errStoreDown)
		cancel(nil)
		if err != nil && stopped {
			return graph.ErrUnavailable(fmt.Errorf("%w at %s during the call: %v", errStoreDown, s.uri, err))
		}
		return err
	}
	return cctx, done, nil
}

// RedactURI returns uri for messages and logs (redact.URI): a password
// written into it is shown as xxxxx.
func RedactURI(uri string) string { return redact.URI(uri) }
