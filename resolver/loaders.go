package resolver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Dataloaders, built per request.
//
// gqlgen resolves the elements of a list concurrently, so the fields of 100
// sibling profiles ask for their data at about the same time. A resolver
// that produces a list (a page of profiles, a journey page, a mutation's
// profiles) hints its keys as siblings; the first load of any sibling
// fetches all of them with one batch call of the engine, and the others
// wait for that call. Batches therefore depend on the shape of the result,
// not on timing, so a query costs the same number of store reads for 10
// profiles as for 100. Keys nobody hinted fall back to a dataloadgen loader,
// which batches what arrives within a short window.

// fallbackWait is how long dataloadgen gathers un-hinted keys.
const fallbackWait = 2 * time.Millisecond

// siblingSet is a group of keys produced together.
type siblingSet struct{ keys []string }

// siblings remembers, per key, the set it was first hinted in.
type siblings struct {
	mu sync.Mutex
	of map[string]*siblingSet
}

func newSiblings() *siblings { return &siblings{of: map[string]*siblingSet{}} }

// hint records keys as siblings. Keys already hinted keep their set.
func (s *siblings) hint(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := &siblingSet{}
	for _, k := range keys {
		if _, ok := s.of[k]; ok || k == "" {
			continue
		}
		s.of[k] = set
		set.keys = append(set.keys, k)
	}
}

func (s *siblings) setOf(k string) *siblingSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.of[k]
}

type fetchFunc[V any] func(ctx context.Context, keys []string) (map[string]V, error)

type group[V any] struct {
	once sync.Once
	vals map[string]V
	err  error
}

// batch loads values by key: hinted keys by sibling set, the rest through
// dataloadgen.
//
// A request builds every batch but uses few (a lookup, two or three), so
// what a batch needs only when used is made on first use: its dataloadgen
// loader (dlOnce) and its groups (under mu).
type batch[V any] struct {
	sibs   *siblings
	fetch  fetchFunc[V]
	dlOnce sync.Once
	dl     *dataloadgen.Loader[string, V]
	mu     sync.Mutex
	groups map[*siblingSet]*group[V]
}

func newBatch[V any](sibs *siblings, fetch fetchFunc[V]) *batch[V] {
	return &batch[V]{sibs: sibs, fetch: fetch}
}

// groupLocked returns set's group, made on first use; b.mu must be held.
func (b *batch[V]) groupLocked(set *siblingSet) *group[V] {
	g := b.groups[set]
	if g == nil {
		if b.groups == nil {
			b.groups = map[*siblingSet]*group[V]{}
		}
		g = &group[V]{}
		b.groups[set] = g
	}
	return g
}

// load returns the value of key and whether it exists.
func (b *batch[V]) load(ctx context.Context, key string) (V, bool, error) {
	var zero V
	if set := b.sibs.setOf(key); set != nil {
		b.mu.Lock()
		g := b.groupLocked(set)
		b.mu.Unlock()
		g.once.Do(func() {
			defer panicked(&g.err)
			g.vals, g.err = b.fetch(ctx, set.keys)
		})
		if g.err != nil {
			return zero, false, g.err
		}
		v, ok := g.vals[key]
		return v, ok, nil
	}
	b.dlOnce.Do(func() { b.dl = dataloadgen.NewMappedLoader(b.fetch, dataloadgen.WithWait(fallbackWait)) })
	v, err := b.dl.Load(ctx, key)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, err
	}
	return v, true, nil
}

// prime stores a value already at hand, unless key was hinted before.
func (b *batch[V]) prime(key string, v V) { b.primeAll(map[string]V{key: v}) }

// primeAll stores values already at hand as one settled sibling set; keys
// hinted before keep their set and are left alone. The group is in place
// before the keys become visible, so no load of them reaches the store.
func (b *batch[V]) primeAll(vals map[string]V) {
	b.sibs.mu.Lock()
	defer b.sibs.mu.Unlock()
	set := &siblingSet{}
	g := &group[V]{vals: make(map[string]V, len(vals))}
	for k, v := range vals {
		if _, ok := b.sibs.of[k]; ok || k == "" {
			continue
		}
		set.keys = append(set.keys, k)
		g.vals[k] = v
	}
	if len(set.keys) == 0 {
		return
	}
	g.once.Do(func() {})
	b.mu.Lock() // order: sibs.mu, then b.mu; load never holds b.mu while taking sibs.mu
	if b.groups == nil {
		b.groups = map[*siblingSet]*group[V]{}
	}
	b.groups[set] = g
	b.mu.Unlock()
	for _, k := range set.keys {
		b.sibs.of[k] = set
	}
}

