package graph

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// part is one component found by a split.
type part struct {
	keys   []string // in priority order
	counts map[string]int
	id     string
	// old is the profile that comes back to life with this part, if any.
	old *Profile
}

// candidate is a profile that redirects to the profile being split, with
// the members it held when it was merged (MemberDigest values).
type candidate struct {
	profile Profile
	members map[string]bool
}

// split recomputes the components of profile p after removing the keys in
// drop and the links in cut, and adds the result to w. Only p's members and
// the history of merges into p are read, so the cost is the size of p.
//
// Ids come back: a profile that was merged into p (directly or through
// others) gets its id back for the part that overlaps most the members it
// had when it was merged (see assignParts); p keeps the part that holds most
// of its own members. Other parts get new ids derived from p and their
// first identifier. It returns the resulting profiles, p's first.
func (e *Engine) split(ctx context.Context, tx Tx, r retirer, p Profile, drop map[string]bool, cut map[LinkKey]bool, reason string, w *Write) ([]Profile, error) {
	ms, err := tx.Members(ctx, []string{p.ID})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, m := range ms[p.ID] {
		if !drop[m.Key] {
			keys = append(keys, m.Key)
		}
	}
	if len(keys) == 0 {
		// Nothing is left of p: the profiles merged into it go with it, as
		// forgetting it would delete them, so that none of their ids is
		// left to redirect to nothing (nor its feed entries and audience
		// rows behind, which follow w.DeleteProfiles).
		cands, err := mergedInto(ctx, tx, p.ID)
		if err != nil {
			return nil, err
		}
		w.DeleteProfiles = append(w.DeleteProfiles, p.ID)
		for _, c := range cands {
			w.DeleteProfiles = append(w.DeleteProfiles, c.profile.ID)
		}
		return nil, nil
	}
	links, err := tx.Links(ctx, keys)
	if err != nil {
		return nil, err
	}
	parent := make(map[string]string, len(keys))
	for _, k := range keys {
		parent[k] = k
	}
	find := func(k string) string {
		for parent[k] != k {
			parent[k] = parent[parent[k]]
			k = parent[k]
		}
		return k
	}
	for _, l := range links {
		if cut[NewLinkKey(l.A, l.B)] || drop[l.A] || drop[l.B] {
			continue
		}
		if _, ok := parent[l.A]; !ok {
			continue
		}
		if _, ok := parent[l.B]; !ok {
			continue
		}
		if ra, rb := find(l.A), find(l.B); ra != rb {
			parent[ra] = rb
		}
	}
	byRoot := map[string]*part{}
	var parts []*part
	for _, k := range keys {
		r := find(k)
		pt := byRoot[r]
		if pt == nil {
			pt = &part{counts: map[string]int{}}
			byRoot[r] = pt
			parts = append(parts, pt)
		}
		pt.keys = append(pt.keys, k)
		pt.counts[SplitKey(k).Type]++
	}
	for _, pt := range parts {
		e.norm.SortByPriority(pt.keys)
	}
	var cands []candidate
	if len(parts) > 1 {
		if cands, err = mergedInto(ctx, tx, p.ID); err != nil {
			return nil, err
		}
	}
	// The identifiers removed leave the members history recorded (the
	// erasure drops their digests from it in this same write), so a
	// candidate is matched on what it still held, as it will be later.
	for _, c := range cands {
		for k := range drop {
			delete(c.members, MemberDigest(k))
		}
	}
	parts = e.assignParts(p.ID, parts, cands)
	if err := nameProfiles(ctx, tx, r, slices.DeleteFunc(slices.Clone(parts[1:]), func(pt *part) bool { return pt.old != nil }),
		func(pt *part) string { return p.ID + "/" + pt.keys[0] }, func(pt *part, id string) { pt.id = id }); err != nil {
		return nil, err
	}
	var out []Profile
	for i, pt := range parts {
		np := Profile{ID: pt.id, CreatedAt: p.CreatedAt, UpdatedAt: w.At, Size: len(pt.keys), Counts: pt.counts}
		if i > 0 {
			np.CreatedAt = w.At
			if pt.old != nil {
				np.CreatedAt = pt.old.CreatedAt
			}
			w.Changes = append(w.Changes, ProfileChange{Kind: ChangeSplit, From: p.ID, Into: pt.id, At: w.At, Reason: reason})
			for _, k := range pt.keys {
				w.Assign = append(w.Assign, Assignment{Key: k, ProfileID: pt.id})
			}
		}
		w.PutProfiles = append(w.PutProfiles, np)
		out = append(out, np)
	}
	return out, nil
}

