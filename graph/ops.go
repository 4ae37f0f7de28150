package graph

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
)

// NormalizeRef normalizes a caller's identifier the way ingestion does.
//
// Errors: EINVALID, an *IdentifierError (IdentNotUsable) naming the type
// and why the value is not usable.
func (e *Engine) NormalizeRef(ref IdentifierRef) (IdentifierRef, error) {
	n, why := e.norm.Normalize(ref)
	if why != "" {
		return IdentifierRef{}, &IdentifierError{Problem: IdentNotUsable, Refs: []IdentifierRef{ref}, Why: why}
	}
	return n, nil
}

// notFound refuses a normalized identifier that is not stored.
func notFound(ref IdentifierRef) error {
	return &IdentifierError{Problem: IdentNotFound, Refs: []IdentifierRef{ref}}
}

// resolveProfiles follows merge redirects: the result maps each requested id
// that exists to its live survivor.
func resolveProfiles(ctx context.Context, tx ReadTx, ids []string) (map[string]Profile, error) {
	out := map[string]Profile{}
	cur := map[string]string{} // requested -> current hop
	for _, id := range ids {
		cur[id] = id
	}
	// A chain has no bound on its length: union by size keeps it short
	// only while identifiers stay, and a person merged again and again
	// while old identifiers are removed grows it by one each time. What
	// ends the walk is that no id is visited twice: a redirect back to
	// one (which no write makes) would be a cycle.
	visited := map[string]map[string]bool{} // requested -> ids passed
	for len(cur) > 0 {
		want := slices.Sorted(maps.Values(cur))
		want = slices.Compact(want)
		got, err := tx.Profiles(ctx, want)
		if err != nil {
			return nil, err
		}
		next := map[string]string{}
		for req, h := range cur {
			p, ok := got[h]
			switch {
			case !ok:
			case p.Live():
				out[req] = p
			default:
				v := visited[req]
				if v == nil {
					v = map[string]bool{req: true}
					visited[req] = v
				}
				if v[p.MergedInto] {
					return nil, fmt.Errorf("profile %q redirects in a cycle: %q is reached twice", req, p.MergedInto)
				}
				v[p.MergedInto] = true
				next[req] = p.MergedInto
			}
		}
		cur = next
	}
	return out, nil
}

// lockResolved resolves ids to the live profiles they answer for and locks
// those profiles. A read of the redirects before the lock may name a
// profile an id no longer answers for: a split that gives a requested id
// back (UnlinkIdentifiers, RemoveIdentifier) commits under the lock of the
// profile it splits. So the redirects are read again once the profiles
// are locked, and what that read names is locked too, until a read names
// only locked profiles; then no other writer can move a requested id
// until this transaction ends. live maps each requested id that exists to
// its profile as read under the lock; locked holds every profile locked.
//
// Errors: ECONFLICT when the redirects keep moving.
func lockResolved(ctx context.Context, tx Tx, ids []string) (live, locked map[string]Profile, err error) {
	locked = map[string]Profile{}
	for range 8 {
		got, err := resolveProfiles(ctx, tx, ids)
		if err != nil {
			return nil, nil, err
		}
		var need []string
		for _, p := range got {
			if _, ok := locked[p.ID]; !ok && !slices.Contains(need, p.ID) {
				need = append(need, p.ID)
			}
		}
		if len(need) == 0 {
			live = make(map[string]Profile, len(got))
			for req, p := range got {
				live[req] = locked[p.ID]
			}
			return live, locked, nil
		}
		sort.Strings(need)
		ps, err := tx.LockProfiles(ctx, need)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range need {
			// A profile merged away or erased before its lock is locked
			// as it is (the next read walks on from it) or not at all.
			if p, ok := ps[id]; ok {
				locked[id] = p
			} else {
				locked[id] = Profile{ID: id, MergedInto: "-"}
			}
		}
	}
	return nil, nil, Errorf(ECONFLICT, "the profiles changed while they were being locked; try again")
}

// ProfileByID returns the live profile for id, following merge redirects.
//
// Errors: ENOTFOUND.
func (e *Engine) ProfileByID(ctx context.Context, id string) (Profile, error) {
	m, err := e.ProfilesByIDs(ctx, []string{id})
	if err != nil {
		return Profile{}, err
	}
	p, ok := m[id]
	if !ok {
		return Profile{}, Errorf(ENOTFOUND, "profile %s not found", ProfileRef(id))
	}
	return p, nil
}

