package graphtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/idgraph/cdp/graph"
)

// Model is a pure reference model of the resolution rules (DESIGN.md rule 6):
// it replays every operation itself and never reads a store, so a link a
// store should have refused, or an id it should have given back, shows up as
// a difference. It borrows from package graph only the normalizer (to
// normalize values and order keys by priority), the rules' per-type limits,
// and the pinned ProfileIDFor; union, limits, refusals, splits, naming and
// redirects are its own.
//
// Time is counted in whole minutes since the first operation: the test's
// clock gives the engine the same value for each operation.
type Model struct {
	norm *graph.Normalizer
	max  int // maxIdentifiers
	// Now is the current operation's time; the caller advances it.
	Now int

	idents   map[string]string // identifier key -> the live profile holding it
	profiles map[string]*modelProfile
	links    map[graph.LinkKey]*modelLink
	refused  map[graph.LinkKey]string // -> graph.SourceManual or graph.SourceRules
	events   map[string][]string      // stored event id -> the keys it is BY
	created  []string                 // every profile id ever created, oldest first
	// retired holds the ids of deleted profiles, which no new profile
	// takes. The model keeps them plain; a store keeps only keyed hashes.
	retired map[string]bool
}

// modelProfile is a stored profile: live (members set, into empty) or merged
// away (into set, recorded = its members at the merge that made it redirect).
// A deleted profile is not in Model.profiles at all.
type modelProfile struct {
	id       string
	created  int
	rank     int // created by the rank-th event of its batch
	members  map[string]bool
	into     string
	recorded map[string]bool
}

type modelLink struct {
	count  int
	manual bool
}

// ModelEvent is an event as the model sees it: an id and the references it
// carries.
type ModelEvent struct {
	ID   string
	Refs []graph.IdentifierRef
}

// NewModel returns an empty model of rules r with the given maxIdentifiers.
func NewModel(r *graph.Rules, maxIdentifiers int) *Model {
	return &Model{
		norm:     graph.NewNormalizer(r),
		max:      maxIdentifiers,
		idents:   map[string]string{},
		profiles: map[string]*modelProfile{},
		links:    map[graph.LinkKey]*modelLink{},
		refused:  map[graph.LinkKey]string{},
		events:   map[string][]string{},
		retired:  map[string]bool{},
	}
}

// before reports whether key a comes before key b in priority order.
func (m *Model) before(a, b string) bool {
	ks := []string{a, b}
	m.norm.SortByPriority(ks)
	return ks[0] == a && a != b
}

func (m *Model) limit(typ string) int { return m.norm.Rules().Rule(typ).Limit }

// conflict reports whether one profile may not hold the identifiers of a
// and b together: a type counted in both over its limit, or too many in all.
func (m *Model) conflict(a, b map[string]bool) bool {
	ca, cb := typeCounts(a), typeCounts(b)
	for t, n := range ca {
		if cb[t] > 0 && n+cb[t] > m.limit(t) {
			return true
		}
	}
	return len(a)+len(b) > m.max
}

func typeCounts(keys map[string]bool) map[string]int {
	out := map[string]int{}
	for k := range keys {
		out[graph.SplitKey(k).Type]++
	}
	return out
}

// resolve follows redirects from id to a live profile, or nil.
func (m *Model) resolve(id string) *modelProfile {
	for range len(m.profiles) + 1 {
		p := m.profiles[id]
		if p == nil || p.into == "" {
			return p
		}
		id = p.into
	}
	panic("model: redirect cycle")
}

// newID names a new profile: the first ProfileIDFor(seed, attempt) that
// no stored profile holds, no deleted profile held, and taken does not
// hold.
func (m *Model) newID(seed string, taken map[string]bool) string {
	for attempt := 0; ; attempt++ {
		id := graph.ProfileIDFor(seed, attempt)
		if m.profiles[id] == nil && !m.retired[id] && !taken[id] {
			return id
		}
	}
}

func (m *Model) put(p *modelProfile) {
	m.profiles[p.id] = p
	if !slices.Contains(m.created, p.id) {
		m.created = append(m.created, p.id)
	}
	for k := range p.members {
		m.idents[k] = p.id
	}
}

func (m *Model) addLink(a, b string, manual bool) {
	lk := graph.NewLinkKey(a, b)
	if l := m.links[lk]; l != nil {
		l.count++
		return
	}
	m.links[lk] = &modelLink{count: 1, manual: manual}
}