// mergedInto returns every profile whose redirects end at pid, each with
// the members recorded by the merge that made it redirect. It reads history
// once per level of redirects, however many levels there are (see
// resolveProfiles); as no profile is taken twice, the walk ends.
func mergedInto(ctx context.Context, tx ReadTx, pid string) ([]candidate, error) {
	var out []candidate
	seen := map[string]bool{pid: true}
	level := []string{pid}
	for len(level) > 0 {
		cs, err := tx.Changes(ctx, level)
		if err != nil {
			return nil, err
		}
		inLevel := map[string]bool{}
		for _, id := range level {
			inLevel[id] = true
		}
		latest := map[string]ProfileChange{}
		for _, c := range cs {
			if c.Kind != ChangeMerge || seen[c.From] || !inLevel[c.Into] {
				continue
			}
			if prev, ok := latest[c.From]; !ok || !c.At.Before(prev.At) {
				latest[c.From] = c
			}
		}
		froms := slices.Sorted(maps.Keys(latest))
		ps, err := tx.Profiles(ctx, froms)
		if err != nil {
			return nil, err
		}
		level = nil
		for _, f := range froms {
			pr, ok := ps[f]
			if !ok || pr.MergedInto != latest[f].Into {
				continue // it came back to life, or was merged elsewhere since
			}
			seen[f] = true
			ms := make(map[string]bool, len(latest[f].Members))
			for _, k := range latest[f].Members {
				ms[k] = true
			}
			out = append(out, candidate{profile: pr, members: ms})
			level = append(level, f)
		}
	}
	return out, nil
}

// assignParts decides which id each part of a split gets, and returns the
// parts with the one that keeps pid first.
//
//   - pid keeps the part holding most of pid's own members (those no
//     candidate brought in); when none holds any, the largest part. Ties go
//     to the larger part, then to the part whose first key comes first.
//   - Each other part may give a candidate its id back: among every
//     (candidate, part) pair that share members, the pair sharing the most
//     wins, then the one whose sets differ least, then the smaller candidate
//     id, then the part whose first key comes first; repeated until no pair
//     is left.
//   - Parts left over get new ids (part.id stays "").
func (e *Engine) assignParts(pid string, parts []*part, cands []candidate) []*part {
	digest := map[string]string{}
	for _, pt := range parts {
		for _, k := range pt.keys {
			digest[k] = MemberDigest(k)
		}
	}
	own := func(pt *part) int {
		n := 0
		for _, k := range pt.keys {
			inCand := false
			for _, c := range cands {
				if c.members[digest[k]] {
					inCand = true
					break
				}
			}
			if !inCand {
				n++
			}
		}
		return n
	}
	ownN := make(map[*part]int, len(parts))
	for _, pt := range parts {
		ownN[pt] = own(pt)
	}
	slices.SortStableFunc(parts, func(a, b *part) int {
		if ownN[a] != ownN[b] {
			return ownN[b] - ownN[a]
		}
		if len(a.keys) != len(b.keys) {
			return len(b.keys) - len(a.keys)
		}
		return e.compareKeys(a.keys[0], b.keys[0])
	})
	parts[0].id = pid
	type pair struct {
		c            *candidate
		pt           *part
		overlap, sym int
	}
	var pairs []pair
	for i := range cands {
		c := &cands[i]
		for _, pt := range parts[1:] {
			n := 0
			for _, k := range pt.keys {
				if c.members[digest[k]] {
					n++
				}
			}
			if n > 0 {
				pairs = append(pairs, pair{c: c, pt: pt, overlap: n, sym: len(pt.keys) + len(c.members) - 2*n})
			}
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if a.overlap != b.overlap {
			return b.overlap - a.overlap
		}
		if a.sym != b.sym {
			return a.sym - b.sym
		}
		if c := strings.Compare(a.c.profile.ID, b.c.profile.ID); c != 0 {
			return c
		}
		return e.compareKeys(a.pt.keys[0], b.pt.keys[0])
	})
	used := map[string]bool{}
	for _, pr := range pairs {
		if used[pr.c.profile.ID] || pr.pt.old != nil {
			continue
		}
		used[pr.c.profile.ID] = true
		pr.pt.old = &pr.c.profile
		pr.pt.id = pr.c.profile.ID
	}
	return parts
}