// ProfilesByIDs returns the live profile for each id that exists, following
// merge redirects, in a number of reads bounded by the longest redirect chain.
func (e *Engine) ProfilesByIDs(ctx context.Context, ids []string) (map[string]Profile, error) {
	var out map[string]Profile
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		var err error
		out, err = resolveProfiles(ctx, tx, ids)
		return err
	})
	return out, err
}

// ProfileByIdentifier returns the profile holding an identifier, normalizing
// the value first.
//
// Errors: EINVALID for an unusable value, ENOTFOUND; both as an
// *IdentifierError.
func (e *Engine) ProfileByIdentifier(ctx context.Context, ref IdentifierRef) (Profile, error) {
	m, err := e.ProfilesByIdentifiers(ctx, []IdentifierRef{ref})
	if err != nil {
		return Profile{}, err
	}
	p, ok := m[ref]
	if !ok {
		n, _ := e.norm.Normalize(ref) // it normalized for the lookup
		return Profile{}, notFound(n)
	}
	return p, nil
}

// ProfilesByIdentifiers looks up many identifiers in two reads. The result
// is keyed by the references as given.
//
// Errors: EINVALID for the first unusable value, an *IdentifierError.
func (e *Engine) ProfilesByIdentifiers(ctx context.Context, refs []IdentifierRef) (map[IdentifierRef]Profile, error) {
	out, _, err := e.lookup(ctx, refs, false)
	return out, err
}

// LookupProfiles is ProfilesByIdentifiers that also returns each found
// profile's members (with their traits), all in one read transaction: the
// front-end lookup that personalizes a page.
//
// Errors: EINVALID for the first unusable value, an *IdentifierError.
func (e *Engine) LookupProfiles(ctx context.Context, refs []IdentifierRef) (map[IdentifierRef]Profile, map[string][]Identifier, error) {
	return e.lookup(ctx, refs, true)
}

func (e *Engine) lookup(ctx context.Context, refs []IdentifierRef, withMembers bool) (map[IdentifierRef]Profile, map[string][]Identifier, error) {
	keyOf := make(map[IdentifierRef]string, len(refs))
	var keys []string
	for _, r := range refs {
		n, err := e.NormalizeRef(r)
		if err != nil {
			return nil, nil, err
		}
		keyOf[r] = n.Key()
		keys = append(keys, n.Key())
	}
	var out map[IdentifierRef]Profile
	var members map[string][]Identifier
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		out, members = map[IdentifierRef]Profile{}, nil
		// One call, one round trip where the store can. A profile read as
		// merged away (a merge that committed during the read) is resolved
		// below like any other.
		idents, got, read, err := tx.LookupProfiles(ctx, keys, withMembers)
		if err != nil {
			return err
		}
		// profs maps an identifier's profile id to its live survivor;
		// stale holds the ids still to resolve by redirects.
		profs := map[string]Profile{}
		stale := map[string]bool{}
		for _, id := range idents {
			if pid := id.ProfileID; pid != "" {
				if p, ok := got[pid]; ok && p.Live() {
					profs[pid] = p
				} else {
					stale[pid] = true
				}
			}
		}
		if len(stale) > 0 {
			// A merge may commit between the reads (Neo4j reads are not one
			// snapshot), so redirects are followed like any profile id.
			resolved, err := resolveProfiles(ctx, tx, slices.Sorted(maps.Keys(stale)))
			if err != nil {
				return err
			}
			maps.Copy(profs, resolved)
		}
		live := map[string]bool{}
		for r, k := range keyOf {
			if pid := idents[k].ProfileID; pid != "" {
				if p, ok := profs[pid]; ok {
					out[r] = p
					live[p.ID] = true
				}
			}
		}
		if !withMembers || len(live) == 0 {
			return nil
		}
		// The lookup read the members of the live profiles it returned;
		// survivors reached by a redirect are read now.
		members = make(map[string][]Identifier, len(live))
		var unread []string
		for id := range live {
			if p, ok := got[id]; ok && p.Live() {
				if ms, ok := read[id]; ok {
					members[id] = ms
				}
			} else {
				unread = append(unread, id)
			}
		}
		if len(unread) > 0 {
			slices.Sort(unread)
			more, err := tx.Members(ctx, unread)
			if err != nil {
				return err
			}
			maps.Copy(members, more)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, members, nil
}

// Members returns the identifiers of each profile, ordered by key.
func (e *Engine) Members(ctx context.Context, profileIDs []string) (map[string][]Identifier, error) {
	var out map[string][]Identifier
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		var err error
		out, err = tx.Members(ctx, profileIDs)
		return err
	})
	return out, err
}