func (m *Model) normalize(r graph.IdentifierRef) (string, string) {
	n, why := m.norm.Normalize(r)
	if why != "" {
		return "", graph.EINVALID
	}
	return n.Key(), ""
}

func blank(reason string) bool { return strings.TrimSpace(reason) == "" }

// modelGroup is a would-be profile during one batch: an existing profile or
// a new group seeded by a new identifier.
type modelGroup struct {
	parent   *modelGroup
	profile  string // existing profile id; "" for a new group
	seed     string // the new group's first identifier
	created  int
	rank     int // a new group: the index of the batch's first event carrying its seed
	members  map[string]bool
	absorbed []string // existing profiles merged into this group
}

func (g *modelGroup) root() *modelGroup {
	for g.parent != nil {
		g = g.parent
	}
	return g
}

// beats, for a union made by the j-th event of a batch: the larger group
// wins, then the older, then an existing profile over a new group, then the
// smaller profile id (or seed key).
//
// A batch is meant to resolve as its events would one at a time, each in a
// batch of its own, later ones later: "older" is the earlier minute, then
// the earlier event of the minute's batch. Two new groups started by one
// earlier event of the batch would by now be stored profiles, named by
// their seeds (each seed's first id no profile holds), so they compare by
// those names.
func (g *modelGroup) beats(h *modelGroup, j int, m *Model) bool {
	if len(g.members) != len(h.members) {
		return len(g.members) > len(h.members)
	}
	if g.created != h.created {
		return g.created < h.created
	}
	if g.rank != h.rank {
		return g.rank < h.rank
	}
	if (g.profile == "") != (h.profile == "") {
		return g.profile != ""
	}
	return g.tieName(j, m) < h.tieName(j, m)
}

func (g *modelGroup) tieName(j int, m *Model) string {
	if g.profile == "" && g.rank < j {
		return m.newID(g.seed, nil)
	}
	return g.profile + g.seed
}