// compareKeys orders keys by their type's priority, then by key.
func (e *Engine) compareKeys(a, b string) int {
	pa := e.norm.rules.Rule(SplitKey(a).Type).Priority
	pb := e.norm.rules.Rule(SplitKey(b).Type).Priority
	if pa != pb {
		return pa - pb
	}
	return strings.Compare(a, b)
}

func requireReason(reason string) error {
	if p := ReasonProblem(reason); p != "" {
		return Errorf(EINVALID, "reason %s", p)
	}
	return nil
}

// lockOne locks one existing identifier and its profile.
func lockOne(ctx context.Context, tx Tx, ref IdentifierRef) (Identifier, Profile, error) {
	k := ref.Key()
	ids, err := tx.LockIdentifiers(ctx, []IdentifierSeen{{Key: k, Type: ref.Type, Value: ref.Value}}, false)
	if err != nil {
		return Identifier{}, Profile{}, err
	}
	id, ok := ids[k]
	if !ok {
		return Identifier{}, Profile{}, notFound(ref)
	}
	ps, err := tx.LockProfiles(ctx, []string{id.ProfileID})
	if err != nil {
		return Identifier{}, Profile{}, err
	}
	return id, ps[id.ProfileID], nil
}

// RemoveIdentifier erases an identifier as ForgetIdentifier does (its
// links, refusals and the events no other identifier carried go with it,
// shared events, traits and history are scrubbed of its values, and its
// profile is split if it was bridging parts of it), as an identity
// correction: it runs only the hooks ctx carries. It returns the profiles
// that remain of the old one (none when it held nothing else).
//
// Errors: EINVALID, ENOTFOUND (an *IdentifierError when about the
// identifier).
func (e *Engine) RemoveIdentifier(ctx context.Context, ref IdentifierRef, reason string) ([]Profile, error) {
	x, err := e.ForgetIdentifier(ctx, ref, reason, nil)
	return x.Profiles, err
}

// UnlinkIdentifiers cuts the direct link between two identifiers and records
// the cut as a manual refusal, so events carrying both never link them again.
// If no other path joins them, the profile splits. It returns the profiles
// of a and b afterwards (one profile when they are still joined).
//
// Errors: EINVALID, ENOTFOUND (an identifier, or no direct link); those
// about the identifiers are an *IdentifierError.
func (e *Engine) UnlinkIdentifiers(ctx context.Context, a, b IdentifierRef, reason string) ([]Profile, error) {
	if err := requireReason(reason); err != nil {
		return nil, err
	}
	na, err := e.NormalizeRef(a)
	if err != nil {
		return nil, err
	}
	nb, err := e.NormalizeRef(b)
	if err != nil {
		return nil, err
	}
	if na == nb {
		return nil, Errorf(EINVALID, "cannot unlink an identifier from itself")
	}
	r, err := e.retirer(ctx) // the split may name profiles
	if err != nil {
		return nil, err
	}
	var out []Profile
	err = e.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		ka, kb := na.Key(), nb.Key()
		ids, err := tx.LockIdentifiers(ctx, sortedSeen(na, nb), false)
		if err != nil {
			return err
		}
		for _, r := range []IdentifierRef{na, nb} {
			if _, ok := ids[r.Key()]; !ok {
				return notFound(r)
			}
		}
		lk := NewLinkKey(ka, kb)
		links, err := tx.Links(ctx, []string{ka})
		if err != nil {
			return err
		}
		direct := false
		for _, l := range links {
			if NewLinkKey(l.A, l.B) == lk {
				direct = true
			}
		}
		if !direct || ids[ka].ProfileID != ids[kb].ProfileID {
			return &IdentifierError{Problem: IdentNotLinked, Refs: []IdentifierRef{na, nb}}
		}
		ps, err := tx.LockProfiles(ctx, []string{ids[ka].ProfileID})
		if err != nil {
			return err
		}
		now := e.stamp(1, latestOf(ps)) // the split may create profiles
		w := &Write{At: now, DeleteLinks: []LinkKey{lk}}
		out, err = e.split(ctx, tx, r, ps[ids[ka].ProfileID], nil, map[LinkKey]bool{lk: true}, "unlinked "+ka+" and "+kb+": "+reason, w)
		if err != nil {
			return err
		}
		// A refusal's A is the side that kept its profile: when the cut
		// split the profile and a moved to another part (the split
		// assigns the keys of every part but the kept one), b kept it.
		kept, refused := ka, kb
		if slices.ContainsFunc(w.Assign, func(as Assignment) bool { return as.Key == ka }) {
			kept, refused = kb, ka
		}
		w.PutRejected = []RejectedLink{{A: kept, B: refused, Source: SourceManual, Reason: reason, Evidence: "unlinkIdentifiers", At: now}}
		r.retire(w) // none: a cut deletes no profile
		return applyAndHook(ctx, tx, w)
	})
	return out, err
}

