package keep

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Keeper keeps the membership of every stored audience.
type Keeper struct {
	eng *graph.Engine
	st  audience.Store
	cs  privacy.ConsentStore
	now func() time.Time
	// progress, when set, hears how many profiles a pass over every
	// profile (RefreshAll, RefreshDue) has evaluated, after each page.
	progress func(done int)
	// split is how many profiles one Store.Keep writes at most (0: all
	// of a batch); New takes it from the store (audience.KeepSplit).
	split int
}

// WithKeepProfiles makes the keeper write a batch in Store.Keep calls of at
// most n profiles each (n < 1: one call per batch), in place of what the
// store asks for (audience.KeepSplit). It returns k.
func (k *Keeper) WithKeepProfiles(n int) *Keeper {
	k.split = n
	return k
}

// WithProgress makes every pass over all profiles call fn with the number
// of profiles evaluated so far, after each page (a computed trait defined
// on a large store is backfilled by such a pass; the service logs it).
// It returns k.
func (k *Keeper) WithProgress(fn func(done int)) *Keeper {
	k.progress = fn
	return k
}

// New returns a Keeper over the engine, the audience store and the consent
// ledger; now gives the instant of each evaluation (nil: graph.Now).
func New(eng *graph.Engine, st audience.Store, cs privacy.ConsentStore, now func() time.Time) *Keeper {
	if now == nil {
		now = graph.Now
	}
	k := &Keeper{eng: eng, st: st, cs: cs, now: now}
	if ks, ok := st.(audience.KeepSplit); ok {
		k.split = ks.KeepProfiles()
	}
	return k
}

// Refresh evaluates every stored audience for the given profiles and
// records who entered and who exited. A profile that is not live (merged
// away, erased, unknown) exits every audience it is in. It also writes
// the facts (audience.Facts) of the live profiles and deletes those of the
// others: Preview reads them, and writing them appends COMPUTED_CHANGED
// for a profile whose computed values changed. With no audience and no
// computed trait stored, it only deletes the facts of the given profiles
// (what ingest pays is then one small write, and no fact is ever older
// than its profile; RefreshAll builds them all again once either exists).
// Ids are read in batches of at most BatchSize.
func (k *Keeper) Refresh(ctx context.Context, profileIDs []string) error {
	auds, err := k.audiences(ctx)
	if err != nil {
		return err
	}
	return k.refresh(ctx, profileIDs, auds)
}