// Ingest applies one batch and returns each event's status
// (graph.StatusStored, StatusDuplicate or StatusRejected).
func (m *Model) Ingest(evs []ModelEvent) []string {
	status := make([]string, len(evs))
	var kept [][]string // each kept event's distinct keys, in priority order
	var keptIDs []string
	for i, ev := range evs {
		var keys []string
		for _, r := range ev.Refs {
			if k, code := m.normalize(r); code == "" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		switch {
		case len(keys) == 0:
			status[i] = graph.StatusRejected
		case m.events[ev.ID] != nil || slices.Contains(keptIDs, ev.ID):
			status[i] = graph.StatusDuplicate
		default:
			status[i] = graph.StatusStored
			m.norm.SortByPriority(keys)
			kept = append(kept, keys)
			keptIDs = append(keptIDs, ev.ID)
		}
	}

	groups := map[string]*modelGroup{} // by existing profile id or new key
	group := func(k string, j int) *modelGroup {
		pid, stored := m.idents[k]
		if !stored {
			pid = k
		}
		g := groups[pid]
		switch {
		case g != nil:
		case stored:
			p := m.profiles[pid]
			g = &modelGroup{profile: pid, created: p.created, rank: p.rank, members: maps.Clone(p.members)}
		default:
			g = &modelGroup{seed: k, created: m.Now, rank: j, members: map[string]bool{k: true}}
		}
		groups[pid] = g
		return g
	}
	held := map[string]map[string]bool{} // absorbed profile id -> its members when absorbed
	for j, keys := range kept {
		for _, k := range keys {
			group(k, j) // a new key gets its group even when carried alone
		}
		anchor := keys[0]
		for _, x := range keys[1:] {
			lk := graph.NewLinkKey(anchor, x)
			if m.refused[lk] == graph.SourceManual {
				continue // a person's refusal holds until a manual merge
			}
			ra, rx := group(anchor, j).root(), group(x, j).root()
			if ra != rx {
				if m.conflict(ra.members, rx.members) {
					m.refused[lk] = graph.SourceRules
					continue
				}
				win, lose := ra, rx
				if rx.beats(ra, j, m) {
					win, lose = rx, ra
				}
				lose.parent = win
				if lose.profile != "" {
					// What it holds now, what the batch gave it
					// included, is what its merge records.
					held[lose.profile] = maps.Clone(lose.members)
				}
				maps.Copy(win.members, lose.members)
				if lose.profile != "" {
					win.absorbed = append(win.absorbed, lose.profile)
				}
				win.absorbed = append(win.absorbed, lose.absorbed...)
			}
			m.addLink(anchor, x, false)
			delete(m.refused, lk) // a rules refusal; a person's was skipped above
		}
		m.events[keptIDs[j]] = keys
	}

	var roots []*modelGroup
	for _, g := range groups {
		if g.parent == nil {
			roots = append(roots, g)
		}
	}
	slices.SortFunc(roots, func(a, b *modelGroup) int { return strings.Compare(a.profile+a.seed, b.profile+b.seed) })
	taken := map[string]bool{}
	for _, g := range roots {
		if g.profile == "" {
			g.profile = m.newID(g.seed, taken)
			taken[g.profile] = true
		}
	}
	for _, g := range roots {
		for _, id := range g.absorbed {
			lost := m.profiles[id]
			lost.recorded, lost.members, lost.into = held[id], nil, g.profile
		}
		p := m.profiles[g.profile]
		if p == nil {
			p = &modelProfile{id: g.profile, created: m.Now, rank: g.rank}
		}
		p.members = g.members
		m.put(p)
	}
	return status
}

// Merge merges profiles by hand and returns the survivor's id, or an error
// code (graph.ENOTFOUND, EINVALID, ECONFLICT) and no change.
func (m *Model) Merge(ids []string, reason string) (string, string) {
	if blank(reason) {
		return "", graph.EINVALID
	}
	var ps []*modelProfile
	for _, id := range ids {
		p := m.resolve(id)
		if p == nil {
			return "", graph.ENOTFOUND
		}
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	if len(ps) < 2 {
		return "", graph.EINVALID
	}
	slices.SortFunc(ps, func(a, b *modelProfile) int {
		if len(a.members) != len(b.members) {
			return len(b.members) - len(a.members)
		}
		if a.created != b.created {
			return a.created - b.created
		}
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return strings.Compare(a.id, b.id)
	})
	win := ps[0]
	all := maps.Clone(win.members)
	for _, l := range ps[1:] {
		if m.conflict(all, l.members) {
			return "", graph.ECONFLICT
		}
		maps.Copy(all, l.members)
	}
	top := func(p *modelProfile) string {
		ks := slices.Collect(maps.Keys(p.members))
		m.norm.SortByPriority(ks)
		return ks[0]
	}
	winTop := top(win)
	for lk, src := range m.refused {
		if src == graph.SourceManual && all[lk.A] && all[lk.B] && m.idents[lk.A] != m.idents[lk.B] {
			delete(m.refused, lk)
		}
	}
	for _, l := range ps[1:] {
		m.addLink(winTop, top(l), true)
		l.recorded, l.members, l.into = l.members, nil, win.id
	}
	win.members = all
	m.put(win)
	return win.id, ""
}

// Unlink cuts the direct link between a and b, records a manual refusal and
// splits their profile; or returns an error code and changes nothing.
func (m *Model) Unlink(a, b graph.IdentifierRef, reason string) string {
	if blank(reason) {
		return graph.EINVALID
	}
	ka, code := m.normalize(a)
	if code != "" {
		return code
	}
	kb, code := m.normalize(b)
	if code != "" {
		return code
	}
	if ka == kb {
		return graph.EINVALID
	}
	pa, oka := m.idents[ka]
	pb, okb := m.idents[kb]
	lk := graph.NewLinkKey(ka, kb)
	if !oka || !okb || pa != pb || m.links[lk] == nil {
		return graph.ENOTFOUND
	}
	delete(m.links, lk)
	m.refused[lk] = graph.SourceManual
	m.split(m.profiles[pa])
	return ""
}

// Remove erases an identifier with its links, refusals and the events only
// it carried, and splits (or deletes) its profile; or returns an error code.
// A profile left with no member is deleted with every profile whose
// redirects end at it, so no id is left redirecting to nothing; a deleted
// id is retired, never given to a new profile. History keeps no trace of it either: it leaves the members recorded by
// every merge, so a profile merged away can no longer claim it back when
// the identifier is seen again.
func (m *Model) Remove(r graph.IdentifierRef, reason string) string {
	if blank(reason) {
		return graph.EINVALID
	}
	k, code := m.normalize(r)
	if code != "" {
		return code
	}
	pid, ok := m.idents[k]
	if !ok {
		return graph.ENOTFOUND
	}
	delete(m.idents, k)
	for lk := range m.links {
		if lk.A == k || lk.B == k {
			delete(m.links, lk)
		}
	}
	for lk := range m.refused {
		if lk.A == k || lk.B == k {
			delete(m.refused, lk)
		}
	}
	for id, keys := range m.events {
		if keys = slices.DeleteFunc(slices.Clone(keys), func(x string) bool { return x == k }); len(keys) == 0 {
			delete(m.events, id)
		} else {
			m.events[id] = keys
		}
	}
	for _, q := range m.profiles {
		delete(q.recorded, k)
	}
	p := m.profiles[pid]
	delete(p.members, k)
	if len(p.members) == 0 {
		gone := []string{pid}
		for id, c := range m.profiles {
			if c.into != "" && m.resolve(id) == p {
				gone = append(gone, id)
			}
		}
		for _, id := range gone {
			delete(m.profiles, id)
			m.retired[id] = true
		}
		return ""
	}
	m.split(p)
	return ""
}

// components returns the connected components of keys over the links, each
// in priority order.
func (m *Model) components(keys map[string]bool) [][]string {
	adj := map[string][]string{}
	for lk := range m.links {
		if keys[lk.A] && keys[lk.B] {
			adj[lk.A] = append(adj[lk.A], lk.B)
			adj[lk.B] = append(adj[lk.B], lk.A)
		}
	}
	seen := map[string]bool{}
	var parts [][]string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if seen[k] {
			continue
		}
		seen[k] = true
		part, todo := []string{}, []string{k}
		for len(todo) > 0 {
			x := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			part = append(part, x)
			for _, y := range adj[x] {
				if !seen[y] {
					seen[y] = true
					todo = append(todo, y)
				}
			}
		}
		m.norm.SortByPriority(part)
		parts = append(parts, part)
	}
	return parts
}

func overlap(part []string, set map[string]bool) int {
	n := 0
	for _, k := range part {
		if set[k] {
			n++
		}
	}
	return n
}

// split recomputes p's components. p keeps the part holding most of its own
// members; other parts go back to the profiles merged into p whose recorded
// members they overlap most, and the rest get new ids.
func (m *Model) split(p *modelProfile) {
	parts := m.components(p.members)
	if len(parts) == 1 {
		return
	}
	var cands []*modelProfile // every profile whose redirects end at p, by id
	claimed := map[string]bool{}
	for _, id := range slices.Sorted(maps.Keys(m.profiles)) {
		if c := m.profiles[id]; c.into != "" && m.resolve(id) == p {
			cands = append(cands, c)
			maps.Copy(claimed, c.recorded)
		}
	}
	own := map[string]bool{}
	for k := range p.members {
		if !claimed[k] {
			own[k] = true
		}
	}
	// Parts in the order p chooses from: most own members, then larger, then
	// by first key. With every overlap 0 this is the largest part.
	slices.SortFunc(parts, func(a, b []string) int {
		if oa, ob := overlap(a, own), overlap(b, own); oa != ob {
			return ob - oa
		}
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		if m.before(a[0], b[0]) {
			return -1
		}
		return 1
	})
	keep, rest := parts[0], parts[1:]
	slices.SortFunc(rest, func(a, b []string) int {
		if m.before(a[0], b[0]) {
			return -1
		}
		return 1
	})
	owner := make([]*modelProfile, len(rest))
	used := map[*modelProfile]bool{}
	for {
		bi, bc, bov, bdiff := -1, (*modelProfile)(nil), 0, 0
		for _, c := range cands { // by id, so ties keep the smaller id
			if used[c] {
				continue
			}
			for i, pt := range rest { // by first key, so ties keep the first
				if owner[i] != nil {
					continue
				}
				ov := overlap(pt, c.recorded)
				if ov == 0 {
					continue
				}
				diff := len(pt) + len(c.recorded) - 2*ov
				if bc == nil || ov > bov || (ov == bov && diff < bdiff) {
					bi, bc, bov, bdiff = i, c, ov, diff
				}
			}
		}
		if bc == nil {
			break
		}
		owner[bi], used[bc] = bc, true
	}
	p.members = setOf(keep)
	m.put(p)
	for i, pt := range rest {
		c := owner[i]
		if c == nil {
			c = &modelProfile{id: m.newID(p.id+"/"+pt[0], nil), created: m.Now}
		}
		c.into, c.recorded, c.members = "", nil, setOf(pt)
		m.put(c)
	}
}

func setOf(keys []string) map[string]bool {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out
}

// Created returns every profile id the model ever created, oldest first.
func (m *Model) Created() []string { return slices.Clone(m.created) }

// Links returns the accepted links, ordered.
func (m *Model) Links() []graph.LinkKey {
	return slices.SortedFunc(maps.Keys(m.links), compareLinkKeys)
}

// Refused returns the pairs refused by source (graph.SourceManual or
// SourceRules), ordered.
func (m *Model) Refused(source string) []graph.LinkKey {
	var out []graph.LinkKey
	for lk, src := range m.refused {
		if src == source {
			out = append(out, lk)
		}
	}
	slices.SortFunc(out, compareLinkKeys)
	return out
}

func compareLinkKeys(a, b graph.LinkKey) int {
	return strings.Compare(a.A+"\x00"+a.B, b.A+"\x00"+b.B)
}

// Unlinked returns the pairs of identifiers that share a profile but no
// direct link, ordered.
func (m *Model) Unlinked() []graph.LinkKey {
	var out []graph.LinkKey
	for _, a := range m.Stored() {
		for _, b := range m.Stored() {
			if a < b && m.idents[a] == m.idents[b] && m.links[graph.NewLinkKey(a, b)] == nil {
				out = append(out, graph.NewLinkKey(a, b))
			}
		}
	}
	return out
}

// Stored returns the stored identifier keys, ordered.
func (m *Model) Stored() []string { return slices.Sorted(maps.Keys(m.idents)) }

// State renders what the model expects a store to answer, in the form
// observe (modeltest.go) renders what a store does answer. Times are minutes
// since the first operation.
func (m *Model) State() map[string]string {
	out := map[string]string{}
	live := 0
	for id, p := range m.profiles {
		if p.into != "" {
			continue
		}
		live++
		keys := slices.Sorted(maps.Keys(p.members))
		out["partition "+strings.Join(keys, " ")] = "present"
		out["profile "+id] = renderProfile(keys, len(keys), typeCounts(p.members), p.created)
	}
	out["live profiles"] = fmt.Sprint(live)
	for lk, l := range m.links {
		out["link "+lk.A+" "+lk.B] = renderLink(l.count, l.manual)
	}
	for lk, src := range m.refused {
		out["refused "+lk.A+" "+lk.B] = src
	}
	for id, keys := range m.events {
		out["event "+id] = strings.Join(slices.Sorted(slices.Values(keys)), " ")
	}
	for _, id := range m.created {
		if p := m.resolve(id); p != nil {
			out["answer "+id] = p.id
		} else {
			out["answer "+id] = "not found"
		}
	}
	return out
}

func renderProfile(keys []string, size int, counts map[string]int, created int) string {
	var cs []string
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		if counts[t] != 0 {
			cs = append(cs, fmt.Sprintf("%s=%d", t, counts[t]))
		}
	}
	return fmt.Sprintf("members [%s] size %d counts [%s] created +%dm", strings.Join(keys, " "), size, strings.Join(cs, " "), created)
}