func sortedSeen(refs ...IdentifierRef) []IdentifierSeen {
	out := make([]IdentifierSeen, len(refs))
	for i, r := range refs {
		out[i] = IdentifierSeen{Key: r.Key(), Type: r.Type, Value: r.Value}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// MergeProfiles merges profiles by hand. Each merged profile is joined to
// the survivor by a link with source "manual" between their highest-priority
// identifiers, so the merge is explainable and can be undone by
// UnlinkIdentifiers. The usual survivor rule applies: the largest profile
// keeps its id, on a tie the oldest.
//
// Errors: EINVALID (fewer than two distinct profiles, a reason
// ReasonProblem refuses), ENOTFOUND, ECONFLICT (the merge would break an
// identifier limit).
func (e *Engine) MergeProfiles(ctx context.Context, ids []string, reason string) (Profile, error) {
	if err := requireReason(reason); err != nil {
		return Profile{}, err
	}
	var out Profile
	err := e.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		// The profiles the ids answer for are read again under their
		// locks: an unlink committing meanwhile may have given an id back
		// its own part.
		live, locked, err := lockResolved(ctx, tx, ids)
		if err != nil {
			return err
		}
		var pids []string
		for _, id := range ids {
			p, ok := live[id]
			if !ok {
				return Errorf(ENOTFOUND, "profile %s not found", ProfileRef(id))
			}
			if !slices.Contains(pids, p.ID) {
				pids = append(pids, p.ID)
			}
		}
		if len(pids) < 2 {
			return Errorf(EINVALID, "mergeProfiles needs at least two distinct profiles, got %d", len(pids))
		}
		sort.Strings(pids)
		ps := make([]Profile, 0, len(pids))
		for _, id := range pids {
			ps = append(ps, locked[id])
		}
		sort.Slice(ps, func(i, j int) bool {
			if ps[i].Size != ps[j].Size {
				return ps[i].Size > ps[j].Size
			}
			if !ps[i].CreatedAt.Equal(ps[j].CreatedAt) {
				return ps[i].CreatedAt.Before(ps[j].CreatedAt)
			}
			return ps[i].ID < ps[j].ID
		})
		win := ps[0]
		counts, size := maps.Clone(win.Counts), win.Size
		for _, l := range ps[1:] {
			if why := e.limitConflict(counts, l.Counts, size, l.Size); why != "" {
				return Errorf(ECONFLICT, "cannot merge %s into %s: %s", l.ID, win.ID, why)
			}
			for t, n := range l.Counts {
				counts[t] += n
			}
			size += l.Size
		}
		members, err := tx.Members(ctx, pids)
		if err != nil {
			return err
		}
		top := func(id string) string {
			ks := make([]string, 0, len(members[id]))
			for _, m := range members[id] {
				ks = append(ks, m.Key)
			}
			e.norm.SortByPriority(ks)
			return ks[0]
		}
		now := e.stamp(1, latestOf(locked))
		w := &Write{At: now}
		// A manual merge lifts the manual refusals between the people it
		// joins: the person's latest word wins.
		in := map[string]string{}
		var all []string
		for _, id := range pids {
			for _, m := range members[id] {
				in[m.Key] = id
				all = append(all, m.Key)
			}
		}
		slices.Sort(all)
		refused, err := tx.Rejected(ctx, all)
		if err != nil {
			return err
		}
		for _, r := range refused {
			if r.Source == SourceManual && in[r.A] != "" && in[r.B] != "" && in[r.A] != in[r.B] {
				w.DeleteRejected = append(w.DeleteRejected, NewLinkKey(r.A, r.B))
			}
		}
		winTop := top(win.ID)
		for _, l := range ps[1:] {
			keys := make([]string, len(members[l.ID]))
			for i, m := range members[l.ID] {
				keys[i] = MemberDigest(m.Key)
				w.Assign = append(w.Assign, Assignment{Key: m.Key, ProfileID: win.ID})
			}
			w.PutProfiles = append(w.PutProfiles, Profile{ID: l.ID, CreatedAt: l.CreatedAt, UpdatedAt: now, MergedInto: win.ID})
			slices.Sort(keys)
			w.Changes = append(w.Changes, ProfileChange{Kind: ChangeMerge, From: l.ID, Into: win.ID, At: now, Reason: "manual: " + reason, Members: keys})
			lk := NewLinkKey(winTop, top(l.ID))
			w.PutLinks = append(w.PutLinks, Link{A: lk.A, B: lk.B, Source: SourceManual, Evidence: reason, FirstSeen: now, LastSeen: now, Count: 1})
		}
		out = Profile{ID: win.ID, CreatedAt: win.CreatedAt, UpdatedAt: now, Size: size, Counts: counts}
		w.PutProfiles = append(w.PutProfiles, out)
		return applyAndHook(ctx, tx, w)
	})
	return out, err
}

