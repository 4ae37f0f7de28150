package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Audiences and computed traits in GraphQL (audiences.graphqls): the
// definitions of computed traits and audiences, Profile.computed (computed
// when read, from the profile's journey), and the membership the audience
// keeper writes (Audience.members, Audience.changes, Profile.audiences),
// which this file only reads.

// Cursor kinds of the audience lists.
const (
	cursorKindAudiences = "audiences"
	cursorKindMembers   = "audienceMembers"
	cursorKindChanges   = "audienceChanges"
)

// maxComputedEvents bounds the events Profile.computed reads per profile,
// inside the widest window of the defined traits: a profile with more gets
// an error for the field rather than values computed from part of its
// events. A variable for tests.
var maxComputedEvents = 1_000_000

// computedPage is the journey page size Profile.computed reads with: a
// variable for tests, as is afterComputedPage, which (when set) runs after
// each page a profile's further pages read.
var (
	computedPage      = graph.MaxPage
	afterComputedPage func()
)

// computedAttempts is how many times Profile.computed reads a profile's
// events that a merge or split changes under it before it answers an
// error (ECONFLICT) for the field.
const computedAttempts = 3

// audienceStore is Config.Audiences, or the engine's store (or the store it
// wraps) when it keeps audiences.
func (r *Resolver) audienceStore() (audience.Store, error) {
	if r.cfg.Audiences != nil {
		return r.cfg.Audiences, nil
	}
	s := r.engine.Store()
	for {
		if as, ok := s.(audience.Store); ok {
			return as, nil
		}
		w, ok := s.(interface{ Unwrap() graph.Store })
		if !ok {
			return nil, graph.Errorf(graph.EUNAVAILABLE, "audiences and computed traits are not served by this server (its store keeps none)")
		}
		s = w.Unwrap()
	}
}

// --- computed trait definitions ---

func ctFromInput(in gql.ComputedTraitInput) audience.ComputedTrait {
	c := audience.ComputedTrait{
		Name:        in.Name,
		Description: deref(in.Description),
		Aggregate:   audience.Aggregate(in.Aggregate),
		Event:       deref(in.Event),
		// In the form ingest stores types, as an audience filter's event
		// type: "Track" counts the track events.
		EventType: audience.StoredEventType(deref(in.EventType)),
		Property:  deref(in.Property),
		Window:    deref(in.Window),
	}
	if in.Where != nil {
		c.Where = make([]audience.PropertyFilter, len(in.Where))
		for i, w := range in.Where {
			c.Where[i] = propertyFilter(w)
		}
	}
	return c
}

func (r *Resolver) defineComputedTrait(ctx context.Context, in gql.ComputedTraitInput) (*audience.ComputedTrait, error) {
	entry := newEntry(ctx, "defineComputedTrait", "")
	fail := func(err error) (*audience.ComputedTrait, error) {
		r.auditFailure(ctx, entry, err)
		return nil, filterErr(err)
	}
	st, err := r.audienceStore()
	if err != nil {
		return fail(err)
	}
	// Given empty is not left out: the stored definition could not tell
	// them apart, and an empty window would count all time.
	if err := refuseEmpty("input.", field{"event", in.Event}, field{"eventType", in.EventType}, field{"window", in.Window}); err != nil {
		return fail(err)
	}
	c := ctFromInput(in)
	if err := c.Validate(); err != nil {
		return fail(err)
	}
	// A description is text as an audience's is. Checked here, not in
	// Validate, which stores run too: a definition stored before the rule
	// still restores from a backup.
	if p := graph.TextProblem(c.Description); p != "" {
		return fail(graph.Errorf(graph.EINVALID, "input.description: %s", p)) // as Validate words its faults
	}
	if err := r.checkWherePII(ctx, c.Where, "input.where"); err != nil {
		return fail(err)
	}
	entry.Reason = "computed trait " + c.Name
	now := graph.Now()
	c.CreatedAt, c.UpdatedAt = now, now
	wctx, alone := r.auditedWrite(ctx, st, entry)
	if err := st.PutComputedTrait(wctx, c); err != nil {
		return fail(err)
	}
	alone()
	defs, err := st.ComputedTraits(ctx)
	if err != nil {
		return nil, domainErr(err)
	}
	for i := range defs {
		if defs[i].Name == c.Name {
			return &defs[i], nil
		}
	}
	return &c, nil // deleted since: what was stored
}

func (r *Resolver) deleteComputedTrait(ctx context.Context, name string) (*bool, error) {
	entry := newEntry(ctx, "deleteComputedTrait", "")
	fail := func(err error) (*bool, error) {
		r.auditFailure(ctx, entry, err)
		return nil, domainErr(err)
	}
	st, err := r.audienceStore()
	if err != nil {
		return fail(err)
	}
	if audience.CheckComputedName(name) != nil {
		return fail(invalidArg("name", "is not a computed trait name (1 to %d characters of a-z, 0-9 and _, starting with a letter)", audience.MaxComputedNameLen))
	}
	entry.Reason = "computed trait " + name
	// The store refuses a trait an audience's filter uses, checked in the
	// transaction of the delete.
	wctx, alone := r.auditedWrite(ctx, st, entry)
	was, err := st.DeleteComputedTrait(wctx, name)
	if inUse := (*audience.InUseError)(nil); errors.As(err, &inUse) {
		err = graph.Errorf(graph.ECONFLICT, "argument %q: computed trait %s is used by the filter of audience %s; change that filter first", "name", name, strings.Join(inUse.Users, ", "))
	}
	if err != nil {
		return fail(err)
	}
	alone()
	return &was, nil
}

func (r *Resolver) computedTraits(ctx context.Context) ([]*audience.ComputedTrait, error) {
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	defs, err := st.ComputedTraits(ctx)
	if err != nil {
		return nil, domainErr(err)
	}
	out := make([]*audience.ComputedTrait, len(defs))
	for i := range defs {
		out[i] = &defs[i]
	}
	return out, nil
}

// whereJSON renders where filters as the JSON list of ComputedTrait.where,
// their values as the caller may see them (shownWhere); with pii:read, a
// personal value shown notes the read.
func (r *Resolver) whereJSON(ctx context.Context, where []audience.PropertyFilter) (any, error) {
	if len(where) == 0 {
		return []any{}, nil
	}
	where = slices.Clone(where)
	if r.shownWhere(ctx, where) && unmasked(ctx) {
		r.noteRead(ctx)
	}
	return toJSONValue(where)
}

// toJSONValue renders v as a plain JSON value (maps, lists, json.Number).
func toJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &internalError{err: fmt.Errorf("resolver: render as JSON: %w", err)}
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		return nil, &internalError{err: fmt.Errorf("resolver: render as JSON: %w", err)}
	}
	return out, nil
}

// --- Profile.computed ---