func renderLink(count int, manual bool) string {
	if manual {
		return fmt.Sprintf("count %d manual", count)
	}
	return fmt.Sprintf("count %d", count)
}

// check verifies the model's own invariants: every live profile is one
// component of the accepted links, no link crosses profiles, and limits hold.
func (m *Model) check() error {
	for id, p := range m.profiles {
		if p.into != "" {
			continue
		}
		if len(p.members) == 0 {
			return fmt.Errorf("model: live profile %s is empty", id)
		}
		if n := len(m.components(p.members)); n != 1 {
			return fmt.Errorf("model: profile %s has %d components", id, n)
		}
		for t, n := range typeCounts(p.members) {
			if n > m.limit(t) {
				return fmt.Errorf("model: profile %s holds %d %s", id, n, t)
			}
		}
		if len(p.members) > m.max {
			return fmt.Errorf("model: profile %s holds %d identifiers", id, len(p.members))
		}
		for k := range p.members {
			if m.idents[k] != id {
				return fmt.Errorf("model: %s is in %s, says %s", k, id, m.idents[k])
			}
		}
	}
	for lk := range m.links {
		if m.idents[lk.A] == "" || m.idents[lk.A] != m.idents[lk.B] {
			return fmt.Errorf("model: link %s-%s crosses profiles", lk.A, lk.B)
		}
	}
	return nil
}
