package graph

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Engine resolves identities. It is the only writer of the graph: every
// change goes through one Store.Update, so both stores behave the same.
type Engine struct {
	store Store
	norm  *Normalizer
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// NewEngine returns an engine over s with rules r (nil for the defaults).
func NewEngine(s Store, r *Rules) *Engine {
	if r == nil {
		r = DefaultRules()
	}
	return &Engine{store: s, norm: NewNormalizer(r), Now: Now}
}

// Store returns the engine's store.
func (e *Engine) Store() Store { return e.store }

// Normalizer returns the engine's normalizer, with its drop counts.
func (e *Engine) Normalizer() *Normalizer { return e.norm }

// Event outcomes in a BatchResult.
const (
	StatusStored    = "stored"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
	// StatusConflict: the event's id is already stored (or came earlier in
	// the batch) with other content (another Digest). It is not a retry,
	// and nothing is stored. A caller that knows only the three statuses
	// above treats it as a rejection.
	StatusConflict = ReasonDuplicateConflict
)

// ReasonDuplicateConflict starts the Reason of a StatusConflict result.
const ReasonDuplicateConflict = "duplicate_conflict"

const conflictReason = ReasonDuplicateConflict + ": this message id was already stored for this source with different content"

// claimOutcome is what becomes of an event whose id is already stored (or
// came earlier in the batch) with digest stored: a duplicate when the
// content is the same, or when either digest is unknown (an event stored
// before digests were kept, or built without one), and a conflict otherwise.
func claimOutcome(stored string, ev *Event) EventResult {
	if stored == "" || ev.Digest == "" || stored == ev.Digest {
		return EventResult{ID: ev.ID, Status: StatusDuplicate}
	}
	return EventResult{ID: ev.ID, Status: StatusConflict, Reason: conflictReason}
}

// EventResult is the outcome of one event of a batch.
type EventResult struct {
	ID        string
	Status    string
	Reason    string
	ProfileID string
}

// BatchResult is the outcome of ApplyBatch, one result per event in order.
type BatchResult struct {
	Results    []EventResult
	Stored     int
	Duplicates int
	Rejected   int
	Conflicts  int // StatusConflict results, not counted in Rejected
}

// ApplyBatch resolves and stores events in one transaction. Events that
// carry no usable identifier are rejected with the reason; events whose id
// is already stored (or repeated in the batch) change nothing: they are
// duplicates when their Digest matches, conflicts (StatusConflict) when
// it differs. Events are resolved in the order given.
//
// Errors: EUNAVAILABLE when the store cannot be reached; nothing is stored.
func (e *Engine) ApplyBatch(ctx context.Context, events []Event) (BatchResult, error) {
	res := BatchResult{Results: make([]EventResult, len(events))}
	var todo []int
	seenID := map[string]*Event{} // first event of the batch with each id
	for i := range events {
		ev := &events[i]
		r := &res.Results[i]
		r.ID = ev.ID
		if ev.ID == "" {
			r.Status, r.Reason = StatusRejected, "event has no id"
			continue
		}
		keys, drops := e.norm.NormalizeAll(ev.Identifiers)
		if len(keys) == 0 {
			r.Status, r.Reason = StatusRejected, noIdentifierReason(drops)
			continue
		}
		if first := seenID[ev.ID]; first != nil {
			*r = claimOutcome(first.Digest, ev)
			continue
		}
		seenID[ev.ID] = ev
		ev.Keys = keys
		ev.Timestamp = Clean(ev.Timestamp)
		ev.ReceivedAt = Clean(ev.ReceivedAt)
		if ev.ReceivedAt.IsZero() {
			ev.ReceivedAt = Clean(e.Now())
		}
		if ev.Timestamp.IsZero() {
			ev.Timestamp = ev.ReceivedAt
		}
		todo = append(todo, i)
	}
	if len(todo) > 0 {
		var out map[int]EventResult
		err := e.store.Update(ctx, func(ctx context.Context, tx Tx) error {
			var err error
			out, err = e.resolve(ctx, tx, events, todo)
			return err
		})
		if err != nil {
			return BatchResult{}, err
		}
		for i, r := range out {
			res.Results[i] = r
		}
	}
	for _, r := range res.Results {
		switch r.Status {
		case StatusStored:
			res.Stored++
		case StatusDuplicate:
			res.Duplicates++
		case StatusRejected:
			res.Rejected++
		case StatusConflict:
			res.Conflicts++
		}
	}
	return res, nil
}

func noIdentifierReason(drops []Drop) string {
	if len(drops) == 0 {
		return "event carries no identifier"
	}
	msg := "event carries no usable identifier:"
	for i, d := range drops {
		if i > 0 {
			msg += ","
		}
		msg += fmt.Sprintf(" %s %s", d.Ref.Type, d.Reason)
	}
	return msg
}

// group is a union-find node over profiles during one batch: an existing
// profile, or a new profile seeded by a new identifier.
type group struct {
	parent    *group
	profile   string // existing profile id, "" for a new one
	seed      string // the new identifier that seeds a new profile
	size      int
	counts    map[string]int
	createdAt time.Time
	newKeys   []string // new identifiers that join this group
	absorbed  []string // existing profiles merged into this group
}

func (g *group) find() *group {
	for g.parent != nil {
		if g.parent.parent != nil {
			g.parent = g.parent.parent
		}
		g = g.parent
	}
	return g
}

// beats reports whether g survives a union with h: the larger wins, then
// the older, then an existing profile over a new one, then the smaller id.
func (g *group) beats(h *group) bool {
	if g.size != h.size {
		return g.size > h.size
	}
	if !g.createdAt.Equal(h.createdAt) {
		return g.createdAt.Before(h.createdAt)
	}
	if (g.profile == "") != (h.profile == "") {
		return g.profile != ""
	}
	return g.profile+g.seed < h.profile+h.seed
}

// limitConflict names the first identifier type whose limit a union of a
// and b would break, or "" when the union is allowed.
func (e *Engine) limitConflict(a, b map[string]int) string {
	types := make([]string, 0, len(b))
	for t := range b {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if a[t] > 0 && b[t] > 0 {
			if lim := e.norm.rules.Rule(t).Limit; a[t]+b[t] > lim {
				return fmt.Sprintf("profile would hold %d %s identifiers (limit %d)", a[t]+b[t], t, lim)
			}
		}
	}
	return ""
}

func (e *Engine) resolve(ctx context.Context, tx Tx, events []Event, todo []int) (map[int]EventResult, error) {
	now := Clean(e.Now())
	out := make(map[int]EventResult, len(todo))
	claims := make([]EventClaim, len(todo))
	for j, i := range todo {
		claims[j] = EventClaim{ID: events[i].ID, Digest: events[i].Digest}
	}
	stored, err := tx.ClaimEvents(ctx, claims)
	if err != nil {
		return nil, err
	}
	var kept []int
	for _, i := range todo {
		if digest, ok := stored[events[i].ID]; ok {
			out[i] = claimOutcome(digest, &events[i])
		} else {
			kept = append(kept, i)
		}
	}
	if len(kept) == 0 {
		return out, nil
	}

	// Every identifier the batch carries, locked in key order.
	sightings := map[string]*IdentifierSeen{}
	for _, i := range kept {
		ev := &events[i]
		for _, k := range ev.Keys {
			s := sightings[k]
			if s == nil {
				ref := SplitKey(k)
				s = &IdentifierSeen{Key: k, Type: ref.Type, Value: ref.Value, First: ev.Timestamp, Last: ev.Timestamp}
				sightings[k] = s
			}
			if ev.Timestamp.Before(s.First) {
				s.First = ev.Timestamp
			}
			if ev.Timestamp.After(s.Last) {
				s.Last = ev.Timestamp
			}
			if ev.Source != "" && !contains(s.Sources, ev.Source) {
				s.Sources = append(s.Sources, ev.Source)
			}
		}
	}
	keys := make([]string, 0, len(sightings))
	for k := range sightings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := make([]IdentifierSeen, len(keys))
	for j, k := range keys {
		seen[j] = *sightings[k]
	}
	idents, err := tx.LockIdentifiers(ctx, seen, true)
	if err != nil {
		return nil, err
	}
	var profIDs []string
	for _, k := range keys {
		if p := idents[k].ProfileID; p != "" && !contains(profIDs, p) {
			profIDs = append(profIDs, p)
		}
	}
	sort.Strings(profIDs)
	profs, err := tx.LockProfiles(ctx, profIDs)
	if err != nil {
		return nil, err
	}
	manual, err := e.manualRejections(ctx, tx, keys)
	if err != nil {
		return nil, err
	}

	groups := map[string]*group{} // by profile id or seed key
	nodeOf := func(key string) *group {
		if p := idents[key].ProfileID; p != "" {
			if g := groups[p]; g != nil {
				return g
			}
			pr := profs[p]
			g := &group{profile: p, size: pr.Size, counts: copyCounts(pr.Counts), createdAt: pr.CreatedAt}
			groups[p] = g
			return g
		}
		if g := groups[key]; g != nil {
			return g
		}
		g := &group{seed: key, size: 1, counts: map[string]int{SplitKey(key).Type: 1}, createdAt: now, newKeys: []string{key}}
		groups[key] = g
		return g
	}
	mergeReason := map[string]string{} // absorbed profile id -> why
	links := map[LinkKey]*Link{}
	rejected := map[LinkKey]*RejectedLink{}
	traits := map[string]map[string]TraitValue{}
	for _, k := range keys {
		nodeOf(k) // every identifier gets its group, even one carried alone
	}
	for _, i := range kept {
		ev := &events[i]
		anchor := ev.Keys[0]
		for _, x := range ev.Keys[1:] {
			ra, rx := nodeOf(anchor).find(), nodeOf(x).find()
			lk := NewLinkKey(anchor, x)
			if ra != rx {
				if manual[lk] {
					// The person's refusal stands as recorded; nothing to add.
					continue
				}
				if why := e.limitConflict(ra.counts, rx.counts); why != "" {
					rejected[lk] = &RejectedLink{A: anchor, B: x, Source: SourceRules, Reason: why, Evidence: ev.ID, At: now}
					continue
				}
				win, lose := ra, rx
				if rx.beats(ra) {
					win, lose = rx, ra
				}
				reason := fmt.Sprintf("event %s linked %s and %s", ev.ID, anchor, x)
				if lose.profile != "" {
					mergeReason[lose.profile] = reason
				}
				lose.parent = win
				win.size += lose.size
				for t, n := range lose.counts {
					win.counts[t] += n
				}
				win.newKeys = append(win.newKeys, lose.newKeys...)
				if lose.profile != "" {
					win.absorbed = append(win.absorbed, lose.profile)
				}
				win.absorbed = append(win.absorbed, lose.absorbed...)
			}
			if l := links[lk]; l != nil {
				l.Count++
				if ev.Timestamp.Before(l.FirstSeen) {
					l.FirstSeen = ev.Timestamp
				}
				if ev.Timestamp.After(l.LastSeen) {
					l.LastSeen = ev.Timestamp
				}
			} else {
				links[lk] = &Link{A: lk.A, B: lk.B, Source: ev.Source, Evidence: ev.ID, FirstSeen: ev.Timestamp, LastSeen: ev.Timestamp, Count: 1}
			}
		}
		if len(ev.Traits) > 0 {
			tm := traits[anchor]
			if tm == nil {
				tm = map[string]TraitValue{}
				traits[anchor] = tm
			}
			for name, v := range ev.Traits {
				if old, ok := tm[name]; !ok || !ev.Timestamp.Before(old.At) {
					tm[name] = TraitValue{Value: v, Source: ev.Source, At: ev.Timestamp}
				}
			}
		}
	}

	// Name the new profiles, making sure no derived id is taken already.
	var roots []*group
	for _, g := range groups {
		if g.parent == nil {
			roots = append(roots, g)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].profile+roots[i].seed < roots[j].profile+roots[j].seed })
	var unnamed []*group
	for _, g := range roots {
		if g.profile == "" {
			unnamed = append(unnamed, g)
		}
	}
	if err := nameProfiles(ctx, tx, unnamed, func(g *group) string { return g.seed }, func(g *group, id string) { g.profile = id }); err != nil {
		return nil, err
	}

	w := &Write{At: now}
	var losers []string
	for _, g := range roots {
		losers = append(losers, g.absorbed...)
	}
	sort.Strings(losers)
	members, err := tx.Members(ctx, losers)
	if err != nil {
		return nil, err
	}
	for _, g := range roots {
		created := g.createdAt
		w.PutProfiles = append(w.PutProfiles, Profile{ID: g.profile, CreatedAt: created, UpdatedAt: now, Size: g.size, Counts: g.counts})
		for _, k := range g.newKeys {
			w.Assign = append(w.Assign, Assignment{Key: k, ProfileID: g.profile})
		}
		sort.Strings(g.absorbed)
		for _, p := range g.absorbed {
			old := profs[p]
			w.PutProfiles = append(w.PutProfiles, Profile{ID: p, CreatedAt: old.CreatedAt, UpdatedAt: now, MergedInto: g.profile})
			w.Changes = append(w.Changes, ProfileChange{Kind: ChangeMerge, From: p, Into: g.profile, At: now, Reason: mergeReason[p]})
			for _, m := range members[p] {
				w.Assign = append(w.Assign, Assignment{Key: m.Key, ProfileID: g.profile})
			}
		}
	}
	w.PutLinks = sortedLinks(links)
	w.PutRejected = sortedRejected(rejected)
	for _, i := range kept {
		w.Events = append(w.Events, events[i])
		out[i] = EventResult{ID: events[i].ID, Status: StatusStored, ProfileID: nodeOf(events[i].Keys[0]).find().profile}
	}
	for _, k := range sortedKeys(traits) {
		w.Traits = append(w.Traits, TraitUpdate{Key: k, Traits: traits[k]})
	}
	if err := tx.Apply(ctx, w); err != nil {
		return nil, err
	}
	return out, nil
}

