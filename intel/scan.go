package intel

import (
	"context"
	"time"

	"github.com/idgraph/cdp/graph"
)

// profilesPerPage and eventsPerRead size Scan's reads: a page of profiles
// in one read, their events in one more, and one read per further page of
// events of a profile that has more.
const (
	profilesPerPage = 200
	eventsPerRead   = graph.MaxPage
)

// Scan streams every live profile, in id order, with its events whose
// time is in [from, to) (a zero end is open), to fn, reading a page of
// profiles at a time: it never holds more than one page's events. keep,
// when not nil, is asked for each page which of its profiles to read
// (a filter); the others are skipped. Events are each profile's own view
// (graph.Engine.Journeys): an event shared with another person carries no
// properties.
func Scan(ctx context.Context, st graph.Store, e *graph.Engine, from, to time.Time,
	keep func(ctx context.Context, ids []string) ([]string, error),
	fn func(profileID string, events []graph.Event) error) error {
	q := graph.JourneyQuery{From: from, To: to, Limit: eventsPerRead}
	after := ""
	for {
		var page []graph.Profile
		err := st.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			var err error
			page, err = tx.ProfilesPage(ctx, graph.PageQuery{After: after, Limit: profilesPerPage})
			return err
		})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].ID
		ids := make([]string, len(page))
		for i, p := range page {
			ids[i] = p.ID
		}
		if keep != nil {
			if ids, err = keep(ctx, ids); err != nil {
				return err
			}
		}
		if len(ids) > 0 {
			evs, err := e.Journeys(ctx, ids, q)
			if err != nil {
				return err
			}
			for _, id := range ids {
				got := evs[id]
				for last := got; len(last) == q.Limit; {
					next := q
					next.After = &graph.JourneyCursor{Timestamp: last[len(last)-1].Timestamp, ID: last[len(last)-1].ID}
					more, err := e.Journeys(ctx, []string{id}, next)
					if err != nil {
						return err
					}
					last = more[id]
					got = append(got, last...)
				}
				if err := fn(id, got); err != nil {
					return err
				}
			}
		}
		if len(page) < profilesPerPage {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
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
