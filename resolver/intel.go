package resolver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/audience/keep"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/intel"
)

// eventMatch converts an EventMatch argument. Its type and channel are
// compared as ingest stores them (trimmed, lower-case), as the journey's
// list filters are (asStored): no stored channel has a capital, so "Web"
// would match nothing. A value of spaces only is kept as given.
func eventMatch(in *gql.EventMatch) intel.EventMatch {
	var m intel.EventMatch
	if in == nil {
		return m
	}
	if in.Name != nil {
		m.Name = *in.Name
	}
	if in.Type != nil {
		m.Type = storedName(*in.Type)
	}
	if in.Channel != nil {
		m.Channel = storedChannel(*in.Channel)
	}
	for _, w := range in.Where {
		m.Where = append(m.Where, propertyFilter(w))
	}
	return m
}

// emptyMatch refuses a name, type or channel of the EventMatch at path
// given as an empty string: intel.EventMatch cannot tell it from one left
// out, so it would select the events of any name, type or channel, where
// every field given must hold (channel "" is what byChannel shows for the
// events without one). Audience event conditions refuse it the same way.
func emptyMatch(in *gql.EventMatch, path string) error {
	if in == nil {
		return nil
	}
	for _, f := range []struct {
		name   string
		v      *string
		absent string
	}{{"name", in.Name, "events of any name"}, {"type", in.Type, "events of any type"}, {"channel", in.Channel, "events of any channel"}} {
		if f.v != nil && *f.v == "" {
			return invalidArg(path+"."+f.name, "must not be empty; leave it out for %s", f.absent)
		}
	}
	return nil
}

// storedName is s as ingest stores a type or channel, unless that leaves
// nothing (audience.StoredEventType, which puts a channel in its stored
// form as well).
func storedName(s string) string { return audience.StoredEventType(s) }

// storedChannel is s as ingest stores a channel: trimmed, lower-cased and
// cut to 64 bytes (ingest.CutChannel), so that a channel longer than the
// collector keeps, given as the message sent it, selects the events it was
// kept on; s as given when that leaves nothing.
func storedChannel(s string) string {
	if c := ingest.CutChannel(s); c != "" {
		return c
	}
	return s
}

