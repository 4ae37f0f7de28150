package resolver

import (
	"context"
	"time"

	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
)

// profiles serves Query.profiles: first/after pages forward, last/before
// backward, always in ascending id order; with a filter, over the profiles
// it holds for (filteredProfiles).
func (r *Resolver) profiles(ctx context.Context, filter *gql.AudienceFilter, first *int, after *string, last *int, before *string) (*gql.ProfileConnection, error) {
	if first != nil && last != nil {
		return nil, invalidArg("last", "cannot be combined with \"first\"; page forward with first/after or backward with last/before")
	}
	q := graph.PageQuery{}
	n, err := checkPage("first", first, defaultProfilesPage, r.cfg.MaxPage)
	if err != nil {
		return nil, err
	}
	if last != nil {
		if n, err = checkPage("last", last, defaultProfilesPage, r.cfg.MaxPage); err != nil {
			return nil, err
		}
		q.Reverse = true
	}
	if after != nil {
		if q.After, err = decodeProfileCursor("after", *after); err != nil {
			return nil, err
		}
	}
	if before != nil {
		if q.Before, err = decodeProfileCursor("before", *before); err != nil {
			return nil, err
		}
	}
	if filter != nil {
		return r.filteredProfiles(ctx, filter, q, n, after, before)
	}
	q.Limit = max(n, 1)
	page, err := r.engine.Profiles(ctx, q)
	if err != nil {
		return nil, domainErr(err)
	}
	if n == 0 {
		// A page of nothing still tells whether there is more.
		if q.Reverse {
			page.HasPrevious = len(page.Profiles) > 0
		} else {
			page.HasNext = len(page.Profiles) > 0
		}
		page.Profiles = nil
	}
	nodes := profilePtrs(page.Profiles)
	r.loaders(ctx).hintProfiles(nodes)
	conn := &gql.ProfileConnection{
		Edges:      make([]*gql.ProfileEdge, len(nodes)),
		Nodes:      nodes,
		PageInfo:   &gql.PageInfo{HasNextPage: page.HasNext, HasPreviousPage: page.HasPrevious},
		TotalCount: page.Total,
	}
	for i, p := range nodes {
		conn.Edges[i] = &gql.ProfileEdge{Cursor: profileCursor(p.ID), Node: p}
	}
	if len(nodes) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(nodes)-1].Cursor
	}
	return conn, nil
}

// journey serves Profile.journey, newest first. Sibling profiles asking the
// same page shape share one engine call.
func (r *Resolver) journey(ctx context.Context, p *graph.Profile, first *int, after *string, types, channels []string, from, to *time.Time) (*gql.EventConnection, error) {
	n, err := checkPage("first", first, defaultJourneyPage, r.cfg.MaxPage)
	if err != nil {
		return nil, err
	}
	q := graph.JourneyQuery{Types: asStored(types), Channels: asStoredChannels(channels), Limit: n + 1}
	// Rounded up, not truncated: stored times are whole microseconds, and
	// from (inclusive) and to (exclusive) keep their meaning rounded up.
	if from != nil {
		q.From = graph.CleanUp(*from)
	}
	if to != nil {
		q.To = graph.CleanUp(*to)
	}
	if from != nil && to != nil && q.To.Before(q.From) {
		return nil, invalidArg("to", "(%s) is before \"from\" (%s)", q.To.Format(time.RFC3339Nano), q.From.Format(time.RFC3339Nano))
	}
	if after != nil {
		c, err := decodeJourneyCursor("after", *after)
		if err != nil {
			return nil, err
		}
		q.After = &c
	}
	if to != nil && q.To.IsZero() {
		// The earliest instant (0001-01-01T00:00:00Z): no event is before
		// it, while a zero To would read as no bound.
		return &gql.EventConnection{Edges: []*gql.EventEdge{}, Nodes: []*graph.Event{}, PageInfo: &gql.PageInfo{HasPreviousPage: after != nil}}, nil
	}
	evs, err := r.loaders(ctx).journey(ctx, r.engine, p.ID, q)
	if err != nil {
		return nil, domainErr(err)
	}
	more := len(evs) > n
	if more {
		evs = evs[:n]
	}
	conn := &gql.EventConnection{
		Edges:    make([]*gql.EventEdge, len(evs)),
		Nodes:    make([]*graph.Event, len(evs)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	for i := range evs {
		ev := &evs[i]
		conn.Nodes[i] = ev
		conn.Edges[i] = &gql.EventEdge{Cursor: journeyCursor(*ev), Node: ev}
	}
	if len(evs) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(evs)-1].Cursor
	}
	return conn, nil
}

func (r *Resolver) explain(ctx context.Context, a, b gql.IdentifierInput) (*gql.LinkExplanation, error) {
	ra, err := r.normalizeInput("a.type", "a.value", a.Type, a.Value)
	if err != nil {
		return nil, err
	}
	rb, err := r.normalizeInput("b.type", "b.value", b.Type, b.Value)
	if err != nil {
		return nil, err
	}
	ex, err := r.loaders(ctx).explain(ctx, r.engine, ra, rb)
	if err != nil {
		return nil, identErr(err,
			identArg{name: "a", raw: graph.IdentifierRef{Type: a.Type, Value: a.Value}, norm: ra},
			identArg{name: "b", raw: graph.IdentifierRef{Type: b.Type, Value: b.Value}, norm: rb})
	}
	out := explanation(ex)
	r.loaders(ctx).eventSibs.hint(evidenceIDs(out))
	return out, nil
}

// event loads an event by id; null when it is not stored.
func (r *Resolver) event(ctx context.Context, id string) (*graph.Event, error) {
	s := r.loaders(ctx)
	s.eventSibs.hint([]string{id})
	ev, ok, err := s.events.load(ctx, id)
	if err != nil || !ok {
		return nil, domainErr(err)
	}
	return &ev, nil
}