// PathStep is one LINKED edge on the path between two identifiers, walked
// from From to To.
type PathStep struct {
	From string
	To   string
	Link Link
}

// Explanation says why two identifiers are, or are not, in one profile.
type Explanation struct {
	Linked   bool
	ProfileA string
	ProfileB string
	// Path is the shortest chain of accepted links from a to b.
	Path []PathStep
	// Rejected are the refused links between the two profiles.
	Rejected []RejectedLink
}

// ExplainLink explains why two identifiers share a profile (the shortest
// path of links, each with its source and evidence) or why they do not (the
// refused links between their profiles).
//
// Errors: EINVALID, ENOTFOUND (those about an identifier an
// *IdentifierError), ECONFLICT (the profiles changed on every attempt to
// read them; see viewSettled).
func (e *Engine) ExplainLink(ctx context.Context, a, b IdentifierRef) (Explanation, error) {
	na, err := e.NormalizeRef(a)
	if err != nil {
		return Explanation{}, err
	}
	nb, err := e.NormalizeRef(b)
	if err != nil {
		return Explanation{}, err
	}
	ka, kb := na.Key(), nb.Key()
	var ex Explanation
	what := "the profiles of " + KeyRef(ka) + " and " + KeyRef(kb) // no value in the message
	err = e.viewSettled(ctx, what, func(ctx context.Context, tx ReadTx) error {
		ex = Explanation{} // fn may run again: drop what an earlier run found
		ids, err := tx.Identifiers(ctx, []string{ka, kb})
		if err != nil {
			return err
		}
		for _, r := range []IdentifierRef{na, nb} {
			if _, ok := ids[r.Key()]; !ok {
				return notFound(r)
			}
		}
		ex.ProfileA, ex.ProfileB = ids[ka].ProfileID, ids[kb].ProfileID
		pids := []string{ex.ProfileA}
		if ex.ProfileB != ex.ProfileA {
			pids = append(pids, ex.ProfileB)
		}
		members, err := tx.Members(ctx, pids)
		if err != nil {
			return err
		}
		in := map[string]string{}
		var keys []string
		for pid, ms := range members {
			for _, m := range ms {
				in[m.Key] = pid
				keys = append(keys, m.Key)
			}
		}
		sort.Strings(keys)
		// Each read may see writes the one before did not (see
		// viewSettled): the members must hold the identifiers where
		// their first read found them, and a path join two of a
		// profile's members, as its links make it one component.
		if in[ka] != ex.ProfileA || in[kb] != ex.ProfileB {
			return errTornRead
		}
		if ex.ProfileA == ex.ProfileB {
			ex.Linked = true
			links, err := tx.Links(ctx, keys)
			if err != nil {
				return err
			}
			ex.Path = shortestPath(links, ka, kb)
			if ka != kb && len(ex.Path) == 0 {
				return errTornRead
			}
			for _, st := range ex.Path {
				if in[st.To] != ex.ProfileA {
					return errTornRead
				}
			}
			return nil
		}
		rs, err := tx.Rejected(ctx, keys)
		if err != nil {
			return err
		}
		for _, r := range rs {
			pa, pb := in[r.A], in[r.B]
			if pa != "" && pb != "" && pa != pb {
				ex.Rejected = append(ex.Rejected, r)
			}
		}
		return nil
	})
	return ex, err
}