// Identifiers returns stored identifiers by key.
func (e *Engine) Identifiers(ctx context.Context, keys []string) (map[string]Identifier, error) {
	var out map[string]Identifier
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		var err error
		out, err = tx.Identifiers(ctx, keys)
		return err
	})
	return out, err
}

// FoldTraits gives a profile's current traits: per name, the newest value
// across its identifiers (NewerTrait: the latest time, then the latest
// received); ties go to the smaller key.
func FoldTraits(members []Identifier) map[string]TraitValue {
	out := map[string]TraitValue{}
	sorted := append([]Identifier(nil), members...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	for _, m := range sorted {
		for name, v := range m.Traits {
			if old, ok := out[name]; !ok || NewerTrait(v, old) > 0 {
				out[name] = v
			}
		}
	}
	return out
}

// MaxPage is the most items one page may ask for.
const MaxPage = 500

// Journeys returns a page of each profile's journey, newest first.
//
// Errors: EINVALID for a limit outside 1..MaxPage or an inverted time range.
func (e *Engine) Journeys(ctx context.Context, profileIDs []string, q JourneyQuery) (map[string][]Event, error) {
	out, _, err := e.JourneysOf(ctx, profileIDs, q)
	return out, err
}

// JourneysOf is Journeys, with the keys IN each profile (ordered by key;
// a profile with none is absent) read in the same transaction as its
// page: the identifiers the page is the journey of. A caller that pages
// one profile's journey over several calls, each a transaction of its
// own, compares them: when every page was read over the same keys, the
// pages are the events of those identifiers, each once, whatever merge or
// split committed between them; when they differ, the pages mix two
// states of the profile.
func (e *Engine) JourneysOf(ctx context.Context, profileIDs []string, q JourneyQuery) (map[string][]Event, map[string][]string, error) {
	if q.Limit < 1 || q.Limit > MaxPage+1 {
		return nil, nil, Errorf(EINVALID, "journey page size must be between 1 and %d, got %d", MaxPage, q.Limit)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return nil, nil, Errorf(EINVALID, "journey time range ends (%s) before it starts (%s)", q.To, q.From)
	}
	var out map[string][]Event
	var members map[string][]string
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		var err error
		if out, err = tx.Journeys(ctx, profileIDs, q); err != nil {
			return err
		}
		if members, err = MemberKeys(ctx, tx, profileIDs); err != nil {
			return err
		}
		for pid, evs := range out {
			in := newKeySet(members[pid])
			for i := range evs {
				e.ownView(&evs[i], in)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, members, nil
}

// MemberKeys returns the keys IN each profile, from tx's MemberKeys when
// it offers one (MemberKeysReader), else from Members.
func MemberKeys(ctx context.Context, tx ReadTx, profileIDs []string) (map[string][]string, error) {
	if r, ok := tx.(MemberKeysReader); ok {
		return r.MemberKeys(ctx, profileIDs)
	}
	members, err := tx.Members(ctx, profileIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(members))
	for pid, ms := range members {
		keys := make([]string, len(ms))
		for i, m := range ms {
			keys[i] = m.Key
		}
		out[pid] = keys
	}
	return out, nil
}

// ProfileIDs returns the ids of the page q of live profiles, from tx's
// ProfileIDs when it offers one (ProfileIDsReader), else from
// ProfilesPage.
func ProfileIDs(ctx context.Context, tx ReadTx, q PageQuery) ([]string, error) {
	if r, ok := tx.(ProfileIDsReader); ok {
		return r.ProfileIDs(ctx, q)
	}
	page, err := tx.ProfilesPage(ctx, q)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(page))
	for i, p := range page {
		ids[i] = p.ID
	}
	return ids, nil
}

// keySet is a set of keys: a sorted slice searched by bisection when
// small (a profile's members usually are), a map when large.
type keySet struct {
	sorted []string
	big    map[string]bool
}

func newKeySet(keys []string) keySet {
	if len(keys) <= 32 {
		s := keys
		if !slices.IsSorted(s) {
			s = slices.Sorted(slices.Values(keys))
		}
		return keySet{sorted: s}
	}
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return keySet{big: m}
}

func (s keySet) has(k string) bool {
	if s.big != nil {
		return s.big[k]
	}
	_, ok := slices.BinarySearch(s.sorted, k)
	return ok
}

// ownView shows an event as part of the profile whose members are in: only
// those members among its keys, and, unless the profile holds the event's
// highest-priority identifier, no payload and Shared set. An event carried
// by several people (a shared device, say) thus shows each of them only
// what is theirs, and its properties and traits only to the person it was
// anchored on.
func (e *Engine) ownView(ev *Event, in keySet) {
	if len(ev.Keys) == 1 { // the usual case, without copying the keys
		if !in.has(ev.Keys[0]) {
			ev.Shared, ev.Properties, ev.Traits = true, nil, nil
			ev.Keys = ev.Keys[:0:0]
		}
		return
	}
	keys := slices.Clone(ev.Keys) // a store may share the slice between profiles
	e.norm.SortByPriority(keys)
	if len(keys) > 0 && !in.has(keys[0]) {
		ev.Shared, ev.Properties, ev.Traits = true, nil, nil
	}
	ev.Keys = slices.DeleteFunc(keys, func(k string) bool { return !in.has(k) })
}

// ProfilePage is one page of live profiles ordered by id.
type ProfilePage struct {
	Profiles    []Profile
	HasNext     bool
	HasPrevious bool
	Total       int
}

// Profiles returns a page of live profiles: the first Limit after After, or
// with Reverse the last Limit before Before, always in ascending id order.
//
// Errors: EINVALID for a limit outside 1..MaxPage.
func (e *Engine) Profiles(ctx context.Context, q PageQuery) (ProfilePage, error) {
	if q.Limit < 1 || q.Limit > MaxPage {
		return ProfilePage{}, Errorf(EINVALID, "page size must be between 1 and %d, got %d", MaxPage, q.Limit)
	}
	var page ProfilePage
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		probe := q
		probe.Limit = q.Limit + 1
		ps, err := tx.ProfilesPage(ctx, probe)
		if err != nil {
			return err
		}
		more := len(ps) > q.Limit
		if more {
			ps = ps[:q.Limit]
		}
		if q.Reverse {
			for i, j := 0, len(ps)-1; i < j; i, j = i+1, j-1 {
				ps[i], ps[j] = ps[j], ps[i]
			}
			page.HasPrevious = more
			page.HasNext = q.Before != ""
		} else {
			page.HasNext = more
			page.HasPrevious = q.After != ""
		}
		page.Profiles = ps
		page.Total, err = tx.CountProfiles(ctx)
		return err
	})
	return page, err
}