// computedVals is what Profile.computed reads for one profile.
type computedVals struct {
	defs map[string]audience.ComputedTrait
	vals map[string]any
	// err is set when the profile has more than maxComputedEvents events
	// to read; vals is then empty.
	err error
}

// computedFetch computes the traits of profiles from their journeys: one
// engine call for the first page of every profile, then further pages for
// the profiles that have more, to the end of each (at most
// maxComputedEvents). Every page of a profile must be read over the
// identifiers its first was (graph.Engine.JourneysOf), so that the values
// are those of the events of one set of identifiers, each once: a merge or
// split committed between two pages makes it read the profile again.
func (r *Resolver) computedFetch(ctx context.Context, pids []string) (map[string]*computedVals, error) {
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	list, err := st.ComputedTraits(ctx)
	if err != nil {
		return nil, err
	}
	defs := make(map[string]audience.ComputedTrait, len(list))
	for _, d := range list {
		defs[d.Name] = d
	}
	out := make(map[string]*computedVals, len(pids))
	for _, pid := range pids {
		out[pid] = &computedVals{defs: defs, vals: make(map[string]any, len(list))}
	}
	if len(list) == 0 {
		return out, nil
	}
	now := graph.Now()
	q := computedQuery(list, now)
	evs, members, err := r.engine.JourneysOf(ctx, pids, q)
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		got, moved, err := r.computedEvents(ctx, pid, q, evs[pid], members[pid])
		for try := 1; moved && try < computedAttempts; try++ {
			// A merge or split between two pages: read the profile again.
			var first map[string][]graph.Event
			if first, members, err = r.engine.JourneysOf(ctx, []string{pid}, q); err != nil {
				return nil, err
			}
			got, moved, err = r.computedEvents(ctx, pid, q, first[pid], members[pid])
		}
		if err != nil {
			return nil, err
		}
		if moved {
			out[pid].err = graph.Errorf(graph.ECONFLICT, "profile %s kept changing (merged or split) while its computed traits were read; ask again", pid)
			continue
		}
		if len(got) > maxComputedEvents {
			out[pid].err = graph.Errorf(graph.EINVALID, "profile %s has more than %d events inside the widest window of the computed traits, the most a read computes from; its kept values serve audiences", pid, maxComputedEvents)
			continue
		}
		for _, d := range list {
			out[pid].vals[d.Name] = d.Compute(got, now)
		}
	}
	return out, nil
}

// computedEvents reads the pages of pid's journey after got, its first
// (read over the identifiers keys), to the end (at most maxComputedEvents
// and one): moved when a page was read over other identifiers.
func (r *Resolver) computedEvents(ctx context.Context, pid string, q graph.JourneyQuery, got []graph.Event, keys []string) (_ []graph.Event, moved bool, _ error) {
	for last := got; len(last) == q.Limit && len(got) <= maxComputedEvents; {
		if afterComputedPage != nil {
			afterComputedPage()
		}
		next := q
		next.After = &graph.JourneyCursor{Timestamp: last[len(last)-1].Timestamp, ID: last[len(last)-1].ID}
		next.Limit = min(q.Limit, maxComputedEvents+1-len(got))
		more, members, err := r.engine.JourneysOf(ctx, []string{pid}, next)
		if err != nil {
			return nil, false, err
		}
		if !slices.Equal(members[pid], keys) {
			return nil, true, nil
		}
		last = more[pid]
		got = append(got, last...)
		if len(last) < next.Limit {
			break
		}
	}
	return got, false, nil
}

// computedQuery is the journey query the traits need: from the start of
// the widest window when every trait has one, of the types they name when
// every trait names one.
func computedQuery(defs []audience.ComputedTrait, now time.Time) graph.JourneyQuery {
	q := graph.JourneyQuery{Limit: computedPage}
	var from time.Time
	allWindowed, allTyped := true, true
	var types []string
	for _, d := range defs {
		if d.Window == "" {
			allWindowed = false
		} else if w, err := audience.ParseDuration(d.Window); err == nil {
			if s := w.Before(now.UTC()); from.IsZero() || s.Before(from) {
				from = s
			}
		}
		if d.EventType == "" {
			allTyped = false
		} else if !slices.Contains(types, d.EventType) {
			types = append(types, d.EventType)
		}
	}
	if allWindowed {
		q.From = from
	}
	if allTyped {
		q.Types = types
	}
	return q
}

func (r *Resolver) profileComputedVals(ctx context.Context, p *graph.Profile) (*computedVals, error) {
	s := r.loaders(ctx)
	s.mu.Lock()
	if s.computed == nil {
		s.computed = newBatch(s.profileSibs, r.computedFetch)
	}
	b := s.computed
	s.mu.Unlock()
	v, ok, err := b.load(ctx, p.ID)
	if err != nil {
		return nil, domainErr(err)
	}
	if !ok {
		return &computedVals{}, nil
	}
	return v, nil
}

// computedValue is a computed value as the caller may see it: masked as
// the value at its property's path inside an event's properties is (a
// personal name anywhere on the path hides it; counts reveal no value and
// are never masked).
func (r *Resolver) computedValue(ctx context.Context, d audience.ComputedTrait, v any) any {
	if v == nil || d.Aggregate == audience.AggCount || d.Aggregate == audience.AggUniqueCount {
		return v
	}
	// Masked as the same value inside the event's properties would be: a
	// personal name anywhere on the property's path hides it.
	path := strings.Split(d.Property, ".")
	if unmasked(ctx) {
		if m, ok := nestAt(path, v).(map[string]any); ok && r.mask.HasPersonal(m) {
			r.noteRead(ctx)
		}
		return v
	}
	return r.maskedAt(path, v)
}

func (r *Resolver) profileComputed(ctx context.Context, p *graph.Profile) (any, error) {
	cv, err := r.profileComputedVals(ctx, p)
	if err != nil {
		return nil, err
	}
	if cv.err != nil {
		return nil, cv.err
	}
	x, err := r.profileValues(ctx, p, cv.vals)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(cv.vals))
	for name, v := range cv.vals {
		out[name] = r.computedShown(ctx, x, cv.defs[name], v)
	}
	return out, nil
}

// profileValues is membersFinder for p, whose members are read only when
// vals holds a value to search.
func (r *Resolver) profileValues(ctx context.Context, p *graph.Profile, vals map[string]any) (func() *graph.Erased, error) {
	if len(vals) == 0 {
		return func() *graph.Erased { return nil }, nil
	}
	ms, err := r.members(ctx, p)
	if err != nil {
		return nil, err
	}
	return r.membersFinder(ctx, p.ID, ms), nil
}

// computedShown is computedValue, which also hides (hideFound) the
// person's values the search x builds finds in a value that masking by
// its path shows.
func (r *Resolver) computedShown(ctx context.Context, x func() *graph.Erased, d audience.ComputedTrait, v any) any {
	shown := r.computedValue(ctx, d, v)
	if !reflect.DeepEqual(shown, v) {
		return shown // masked by its path already
	}
	return r.hideFound(ctx, x, shown)
}

