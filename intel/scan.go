package intel

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/idgraph/cdp/graph"
)

// profilesPerPage and eventsPerRead size Scan's reads: a page of profiles
// in one read, their events in one more, and one read per further page of
// events of a profile that has more. scanReaders bounds the pages whose
// events are read at once.
const (
	profilesPerPage = 200
	eventsPerRead   = graph.MaxPage
	scanReaders     = 4
)

// Scan streams every live profile, in id order, with its events whose
// time is in [from, to) (a zero end is open), to fn, reading a page of
// profiles at a time. keep, when not nil, is asked for each page, in
// order, which of its profiles to read (a filter); the others are
// skipped. Events are each profile's own view (graph.Engine.Journeys),
// newest first: an event shared with another person carries no
// properties.
//
// While fn takes one page, the events of the next few pages are read, by
// up to one reader per processor (at most scanReaders): Scan holds the
// events of at most scanReaders+1 pages. fn and keep are each called from
// one goroutine at a time, fn in profile order. Scan returns once every
// read has stopped: on fn's first error, with it.
func Scan(ctx context.Context, st graph.Store, e *graph.Engine, from, to time.Time,
	keep func(ctx context.Context, ids []string) ([]string, error),
	fn func(profileID string, events []graph.Event) error) error {
	return ScanWith(ctx, st, e, ScanOptions{From: from, To: to, Keep: keep, Properties: true}, fn)
}

// ScanOptions are Scan's arguments: the events' time range [From, To),
// Keep, and whether the events' properties are read (a query's
// ReadsProperties). Without Properties a store may leave out the events'
// properties and traits, which saves decoding them.
type ScanOptions struct {
	From, To   time.Time
	Keep       func(ctx context.Context, ids []string) ([]string, error)
	Properties bool
}

// ScanWith is Scan with its arguments in o.
//
// On a store that reads snapshots (graph.Snapshotter: the embedded store)
// every read of the scan, keep's included when it reads the same store
// with the context it is given, sees one snapshot, so a profile merged
// (or split) meanwhile is seen as it was when the scan began: neither its
// events counted twice nor dropped. e must read st. fn and keep must not
// write to st with the context they are given.
func ScanWith(ctx context.Context, st graph.Store, e *graph.Engine, o ScanOptions,
	fn func(profileID string, events []graph.Event) error) error {
	return graph.InSnapshot(ctx, st, func(ctx context.Context) error { return scan(ctx, st, e, o, fn) })
}

// scan is ScanWith, under the snapshot when there is one.
func scan(ctx context.Context, st graph.Store, e *graph.Engine, o ScanOptions,
	fn func(profileID string, events []graph.Event) error) error {
	keep := o.Keep
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	readers := max(1, min(runtime.GOMAXPROCS(0), scanReaders))
	pages := make(chan *scanPage, readers) // in profile order, to fn
	jobs := make(chan *scanPage)           // to the readers
	q := graph.JourneyQuery{From: o.From, To: o.To, Limit: eventsPerRead, NoPayload: !o.Properties}
	wg.Add(1 + readers)
	go func() {
		defer wg.Done()
		defer close(jobs)
		defer close(pages)
		listPages(ctx, st, keep, func(p *scanPage) bool {
			select {
			case pages <- p:
			case <-ctx.Done():
				return false
			}
			if p.err != nil {
				return false
			}
			select {
			case jobs <- p:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	for range readers {
		go func() {
			defer wg.Done()
			for p := range jobs {
				p.events, p.err = readPage(ctx, e, p.ids, q)
				close(p.done)
			}
		}()
	}
	for p := range pages {
		if err := ctx.Err(); err != nil {
			return err
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if p.err != nil {
			return p.err
		}
		for _, id := range p.ids {
			if err := fn(id, p.events[id]); err != nil {
				return err
			}
		}
		p.events = nil
	}
	return ctx.Err()
}

// scanPage is a page of profiles to read, and once done is closed, their
// events or the error reading them (or listing the page).
type scanPage struct {
	ids    []string
	events map[string][]graph.Event
	err    error
	done   chan struct{}
}

// listPages hands send the pages of live profiles in id order, after
// keep, until send returns false, a page fails (handed with its error),
// or the profiles end.
func listPages(ctx context.Context, st graph.Store, keep func(ctx context.Context, ids []string) ([]string, error),
	send func(*scanPage) bool) {
	fail := func(err error) {
		p := &scanPage{err: err, done: make(chan struct{})}
		close(p.done)
		send(p)
	}
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return
		}
		var page []string
		err := st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			var err error
			page, err = graph.ProfileIDs(ctx, tx, graph.PageQuery{After: after, Limit: profilesPerPage})
			return err
		})
		if err != nil {
			fail(err)
			return
		}
		if len(page) == 0 {
			return
		}
		after = page[len(page)-1]
		ids := page
		if keep != nil {
			if ids, err = keep(ctx, ids); err != nil {
				fail(err)
				return
			}
		}
		if len(ids) > 0 && !send(&scanPage{ids: ids, done: make(chan struct{})}) {
			return
		}
		if len(page) < profilesPerPage {
			return
		}
	}
}

// readPage reads the events of the profiles ids as q asks, every page of
// them.
func readPage(ctx context.Context, e *graph.Engine, ids []string, q graph.JourneyQuery) (map[string][]graph.Event, error) {
	evs, err := e.Journeys(ctx, ids, q)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		got := evs[id]
		for last := got; len(last) == q.Limit; {
			next := q
			next.After = &graph.JourneyCursor{Timestamp: last[len(last)-1].Timestamp, ID: last[len(last)-1].ID}
			more, err := e.Journeys(ctx, []string{id}, next)
			if err != nil {
				return nil, err
			}
			last = more[id]
			got = append(got, last...)
		}
		evs[id] = got
	}
	return evs, nil
}

// Events returns the range of event times q reads: step 1's window, and
// up to Within after its end.
func (q *FunnelQuery) Events() (from, to time.Time) {
	if !q.Window.To.IsZero() {
		to = q.Window.To.Add(q.Within)
	}
	return q.Window.From, to
}

// Events returns the range of event times q reads: the conversions'
// window, and up to Lookback before its start.
func (q *AttributionQuery) Events() (from, to time.Time) {
	if !q.Window.From.IsZero() {
		from = q.Window.From.Add(-q.Lookback)
	}
	return from, q.Window.To
}

// Events returns the range of event times q reads: the starts' window,
// and up to Within after its end when Within is set.
func (q *PathsQuery) Events() (from, to time.Time) {
	if !q.Window.To.IsZero() && q.Within > 0 {
		to = q.Window.To.Add(q.Within)
	}
	return q.Window.From, to
}

// ReadsProperties reports whether q reads events' properties: whether a
// step has a Where.
func (q *FunnelQuery) ReadsProperties() bool { return readsProperties(q.Steps...) }

// ReadsProperties reports whether q reads events' properties: whether the
// conversion or the touchpoints have a Where.
func (q *AttributionQuery) ReadsProperties() bool {
	if q.Touchpoints != nil && len(q.Touchpoints.Where) > 0 {
		return true
	}
	return readsProperties(q.Conversion)
}

// ReadsProperties reports whether q reads events' properties: whether the
// start has a Where.
func (q *PathsQuery) ReadsProperties() bool { return readsProperties(q.Start) }

func readsProperties(ms ...EventMatch) bool {
	for _, m := range ms {
		if len(m.Where) > 0 {
			return true
		}
	}
	return false
}