// History returns, per profile id, the merges and splits that involve it,
// oldest first; entries made at one time are ordered by kind and ids. Each
// entry is listed once per id, even when profileIDs repeats the id.
func (e *Engine) History(ctx context.Context, profileIDs []string) (map[string][]ProfileChange, error) {
	var out map[string][]ProfileChange
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		out = map[string][]ProfileChange{} // fn may run again: start afresh
		cs, err := tx.Changes(ctx, profileIDs)
		if err != nil {
			return err
		}
		// Stores agree on time order; the rest of the order is made here.
		sort.SliceStable(cs, func(i, j int) bool {
			a, b := cs[i], cs[j]
			if !a.At.Equal(b.At) {
				return a.At.Before(b.At)
			}
			if a.Kind != b.Kind {
				return a.Kind < b.Kind
			}
			if a.From != b.From {
				return a.From < b.From
			}
			return a.Into < b.Into
		})
		// Each entry goes to From's list and Into's, in history order; an
		// id the caller named twice still gets each entry once.
		asked := make(map[string]bool, len(profileIDs))
		for _, id := range profileIDs {
			asked[id] = true
		}
		for _, c := range cs {
			if asked[c.From] {
				out[c.From] = append(out[c.From], c)
			}
			if c.Into != c.From && asked[c.Into] {
				out[c.Into] = append(out[c.Into], c)
			}
		}
		return nil
	})
	return out, err
}

// Events returns stored events by id.
func (e *Engine) Events(ctx context.Context, ids []string) (map[string]Event, error) {
	var out map[string]Event
	err := e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		var err error
		out, err = tx.Events(ctx, ids)
		return err
	})
	for _, ev := range out {
		e.norm.SortByPriority(ev.Keys)
	}
	return out, err
}