// checkBounds refuses a from not before to, as intel.Window.Check does,
// where the window cannot: a from at the earliest instant
// (0001-01-01T00:00:00Z) is a zero From there, which reads as no bound.
// Asked after the query's Check, so that the errors come in its order.
func checkBounds(from, to *time.Time) error {
	if from == nil || to == nil {
		return nil
	}
	if f, t := graph.CleanUp(*from), graph.CleanUp(*to); !f.Before(t) {
		return graph.Errorf(graph.EINVALID, "from %s is not before to %s", f.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	return nil
}

// intelWindow takes from (inclusive) and to (exclusive) to the stored
// times' microseconds, rounded up, so that neither admits nor drops an
// event it should not, as the journey's bounds do.
func intelWindow(from, to *time.Time) intel.Window {
	var w intel.Window
	if from != nil {
		w.From = graph.CleanUp(*from)
	}
	if to != nil {
		w.To = graph.CleanUp(*to)
		if w.To.IsZero() {
			// The earliest instant (0001-01-01T00:00:00Z), which a zero To
			// would read as no bound. No event is stored at it (the engine
			// dates one without a time at its arrival), so the next
			// microsecond bounds the same events: none, or only those
			// before year 1.
			w.To = w.To.Add(time.Microsecond)
		}
	}
	return w
}

// evaluator returns the store as an intel.Evaluator, and the scope of the
// filter argument, when the store answers the queries itself (Neo4j); ok
// is false when it does not, and the caller scans.
func (r *Resolver) evaluator(ctx context.Context, filter *gql.AudienceFilter) (ev intel.Evaluator, scope audience.FilterQuery, ok bool, err error) {
	ev, ok = r.engine.Store().(intel.Evaluator)
	if !ok {
		return nil, scope, false, nil
	}
	k, st, err := r.keeper()
	if err != nil {
		return nil, scope, false, err
	}
	var f *audience.Filter
	if filter != nil {
		if f, err = r.queryFilter(ctx, st, filter, "filter"); err != nil {
			return nil, scope, false, err
		}
	}
	scope, err = k.Query(ctx, f)
	return ev, scope, err == nil, err
}

// intelScan streams the live profiles (those filter keeps, when given)
// with their events in [from, to) through add; props says whether the
// events' properties are read.
func (r *Resolver) intelScan(ctx context.Context, filter *gql.AudienceFilter, from, to time.Time, props bool, add func(events []graph.Event)) error {
	var keepFn func(ctx context.Context, ids []string) ([]string, error)
	if filter != nil {
		_, st, err := r.keeper()
		if err != nil {
			return err
		}
		f, err := r.queryFilter(ctx, st, filter, "filter")
		if err != nil {
			return err
		}
		// An inAudience holds the named audience's purpose now, as the
		// keeper's Query gives it to a store that evaluates it.
		if f, err = f.WithPurposesOf(ctx, st); err != nil {
			return err
		}
		cs, err := r.consentStore()
		if err != nil {
			return err
		}
		defs, err := st.ComputedTraits(ctx)
		if err != nil {
			return err
		}
		keepFn = func(ctx context.Context, ids []string) ([]string, error) {
			now := graph.Now()
			subs, err := keep.Subjects(ctx, r.engine, st, cs, defs, ids, now)
			if err != nil {
				return nil, err
			}
			return slices.DeleteFunc(ids, func(id string) bool {
				s, ok := subs[id]
				return !ok || !f.Eval(s, now)
			}), nil
		}
	}
	o := intel.ScanOptions{From: from, To: to, Keep: keepFn, Properties: props}
	return intel.ScanWith(ctx, r.engine.Store(), r.engine, o, func(_ string, events []graph.Event) error {
		add(events)
		return nil
	})
}

func (r *Resolver) funnel(ctx context.Context, steps []*gql.EventMatch, within string, from, to *time.Time, filter *gql.AudienceFilter, byChannel *bool) (*gql.Funnel, error) {
	q := intel.FunnelQuery{Window: intelWindow(from, to), ByChannel: byChannel != nil && *byChannel}
	for i, s := range steps {
		if err := emptyMatch(s, fmt.Sprintf("steps[%d]", i)); err != nil {
			return nil, err
		}
		q.Steps = append(q.Steps, eventMatch(s))
	}
	var err error
	if q.Within, err = intel.ParseSpan("within", within, intel.MaxLookback); err != nil {
		return nil, err
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	if err := checkBounds(from, to); err != nil {
		return nil, err
	}
	for i, s := range q.Steps {
		if err := r.checkWherePII(ctx, s.Where, fmt.Sprintf("steps[%d].where", i)); err != nil {
			return nil, err
		}
	}
	var res intel.FunnelResult
	if ev, scope, ok, err := r.evaluator(ctx, filter); err != nil {
		return nil, filterErr(err)
	} else if ok {
		if res, err = ev.EvalFunnel(ctx, q, scope); err != nil {
			return nil, filterErr(err)
		}
	} else {
		f := intel.NewFunnel(q)
		evFrom, evTo := q.Events()
		if err := r.intelScan(ctx, filter, evFrom, evTo, q.ReadsProperties(), f.Add); err != nil {
			return nil, filterErr(err)
		}
		res = f.Result()
	}
	res = withholdKeys(r, ctx, res)
	out := &gql.Funnel{Profiles: res.Profiles}
	for _, s := range res.Steps {
		g := &gql.FunnelStep{Index: s.Index, Count: s.Count, ConversionFromPrevious: s.ConversionFromPrevious,
			ConversionFromStart: s.ConversionFromStart, MedianSecondsFromPrevious: s.MedianSecondsFromPrevious}
		if q.ByChannel {
			g.ByChannel = []*gql.ChannelCount{}
			for c, n := range s.ByChannel {
				g.ByChannel = append(g.ByChannel, &gql.ChannelCount{Channel: c, Count: n})
			}
			slices.SortFunc(g.ByChannel, func(a, b *gql.ChannelCount) int {
				if a.Count != b.Count {
					return b.Count - a.Count
				}
				return strings.Compare(a.Channel, b.Channel)
			})
		}
		out.Steps = append(out.Steps, g)
	}
	return out, nil
}

func (r *Resolver) attribution(ctx context.Context, conversion gql.EventMatch, touchpoints *gql.EventMatch, dimension gql.AttributionDimension, model gql.AttributionModel, lookback string, halfLife *string, from, to *time.Time, filter *gql.AudienceFilter) (*gql.Attribution, error) {
	if err := emptyMatch(&conversion, "conversion"); err != nil {
		return nil, err
	}
	if err := emptyMatch(touchpoints, "touchpoints"); err != nil {
		return nil, err
	}
	q := intel.AttributionQuery{Conversion: eventMatch(&conversion), Dimension: intel.Dimension(dimension),
		Model: intel.Model(model), Window: intelWindow(from, to)}
	if touchpoints != nil {
		m := eventMatch(touchpoints)
		q.Touchpoints = &m
	}
	var err error
	if q.Lookback, err = intel.ParseSpan("lookback", lookback, intel.MaxLookback); err != nil {
		return nil, err
	}
	if halfLife != nil {
		if q.HalfLife, err = intel.ParseSpan("halfLife", *halfLife, 0); err != nil {
			return nil, err
		}
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	if err := checkBounds(from, to); err != nil {
		return nil, err
	}
	if err := r.checkWherePII(ctx, q.Conversion.Where, "conversion.where"); err != nil {
		return nil, err
	}
	if q.Touchpoints != nil {
		if err := r.checkWherePII(ctx, q.Touchpoints.Where, "touchpoints.where"); err != nil {
			return nil, err
		}
	}
	var res intel.AttributionResult
	if ev, scope, ok, err := r.evaluator(ctx, filter); err != nil {
		return nil, filterErr(err)
	} else if ok {
		if res, err = ev.EvalAttribution(ctx, q, scope); err != nil {
			return nil, filterErr(err)
		}
	} else {
		a := intel.NewAttribution(q)
		evFrom, evTo := q.Events()
		if err := r.intelScan(ctx, filter, evFrom, evTo, q.ReadsProperties(), a.Add); err != nil {
			return nil, filterErr(err)
		}
		res = a.Result()
	}
	res = withholdKeys(r, ctx, res)
	out := &gql.Attribution{Conversions: res.Conversions, Credits: []*gql.AttributionCredit{}}
	for _, c := range res.Credits {
		out.Credits = append(out.Credits, &gql.AttributionCredit{Key: c.Key, Credit: c.Credit, Share: c.Share})
	}
	return out, nil
}

func (r *Resolver) paths(ctx context.Context, start gql.EventMatch, depth, first *int, within *string, from, to *time.Time, filter *gql.AudienceFilter) ([]*gql.Path, error) {
	if err := emptyMatch(&start, "start"); err != nil {
		return nil, err
	}
	q := intel.PathsQuery{Start: eventMatch(&start), Depth: 3, First: 10, Window: intelWindow(from, to)}
	if depth != nil {
		q.Depth = *depth
	}
	if first != nil {
		q.First = *first
	}
	if within != nil {
		var err error
		if q.Within, err = intel.ParseSpan("within", *within, intel.MaxLookback); err != nil {
			return nil, err
		}
	}
	if err := q.Check(); err != nil {
		return nil, err
	}
	if err := checkBounds(from, to); err != nil {
		return nil, err
	}
	if err := r.checkWherePII(ctx, q.Start.Where, "start.where"); err != nil {
		return nil, err
	}
	if !unmasked(ctx) {
		// Names are withheld before the paths are counted and cut, so
		// that those that become one are counted as one.
		q.Withhold = access.Masked
	}
	var paths []intel.Path
	if ev, scope, ok, err := r.evaluator(ctx, filter); err != nil {
		return nil, filterErr(err)
	} else if ok {
		res, err := ev.EvalPaths(ctx, q, scope)
		if err != nil {
			return nil, filterErr(err)
		}
		paths = res.Paths
	} else {
		p := intel.NewPaths(q)
		evFrom, evTo := q.Events()
		if err := r.intelScan(ctx, filter, evFrom, evTo, q.ReadsProperties(), p.Add); err != nil {
			return nil, filterErr(err)
		}
		paths = p.Result()
	}
	if unmasked(ctx) && intel.PathsPersonal(paths) {
		r.noteRead(ctx)
	}
	out := []*gql.Path{}
	for _, x := range paths {
		evs := x.Events
		if evs == nil {
			evs = []string{}
		}
		out = append(out, &gql.Path{Events: evs, Count: x.Count, Share: x.Share})
	}
	return out, nil
}

// withholdKeys returns the answer res (a funnel's or an attribution's) as
// the caller may see it. Its keys are totals over many people, whose own
// values cannot be searched for in them as their journeys' texts are:
// without pii:read each key that looks like personal data (an @, or 7 or
// more digits in a row: graph.LooksPersonal) reads access.Masked, the
// figures of the keys that become one added; with it the keys are shown
// as stored, and an answer that shows such a key notes a read for its
// root field, which names no profile.
func withholdKeys[T interface {
	Personal() bool
	Withhold(token string) T
}](r *Resolver, ctx context.Context, res T) T {
	if !unmasked(ctx) {
		return res.Withhold(access.Masked)
	}
	if res.Personal() {
		r.noteRead(ctx)
	}
	return res
}

// priceIntel prices funnel, attribution and paths as scans of every
// profile; their answers are small.
func priceIntel(c *gql.ComplexityRoot) {
	c.Query.Funnel = func(child int, _ []*gql.EventMatch, _ string, _, _ *time.Time, _ *gql.AudienceFilter, _ *bool) int {
		return satAdd(scanCost, child)
	}
	c.Query.Attribution = func(child int, _ gql.EventMatch, _ *gql.EventMatch, _ gql.AttributionDimension, _ gql.AttributionModel, _ string, _ *string, _, _ *time.Time, _ *gql.AudienceFilter) int {
		return satAdd(scanCost, child)
	}
	c.Query.Lookalike = func(child int, _ string, size int, _ *string) int {
		// Two scans and a fit; the answer holds up to size profiles.
		return satAdd(2*scanCost+fitCost, satMul(max(1, min(size, intel.MaxLookalike)), child))
	}
	c.Query.Paths = func(child int, _ gql.EventMatch, _, first *int, _ *string, _, _ *time.Time, _ *gql.AudienceFilter) int {
		return satAdd(scanCost, satMul(pageCost(first, 10, intel.MaxPaths), child))
	}
}

func (r *Resolver) lookalike(ctx context.Context, audienceID string, size int, purpose *string) ([]*gql.LookalikeMatch, error) {
	k, st, err := r.keeper()
	if err != nil {
		return nil, domainErr(err)
	}
	if !audience.ValidAudienceID(audienceID) {
		return nil, invalidArg("audienceId", "is not an audience id (%s followed by 32 lowercase hex digits)", audience.AudienceIDPrefix)
	}
	if size < 1 || size > intel.MaxLookalike {
		return nil, invalidArg("size", "must be 1 to %d, got %d", intel.MaxLookalike, size)
	}
	p, err := r.previewPurpose(purpose)
	if err != nil {
		return nil, domainErr(err)
	}
	if _, ok, err := storedAudience(ctx, st, audienceID); err != nil {
		return nil, domainErr(err)
	} else if !ok {
		return nil, graph.Errorf(graph.ENOTFOUND, "argument %q names no stored audience", "audienceId")
	}
	now := graph.Now()
	r.settle(ctx)
	var ms []intel.LookalikeMatch
	cs, err := r.consentStore()
	if err != nil {
		return nil, domainErr(err)
	}
	defs, err := st.ComputedTraits(ctx)
	if err != nil {
		return nil, domainErr(err)
	}
	seed, err := intel.SeedOf(ctx, st, audienceID)
	if err != nil {
		return nil, domainErr(err)
	}
	// Neo4j, holding the memberships and consent itself: one streaming
	// statement per pass.
	if rd, ok := r.engine.Store().(intel.LookalikeReader); ok && any(st) == any(rd) && any(cs) == any(rd) {
		scope, err := k.Query(ctx, nil)
		if err != nil {
			return nil, domainErr(err)
		}
		scope.Now, scope.Purpose, scope.Filter = now, p, seed
		ms, err = intel.LookalikeFrom(ctx, rd, audienceID, size, scope)
		if err != nil {
			return nil, domainErr(err)
		}
	} else {
		subjects := func(ctx context.Context, ids []string) (map[string]*audience.Subject, error) {
			return keep.Subjects(ctx, r.engine, st, cs, defs, ids, now)
		}
		ms, err = intel.Lookalike(ctx, r.engine.Store(), subjects, audienceID, seed, size, p, now)
		if err != nil {
			return nil, domainErr(err)
		}
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ProfileID
	}
	var ps map[string]graph.Profile
	err = r.engine.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		ps, err = tx.Profiles(ctx, ids)
		return err
	})
	if err != nil {
		return nil, domainErr(err)
	}
	byName := make(map[string]audience.ComputedTrait, len(defs))
	for _, d := range defs {
		byName[d.Name] = d
	}
	// Reasons are made only when asked for: with pii:read, making them
	// notes a read of personal values for the audit log, which must not
	// name an answer that showed none.
	withReasons := slices.Contains(graphql.CollectAllFields(ctx), "reasons")
	out := []*gql.LookalikeMatch{}
	for i := range ms {
		m := &ms[i]
		p, ok := ps[m.ProfileID]
		if !ok || !p.Live() {
			continue // merged away or erased since it was scored
		}
		// Reasons name trait values: masked as the profile's traits are.
		var reasons []string
		if withReasons {
			members, err := r.members(ctx, &p)
			if err != nil {
				return nil, err
			}
			reasons = r.lookalikeReasons(ctx, &p, m, byName, r.membersFinder(ctx, p.ID, members))
		}
		out = append(out, &gql.LookalikeMatch{Profile: &p, Score: m.Score, Reasons: reasons})
	}
	return out, nil
}
