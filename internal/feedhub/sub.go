package feedhub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/idgraph/cdp/graph"
)

// ErrUnavailable is the close reason of a subscriber whose missed entries
// could not be read from the store.
var ErrUnavailable = errors.New("the change feed could not be read")

type state uint8

const (
	stateCatchingUp state = iota // reading missed entries from the store
	stateRegistered              // fed by the tailer
	stateEnding                  // closed while catching up; the catch-up goroutine finishes it
	stateEnded
)

// Sub is one subscription: C yields its entries in Seq order until it is
// closed; Err then says why.
type Sub struct {
	h        *Hub
	key      string
	filter   func(graph.FeedEntry) bool
	ch       chan graph.FeedEntry
	quit     chan struct{}
	quitOnce sync.Once

	// Guarded by h.mu.
	state state
	pos   uint64 // the Seq of the last entry offered to filter
	err   error
}

// Subscribe opens a subscription for key (the API key's id; "" in open
// mode) that receives, in Seq order, each entry after the Seq after for
// which filter reports true. Entries already in the store are read from it
// first; then the tailer feeds the subscription, with no gap and no
// duplicate. filter sees each entry after after exactly once, in Seq
// order, never concurrently, and may keep state (to follow a merged
// profile); it runs under the hub's lock, so it must be quick and must not
// call the hub.
//
// Entries after after that the retention trims before they are sent end
// the subscription with a *graph.CursorExpiredError (Err), whether they go
// while it catches up or before the tailer reads them: it never skips
// them silently.
//
// Errors: a *TooManyError past the per-key cap; ErrClosed once the hub
// is closed.
func (h *Hub) Subscribe(key string, after uint64, filter func(graph.FeedEntry) bool) (*Sub, error) {
	if filter == nil {
		filter = func(graph.FeedEntry) bool { return true }
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	if h.perKey > 0 && h.keys[key] >= h.perKey {
		return nil, &TooManyError{Cap: h.perKey}
	}
	h.keys[key]++
	s := &Sub{h: h, key: key, filter: filter, ch: make(chan graph.FeedEntry, h.buffer), quit: make(chan struct{}), pos: after}
	go h.catchUp(s)
	return s, nil
}

// C yields the subscription's entries; it is closed when the subscription
// ends.
func (s *Sub) C() <-chan graph.FeedEntry { return s.ch }

// Err is why the subscription ended, once C is closed: ErrSlow, ErrClosed,
// a *graph.CursorExpiredError when entries it was not yet sent were
// trimmed by the feed's retention, an error wrapping ErrUnavailable, or
// nil after Close.
func (s *Sub) Err() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.err
}

// Close ends the subscription; C is closed soon after. It may be called
// more than once.
func (s *Sub) Close() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.endLocked(s, nil)
}

// catchUp offers s the entries between its start and the tailer's
// position, from the store, then registers it with the tailer. Until then
// it owns s.ch; it sends blocking, since the store, not the live stream,
// sets its pace.
func (h *Hub) catchUp(s *Sub) {
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	go func() {
		select {
		case <-s.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	h.skipIdle(ctx)
	for {
		h.mu.Lock()
		switch {
		case s.state == stateEnding:
			h.finishLocked(s, s.err)
			h.mu.Unlock()
			return
		case h.closed:
			h.finishLocked(s, ErrClosed)
			h.mu.Unlock()
			return
		case s.pos >= h.last:
			s.state = stateRegistered
			h.subs[s] = struct{}{}
			h.mu.Unlock()
			return
		}
		pos, last := s.pos, h.last
		h.mu.Unlock()
		page, err := h.feed.Feed(ctx, pos, nil, pageSize)
		var trimmed uint64
		if err == nil {
			// Read after the page: a trim whose deletions the page's read
			// saw is counted here too (the store raises its mark in the
			// transaction that deletes).
			trimmed, err = h.feed.FeedTrimmed(ctx)
		}
		if err != nil {
			h.stopCatchUp(s, fmt.Errorf("%w: %v", ErrUnavailable, err))
			return
		}
		if trimmed > pos {
			// Entries after pos, which s was not sent, were trimmed since
			// it subscribed or since the last page: the page may start
			// after them. None of it is sent; s ends as a subscription
			// resuming after pos would be refused.
			h.stopCatchUp(s, &graph.CursorExpiredError{After: pos, Trimmed: trimmed})
			return
		}
		for _, e := range page {
			pos = e.Seq
			if !s.filter(e) {
				continue
			}
			select {
			case s.ch <- e:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
		// A short page holds every entry up to the store's head, which
		// was at least last when it was read.
		if len(page) < pageSize && ctx.Err() == nil {
			pos = max(pos, last)
		}
		h.mu.Lock()
		s.pos = pos
		h.mu.Unlock()
	}
}

// skipIdle moves h.last to the store's head while nobody is registered:
// the tailer reads nothing then (read), so h.last may be far behind, and
// a subscription would otherwise take every entry committed since from
// the tailer, past its buffer (ErrSlow), rather than at the store's pace
// here. With a subscriber registered h.last stays: skipping past it would
// lose that subscriber's entries. A head that cannot be read leaves h.last
// as it is; the catch-up then reads from the store, or fails, as before.
func (h *Hub) skipIdle(ctx context.Context) {
	h.mu.Lock()
	idle := len(h.subs) == 0
	h.mu.Unlock()
	if !idle {
		return
	}
	head, err := h.feed.FeedHead(ctx)
	if err != nil {
		return
	}
	h.mu.Lock()
	if len(h.subs) == 0 {
		h.last = max(h.last, head)
	}
	h.mu.Unlock()
}

// stopCatchUp ends s, still catching up, with reason, unless it is
// already ending (its own reason then) or the hub is closing (ErrClosed).
func (h *Hub) stopCatchUp(s *Sub, reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case s.state == stateEnding:
		h.finishLocked(s, s.err)
	case h.closed:
		h.finishLocked(s, ErrClosed)
	default:
		h.finishLocked(s, reason)
	}
}

// finishLocked ends s, not registered, with reason.
func (h *Hub) finishLocked(s *Sub, reason error) {
	if s.state == stateEnded {
		return
	}
	h.releaseLocked(s)
	s.state = stateEnded
	s.err = reason
	close(s.ch)
}