// nameProfiles gives each new profile an id derived from its seed, raising
// the attempt number for any id already stored. It reads once per attempt,
// and a second attempt is needed only on a collision with history.
func nameProfiles[T any](ctx context.Context, tx ReadTx, items []T, seed func(T) string, set func(T, string)) error {
	attempt := make([]int, len(items))
	pending := make([]int, len(items))
	for i := range items {
		pending[i] = i
	}
	taken := map[string]bool{}
	for round := 0; len(pending) > 0; round++ {
		if round > 16 {
			return fmt.Errorf("could not find a free profile id after %d attempts", round)
		}
		cands := make([]string, len(pending))
		for j, i := range pending {
			cands[j] = ProfileIDFor(seed(items[i]), attempt[i])
		}
		found, err := tx.Profiles(ctx, cands)
		if err != nil {
			return err
		}
		var next []int
		for j, i := range pending {
			if _, ok := found[cands[j]]; ok || taken[cands[j]] {
				attempt[i]++
				next = append(next, i)
				continue
			}
			taken[cands[j]] = true
			set(items[i], cands[j])
		}
		pending = next
	}
	return nil
}

// manualRejections returns the pairs among keys that a person unlinked.
func (e *Engine) manualRejections(ctx context.Context, tx ReadTx, keys []string) (map[LinkKey]bool, error) {
	rs, err := tx.Rejected(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := map[LinkKey]bool{}
	for _, r := range rs {
		if r.Source == SourceManual {
			out[NewLinkKey(r.A, r.B)] = true
		}
	}
	return out, nil
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedLinks(m map[LinkKey]*Link) []Link {
	out := make([]Link, 0, len(m))
	for _, l := range m {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out
}

func sortedRejected(m map[LinkKey]*RejectedLink) []RejectedLink {
	out := make([]RejectedLink, 0, len(m))
	for _, l := range m {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		ki, kj := NewLinkKey(out[i].A, out[i].B), NewLinkKey(out[j].A, out[j].B)
		if ki.A != kj.A {
			return ki.A < kj.A
		}
		return ki.B < kj.B
	})
	return out
}