func (r *Resolver) profileComputedTrait(ctx context.Context, p *graph.Profile, name string) (any, error) {
	cv, err := r.profileComputedVals(ctx, p)
	if err != nil {
		return nil, err
	}
	if cv.err != nil {
		return nil, cv.err
	}
	d, ok := cv.defs[name]
	if !ok {
		return nil, invalidArg("name", "names no defined computed trait (see computedTraits)")
	}
	x, err := r.profileValues(ctx, p, cv.vals)
	if err != nil {
		return nil, err
	}
	return r.computedShown(ctx, x, d, cv.vals[name]), nil
}

// --- filters ---

// jsonNumbers gives every number of a JSON input value as a json.Number,
// the form a stored filter reads back in (audience.DecodeFilter), so a
// filter compares and stores the same whichever way it came. A number that
// is not finite is left as it is, for audience.Check to refuse.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case int:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return x
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonNumbers(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonNumbers(e)
		}
		return out
	}
	return v
}

func propertyFilter(w *gql.PropertyFilter) audience.PropertyFilter {
	if w == nil {
		return audience.PropertyFilter{}
	}
	return audience.PropertyFilter{Path: w.Path, Op: audience.Op(w.Op), Value: jsonNumbers(w.Value)}
}

// emptyGiven refuses an event condition's name, type or window given as
// an empty string: the stored filter cannot tell it from one left out, so
// an empty name would select any event and an empty window all time.
func emptyGiven(in *gql.AudienceFilter, path string) error {
	if in == nil {
		return nil
	}
	for i, c := range in.And {
		if err := emptyGiven(c, fmt.Sprintf("%s.and[%d]", path, i)); err != nil {
			return err
		}
	}
	for i, c := range in.Or {
		if err := emptyGiven(c, fmt.Sprintf("%s.or[%d]", path, i)); err != nil {
			return err
		}
	}
	if err := emptyGiven(in.Not, path+".not"); err != nil {
		return err
	}
	if c := in.Event; c != nil {
		return refuseEmpty(path+".event.", field{"name", c.Name}, field{"type", c.Type}, field{"within", c.Within})
	}
	return nil
}

// field is an optional string argument and its name.
type field struct {
	name string
	v    *string
}

// refuseEmpty refuses an event name, event type and window (in that
// order, named at prefix + their names) given as an empty string.
func refuseEmpty(prefix string, name, typ, window field) error {
	for _, f := range []struct {
		field
		absent string
	}{{name, "events of any name"}, {typ, "events of any type"}, {window, "all time"}} {
		if f.v != nil && *f.v == "" {
			return invalidArg(prefix+f.name, "must not be empty; leave it out for %s", f.absent)
		}
	}
	return nil
}

// filterFromInput converts the GraphQL filter tree; it checks nothing
// (audience.Check does). Set lists stay set when empty, so Check refuses
// them.
func filterFromInput(in *gql.AudienceFilter) audience.Filter {
	var f audience.Filter
	if in == nil {
		return f
	}
	if in.And != nil {
		f.And = make([]audience.Filter, len(in.And))
		for i, c := range in.And {
			f.And[i] = filterFromInput(c)
		}
	}
	if in.Or != nil {
		f.Or = make([]audience.Filter, len(in.Or))
		for i, c := range in.Or {
			f.Or[i] = filterFromInput(c)
		}
	}
	if in.Not != nil {
		n := filterFromInput(in.Not)
		f.Not = &n
	}
	if c := in.Trait; c != nil {
		f.Trait = &audience.TraitCondition{Name: c.Name, Op: audience.Op(c.Op), Value: jsonNumbers(c.Value)}
	}
	if c := in.Identifier; c != nil {
		f.Identifier = &audience.IdentifierCondition{Type: c.Type}
		if c.Exists != nil && !*c.Exists {
			no := false
			f.Identifier.Exists = &no
		}
	}
	if c := in.Event; c != nil {
		e := &audience.EventCondition{Name: deref(c.Name), Type: deref(c.Type), Within: deref(c.Within)}
		if c.Where != nil {
			e.Where = make([]audience.PropertyFilter, len(c.Where))
			for i, w := range c.Where {
				e.Where[i] = propertyFilter(w)
			}
		}
		if c.Count != nil {
			e.Count = &audience.CountCondition{Op: audience.Op(c.Count.Op), Value: c.Count.Value}
		}
		f.Event = e
	}
	if c := in.Consent; c != nil {
		f.Consent = &audience.ConsentCondition{Purpose: c.Purpose, Status: privacy.State(c.Status)}
	}
	if c := in.Computed; c != nil {
		f.Computed = &audience.ComputedCondition{Name: c.Name, Op: audience.Op(c.Op), Value: jsonNumbers(c.Value)}
	}
	if in.InAudience != nil {
		id := *in.InAudience
		f.InAudience = &id
	}
	return f
}

// audRef is an inAudience node of a filter and its path.
type audRef struct{ path, id string }

// walkFilter calls fn on every node of f with its path (audience.Walk).
func walkFilter(f *audience.Filter, path string, fn func(f *audience.Filter, path string)) {
	audience.Walk(f, path, fn)
}

func audienceRefs(f *audience.Filter, path string) []audRef {
	var out []audRef
	walkFilter(f, path, func(n *audience.Filter, p string) {
		if n.InAudience != nil {
			out = append(out, audRef{path: p + ".inAudience", id: *n.InAudience})
		}
	})
	return out
}

// checkFilter normalizes an audience filter given as path (its event
// types as ingest stores them, audience.Normalize) and validates it:
// audience.Check with the rules' purposes, the defined computed traits and the stored
// audiences; then, for a caller without pii:read, checkFilterPII (its
// FORBIDDEN refusal needs filterErr, not domainErr).
func (r *Resolver) checkFilter(ctx context.Context, st audience.Store, f *audience.Filter, path string) error {
	ps, err := r.purposes()
	if err != nil {
		return err
	}
	defs, err := st.ComputedTraits(ctx)
	if err != nil {
		return err
	}
	names := make(map[string]bool, len(defs))
	for _, d := range defs {
		names[d.Name] = true
	}
	refs := audienceRefs(f, path)
	// Membership is audiences:read data: a filter on it answers who is in
	// an audience (a count, a sample, a funnel of its members), and its
	// error would say whether the audience exists.
	if len(refs) > 0 && !access.PrincipalFrom(ctx).Has(access.ScopeAudiencesRead) {
		return inAudienceForbidden(ctx, refs[0].path)
	}
	var ids []string
	for _, ref := range refs {
		if audience.ValidAudienceID(ref.id) && !slices.Contains(ids, ref.id) {
			ids = append(ids, ref.id)
		}
	}
	var stored map[string]audience.Audience
	if len(ids) > 0 && len(ids) <= audience.MaxNodes {
		if stored, err = st.Audiences(ctx, ids); err != nil {
			return err
		}
	}
	// Event types are compared, and stored, as ingest stores them.
	audience.Normalize(f)
	env := audience.Env{
		Purposes: ps,
		Computed: func(name string) bool { return names[name] },
		Audience: func(id string) bool { _, ok := stored[id]; return ok },
	}
	if err := audience.Check(f, env, path); err != nil {
		return err
	}
	byName := make(map[string]audience.ComputedTrait, len(defs))
	for _, d := range defs {
		byName[d.Name] = d
	}
	return r.checkFilterPII(ctx, f, byName, path)
}