// loaderState is one generation of loaders; a mutation starts a new one so
// that nothing read before it is served after it.
type loaderState struct {
	profileSibs *siblings // profile ids
	identSibs   *siblings // identifier keys
	eventSibs   *siblings // event ids
	ownSibs     *siblings // profile ids whose Profile value is at hand

	profiles *batch[graph.Profile]         // by id, following merges
	members  *batch[[]graph.Identifier]    // by profile id
	history  *batch[[]graph.ProfileChange] // by profile id
	graphs   *batch[graph.GraphView]       // identity graphs, by profile id
	idents   *batch[graph.Identifier]      // by key
	events   *batch[graph.Event]           // by id
	consent  *batch[[]privacy.Record]      // by profile id; built on first use, under mu
	// computed and memberships serve Profile.computed and
	// Profile.audiences (audiences.go); built on first use, under mu.
	computed    *batch[*computedVals]
	memberships *batch[[]*gql.AudienceMembership]

	// audienceSibs are audience ids produced together (a page of
	// audiences, the audiences of a page of profiles): Audience.members
	// and Audience.changes of siblings that ask the same page share one
	// store read (audiences.go).
	audienceSibs *siblings

	mu       sync.Mutex
	journeys map[string]*batch[[]graph.Event] // by query shape, then profile id
	// finders are the searches for a person's values inside texts
	// (hideFound), built once a request: by *graph.Event for an event's,
	// by profile id for a profile's members'; under mu.
	finders map[any]*graph.Erased
	// audienceMembers and audienceChanges are by page asked, then
	// audience id; under mu.
	audienceMembers map[audience.Page]*batch[memberRows]
	audienceChanges map[changePageKey]*batch[[]audience.Change]

	// explained holds the answers of explainLink by its normalized pair:
	// Profile.explainLink asks the same of every profile of a list.
	explainMu sync.Mutex
	explained map[[2]graph.IdentifierRef]*explainCall

	// defs are the computed trait definitions by name, read once per
	// request (computedDefs), under defsMu.
	defsMu sync.Mutex
	defs   map[string]audience.ComputedTrait

	// purposesStored holds, by purpose the rules do not name, whether a
	// stored record has it (consentPurposeStored): asked once per
	// request, however many profiles' consentHistory name it. Under
	// purposesMu.
	purposesMu     sync.Mutex
	purposesStored map[string]*purposeCall
}

// loaders is the per-request entry point.
type loaders struct {
	engine *graph.Engine
	state  atomic.Pointer[loaderState]
}

type loadersKey struct{}

func newLoaders(e *graph.Engine) *loaders {
	l := &loaders{engine: e}
	l.reset()
	return l
}

func withLoaders(ctx context.Context, l *loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// loadersFrom returns the request's loaders. A context without them (a
// resolver called outside the handler) gets fresh ones, so nothing breaks.
func (r *Resolver) loaders(ctx context.Context) *loaderState {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		return l.state.Load()
	}
	return newLoaders(r.engine).state.Load()
}

func resetLoaders(ctx context.Context) {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		l.reset()
	}
}

func (l *loaders) reset() {
	e := l.engine
	s := &loaderState{
		profileSibs: newSiblings(),
		identSibs:   newSiblings(),
		eventSibs:   newSiblings(),
		ownSibs:     newSiblings(),
		journeys:    map[string]*batch[[]graph.Event]{},

		audienceSibs:    newSiblings(),
		audienceMembers: map[audience.Page]*batch[memberRows]{},
		audienceChanges: map[changePageKey]*batch[[]audience.Change]{},
	}
	s.profiles = newBatch(s.ownSibs, func(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
		return e.ProfilesByIDs(ctx, ids)
	})
	s.members = newBatch(s.profileSibs, e.Members)
	s.history = newBatch(s.profileSibs, e.History)
	s.graphs = newBatch(s.profileSibs, e.IdentityGraphs)
	s.idents = newBatch(s.identSibs, func(ctx context.Context, keys []string) (map[string]graph.Identifier, error) {
		out, err := e.Identifiers(ctx, keys)
		if err == nil {
			// Their profiles are siblings too (Event.identifiers.profile).
			pids := make([]string, 0, len(out))
			for _, id := range out {
				pids = append(pids, id.ProfileID)
			}
			s.ownSibs.hint(pids)
		}
		return out, err
	})
	s.events = newBatch(s.eventSibs, func(ctx context.Context, ids []string) (map[string]graph.Event, error) {
		out, err := e.Events(ctx, ids)
		if err == nil {
			var keys []string
			for _, ev := range out {
				keys = append(keys, ev.Keys...)
			}
			s.identSibs.hint(keys)
		}
		return out, err
	})
	l.state.Store(s)
}

