package feedhub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/graph"
)

// Defaults of Config.
const (
	// DefaultPoll is how often the feed is read when nothing wakes the
	// tailer sooner.
	DefaultPoll = 100 * time.Millisecond
	// DefaultBuffer is how many entries may wait for one subscriber.
	DefaultBuffer = 1024
	// DefaultPerKey is how many subscriptions one API key may hold open.
	DefaultPerKey = 32
)

// pageSize is how many entries one read of the store returns.
const pageSize = 1000

// Config configures a Hub.
type Config struct {
	// Feed is the store's feed.
	Feed graph.FeedStore
	// Poll is how often the tailer reads the feed; 0 means DefaultPoll.
	Poll time.Duration
	// Buffer bounds the entries waiting for one subscriber; 0 means
	// DefaultBuffer.
	Buffer int
	// PerKey caps the subscriptions one key holds at once; 0 means
	// DefaultPerKey, a negative value no cap.
	PerKey int
	Logger zerolog.Logger
}

// ErrSlow is the close reason of a subscriber that let its buffer
// overflow: it did not take entries as fast as they were committed.
var ErrSlow = errors.New("the subscriber fell behind: more changes were waiting for it than its buffer holds")

// ErrClosed is the close reason of the subscribers of a hub that stops
// (the server shuts down).
var ErrClosed = errors.New("the server is shutting down")

// TooManyError refuses a subscription past the per-key cap.
type TooManyError struct{ Cap int }

func (e *TooManyError) Error() string {
	return fmt.Sprintf("this API key (in open mode, every caller together) already holds the most subscriptions allowed at once, %d (--subscriptions-per-key); close one first", e.Cap)
}

// Stats are counts of a hub, for metrics and tests.
type Stats struct {
	// Active is the number of open subscriptions.
	Active int
	// SlowClosed counts the subscribers closed with ErrSlow.
	SlowClosed uint64
	// Last is the Seq of the last entry the tailer fanned out, or the
	// head a subscription found on beginning while nobody listened.
	Last uint64
}

// Hub is the process's tailer and its subscribers. It is safe for
// concurrent use.
type Hub struct {
	feed   graph.FeedStore
	poll   time.Duration
	buffer int
	perKey int
	log    zerolog.Logger

	wake chan struct{}
	ctx  context.Context // ends with Close
	stop context.CancelFunc
	done chan struct{}

	mu         sync.Mutex
	started    bool
	closed     bool
	last       uint64 // the Seq up to which entries were fanned out
	subs       map[*Sub]struct{}
	keys       map[string]int // open subscriptions by key
	slowClosed uint64
}

// New builds a hub on cfg.Feed; Start starts its tailer.
func New(cfg Config) *Hub {
	h := &Hub{
		feed: cfg.Feed, poll: cfg.Poll, buffer: cfg.Buffer, perKey: cfg.PerKey, log: cfg.Logger,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		subs: map[*Sub]struct{}{}, keys: map[string]int{},
	}
	if h.poll <= 0 {
		h.poll = DefaultPoll
	}
	if h.buffer <= 0 {
		h.buffer = DefaultBuffer
	}
	if h.perKey == 0 {
		h.perKey = DefaultPerKey
	}
	h.ctx, h.stop = context.WithCancel(context.Background())
	return h
}

// Start reads the feed's head, from which the tailer goes on, and starts
// the tailer. A store that cannot be read yet is read again by the
// tailer.
func (h *Hub) Start(ctx context.Context) {
	h.mu.Lock()
	if h.started || h.closed {
		h.mu.Unlock()
		return
	}
	h.started = true
	h.mu.Unlock()
	if head, err := h.feed.FeedHead(ctx); err == nil {
		h.mu.Lock()
		h.last = max(h.last, head)
		h.mu.Unlock()
	}
	go h.tail()
}

// Wake makes the tailer read the feed now: a commit of this process has
// just appended entries. It never blocks.
func (h *Hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Close stops the tailer and closes every subscriber with ErrClosed.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	started := h.started
	h.stop()
	for s := range h.subs {
		h.endLocked(s, ErrClosed)
	}
	h.mu.Unlock()
	if started {
		<-h.done
	}
}

// Closing is a context that ends when Close begins: what lives only as
// long as the hub (a websocket connection) ends with it.
func (h *Hub) Closing() context.Context { return h.ctx }

// Stats returns the hub's counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.keys {
		n += c
	}
	return Stats{Active: n, SlowClosed: h.slowClosed, Last: h.last}
}