// checkCycle refuses a filter of audience self whose inAudience reaches
// self, directly or through stored audiences, naming the inAudience at
// fault and the chain (audience.FindCycle; the store checks again in the
// transaction of the put).
func (r *Resolver) checkCycle(ctx context.Context, st audience.Store, self string, f *audience.Filter, path string) error {
	cycle, err := audience.FindCycle(self, f, func(ids []string) (map[string]audience.Filter, error) {
		got, err := st.Audiences(ctx, ids)
		if err != nil {
			return nil, err
		}
		out := make(map[string]audience.Filter, len(got))
		for id, a := range got {
			out[id] = a.Filter
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	if cycle != nil {
		return cycle.At(path)
	}
	return nil
}

// putErr is the error of PutAudience as the caller sees it: a filter
// naming a computed trait or an audience that is not stored (deleted
// since checkFilter read them), or reaching its own audience (through a
// filter changed since checkCycle read it), both of which the store checks
// in the transaction of the put, is refused as checkFilter and checkCycle
// refuse it.
func putErr(err error) error {
	if missing := (*audience.MissingRefError)(nil); errors.As(err, &missing) {
		return missing.At("input.filter")
	}
	if cycle := (*audience.CycleError)(nil); errors.As(err, &cycle) {
		return cycle.At("input.filter")
	}
	return err
}

// changedErr names the argument of ReplaceAudience's refusal of an update
// made on an older read (ifUpdatedAt); other errors pass as they are.
func changedErr(err error) error {
	if changed := (*audience.ChangedError)(nil); errors.As(err, &changed) {
		return graph.Errorf(graph.ECONFLICT, "argument %q: the audience was changed since it was read (its updatedAt is now %s); read it again and make the change on what is stored",
			"ifUpdatedAt", changed.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	return err
}

// --- audiences ---

// audienceFromInput builds and checks the audience id would hold: a
// static one (whose members were saved) takes no filter, any other one
// needs one.
func (r *Resolver) audienceFromInput(ctx context.Context, st audience.Store, id string, in gql.AudienceInput, static bool) (audience.Audience, error) {
	a := audience.Audience{ID: id, Name: in.Name, Description: deref(in.Description), Static: static}
	if err := blankName("input.name", in.Name); err != nil {
		return a, err
	}
	if in.Purpose != nil {
		ps, err := r.purposes()
		if err != nil {
			return a, err
		}
		switch {
		case *in.Purpose == "":
			return a, invalidArg("input.purpose", "must not be empty; leave it out for an audience without a purpose")
		case !ps.Known(*in.Purpose):
			return a, invalidArg("input.purpose", "is not a known purpose; the purposes are %s", ps.String())
		}
		a.Purpose = *in.Purpose
	}
	switch {
	case static && in.Filter != nil:
		return a, invalidArg("input.filter", "must be left out: audience %s is static (its members were saved by createLookalikeAudience, not selected by a filter); only its name, description and purpose change", id)
	case !static && in.Filter == nil:
		return a, invalidArg("input.filter", "is required (a static audience, without one, is saved by createLookalikeAudience)")
	case !static:
		if err := emptyGiven(in.Filter, "input.filter"); err != nil {
			return a, err
		}
		a.Filter = filterFromInput(in.Filter)
	}
	if err := a.Validate(); err != nil {
		msg := graph.ErrorMessage(err)
		arg := "input"
		for _, f := range []string{"name", "description", "purpose", "filter"} {
			if strings.HasPrefix(msg, "audience "+f) {
				arg = "input." + f
			}
		}
		return a, graph.Errorf(graph.ErrorCode(err), "argument %q: %s", arg, msg)
	}
	if static {
		return a, nil
	}
	if err := r.checkFilter(ctx, st, &a.Filter, "input.filter"); err != nil {
		return a, err
	}
	return a, nil
}

// storedAudience reads one audience back.
func storedAudience(ctx context.Context, st audience.Store, id string) (*audience.Audience, bool, error) {
	got, err := st.Audiences(ctx, []string{id})
	if err != nil {
		return nil, false, domainErr(err)
	}
	a, ok := got[id]
	return &a, ok, nil
}

func (r *Resolver) createAudience(ctx context.Context, in gql.AudienceInput) (*audience.Audience, error) {
	entry := newEntry(ctx, "createAudience", "")
	fail := func(err error) (*audience.Audience, error) {
		r.auditFailure(ctx, entry, err)
		return nil, filterErr(err)
	}
	st, err := r.audienceStore()
	if err != nil {
		return fail(err)
	}
	id := audience.NewAudienceID()
	entry.Reason = "audience " + id
	a, err := r.audienceFromInput(ctx, st, id, in, false)
	if err != nil {
		return fail(err)
	}
	now := graph.Now()
	a.CreatedAt, a.UpdatedAt = now, now
	wctx, alone := r.auditedWrite(ctx, st, entry)
	if err := st.PutAudience(wctx, a); err != nil {
		return fail(putErr(err))
	}
	alone()
	got, ok, err := storedAudience(ctx, st, id)
	if err != nil || !ok {
		return nil, err // deleted since
	}
	return got, nil
}

func (r *Resolver) updateAudience(ctx context.Context, id string, in gql.AudienceInput, ifUpdatedAt *time.Time) (*audience.Audience, error) {
	entry := newEntry(ctx, "updateAudience", "")
	fail := func(err error) (*audience.Audience, error) {
		r.auditFailure(ctx, entry, err)
		return nil, filterErr(err)
	}
	st, err := r.audienceStore()
	if err != nil {
		return fail(err)
	}
	if !audience.ValidAudienceID(id) {
		return fail(invalidArg("id", "is not an audience id (%s followed by 32 lowercase hex digits)", audience.AudienceIDPrefix))
	}
	entry.Reason = "audience " + id
	old, ok, err := storedAudience(ctx, st, id)
	if err != nil {
		return fail(err)
	}
	if !ok {
		return fail(graph.Errorf(graph.ENOTFOUND, "argument %q names no stored audience", "id"))
	}
	var version time.Time
	if ifUpdatedAt != nil {
		version = *ifUpdatedAt
	}
	// Checked here for a quick answer, and by the store in the write.
	if err := audience.CheckVersion(id, version, old.UpdatedAt); err != nil {
		return fail(changedErr(err))
	}
	a, err := r.audienceFromInput(ctx, st, id, in, old.Static)
	if err != nil {
		return fail(err)
	}
	if err := r.checkCycle(ctx, st, id, &a.Filter, "input.filter"); err != nil {
		return fail(err)
	}
	a.CreatedAt, a.UpdatedAt = old.CreatedAt, graph.Now()
	wctx, alone := r.auditedWrite(ctx, st, entry)
	saved, err := st.ReplaceAudience(wctx, a, version)
	if err != nil {
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			// Deleted since it was read above.
			err = graph.Errorf(graph.ENOTFOUND, "argument %q names no stored audience", "id")
		}
		return fail(changedErr(putErr(err)))
	}
	alone()
	got, ok, err := storedAudience(ctx, st, id)
	if err != nil || !ok {
		return nil, err
	}
	if !got.UpdatedAt.Equal(saved) {
		// Another update committed since: the answer is the definition
		// this one saved, with its version, so that a caller saving again
		// on it (ifUpdatedAt) is refused rather than saving over the
		// other, which it never saw.
		got.Name, got.Description, got.Filter, got.Purpose, got.UpdatedAt = a.Name, a.Description, a.Filter, a.Purpose, saved
	}
	return got, nil
}

func (r *Resolver) deleteAudience(ctx context.Context, id string) (*bool, error) {
	entry := newEntry(ctx, "deleteAudience", "")
	fail := func(err error) (*bool, error) {
		r.auditFailure(ctx, entry, err)
		return nil, domainErr(err)
	}
	st, err := r.audienceStore()
	if err != nil {
		return fail(err)
	}
	if !audience.ValidAudienceID(id) {
		return fail(invalidArg("id", "is not an audience id (%s followed by 32 lowercase hex digits)", audience.AudienceIDPrefix))
	}
	entry.Reason = "audience " + id
	// The store refuses an audience another one names or a destination
	// sends, checked in the transaction of the delete.
	wctx, alone := r.auditedWrite(ctx, st, entry)
	was, err := st.DeleteAudience(wctx, id)
	if inUse := (*audience.InUseError)(nil); errors.As(err, &inUse) {
		if len(inUse.Users) > 0 {
			err = graph.Errorf(graph.ECONFLICT, "argument %q: the audience is named by inAudience in audience %s; change that filter first", "id", strings.Join(inUse.Users, ", "))
		} else {
			err = graph.Errorf(graph.ECONFLICT, "argument %q: the audience is sent by destination %s; remove it from that destination's audienceIds first", "id", strings.Join(inUse.Destinations, ", "))
		}
	}
	if err != nil {
		return fail(err)
	}
	alone()
	return &was, nil
}

func (r *Resolver) audience(ctx context.Context, id string) (*audience.Audience, error) {
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	if !audience.ValidAudienceID(id) {
		return nil, invalidArg("id", "is not an audience id (%s followed by 32 lowercase hex digits)", audience.AudienceIDPrefix)
	}
	a, ok, err := storedAudience(ctx, st, id)
	if err != nil || !ok {
		return nil, err
	}
	r.loaders(ctx).hintAudiences([]*audience.Audience{a})
	return a, nil
}

func (r *Resolver) audiences(ctx context.Context, first *int, after *string) (*gql.AudienceConnection, error) {
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	n, from, err := idPage(first, after, cursorKindAudiences)
	if err != nil {
		return nil, err
	}
	var as []audience.Audience
	if as, err = st.AudiencePage(ctx, audience.Page{After: from, Limit: n + 1}); err != nil {
		return nil, domainErr(err)
	}
	more := len(as) > n
	as = as[:min(len(as), n)]
	conn := &gql.AudienceConnection{
		Edges:    make([]*gql.AudienceEdge, len(as)),
		Nodes:    make([]*audience.Audience, len(as)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	for i := range as {
		a := &as[i]
		conn.Nodes[i] = a
		conn.Edges[i] = &gql.AudienceEdge{Cursor: encodeCursor(cursorBody{V: cursorVersion, K: cursorKindAudiences, ID: a.ID}), Node: a}
	}
	r.loaders(ctx).hintAudiences(conn.Nodes)
	if len(as) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(as)-1].Cursor
	}
	return conn, nil
}

// audienceFilterJSON renders the filter of a as Audience.filter shows it:
// its values as the caller may see them (shownFilter); with pii:read, a
// personal value shown notes the read.
func (r *Resolver) audienceFilterJSON(ctx context.Context, a *audience.Audience) (any, error) {
	if a.Static {
		return nil, nil
	}
	// A copy to mask: the stored filter, as it reads back.
	b, err := json.Marshal(a.Filter)
	if err != nil {
		return nil, &internalError{err: fmt.Errorf("resolver: render as JSON: %w", err)}
	}
	f, err := audience.DecodeFilter(b)
	if err != nil {
		return nil, &internalError{err: fmt.Errorf("resolver: render as JSON: %w", err)}
	}
	personal, err := r.shownFilter(ctx, &f)
	if err != nil {
		return nil, err
	}
	if personal && unmasked(ctx) {
		r.noteRead(ctx)
	}
	return toJSONValue(f)
}

// Saved filters in answers.
//
// A saved filter (Audience.filter) or where list (ComputedTrait.where)
// holds the values its conditions compare, and a value compared with a
// personal one is as personal: "trait email EQ ann@example.com" tells the
// email it looks for. Without pii:read, such a value is shown as masking
// shows the value it is compared with (a***@example.com, +*********67,
// ***; each value of an IN list on its own). Which values these are is
// the rule checkFilterPII and checkWherePII refuse filters by, so that
// read and write agree: a trait whose value hiddenAt hides, a computed
// trait computedHidden hides (one no longer defined counts as hidden), an
// event property (an event condition's or a computed trait's where) whose
// path hiddenAt hides. EXISTS and NOT_EXISTS compare no value.

// shownFilter masks, in place, the values of f's conditions that are
// personal, unless the caller holds pii:read; it reports whether f holds
// such a value (shown to a caller with pii:read).
func (r *Resolver) shownFilter(ctx context.Context, f *audience.Filter) (bool, error) {
	var (
		personal bool
		defs     map[string]audience.ComputedTrait // loaded on first need
		err      error
	)
	walkFilter(f, "", func(n *audience.Filter, _ string) {
		switch {
		case err != nil:
		case n.Trait != nil && n.Trait.Value != nil && r.hiddenAt(n.Trait.Name):
			personal = true
			n.Trait.Value = r.shownValue(ctx, n.Trait.Value, func(v any) any { return r.maskedAt([]string{n.Trait.Name}, v) })
		case n.Computed != nil && n.Computed.Value != nil:
			if defs == nil {
				if defs, err = r.computedDefs(ctx); err != nil {
					return
				}
			}
			d, ok := defs[n.Computed.Name]
			noPII := context.Background() // computedHidden and computedValue as seen without pii:read
			switch {
			case !ok: // no longer defined: its masking is unknown
				personal = true
				n.Computed.Value = r.shownValue(ctx, n.Computed.Value, func(any) any { return access.Masked })
			case r.computedHidden(noPII, d):
				personal = true
				n.Computed.Value = r.shownValue(ctx, n.Computed.Value, func(v any) any { return r.computedValue(noPII, d, v) })
			}
		case n.Event != nil && len(n.Event.Where) > 0:
			n.Event.Where = slices.Clone(n.Event.Where)
			if r.shownWhere(ctx, n.Event.Where) {
				personal = true
			}
		}
	})
	return personal, err
}

// shownWhere masks, in place, the values of where that compare an event
// property hiddenAt hides, unless the caller holds pii:read; it reports
// whether where holds such a value.
func (r *Resolver) shownWhere(ctx context.Context, where []audience.PropertyFilter) bool {
	personal := false
	for i := range where {
		w := &where[i]
		path := strings.Split(w.Path, ".")
		if w.Value == nil || !r.hiddenAt(path...) {
			continue
		}
		personal = true
		w.Value = r.shownValue(ctx, w.Value, func(v any) any { return r.maskedAt(path, v) })
	}
	return personal
}

// shownValue is v, a personal value a condition compares, as the caller
// may see it: as it is with pii:read, else masked by mask, each value of a
// list (IN) on its own.
func (r *Resolver) shownValue(ctx context.Context, v any, mask func(any) any) any {
	if unmasked(ctx) {
		return v
	}
	if l, ok := v.([]any); ok {
		out := make([]any, len(l))
		for i, e := range l {
			out[i] = mask(e)
		}
		return out
	}
	return mask(v)
}

// maskedAt is v as masking shows it to a caller without pii:read when it
// is the value at path inside traits or event properties: what traitMap
// does, as hiddenAt asks it.
func (r *Resolver) maskedAt(path []string, v any) any {
	m, ok := nestAt(path, v).(map[string]any)
	if !ok {
		return access.Masked // no path: nothing masks it, hide it whole
	}
	got := any(r.mask.Traits(m))
	for _, k := range path {
		m, ok := got.(map[string]any)
		if !ok {
			return got // masked above the value
		}
		got = m[k]
	}
	return got
}

// nestAt is v inside maps along path: {"a": {"b": v}} for path a.b, v
// itself for an empty path.
func nestAt(path []string, v any) any {
	for i := len(path) - 1; i >= 0; i-- {
		v = map[string]any{path[i]: v}
	}
	return v
}

// computedDefs returns the computed trait definitions by name.
// They are read once per request: a list of audiences masks each one's
// filter with them.
func (r *Resolver) computedDefs(ctx context.Context) (map[string]audience.ComputedTrait, error) {
	s := r.loaders(ctx)
	s.defsMu.Lock()
	defer s.defsMu.Unlock()
	if s.defs != nil {
		return s.defs, nil
	}
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	list, err := st.ComputedTraits(ctx)
	if err != nil {
		return nil, domainErr(err)
	}
	defs := make(map[string]audience.ComputedTrait, len(list))
	for _, d := range list {
		defs[d.Name] = d
	}
	s.defs = defs
	return defs, nil
}

// memberRows is what Audience.members reads of one audience: the rows of
// the page asked (one more than it shows, to tell whether more follow),
// and the profiles of every audience read with it, by id, as
// Engine.ProfilesByIDs gives them.
type memberRows struct {
	ms []audience.Membership
	ps map[string]graph.Profile
}

// changePageKey names a page of an audience's log apart from its audience.
type changePageKey struct {
	after bool
	at    string // RFC 3339 with nanoseconds, in UTC
	seq   uint64
	limit int
}

func changeKeyOf(p audience.ChangePage) changePageKey {
	k := changePageKey{after: p.After, limit: p.Limit}
	if p.After {
		k.at, k.seq = graph.Clean(p.AfterAt).Format(time.RFC3339Nano), p.AfterSeq
	}
	return k
}

// hintAudiences records audiences produced together, so that their
// members and changes load together.
func (s *loaderState) hintAudiences(as []*audience.Audience) {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	s.audienceSibs.hint(ids)
}

// audienceMemberRows loads the page p of the members of audience id.
// Sibling audiences that ask the same page share one
// Store.MembersOfAudiences and one Engine.ProfilesByIDs for all their
// members (fetchMembers).
func (r *Resolver) audienceMemberRows(ctx context.Context, id string, p audience.Page) (memberRows, error) {
	s := r.loaders(ctx)
	s.mu.Lock()
	b := s.audienceMembers[p]
	if b == nil {
		b = newBatch(s.audienceSibs, func(ctx context.Context, ids []string) (map[string]memberRows, error) {
			return r.fetchMembers(ctx, s, ids, p)
		})
		s.audienceMembers[p] = b
	}
	s.mu.Unlock()
	rows, _, err := b.load(ctx, id)
	return rows, err
}

// fetchMembers reads the page p of the members of audiences ids, and the
// profiles the pages show (all but the row past each page), in two reads
// whatever the number of audiences. The profiles shown are siblings.
func (r *Resolver) fetchMembers(ctx context.Context, s *loaderState, ids []string, p audience.Page) (map[string]memberRows, error) {
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	ms, err := st.MembersOfAudiences(ctx, ids, p)
	if graph.ErrorCode(err) == graph.ENOTFOUND {
		ms, err = nil, nil // deleted since they were read: no members
	}
	if err != nil {
		return nil, err
	}
	shown := p.Limit - 1
	var pids []string
	seen := map[string]bool{}
	for _, id := range ids {
		for _, m := range ms[id][:min(len(ms[id]), shown)] {
			if !seen[m.ProfileID] {
				seen[m.ProfileID] = true
				pids = append(pids, m.ProfileID)
			}
		}
	}
	var ps map[string]graph.Profile
	if len(pids) > 0 {
		if ps, err = r.engine.ProfilesByIDs(ctx, pids); err != nil {
			return nil, err
		}
	}
	var nodes []*graph.Profile
	for _, pid := range pids {
		if pr, ok := ps[pid]; ok && pr.ID == pid {
			nodes = append(nodes, &pr)
		}
	}
	s.hintProfiles(nodes)
	out := make(map[string]memberRows, len(ids))
	for _, id := range ids {
		out[id] = memberRows{ms: ms[id], ps: ps}
	}
	return out, nil
}

func (r *Resolver) audienceMembers(ctx context.Context, a *audience.Audience, first *int, after *string) (*gql.ProfileConnection, error) {
	if _, err := r.audienceStore(); err != nil {
		return nil, err
	}
	n, from, err := idPage(first, after, cursorKindMembers)
	if err != nil {
		return nil, err
	}
	rows, err := r.audienceMemberRows(ctx, a.ID, audience.Page{After: from, Limit: n + 1})
	if err != nil {
		return nil, domainErr(err)
	}
	ms := rows.ms
	more := len(ms) > n
	ms = ms[:min(len(ms), n)]
	pids := make([]string, len(ms))
	for i, m := range ms {
		pids[i] = m.ProfileID
	}
	conn := &gql.ProfileConnection{
		PageInfo:   &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
		TotalCount: a.Size,
		Edges:      []*gql.ProfileEdge{},
		Nodes:      []*graph.Profile{},
	}
	cursorOf := func(pid string) string {
		return encodeCursor(cursorBody{V: cursorVersion, K: cursorKindMembers, ID: pid})
	}
	now := graph.Now()
	for _, pid := range pids {
		p, ok := rows.ps[pid]
		if !ok || p.ID != pid {
			// Erased since the keeper wrote it, or merged away: a
			// survivor that is a member has a row of its own, listed
			// once, on whichever page holds it (the keeper moves the
			// merged row's membership to it).
			continue
		}
		if a.Purpose != "" {
			// The purpose holds now, as in an export: a member kept
			// while it granted, that has withdrawn since or whose
			// grant has expired, is not shown. The members of the
			// page (of every audience of the answer) read their
			// records in one members read and one ConsentOf.
			rs, err := r.consentOf(ctx, &p)
			if err != nil {
				return nil, err
			}
			if privacy.StateOf(rs, a.Purpose, now).State != privacy.StateGranted {
				continue
			}
		}
		conn.Nodes = append(conn.Nodes, &p)
		conn.Edges = append(conn.Edges, &gql.ProfileEdge{Cursor: cursorOf(pid), Node: &p})
	}
	// The page's cursors are those of the first and last rows read, shown
	// or not, so that a row skipped is never read again and a page whose
	// every row was skipped still leads on.
	if len(pids) > 0 {
		start, end := cursorOf(pids[0]), cursorOf(pids[len(pids)-1])
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	return conn, nil
}

// audienceChangeRows loads the page p of the log of audience id. Sibling
// audiences that ask the same page share one Store.ChangesOfAudiences;
// the profiles the pages name are siblings (Change.profile).
func (r *Resolver) audienceChangeRows(ctx context.Context, id string, p audience.ChangePage) ([]audience.Change, error) {
	s := r.loaders(ctx)
	key := changeKeyOf(p)
	s.mu.Lock()
	b := s.audienceChanges[key]
	if b == nil {
		b = newBatch(s.audienceSibs, func(ctx context.Context, ids []string) (map[string][]audience.Change, error) {
			st, err := r.audienceStore()
			if err != nil {
				return nil, err
			}
			cs, err := st.ChangesOfAudiences(ctx, ids, p)
			if graph.ErrorCode(err) == graph.ENOTFOUND {
				cs, err = nil, nil // deleted since they were read: no log
			}
			if err != nil {
				return nil, err
			}
			var pids []string
			for _, id := range ids {
				for _, c := range cs[id][:min(len(cs[id]), p.Limit-1)] {
					pids = append(pids, c.ProfileID)
				}
			}
			s.ownSibs.hint(pids)
			return cs, nil
		})
		s.audienceChanges[key] = b
	}
	s.mu.Unlock()
	cs, _, err := b.load(ctx, id)
	return cs, err
}

func (r *Resolver) audienceChanges(ctx context.Context, a *audience.Audience, first *int, after *string) (*gql.AudienceChangeConnection, error) {
	if _, err := r.audienceStore(); err != nil {
		return nil, err
	}
	n, err := accessPage(first)
	if err != nil {
		return nil, err
	}
	q := audience.ChangePage{Limit: n + 1}
	if after != nil {
		c, err := decodeCursor("after", cursorKindChanges, *after)
		if err != nil {
			return nil, err
		}
		t, terr := time.Parse(time.RFC3339Nano, c.T)
		seq, serr := strconv.ParseUint(c.ID, 10, 64)
		if terr != nil || serr != nil {
			return nil, graph.Errorf(graph.EINVALID, "argument %q is not a valid %s cursor: bad position", "after", cursorKindChanges)
		}
		q.After, q.AfterAt, q.AfterSeq = true, graph.Clean(t), seq
	}
	rows, err := r.audienceChangeRows(ctx, a.ID, q)
	if err != nil {
		return nil, domainErr(err)
	}
	// A copy: the rows are shared by every field that asks this page.
	read := slices.Clone(rows[:min(len(rows), n)])
	more := len(rows) > n
	cs := read
	if a.Purpose != "" {
		if cs, err = r.grantedEntries(ctx, a.Purpose, read); err != nil {
			return nil, err
		}
	}
	conn := &gql.AudienceChangeConnection{
		Edges:    make([]*gql.AudienceChangeEdge, len(cs)),
		Nodes:    make([]*audience.Change, len(cs)),
		PageInfo: &gql.PageInfo{HasNextPage: more, HasPreviousPage: after != nil},
	}
	cursorOf := func(c *audience.Change) string {
		return encodeCursor(cursorBody{V: cursorVersion, K: cursorKindChanges, ID: strconv.FormatUint(c.Seq, 10), T: graph.Clean(c.At).Format(time.RFC3339Nano)})
	}
	for i := range cs {
		c := &cs[i]
		conn.Nodes[i] = c
		conn.Edges[i] = &gql.AudienceChangeEdge{Cursor: cursorOf(c), Node: c}
	}
	// The page's cursors are those of the first and last rows read, shown
	// or not, as Audience.members': a row left out is never read again,
	// and a page whose every row was left out still leads on.
	if len(read) > 0 {
		start, end := cursorOf(&read[0]), cursorOf(&read[len(read)-1])
		conn.PageInfo.StartCursor, conn.PageInfo.EndCursor = &start, &end
	}
	return conn, nil
}

// grantedEntries returns the entries of cs, a page of the log of an
// audience with purpose, that the purpose lets through now: an ENTERED
// entry whose profile (the one now, the survivor of a merge) is not
// GRANTED for purpose at the time of the request (withdrawn, expired, a
// survivor without a grant), or no longer exists, is left out, so that the
// log does not show as entering a person whom Audience.members, an export
// and Profile.audiences do not show as a member. EXITED entries stay: a
// person leaving reveals no membership, and a reader following the log
// must see it. The profiles of the page read their consent in one
// ConsentOf.
func (r *Resolver) grantedEntries(ctx context.Context, purpose string, cs []audience.Change) ([]audience.Change, error) {
	s := r.loaders(ctx)
	now := map[string]*graph.Profile{} // by the id an entry names; nil when none
	var ps []*graph.Profile
	for _, c := range cs {
		if _, done := now[c.ProfileID]; done || c.Kind != audience.Entered {
			continue
		}
		p, ok, err := s.profiles.load(ctx, c.ProfileID)
		if err != nil && graph.ErrorCode(err) != graph.ENOTFOUND {
			return nil, domainErr(err)
		}
		now[c.ProfileID] = nil
		if err == nil && ok {
			now[c.ProfileID] = &p
			ps = append(ps, &p)
		}
	}
	s.hintProfiles(ps)
	at := graph.Now()
	out := make([]audience.Change, 0, len(cs))
	for _, c := range cs {
		if c.Kind == audience.Entered {
			p := now[c.ProfileID]
			if p == nil {
				continue
			}
			rs, err := r.consentOf(ctx, p)
			if err != nil {
				return nil, err
			}
			if privacy.StateOf(rs, purpose, at).State != privacy.StateGranted {
				continue
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (r *Resolver) changeProfile(ctx context.Context, c *audience.Change) (*graph.Profile, error) {
	p, ok, err := r.loaders(ctx).profiles.load(ctx, c.ProfileID)
	if err != nil {
		if graph.ErrorCode(err) == graph.ENOTFOUND {
			return nil, nil
		}
		return nil, domainErr(err)
	}
	if !ok {
		return nil, nil
	}
	if c.Kind == audience.Exited && p.ID != c.ProfileID {
		// The exit of a profile merged away: when the survivor is a
		// member now, the person is still in the audience, and its
		// profile must not read as leaving it.
		ms, err := r.profileAudiences(ctx, &p, nil)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(ms, func(m *gql.AudienceMembership) bool { return m.Audience.ID == c.AudienceID }) {
			return nil, nil
		}
	}
	return &p, nil
}

// membershipsFetch reads the kept memberships of profiles and their
// audiences: two store calls for sibling profiles.
func (r *Resolver) membershipsFetch(ctx context.Context, pids []string) (map[string][]*gql.AudienceMembership, error) {
	st, err := r.audienceStore()
	if err != nil {
		return nil, err
	}
	ms, err := st.MembershipsOf(ctx, pids)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, list := range ms {
		for _, m := range list {
			if !slices.Contains(ids, m.AudienceID) {
				ids = append(ids, m.AudienceID)
			}
		}
	}
	var as map[string]audience.Audience
	if len(ids) > 0 {
		if as, err = st.Audiences(ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make(map[string][]*gql.AudienceMembership, len(pids))
	for _, pid := range pids {
		list := []*gql.AudienceMembership{}
		for _, m := range ms[pid] {
			a, ok := as[m.AudienceID]
			if !ok {
				continue // deleted between the reads
			}
			list = append(list, &gql.AudienceMembership{Audience: &a, Since: m.Since})
		}
		out[pid] = list
	}
	return out, nil
}

// profileAudiences answers Profile.audiences: the first first of the
// profile's memberships, or all of them (at most audience.MaxAudiences).
func (r *Resolver) profileAudiences(ctx context.Context, p *graph.Profile, first *int) ([]*gql.AudienceMembership, error) {
	s := r.loaders(ctx)
	s.mu.Lock()
	if s.memberships == nil {
		s.memberships = newBatch(s.profileSibs, func(ctx context.Context, pids []string) (map[string][]*gql.AudienceMembership, error) {
			out, err := r.membershipsFetch(ctx, pids)
			if err == nil {
				// The audiences of sibling profiles are siblings too
				// (Audience.members, Audience.changes).
				var as []*audience.Audience
				for _, pid := range pids {
					for _, m := range out[pid] {
						as = append(as, m.Audience)
					}
				}
				s.hintAudiences(as)
			}
			return out, err
		})
	}
	b := s.memberships
	s.mu.Unlock()
	list, ok, err := b.load(ctx, p.ID)
	if err != nil {
		return nil, domainErr(err)
	}
	if !ok {
		return []*gql.AudienceMembership{}, nil
	}
	if list, err = r.granting(ctx, p, list); err != nil {
		return nil, err
	}
	return firstOf(list, first, audience.MaxAudiences), nil
}

// granting returns the memberships of list that hold now: the purpose of
// an audience that has one holds at the time of the request, as in
// Audience.members and an export, so a kept membership of a profile that
// has withdrawn or whose grant has expired since the keeper last
// evaluated it is left out. The profile's consent is read only when one
// of the audiences has a purpose (with its siblings', in one ConsentOf).
func (r *Resolver) granting(ctx context.Context, p *graph.Profile, list []*gql.AudienceMembership) ([]*gql.AudienceMembership, error) {
	if !slices.ContainsFunc(list, func(m *gql.AudienceMembership) bool { return m.Audience.Purpose != "" }) {
		return list, nil
	}
	rs, err := r.consentOf(ctx, p)
	if err != nil {
		return nil, err
	}
	now := graph.Now()
	out := make([]*gql.AudienceMembership, 0, len(list))
	for _, m := range list {
		if m.Audience.Purpose == "" || privacy.StateOf(rs, m.Audience.Purpose, now).State == privacy.StateGranted {
			out = append(out, m)
		}
	}
	return out, nil
}

// computedCost is the price of Profile.computed and computedTrait: a
// read of the profile's events inside the widest window, shared by
// sibling profiles.
const computedCost = 20

// priceAudiences prices the audience fields: pages by their first (default
// 50, at most maxAccessPage), a profile's computed traits by a fixed cost,
// a profile's memberships by their first, else the most audiences a store
// holds, and the computed trait definitions by the most a store holds.
func priceAudiences(c *gql.ComplexityRoot) {
	page := func(child int, first *int, _ *string) int {
		return satAdd(1, satMul(pageCost(first, defaultAccessPage, maxAccessPage), child))
	}
	c.Query.Audiences = page
	c.Audience.Members = page
	c.Audience.Changes = page
	c.Profile.Computed = func(child int) int { return satAdd(computedCost, child) }
	c.Profile.ComputedTrait = func(child int, _ string) int { return satAdd(computedCost, child) }
	c.Profile.Audiences = func(child int, first *int) int {
		return satAdd(1, satMul(boundOf(first, audience.MaxAudiences), child))
	}
	c.Query.ComputedTraits = func(child int) int { return satAdd(1, satMul(audience.MaxComputedTraits, child)) }
}

// idPage reads the first and after arguments of a list ordered by id (a
// page of audiences or of members): the page size, and the id the page
// starts after ("" from the start).
func idPage(first *int, after *string, kind string) (int, string, error) {
	n, err := accessPage(first)
	if err != nil {
		return 0, "", err
	}
	if after == nil {
		return n, "", nil
	}
	c, err := decodeCursor("after", kind, *after)
	if err != nil {
		return 0, "", err
	}
	return n, c.ID, nil
}