// hintProfiles records profiles produced together and keeps their values,
// so their fields load together and Identifier.profile needs no read.
func (s *loaderState) hintProfiles(ps []*graph.Profile) {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	s.profileSibs.hint(ids)
	for _, p := range ps {
		s.profiles.prime(p.ID, *p)
	}
}

// primeLookup keeps what one lookup read: the profile (see hintProfiles)
// and its members, as the profile's members and as identifiers by key, so
// the profile's identifiers, traits and profile need no further read.
func (s *loaderState) primeLookup(p *graph.Profile, members []graph.Identifier) {
	s.members.prime(p.ID, members) // before hintProfiles, which would claim the id
	s.hintProfiles([]*graph.Profile{p})
	byKey := make(map[string]graph.Identifier, len(members))
	for _, m := range members {
		byKey[m.Key] = m
	}
	s.idents.primeAll(byKey)
}

// journeyShape names a journey query apart from its profiles. Times are
// written as Unix seconds and nanoseconds, not as JSON, which refuses a
// year past 9999 (a bound of 9999-12-31T23:59:59.9999999Z rounds up to
// one): every such query then had one name, and shared one answer.
func journeyShape(q graph.JourneyQuery) string {
	stamp := func(t time.Time) string {
		return strconv.FormatInt(t.Unix(), 10) + "." + strconv.Itoa(t.Nanosecond())
	}
	after := "-"
	if c := q.After; c != nil {
		after = stamp(c.Timestamp) + " " + strconv.Quote(c.ID)
	}
	return fmt.Sprintf("%q %q %s %s %s %d %t", q.Types, q.Channels, stamp(q.From), stamp(q.To), after, q.Limit, q.NoPayload)
}

// journey loads one page of a profile's journey; profiles hinted together
// share one engine call per query shape.
func (s *loaderState) journey(ctx context.Context, e *graph.Engine, pid string, q graph.JourneyQuery) ([]graph.Event, error) {
	shape := journeyShape(q)
	s.mu.Lock()
	b := s.journeys[shape]
	if b == nil {
		b = newBatch(s.profileSibs, func(ctx context.Context, pids []string) (map[string][]graph.Event, error) {
			out, err := e.Journeys(ctx, pids, q)
			if err == nil {
				var keys []string
				for _, evs := range out {
					for _, ev := range evs {
						keys = append(keys, ev.Keys...)
					}
				}
				s.identSibs.hint(keys)
			}
			return out, err
		})
		s.journeys[shape] = b
	}
	s.mu.Unlock()
	evs, _, err := b.load(ctx, pid)
	return evs, err
}

// explainCall is one explainLink of a request, run once for every field
// that asks it.
type explainCall struct {
	once sync.Once
	ex   graph.Explanation
	err  error
}

// explain returns what Engine.ExplainLink answers for a and b, asking it
// once per request (per generation of loaders).
func (s *loaderState) explain(ctx context.Context, e *graph.Engine, a, b graph.IdentifierRef) (graph.Explanation, error) {
	s.explainMu.Lock()
	if s.explained == nil {
		s.explained = map[[2]graph.IdentifierRef]*explainCall{}
	}
	c := s.explained[[2]graph.IdentifierRef{a, b}]
	if c == nil {
		c = &explainCall{}
		s.explained[[2]graph.IdentifierRef{a, b}] = c
	}
	s.explainMu.Unlock()
	c.once.Do(func() {
		defer panicked(&c.err)
		c.ex, c.err = e.ExplainLink(ctx, a, b)
	})
	return c.ex, c.err
}

// panicked, deferred in a sync.Once shared by sibling fields, leaves an
// error for the siblings when the read panics (the once is done either
// way, and they would otherwise take its zero value for an answer), and
// panics on, so that the field that ran it fails as any panic does.
func panicked(err *error) {
	if p := recover(); p != nil {
		*err = errors.New("internal error: a read shared by this field panicked")
		panic(p)
	}
}