// Head returns the Seq of the newest entry in the store: a subscription
// that starts now starts after it.
func (h *Hub) Head(ctx context.Context) (uint64, error) {
	return h.feed.FeedHead(ctx)
}

// Merges returns the MERGED entries with a Seq after after and at most
// through, in Seq order, read from the store a page at a time.
func (h *Hub) Merges(ctx context.Context, after, through uint64) ([]graph.FeedEntry, error) {
	var out []graph.FeedEntry
	for after < through {
		page, err := h.feed.Feed(ctx, after, []graph.FeedKind{graph.FeedMerged}, pageSize)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if e.Seq > through {
				return out, nil
			}
			out = append(out, e)
		}
		if len(page) < pageSize {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
	return out, nil
}

// CheckResume returns a *graph.CursorExpiredError when a subscription
// resuming after the Seq after would miss entries the retention trimmed
// (graph.CheckResume). 0 is the cursor a subscriber is given when it ends
// before any change on an empty feed, and resuming after it misses the
// trimmed entries as any other would.
func (h *Hub) CheckResume(ctx context.Context, after uint64) error {
	return graph.CheckResume(ctx, h.feed, after)
}

// tail reads the feed every poll, or when woken, until Close.
func (h *Hub) tail() {
	defer close(h.done)
	t := time.NewTicker(h.poll)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		case <-h.wake:
		}
		err := h.read(h.ctx)
		switch {
		case err != nil && h.ctx.Err() == nil && !failing:
			failing = true
			h.log.Warn().Err(err).Msg("feed: reading the change feed failed; subscribers wait until it answers")
		case err == nil && failing:
			failing = false
			h.log.Info().Msg("feed: the change feed answers again")
		}
	}
}

// read fans out the entries after h.last. With nobody subscribed it reads
// nothing: a subscription that begins later reads the head then
// (catchUp), so following the head while nobody listens would only cost
// the store a query every poll (on Neo4j a round trip, ten a second by
// default, from every replica).
func (h *Hub) read(ctx context.Context) error {
	h.mu.Lock()
	idle, last := len(h.subs) == 0, h.last
	h.mu.Unlock()
	if idle {
		return nil
	}
	for {
		page, err := h.feed.Feed(ctx, last, nil, pageSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		// Seqs are consecutive but for erased entries and trimmed ones:
		// after a gap, the subscribers whose next entries were trimmed
		// before this read end rather than skip them.
		var trimmed uint64
		if gapAfter(last, page) {
			if trimmed, err = h.feed.FeedTrimmed(ctx); err != nil {
				return err
			}
		}
		h.mu.Lock()
		for s := range h.subs {
			if s.pos < trimmed {
				h.endLocked(s, &graph.CursorExpiredError{After: s.pos, Trimmed: trimmed})
				continue
			}
			h.deliverLocked(s, page)
		}
		last = page[len(page)-1].Seq
		h.last = max(h.last, last)
		h.mu.Unlock()
		if len(page) < pageSize {
			return nil
		}
	}
}

// gapAfter reports whether page, read after the Seq last, misses a Seq.
func gapAfter(last uint64, page []graph.FeedEntry) bool {
	for _, e := range page {
		if e.Seq != last+1 {
			return true
		}
		last = e.Seq
	}
	return false
}

// deliverLocked offers s the entries of page it has not seen, never
// blocking: past its buffer s is closed with ErrSlow.
func (h *Hub) deliverLocked(s *Sub, page []graph.FeedEntry) {
	for _, e := range page {
		if e.Seq <= s.pos {
			continue
		}
		s.pos = e.Seq
		if !s.filter(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			h.slowClosed++
			h.endLocked(s, ErrSlow)
			return
		}
	}
}

// endLocked closes s with reason (nil when its consumer closed it).
func (h *Hub) endLocked(s *Sub, reason error) {
	switch s.state {
	case stateRegistered:
		delete(h.subs, s)
	case stateCatchingUp:
		// Its catch-up goroutine owns the channel and closes it.
		s.state = stateEnding
		s.err = reason
		s.quitOnce.Do(func() { close(s.quit) })
		return
	default:
		return
	}
	h.releaseLocked(s)
	s.state = stateEnded
	s.err = reason
	close(s.ch)
}

func (h *Hub) releaseLocked(s *Sub) {
	if h.keys[s.key]--; h.keys[s.key] <= 0 {
		delete(h.keys, s.key)
	}
}