// refresh evaluates the audiences auds (in the order given) for ids, and
// writes their facts.
func (k *Keeper) refresh(ctx context.Context, profileIDs []string, auds []audience.Audience) error {
	if len(profileIDs) == 0 {
		return nil
	}
	ids := slices.DeleteFunc(slices.Clone(profileIDs), func(id string) bool { return id == "" })
	slices.Sort(ids)
	ids = slices.Compact(ids)
	defs, err := k.st.ComputedTraits(ctx)
	if err != nil {
		return err
	}
	// Facts are kept while an audience or a computed trait exists: a
	// computed trait's changes reach the feed (COMPUTED_CHANGED) whether
	// or not an audience reads it.
	if len(auds) == 0 && len(defs) == 0 {
		for len(ids) > 0 {
			n := min(len(ids), BatchSize)
			if err := k.st.DeleteFacts(ctx, ids[:n]); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	}
	d := &definitions{auds: auds, defs: defs, versions: audience.NewComputedDefs(defs)}
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		if err := k.refreshFresh(ctx, ids[:n], d); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// definitions are the audiences (in evaluation order) and the computed
// trait definitions a round evaluates, as the keeper read them.
type definitions struct {
	auds     []audience.Audience
	defs     []audience.ComputedTrait
	versions *audience.ComputedDefs
}

// reread reads d's audiences (those of d.auds still stored, in
// evaluation order) and every computed trait definition again.
func (k *Keeper) reread(ctx context.Context, d *definitions) error {
	all, err := k.audiences(ctx)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(d.auds))
	for _, a := range d.auds {
		want[a.ID] = true
	}
	auds := make([]audience.Audience, 0, len(d.auds))
	for _, a := range all {
		if want[a.ID] {
			auds = append(auds, a)
		}
	}
	defs, err := k.st.ComputedTraits(ctx)
	if err != nil {
		return err
	}
	d.auds, d.defs, d.versions = auds, defs, audience.NewComputedDefs(defs)
	return nil
}

// staleRetries is how many times refreshFresh evaluates again, checked,
// the profiles written while they were evaluated.
const staleRetries = 3

// refreshFresh is refreshBatch, then refreshBatch again for the profiles
// Store.Keep refused, up to staleRetries times checked and once more
// unchecked, each time with the definitions read again and at a fresh
// now. Keep refuses a profile written since the round read it, one that
// a round evaluated at a later time wrote first, and every profile of a
// round whose audiences or computed traits were redefined since it read
// them. A profile written faster than a round reads and writes it would
// otherwise never be kept: its last evaluation is then written unchecked
// against its reads (w.Read), without its facts (which could put back
// what an erasure since deleted), and the writes that outran it have
// queued it for another round, which reads it after them. What Keep still
// refuses then, it refuses because a later evaluation is kept (whatever
// was written after that one's read queued another round, at a later
// time still) or the definitions changed (and a change of definition
// evaluates every profile again after it commits): it is dropped.
func (k *Keeper) refreshFresh(ctx context.Context, ids []string, d *definitions) error {
	for try := 0; len(ids) > 0 && try <= staleRetries; try++ {
		if try > 0 {
			if err := k.reread(ctx, d); err != nil {
				return err
			}
		}
		stale, err := k.refreshBatch(ctx, ids, d.auds, d.defs, d.versions, try < staleRetries)
		if err != nil {
			return err
		}
		ids = stale
	}
	return nil
}

// refreshBatch evaluates ids, sorted and each once, and writes the
// result, checked against what it read when check is set; it returns the
// ids Store.Keep left out because they were written after this read
// them.
func (k *Keeper) refreshBatch(ctx context.Context, ids []string, auds []audience.Audience, defs []audience.ComputedTrait, versions *audience.ComputedDefs, check bool) ([]string, error) {
	now := graph.Clean(k.now())
	subs, kept, read, err := load(ctx, k.eng, k.st, k.cs, defs, ids, now)
	if err != nil {
		return nil, err
	}
	asRead := read // what consent exits are checked against, always
	if !check {
		read = nil
	}
	w := audience.KeepWrite{At: now, Read: read, Computed: make(map[string]time.Time, len(defs))}
	for _, d := range defs {
		w.Computed[d.Name] = d.UpdatedAt
	}
	for _, id := range ids {
		if s, ok := subs[id]; ok {
			// Facts copy identifier keys and traits as this round read
			// them. Unchecked, they could put back what a write since
			// erased (an erasure deletes them in its own transaction):
			// the writes that outran this round queued another, which
			// writes them checked.
			if check {
				w.Facts = append(w.Facts, audience.FactsAt(id, s, versions, now))
			}
		} else {
			w.DeleteFacts = append(w.DeleteFacts, id)
		}
	}
	var survivors map[string]string
	var later []audience.MembershipChange // consent exits of static audiences a merge changed
	// An inAudience naming an audience with a purpose holds only while the
	// profile grants it now (audience.Filter.WithPurposes): a static
	// audience's member not granting any more, whose exit a round written
	// unchecked leaves for later, is not counted in meanwhile.
	purposes := audience.PurposesOf(auds)
	for i := range auds {
		a := &auds[i]
		if a.Static {
			if survivors == nil {
				if survivors, err = k.survivors(ctx, gone(ids, subs, kept, auds)); err != nil {
					return nil, err
				}
			}
			c, merged := staticChange(a, ids, subs, kept, survivors)
			if merged {
				w.Changes = append(w.Changes, c)
			}
			// Consent exits are checked: an exit is never undone, so one
			// decided on a profile written since (a merge that brought a
			// grant) must not be written. On a round written unchecked
			// they wait for the round the writes that outran this one
			// queued.
			if !check {
				continue
			}
			if x, ok := consentExits(a, ids, subs, now); ok {
				if merged {
					// One change per audience and write: after w.
					later = append(later, x)
				} else {
					w.Changes = append(w.Changes, x)
				}
			}
			continue
		}
		var enter, exit []string
		f := a.Filter.WithPurposes(purposes)
		for _, id := range ids {
			was := kept[id][a.ID]
			is := false
			if s, ok := subs[id]; ok {
				is = member(a, f, s, now)
				// Audiences evaluated later read this one as it is now.
				s.Audiences[a.ID] = is
			}
			switch {
			case is && !was:
				enter = append(enter, id)
			case was && !is:
				exit = append(exit, id)
			}
		}
		if len(enter) > 0 || len(exit) > 0 {
			w.Changes = append(w.Changes, audience.MembershipChange{AudienceID: a.ID, Enter: enter, Exit: exit})
		}
	}
	// The facts and every audience's changes of a profile commit together,
	// and only for profiles still live and unchanged then, not written
	// since by a round evaluated later, and on definitions still stored
	// (Store.Keep); a store that locks what it writes takes them in parts
	// (audience.KeepSplit).
	w.Audiences = decidedOn(auds, w.Changes)
	var stale []string
	for _, part := range audience.SplitKeep(w, k.split) {
		s, err := k.st.Keep(ctx, part)
		if err != nil {
			return nil, err
		}
		stale = append(stale, s...)
	}
	if len(later) > 0 {
		// Checked against the same read: a profile written since is
		// evaluated again (its exit, if still due, comes then). Until
		// this commits, an inAudience audience written above may already
		// count the exit: the two settle when it commits or on that
		// evaluation.
		lw := audience.KeepWrite{At: now, Changes: later, Read: map[string]time.Time{}, Audiences: decidedOn(auds, later)}
		for _, c := range later {
			for _, id := range c.Exit {
				lw.Read[id] = asRead[id]
			}
		}
		for _, part := range audience.SplitKeep(lw, k.split) {
			s, err := k.st.Keep(ctx, part)
			if err != nil {
				return nil, err
			}
			stale = append(stale, s...)
		}
	}
	slices.Sort(stale)
	return slices.Compact(stale), nil
}

// decidedOn returns the UpdatedAt of the audiences among auds that
// changes were decided on: each audience changed, and those their filters
// name with inAudience, directly or not (audience.KeepWrite.Audiences).
func decidedOn(auds []audience.Audience, changes []audience.MembershipChange) map[string]time.Time {
	if len(changes) == 0 {
		return nil
	}
	byID := make(map[string]*audience.Audience, len(auds))
	for i := range auds {
		byID[auds[i].ID] = &auds[i]
	}
	out := map[string]time.Time{}
	var add func(id string)
	add = func(id string) {
		if _, done := out[id]; done {
			return
		}
		a, ok := byID[id]
		if !ok {
			return
		}
		out[id] = a.UpdatedAt
		for _, r := range Refs(&a.Filter) {
			add(r)
		}
	}
	for _, c := range changes {
		add(c.AudienceID)
	}
	return out
}

// consentExits is the consent exits of the static audience a among ids:
// with a purpose, every live member (kept, or the survivor staticChange
// just entered) whose consent state for it is not GRANTED at now exits.
// Nobody enters this way. It is not Static: Store.Keep checks it against
// the read. An exiting Subject reads its new membership in the audiences
// evaluated after a.
func consentExits(a *audience.Audience, ids []string, subs map[string]*audience.Subject, now time.Time) (audience.MembershipChange, bool) {
	c := audience.MembershipChange{AudienceID: a.ID}
	if a.Purpose == "" {
		return c, false
	}
	for _, id := range ids {
		s, live := subs[id]
		if !live || !s.Audiences[a.ID] {
			continue
		}
		if privacy.StateOf(s.Consent, a.Purpose, now).State != privacy.StateGranted {
			c.Exit = append(c.Exit, id)
			s.Audiences[a.ID] = false
		}
	}
	return c, len(c.Exit) > 0
}

// gone returns the ids that are not live (no Subject) and are kept
// members of a static audience among auds.
func gone(ids []string, subs map[string]*audience.Subject, kept map[string]map[string]bool, auds []audience.Audience) []string {
	var out []string
	for _, id := range ids {
		if _, live := subs[id]; live {
			continue
		}
		for i := range auds {
			if auds[i].Static && kept[id][auds[i].ID] {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

// survivors maps each of ids that was merged away to the live profile it
// resolves to now; an erased or unknown id is absent.
func (k *Keeper) survivors(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	ps, err := k.eng.ProfilesByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if p, ok := ps[id]; ok && p.ID != id {
			out[id] = p.ID
		}
	}
	return out, nil
}

// staticChange is what happens to the static audience a among ids when
// members leave (consentExits is what its purpose does): a member that
// is no longer live exits, and the survivor it was merged into, when
// there is one, enters in its place (entering a member changes nothing:
// the store skips it). A survivor
// evaluated in this batch reads its new membership in the audiences
// evaluated after a.
func staticChange(a *audience.Audience, ids []string, subs map[string]*audience.Subject, kept map[string]map[string]bool, survivors map[string]string) (audience.MembershipChange, bool) {
	c := audience.MembershipChange{AudienceID: a.ID, Static: true}
	entering := map[string]bool{}
	for _, id := range ids {
		if _, live := subs[id]; live || !kept[id][a.ID] {
			continue
		}
		c.Exit = append(c.Exit, id)
		sv, ok := survivors[id]
		if !ok || entering[sv] {
			continue
		}
		entering[sv] = true
		if s, ok := subs[sv]; ok {
			if s.Audiences[a.ID] {
				continue // already a member
			}
			s.Audiences[a.ID] = true
		}
		c.Enter = append(c.Enter, sv)
	}
	return c, len(c.Enter) > 0 || len(c.Exit) > 0
}

// member reports whether s belongs to a at now: f, a's filter as it is
// evaluated (audience.Filter.WithPurposes), holds and, with a purpose, the
// consent state for it is GRANTED.
func member(a *audience.Audience, f *audience.Filter, s *audience.Subject, now time.Time) bool {
	if a.Purpose != "" && privacy.StateOf(s.Consent, a.Purpose, now).State != privacy.StateGranted {
		return false
	}
	return f.Eval(s, now)
}

// audiences reads every stored audience, in evaluation order.
func (k *Keeper) audiences(ctx context.Context) ([]audience.Audience, error) {
	var all []audience.Audience
	p := audience.Page{Limit: audience.MaxPage}
	for {
		page, err := k.st.AudiencePage(ctx, p)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < p.Limit {
			break
		}
		p.After = page[len(page)-1].ID
	}
	return Order(all), nil
}

// Order returns the audiences so that each comes after the audiences its
// filter refers to with inAudience (those stored among auds), ties broken
// by id. A cycle is broken by taking the audience with the smallest id
// among those left, so Order always ends.
func Order(auds []audience.Audience) []audience.Audience {
	byID := map[string]int{}
	for i, a := range auds {
		byID[a.ID] = i
	}
	deps := make([]map[string]bool, len(auds)) // refs still to place
	for i := range auds {
		deps[i] = map[string]bool{}
		for _, r := range Refs(&auds[i].Filter) {
			if _, ok := byID[r]; ok && r != auds[i].ID {
				deps[i][r] = true
			}
		}
	}
	left := make([]int, len(auds))
	for i := range left {
		left[i] = i
	}
	slices.SortFunc(left, func(a, b int) int {
		switch {
		case auds[a].ID < auds[b].ID:
			return -1
		case auds[a].ID > auds[b].ID:
			return 1
		}
		return 0
	})
	out := make([]audience.Audience, 0, len(auds))
	for len(left) > 0 {
		pick := 0 // the smallest id left breaks a cycle
		for j, i := range left {
			if len(deps[i]) == 0 {
				pick = j
				break
			}
		}
		i := left[pick]
		left = slices.Delete(left, pick, pick+1)
		out = append(out, auds[i])
		for _, o := range left {
			delete(deps[o], auds[i].ID)
		}
	}
	return out
}

// Refs returns the audience ids f refers to with inAudience, sorted, each
// once.
func Refs(f *audience.Filter) []string {
	var out []string
	var walk func(f *audience.Filter, depth int)
	walk = func(f *audience.Filter, depth int) {
		if f == nil || depth > audience.MaxDepth*4 {
			return
		}
		if f.InAudience != nil {
			out = append(out, *f.InAudience)
		}
		for i := range f.And {
			walk(&f.And[i], depth+1)
		}
		for i := range f.Or {
			walk(&f.Or[i], depth+1)
		}
		walk(f.Not, depth+1)
	}
	walk(f, 0)
	slices.Sort(out)
	return slices.Compact(out)
}

// RefreshAll evaluates every audience over every live profile, page by
// page, writing their facts, then makes every member that is no longer
// live exit. With no audience and no computed trait stored it deletes
// every live profile's facts instead (the last one was deleted: facts are
// kept only while either exists, and Preview reads a profile without
// facts in full).
func (k *Keeper) RefreshAll(ctx context.Context) error {
	auds, err := k.audiences(ctx)
	if err != nil {
		return err
	}
	return k.refreshEvery(ctx, auds, true)
}

// refreshEvery evaluates auds over every live profile and every member of
// auds, writing the facts of every live profile; with no auds, it does
// nothing unless always, and then writes them (a computed trait is
// stored) or deletes them (none is), as refresh does.
func (k *Keeper) refreshEvery(ctx context.Context, auds []audience.Audience, always bool) error {
	if len(auds) == 0 && !always {
		return nil
	}
	// The survivors of static members merged away take their places
	// first, so that the audiences whose inAudience names a static one
	// read them in this pass.
	var static []audience.Audience
	for _, a := range auds {
		if a.Static {
			static = append(static, a)
		}
	}
	if err := k.dropStale(ctx, static); err != nil {
		return err
	}
	done := 0
	err := k.eachLive(ctx, func(ids []string) error {
		if err := k.refresh(ctx, ids, auds); err != nil {
			return err
		}
		done += len(ids)
		if k.progress != nil {
			k.progress(done)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return k.dropStale(ctx, auds)
}

// eachLive calls fn with the ids of every live profile, a page at a time,
// in id order. Each page is one read of ids alone (graph.ProfileIDs): no
// profile is decoded.
func (k *Keeper) eachLive(ctx context.Context, fn func(ids []string) error) error {
	q := graph.PageQuery{Limit: livePage}
	for {
		var ids []string
		err := k.eng.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
			var err error
			ids, err = graph.ProfileIDs(ctx, tx, q)
			return err
		})
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(ids) < q.Limit {
			return nil
		}
		q.After = ids[len(ids)-1]
	}
}

// dropStale makes the members of auds that are not live profiles exit,
// unless they are live again when the exit is written; in a static
// audience, the survivor of one merged away enters in its place. An
// audience deleted meanwhile is skipped.
func (k *Keeper) dropStale(ctx context.Context, auds []audience.Audience) error {
	for _, a := range auds {
		p := audience.Page{Limit: BatchSize}
		for {
			ms, err := k.st.Members(ctx, a.ID, p)
			if err != nil {
				return err
			}
			if len(ms) == 0 {
				break
			}
			ids := make([]string, len(ms))
			for i, m := range ms {
				ids[i] = m.ProfileID
			}
			var stale []string
			read := map[string]time.Time{} // as refreshBatch reads them
			err = k.eng.Store().View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
				stale = nil
				clear(read)
				ps, err := tx.Profiles(ctx, ids)
				if err != nil {
					return err
				}
				for _, id := range ids {
					if p, ok := ps[id]; !ok || !p.Live() {
						stale = append(stale, id)
						read[id] = time.Time{}
						if ok {
							read[id] = graph.Clean(p.UpdatedAt)
						}
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if len(stale) > 0 {
				// A static audience's member merged away is replaced by
				// its survivor, as Refresh does.
				var enter []string
				if a.Static {
					sv, err := k.survivors(ctx, stale)
					if err != nil {
						return err
					}
					for _, id := range stale {
						if s, ok := sv[id]; ok && !slices.Contains(enter, s) {
							enter = append(enter, s)
						}
					}
				}
				// Through Keep, checked against this read: a member read
				// as merged away or erased that is live again by then (a
				// split gave its id back) does not exit. A static
				// audience's changes are written as read.
				w := audience.KeepWrite{At: graph.Clean(k.now()), Read: read,
					Changes: []audience.MembershipChange{{AudienceID: a.ID, Enter: enter, Exit: stale, Static: a.Static}}}
				if _, err := k.st.Keep(ctx, w); err != nil {
					return err
				}
			}
			if len(ms) < p.Limit {
				break
			}
			p.After = ids[len(ids)-1]
		}
	}
	return nil
}

// Preview evaluates f, with purpose when not empty, over every live
// profile without writing anything, and returns how many match and the
// ids of the first sample of them in id order. inAudience reads kept
// memberships and, for an audience with a purpose, the consent state for
// it at each page's now (audience.Filter.WithPurposesOf, the purposes
// read when Preview starts). f must have passed audience.Check and
// purpose must be a known purpose (an unknown one is UNKNOWN for
// everybody, so nobody matches).
//
// It reads the live profiles a page at a time, each page at its own now
// (a few pages evaluated at once, on as many goroutines as GOMAXPROCS
// allows, up to 4), and evaluates each profile on its kept facts
// (audience.Filter.EvalFacts) with its consent records read fresh (one
// ConsentOf a page, for the profiles the rest of the filter does not
// already decide) and, only when f has an inAudience condition, its kept
// memberships (one MembershipsOf a page). The facts are as of the keeper's last refresh of
// each profile (Refresh after each write that touched it, RefreshAll): a
// profile written since is counted on what it was then. A profile with no
// facts, or on which EvalFacts cannot decide (a computed condition on a
// value kept under another definition of the trait, or past the instant
// its window changes it; an event condition with where, or a window
// starting inside a day of several events), is read in full (its Subject)
// and evaluated with Eval, so the count is Eval's over Subjects whenever
// the facts are current.
//
// A store that evaluates filters itself (audience.FilterCounter: Neo4j
// compiles them to one Cypher statement) counts every filter itself,
// reading the stored graph fresh rather than the facts.
//
// On a store that reads snapshots (graph.Snapshotter: the embedded store)
// every page, and every read of it, comes from one snapshot: a merge or
// split committed meanwhile is not seen, so no person is counted twice
// (the merged-away profile on one page, its survivor, with it, on a
// later one) or not at all.
//
// Errors: EINVALID for a nil filter or a negative sample.
func (k *Keeper) Preview(ctx context.Context, f *audience.Filter, purpose string, sample int) (int, []string, error) {
	if f == nil {
		return 0, nil, graph.Errorf(graph.EINVALID, "filter: a filter is required")
	}
	if sample < 0 {
		return 0, nil, graph.Errorf(graph.EINVALID, "sample must be 0 or more, got %d", sample)
	}
	f, err := f.WithPurposesOf(ctx, k.st)
	if err != nil {
		return 0, nil, err
	}
	if fc, ok := k.st.(audience.FilterCounter); ok {
		q, err := k.query(ctx, f, graph.Clean(k.now()))
		if err != nil {
			return 0, nil, err
		}
		q.Purpose, q.Sample = purpose, sample
		n, ids, err := fc.CountFilter(ctx, q)
		if ids == nil {
			ids = []string{}
		}
		return n, ids, err
	}
	var n int
	var ids []string
	err = graph.InSnapshot(ctx, k.eng.Store(), func(ctx context.Context) error {
		var err error
		n, ids, err = k.preview(ctx, f, purpose, sample)
		return err
	})
	return n, ids, err
}

// preview is Preview over the live profiles a page at a time, under one
// snapshot when the store reads them.
func (k *Keeper) preview(ctx context.Context, f *audience.Filter, purpose string, sample int) (int, []string, error) {
	defs, err := k.st.ComputedTraits(ctx)
	if err != nil {
		return 0, nil, err
	}
	a := &audience.Audience{Filter: *f, Purpose: purpose}
	useAudiences := f.UsesAudiences()
	versions := audience.NewComputedDefs(defs)

	// One goroutine pages through the live profiles; workers evaluate the
	// pages (facts, consent, full reads); this one adds up their results
	// in page order.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		n   int
		ids []string
		now time.Time
	}
	type result struct {
		n       int
		matched []string // in id order
		err     error
	}
	jobs := make(chan job, 2)
	results := make(chan result, 4)
	var readErr error
	go func() {
		defer close(jobs)
		n := 0
		readErr = k.eachLive(ctx, func(ids []string) error {
			select {
			case jobs <- job{n, ids, graph.Clean(k.now())}:
				n++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var wg sync.WaitGroup
	for range previewWorkers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				m, err := k.previewPage(ctx, f, a, useAudiences, defs, versions, j.ids, j.now)
				if afterPreviewPage != nil {
					afterPreviewPage(j.ids)
				}
				select {
				case results <- result{j.n, m, err}:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	count := 0
	out := []string{}
	next := 0
	done := map[int][]string{}
	for r := range results {
		if err == nil && r.err != nil {
			err = r.err
			cancel() // the reader and the workers stop; drain the rest
		}
		if err != nil {
			continue
		}
		done[r.n] = r.matched
		for {
			m, ok := done[next]
			if !ok {
				break
			}
			delete(done, next)
			next++
			count += len(m)
			out = append(out, m[:min(len(m), sample-len(out))]...)
		}
	}
	if err == nil {
		err = readErr
	}
	if err != nil {
		return 0, nil, err
	}
	return count, out, nil
}

// query is the FilterQuery of f at now, with the engine's priorities and
// the computed trait definitions stored now.
func (k *Keeper) query(ctx context.Context, f *audience.Filter, now time.Time) (audience.FilterQuery, error) {
	defs, err := k.st.ComputedTraits(ctx)
	if err != nil {
		return audience.FilterQuery{}, err
	}
	byName := make(map[string]audience.ComputedTrait, len(defs))
	for _, d := range defs {
		byName[d.Name] = d
	}
	prio, def := k.eng.Normalizer().Priorities()
	return audience.FilterQuery{Filter: f, Now: now, Priorities: prio, DefaultPriority: def, Computed: byName}, nil
}

// Query returns the FilterQuery of f (nil: every live profile) now, with
// the engine's priorities and the computed trait definitions stored now:
// what a store that evaluates filters itself is asked. Its Filter is f
// as it is evaluated now (audience.Filter.WithPurposesOf): an inAudience
// naming an audience with a purpose holds only while it is granted.
func (k *Keeper) Query(ctx context.Context, f *audience.Filter) (audience.FilterQuery, error) {
	f, err := f.WithPurposesOf(ctx, k.st)
	if err != nil {
		return audience.FilterQuery{}, err
	}
	return k.query(ctx, f, graph.Clean(k.now()))
}

// Page returns a page of the live profiles that match f now, in
// ascending id order, when the store pages through them itself
// (audience.FilterPager: Neo4j, in one statement); ok is false, and
// nothing was read, when it does not, and the caller evaluates profiles
// itself.
//
// Errors: EINVALID for a nil filter or a limit below 1.
func (k *Keeper) Page(ctx context.Context, f *audience.Filter, page graph.PageQuery) (ids []string, ok bool, err error) {
	fp, ok := k.st.(audience.FilterPager)
	if !ok {
		return nil, false, nil
	}
	f, err = f.WithPurposesOf(ctx, k.st)
	if err != nil {
		return nil, false, err
	}
	q, err := k.query(ctx, f, graph.Clean(k.now()))
	if err != nil {
		return nil, false, err
	}
	ids, err = fp.PageFilter(ctx, q, page)
	return ids, err == nil, err
}

// previewWorkers is how many pages Preview evaluates at once.
var previewWorkers = func() int { return min(max(runtime.GOMAXPROCS(0), 1), 4) }

// Seams for tests: livePage is how many ids one page of the live profiles
// holds (BatchSize), and afterPreviewPage, when set, runs after a preview's
// worker has evaluated a page, with its ids.
var (
	livePage         = BatchSize
	afterPreviewPage func(ids []string)
)

// previewPage evaluates a (its filter and purpose) over the live profiles
// ids at now: on their facts where they decide (versions are those of
// defs), else on their Subjects. It returns the ids that match, in the
// order of ids.
func (k *Keeper) previewPage(ctx context.Context, f *audience.Filter, a *audience.Audience, useAudiences bool, defs []audience.ComputedTrait, versions *audience.ComputedDefs, ids []string, now time.Time) ([]string, error) {
	pg, err := k.previewRead(ctx, f, a.Purpose, useAudiences, versions, ids, now)
	if err != nil {
		return nil, err
	}
	rest, err := k.previewConsent(ctx, f, a.Purpose, pg)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		subs, _, _, err := load(ctx, k.eng, k.st, k.cs, defs, rest, now)
		if err != nil {
			return nil, err
		}
		for id, s := range subs {
			if member(a, f, s, now) {
				pg.matched[id] = true
			}
		}
	}
	var out []string
	for _, id := range ids {
		if pg.matched[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// previewPage is one page of live profiles in Preview: what their facts
// decided, and what is left.
type previewPage struct {
	ids       []string
	now       time.Time
	defs      *audience.ComputedDefs
	matched   map[string]bool           // known to match
	undecided map[string]bool           // to read in full
	pending   []string                  // to evaluate with their consent
	facts     map[string]audience.Facts // of pending
	keys      []string                  // the identifier keys of pending
	kept      map[string][]audience.Membership
	audiences bool // whether kept was read
}

func (pg *previewPage) audiencesOf(id string) map[string]bool {
	if !pg.audiences {
		return nil
	}
	auds := make(map[string]bool, len(pg.kept[id]))
	for _, m := range pg.kept[id] {
		auds[m.AudienceID] = true
	}
	return auds
}

// previewRead reads the facts of ids (and their kept memberships when the
// filter uses them) and evaluates f and purpose on them at now, as far as
// they go without consent: a profile the rest of the filter rules out
// needs no consent read.
func (k *Keeper) previewRead(ctx context.Context, f *audience.Filter, purpose string, useAudiences bool, defs *audience.ComputedDefs, ids []string, now time.Time) (*previewPage, error) {
	pg := &previewPage{ids: ids, now: now, defs: defs, matched: map[string]bool{}, undecided: map[string]bool{}, audiences: useAudiences}
	facts, err := k.st.Facts(ctx, ids)
	if err != nil {
		return nil, err
	}
	if useAudiences && len(facts) > 0 {
		have := make([]string, 0, len(facts))
		for _, id := range ids {
			if _, ok := facts[id]; ok {
				have = append(have, id)
			}
		}
		if pg.kept, err = k.st.MembershipsOf(ctx, have); err != nil {
			return nil, err
		}
	}
	needConsent := purpose != "" || f.UsesConsent()
	for _, id := range ids {
		ft, ok := facts[id]
		if !ok {
			pg.undecided[id] = true
			continue
		}
		var m, known bool
		if needConsent {
			m, known = f.EvalFactsWithoutConsent(&ft, pg.audiencesOf(id), pg.defs, now)
			if !known || (m && purpose != "") {
				pg.pending = append(pg.pending, id)
				pg.keys = append(pg.keys, ft.Keys...)
				if pg.facts == nil {
					pg.facts = map[string]audience.Facts{}
				}
				pg.facts[id] = ft
				continue
			}
		} else {
			m, known = f.EvalFacts(&ft, nil, pg.audiencesOf(id), pg.defs, now)
		}
		switch {
		case !known:
			pg.undecided[id] = true
		case m:
			pg.matched[id] = true
		}
	}
	return pg, nil
}

// previewConsent reads the consent of the page's pending profiles, in one
// ConsentOf, and evaluates them; it returns the ids left to read in full,
// in the order of the page.
func (k *Keeper) previewConsent(ctx context.Context, f *audience.Filter, purpose string, pg *previewPage) ([]string, error) {
	if len(pg.pending) > 0 {
		recs := map[string][]privacy.Record{}
		if len(pg.keys) > 0 {
			slices.Sort(pg.keys)
			var err error
			if recs, err = k.cs.ConsentOf(ctx, slices.Compact(pg.keys)); err != nil {
				return nil, err
			}
		}
		var consent []privacy.Record
		for _, id := range pg.pending {
			ft := pg.facts[id]
			consent = consent[:0]
			for _, key := range ft.Keys {
				consent = append(consent, recs[key]...)
			}
			if purpose != "" && privacy.StateOf(consent, purpose, pg.now).State != privacy.StateGranted {
				continue
			}
			m, known := f.EvalFacts(&ft, consent, pg.audiencesOf(id), pg.defs, pg.now)
			switch {
			case !known:
				pg.undecided[id] = true
			case m:
				pg.matched[id] = true
			}
		}
	}
	var rest []string
	for _, id := range pg.ids {
		if pg.undecided[id] {
			rest = append(rest, id)
		}
	}
	return rest, nil
}

// RefreshDue evaluates, over every live profile, the audiences whose
// membership can change with no write: those whose filter has an event
// condition with a within, a computed condition on a trait with a window
// or a consent condition (a grant expires), or that have a purpose (static
// ones included: their members without a grant exit), and every audience
// that refers to one of them with inAudience (one naming an audience with
// a purpose reads the consent for it at now, audience.Filter.WithPurposes,
// so a grant expiring changes it too). When a
// computed trait has a window and no audience is due, it writes again the
// facts of the profiles whose kept values time has changed
// (refreshExpired): a value that time alone changes (an order leaving a
// 30-day count) then reaches the feed as COMPUTED_CHANGED. A background
// refresher calls it periodically. With an audience due, it reads every
// live profile: its cost
// is RefreshAll's for those audiences.
func (k *Keeper) RefreshDue(ctx context.Context) error {
	auds, err := k.audiences(ctx)
	if err != nil {
		return err
	}
	defs, err := k.st.ComputedTraits(ctx)
	if err != nil {
		return err
	}
	windowed := map[string]bool{}
	for _, d := range defs {
		if d.DependsOnTime() {
			windowed[d.Name] = true
		}
	}
	due := map[string]bool{}
	for _, a := range auds { // in order: referred audiences come first
		if a.Static && a.Purpose == "" {
			continue // never evaluated
		}
		// A static audience's purpose is enforced as any other's (a
		// grant expires); its filter is the zero Filter.
		if a.Purpose != "" || dependsOnTime(&a.Filter, windowed, 0) {
			due[a.ID] = true
			continue
		}
		for _, r := range Refs(&a.Filter) {
			if due[r] {
				due[a.ID] = true
				break
			}
		}
	}
	// A cycle may put a referring audience before its referent: settle.
	for changed := true; changed; {
		changed = false
		for _, a := range auds {
			if due[a.ID] {
				continue
			}
			for _, r := range Refs(&a.Filter) {
				if due[r] {
					due[a.ID], changed = true, true
					break
				}
			}
		}
	}
	var sel []audience.Audience
	for _, a := range auds {
		if due[a.ID] {
			sel = append(sel, a)
		}
	}
	if len(sel) == 0 && len(windowed) > 0 {
		return k.refreshExpired(ctx)
	}
	return k.refreshEvery(ctx, sel, false)
}

// refreshExpired writes again the facts of the live profiles whose kept
// computed values time has changed by now (a value's Until has passed),
// or that have no facts: a pass that reads every live profile's facts,
// page by page, and the events of only those. No audience is evaluated.
func (k *Keeper) refreshExpired(ctx context.Context) error {
	now := graph.Clean(k.now())
	return k.eachLive(ctx, func(ids []string) error {
		fs, err := k.st.Facts(ctx, ids)
		if err != nil {
			return err
		}
		var due []string
		for _, id := range ids {
			f, ok := fs[id]
			if !ok || expired(f.Computed, now) {
				due = append(due, id)
			}
		}
		return k.refresh(ctx, due, nil)
	})
}

// expired reports whether any of cs holds no longer at now.
func expired(cs []audience.ComputedFact, now time.Time) bool {
	for _, c := range cs {
		if !c.Until.IsZero() && !now.Before(c.Until) {
			return true
		}
	}
	return false
}

func dependsOnTime(f *audience.Filter, windowed map[string]bool, depth int) bool {
	if f == nil || depth > audience.MaxDepth*4 {
		return false
	}
	switch {
	case f.Event != nil && f.Event.Within != "":
		return true
	case f.Computed != nil && windowed[f.Computed.Name]:
		return true
	case f.Consent != nil:
		return true
	}
	for i := range f.And {
		if dependsOnTime(&f.And[i], windowed, depth+1) {
			return true
		}
	}
	for i := range f.Or {
		if dependsOnTime(&f.Or[i], windowed, depth+1) {
			return true
		}
	}
	return dependsOnTime(f.Not, windowed, depth+1)
}