func shortestPath(links []Link, from, to string) []PathStep {
	adj := map[string][]Link{}
	for _, l := range links {
		adj[l.A] = append(adj[l.A], l)
		adj[l.B] = append(adj[l.B], l)
	}
	prev := map[string]PathStep{}
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 && !seen[to] {
		k := queue[0]
		queue = queue[1:]
		for _, l := range adj[k] {
			o := l.A
			if o == k {
				o = l.B
			}
			if !seen[o] {
				seen[o] = true
				prev[o] = PathStep{From: k, To: o, Link: l}
				queue = append(queue, o)
			}
		}
	}
	if !seen[to] || from == to {
		return nil
	}
	var path []PathStep
	for k := to; k != from; k = prev[k].From {
		path = append(path, prev[k])
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

// GraphView is a profile's identity graph, ready to draw: its identifiers,
// its links, and the refused links that touch it. Nodes outside the profile
// (the far ends of refused links) carry their own ProfileID.
type GraphView struct {
	ProfileID string
	Nodes     []Identifier
	Links     []Link
	Rejected  []RejectedLink
}

// IdentityGraph returns the identity graph of a profile.
//
// Errors: ENOTFOUND, ECONFLICT (the profile changed on every attempt to
// read it; see viewSettled).
func (e *Engine) IdentityGraph(ctx context.Context, profileID string) (GraphView, error) {
	gs, err := e.IdentityGraphs(ctx, []string{profileID})
	if err != nil {
		return GraphView{}, err
	}
	g, ok := gs[profileID]
	if !ok {
		return GraphView{}, Errorf(ENOTFOUND, "profile %s not found", ProfileRef(profileID))
	}
	return g, nil
}

// IdentityGraphs returns the identity graphs of profiles, by the ids as
// given (a merged-away id gets its survivor's); an id of no live profile
// is left out. The reads are the same few however many profiles there
// are: the profiles, their members, the links and refused links of all
// members, and the identifiers those refusals name outside each profile.
//
// Errors: ECONFLICT (a profile changed on every attempt to read it; see
// viewSettled). Writes to any of many profiles meet a read of all of them
// more often than writes to one meet a read of one, so when the reads of
// all keep meeting writes, each profile is read on its own.
func (e *Engine) IdentityGraphs(ctx context.Context, profileIDs []string) (map[string]GraphView, error) {
	out, err := e.identityGraphs(ctx, profileIDs)
	if ErrorCode(err) != ECONFLICT || len(profileIDs) < 2 {
		return out, err
	}
	out = make(map[string]GraphView, len(profileIDs))
	for _, id := range profileIDs {
		g, err := e.identityGraphs(ctx, []string{id})
		if err != nil {
			return nil, err
		}
		maps.Copy(out, g)
	}
	return out, nil
}

func (e *Engine) identityGraphs(ctx context.Context, profileIDs []string) (map[string]GraphView, error) {
	var out map[string]GraphView
	what := "profiles"
	if len(profileIDs) == 1 {
		what = "profile " + ProfileRef(profileIDs[0])
	}
	err := e.viewSettled(ctx, what, func(ctx context.Context, tx ReadTx) error {
		out = make(map[string]GraphView, len(profileIDs)) // fn may run again
		live, err := resolveProfiles(ctx, tx, profileIDs)
		if err != nil || len(live) == 0 {
			return err
		}
		var ids []string
		seen := map[string]bool{}
		for _, p := range live {
			if !seen[p.ID] {
				seen[p.ID] = true
				ids = append(ids, p.ID)
			}
		}
		sort.Strings(ids)
		ms, err := tx.Members(ctx, ids)
		if err != nil {
			return err
		}
		var keys []string
		owner := map[string]string{} // member key -> profile id
		for _, id := range ids {
			for _, n := range ms[id] {
				if owner[n.Key] != "" {
					return errTornRead // one identifier in two profiles: a write landed between the reads
				}
				keys = append(keys, n.Key)
				owner[n.Key] = id
			}
		}
		links, err := tx.Links(ctx, keys)
		if err != nil {
			return err
		}
		rejected, err := tx.Rejected(ctx, keys)
		if err != nil {
			return err
		}
		// Each link and refusal goes to the profiles of its ends, in the
		// order read (sorted).
		linksOf := map[string][]Link{}
		for _, l := range links {
			for _, o := range ownersOf(owner, l.A, l.B) {
				linksOf[o] = append(linksOf[o], l)
			}
		}
		rejectedOf := map[string][]RejectedLink{}
		for _, r := range rejected {
			for _, o := range ownersOf(owner, r.A, r.B) {
				rejectedOf[o] = append(rejectedOf[o], r)
			}
		}
		views := make(map[string]*GraphView, len(ids))
		var far []string
		outsideOf := map[string][]string{}
		for _, id := range ids {
			g := &GraphView{ProfileID: id, Nodes: ms[id], Links: linksOf[id]}
			inside := make(map[string]bool, len(g.Nodes))
			for _, n := range g.Nodes {
				inside[n.Key] = true
			}
			// A live profile has members, one component over its links,
			// and no link leaves it; else a write landed between the
			// reads (see viewSettled).
			if !oneComponent(inside, g.Links) {
				return errTornRead
			}
			var outside []string
			for _, r := range rejectedOf[id] {
				g.Rejected = append(g.Rejected, r)
				for _, k := range []string{r.A, r.B} {
					if !inside[k] {
						inside[k] = true // listed once
						outside = append(outside, k)
					}
				}
			}
			sort.Strings(outside)
			outsideOf[id] = outside
			far = append(far, outside...)
			views[id] = g
		}
		if len(far) > 0 {
			found, err := tx.Identifiers(ctx, far)
			if err != nil {
				return err
			}
			for _, id := range ids {
				g := views[id]
				for _, k := range outsideOf[id] {
					if n, ok := found[k]; ok {
						if n.ProfileID == id {
							return errTornRead // a member the members read missed
						}
						g.Nodes = append(g.Nodes, n)
					}
				}
			}
		}
		for asked, p := range live {
			out[asked] = *views[p.ID]
		}
		return nil
	})
	return out, err
}

// ownersOf returns the profiles (by owner, member key to profile id)
// holding a or b, each once; none for keys of no profile read.
func ownersOf(owner map[string]string, a, b string) []string {
	oa, ob := owner[a], owner[b]
	switch {
	case oa == "":
		if ob == "" {
			return nil
		}
		return []string{ob}
	case ob == "" || ob == oa:
		return []string{oa}
	}
	return []string{oa, ob}
}

// oneComponent reports whether keys (not empty) are one component over
// links, with no link from one of them to a key outside.
func oneComponent(keys map[string]bool, links []Link) bool {
	if len(keys) == 0 {
		return false
	}
	parent := make(map[string]string, len(keys))
	for k := range keys {
		parent[k] = k
	}
	find := func(k string) string {
		for parent[k] != k {
			parent[k] = parent[parent[k]]
			k = parent[k]
		}
		return k
	}
	parts := len(keys)
	for _, l := range links {
		if !keys[l.A] || !keys[l.B] {
			return false
		}
		if ra, rb := find(l.A), find(l.B); ra != rb {
			parent[ra] = rb
			parts--
		}
	}
	return parts == 1
}

// errTornRead ends a read transaction whose reads do not fit together:
// a write committed between two of them. See viewSettled.
var errTornRead = errors.New("a write committed between the reads")

// maxReadAttempts bounds how many times viewSettled reads.
const maxReadAttempts = 8

// viewSettled runs fn in a read transaction, again while it ends with
// errTornRead, up to maxReadAttempts times. A store's View need not be one
// snapshot: Neo4j runs each read as a statement of its own, each seeing
// what committed before it, so a merge or a split of the profile being
// read can commit between two of them. fn checks that what it read fits
// together (the members of a profile and its links, say) and returns
// errTornRead when it does not; it then reads again, seeing the writes
// that landed. A store whose reads are one snapshot reads once. When
// every attempt met a write, the answer is ECONFLICT naming what (its
// message says to try again), never a mix of two states.
func (e *Engine) viewSettled(ctx context.Context, what string, fn func(ctx context.Context, tx ReadTx) error) error {
	return e.store.View(ctx, func(ctx context.Context, tx ReadTx) error {
		for attempt := 1; ; attempt++ {
			err := fn(ctx, tx)
			if !errors.Is(err, errTornRead) {
				return err
			}
			if attempt == maxReadAttempts {
				return Errorf(ECONFLICT, "%s changed while being read, %d times; try again", what, attempt)
			}
			if attempt > 2 {
				// Writes keep landing: let a few commit.
				t := time.NewTimer(time.Duration(attempt) * time.Millisecond)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
		}
	})
}
