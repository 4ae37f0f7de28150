package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// ClaimEvents implements graph.Tx. The bbolt write transaction is the only
// writer, so an id not stored yet is claimed by this transaction alone.
// A stored event's digest is read from its record, without its JSON.
func (t *tx) ClaimEvents(ctx context.Context, claims []graph.EventClaim) (map[string]string, error) {
	out := make(map[string]string)
	for _, c := range claims {
		if c.ID == "" {
			continue
		}
		v := t.events().Get([]byte(c.ID))
		if v == nil {
			continue
		}
		r, err := parseEvent(c.ID, v)
		if err != nil {
			return nil, err
		}
		out[c.ID] = r.Digest
	}
	return out, nil
}

// LockIdentifiers implements graph.Tx. Nothing needs locking: the write
// transaction is exclusive.
func (t *tx) LockIdentifiers(ctx context.Context, seen []graph.IdentifierSeen, create bool) (map[string]graph.Identifier, error) {
	out := make(map[string]graph.Identifier, len(seen))
	for _, s := range seen {
		r, err := t.ident(s.Key)
		if err != nil {
			return nil, err
		}
		switch {
		case r == nil && !create:
			continue
		case r == nil:
			typ, val := s.Type, s.Value
			if typ == "" && val == "" {
				ref := graph.SplitKey(s.Key)
				typ, val = ref.Type, ref.Value
			}
			r = &identRecord{Type: typ, Value: val, FirstSeen: s.First, LastSeen: s.Last, Sources: addSources(nil, s.Sources)}
			t.setIdent(s.Key, r)
		case create:
			if n := seenOn(r, s); n != nil {
				r = n
				t.setIdent(s.Key, r)
			}
		}
		out[s.Key] = r.identifier(s.Key)
	}
	return out, nil
}

// seenOn returns r widened by the sighting s, or nil when s adds nothing.
func seenOn(r *identRecord, s graph.IdentifierSeen) *identRecord {
	n := *r
	changed := false
	if !s.First.IsZero() && s.First.Before(n.FirstSeen) {
		n.FirstSeen, changed = s.First, true
	}
	if s.Last.After(n.LastSeen) {
		n.LastSeen, changed = s.Last, true
	}
	if src := addSources(n.Sources, s.Sources); len(src) != len(n.Sources) {
		n.Sources, changed = src, true
	}
	if !changed {
		return nil
	}
	return &n
}

// addSources returns have plus the new names of add, in the order first
// seen. have is copied before it grows, never appended to in place.
func addSources(have, add []string) []string {
	out := have
	for _, s := range add {
		if s == "" || slices.Contains(out, s) {
			continue
		}
		if len(out) == len(have) {
			out = slices.Clone(have)
		}
		out = append(out, s)
	}
	return out
}

// LockProfiles implements graph.Tx; the write transaction is exclusive.
func (t *tx) LockProfiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	return t.Profiles(ctx, ids)
}

// Apply implements graph.Tx, in the field order of graph.Write.
func (t *tx) Apply(ctx context.Context, w *graph.Write) error {
	steps := []func(*graph.Write) error{
		t.putProfiles, t.deleteIdentifiers, t.assign, t.putLinks, t.deleteLinks,
		t.deleteRejected, t.putRejected, t.putEvents, t.scrubEvents, t.putTraits, t.putChanges,
		t.rewriteChanges, t.deleteProfiles, t.retireProfiles,
	}
	for _, step := range steps {
		if err := step(w); err != nil {
			return err
		}
	}
	return nil
}

// addLive moves the live-profile count by delta; CountProfiles reads it
// instead of counting.
func (t *tx) addLive(delta int) error {
	if delta == 0 {
		return nil
	}
	n := int64(t.liveCount()) + int64(delta)
	if n < 0 {
		return fmt.Errorf("live profile count would drop below zero")
	}
	return t.meta().Put(metaLiveCount, u64(uint64(n)))
}

// putProfiles keeps each profile in the bucket of its state, live or
// merged, moving it when the state changes.
func (t *tx) putProfiles(w *graph.Write) error {
	delta := 0
	for _, p := range w.PutProfiles {
		id := []byte(p.ID)
		into, other := t.profiles, t.merged
		if !p.Live() {
			into, other = other, into
		}
		wasLive := t.profiles.Get(id) != nil
		if other.Get(id) != nil {
			if err := other.Delete(id); err != nil {
				return fmt.Errorf("move profile %q: %w", p.ID, err)
			}
		}
		if err := into.Put(id, encodeProfile(p)); err != nil {
			return fmt.Errorf("put profile %q: %w", p.ID, err)
		}
		switch {
		case p.Live() && !wasLive:
			delta++
		case !p.Live() && wasLive:
			delta--
		}
	}
	return t.addLive(delta)
}

// deleteIdentifiers erases each identifier with every edge that touches
// it, then the events no identifier carries any more. Events that other
// identifiers carry stay, with the erased key taken out of their Keys.
func (t *tx) deleteIdentifiers(w *graph.Write) error {
	for _, k := range w.DeleteIdentifiers {
		r, err := t.ident(k)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		if r.Profile != "" {
			if err := t.members.Delete(append(part(r.Profile), k...)); err != nil {
				return err
			}
		}
		if err := t.deleteIdent(k); err != nil {
			return err
		}
		if err := t.dropLinks(k); err != nil {
			return err
		}
		if err := t.dropRejected(k); err != nil {
			return err
		}
		if err := t.dropEventsBy(k); err != nil {
			return err
		}
	}
	return nil
}

// dropLinks deletes every link that touches k, with both of its adjacency
// entries. Keys are collected first: deleting under a moving bbolt cursor
// can skip entries.
func (t *tx) dropLinks(k string) error {
	for _, o := range t.adjacent(t.idents, linkPrefix(k)) {
		if err := t.deleteLink(graph.NewLinkKey(k, o)); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) deleteLink(lk graph.LinkKey) error {
	delete(t.linkKnown, lk)
	if err := t.idents.Delete(linkEntry(lk.A, lk.B)); err != nil {
		return err
	}
	return t.idents.Delete(linkEntry(lk.B, lk.A))
}

// dropRejected deletes every refusal that touches k, and both of its
// adjacency entries.
func (t *tx) dropRejected(k string) error {
	var pairs []graph.LinkKey
	for _, o := range t.adjacent(t.rejectedAdj(), part(k)) {
		pairs = append(pairs, graph.NewLinkKey(k, o))
	}
	return t.deleteRejected(&graph.Write{DeleteRejected: pairs})
}

// adjacent returns the rest of every key of b under prefix p.
func (t *tx) adjacent(b *bolt.Bucket, p []byte) []string {
	var others []string
	_ = scanPrefix(b.Cursor(), p, func(rest []byte) error {
		others = append(others, string(rest))
		return nil
	})
	return others
}

func (t *tx) putPair(edges, adj *bolt.Bucket, lk graph.LinkKey, v []byte) error {
	if err := edges.Put(pairKey(lk.A, lk.B), v); err != nil {
		return err
	}
	if err := adj.Put(append(part(lk.A), lk.B...), present); err != nil {
		return err
	}
	return adj.Put(append(part(lk.B), lk.A...), present)
}

// dropEventsBy removes k's BY entries and takes k out of those events: an
// event left with no key is deleted.
func (t *tx) dropEventsBy(k string) error {
	var entries [][]byte
	var ids []string
	p := byPrefix(k)
	_ = scanPrefix(t.idents.Cursor(), p, func(rest []byte) error {
		entries = append(entries, append(append([]byte(nil), p...), rest...))
		if len(rest) >= timeLen {
			ids = append(ids, string(rest[timeLen:]))
		}
		return nil
	})
	for _, e := range entries {
		if err := t.idents.Delete(e); err != nil {
			return err
		}
	}
	for _, id := range ids {
		v := t.events().Get([]byte(id))
		if v == nil {
			continue
		}
		// Only the keys are rewritten; the other fields keep their exact
		// bytes, numbers in properties included.
		r, err := parseEvent(id, v)
		if err != nil {
			return err
		}
		r.Keys = slices.DeleteFunc(r.Keys, func(x string) bool { return x == k })
		if len(r.Keys) == 0 {
			if err := t.events().Delete([]byte(id)); err != nil {
				return err
			}
			continue
		}
		if err := t.events().Put([]byte(id), r.encode()); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) assign(w *graph.Write) error {
	for _, a := range w.Assign {
		r, err := t.ident(a.Key)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("assign %s to profile %q: identifier not stored", graph.KeyRef(a.Key), a.ProfileID)
		}
		if r.Profile == a.ProfileID {
			continue
		}
		if r.Profile != "" {
			if err := t.members.Delete(append(part(r.Profile), a.Key...)); err != nil {
				return err
			}
		}
		if a.ProfileID != "" {
			if err := t.members.Put(append(part(a.ProfileID), a.Key...), present); err != nil {
				return err
			}
		}
		n := *r
		n.Profile = a.ProfileID
		t.setIdent(a.Key, &n)
	}
	return nil
}

// putLinks keeps each link in its adjacency entry under its smaller key;
// the entry under the larger key holds only present. A link written again
// rewrites that one entry.
func (t *tx) putLinks(w *graph.Write) error {
	for _, l := range w.PutLinks {
		lk := graph.NewLinkKey(l.A, l.B)
		l.A, l.B = lk.A, lk.B
		known, read := t.linkKnown[lk]
		if !read {
			known = t.idents.Get(linkEntry(lk.A, lk.B)) != nil
		}
		if err := t.idents.Put(linkEntry(lk.A, lk.B), encodeLink(l)); err != nil {
			return fmt.Errorf("put link %s - %s: %w", graph.KeyRef(lk.A), graph.KeyRef(lk.B), err)
		}
		if !known {
			if err := t.idents.Put(linkEntry(lk.B, lk.A), present); err != nil {
				return fmt.Errorf("index link %s - %s: %w", graph.KeyRef(lk.A), graph.KeyRef(lk.B), err)
			}
		}
		if t.linkKnown != nil {
			t.linkKnown[lk] = true
		}
	}
	return nil
}

func (t *tx) deleteLinks(w *graph.Write) error {
	for _, lk := range w.DeleteLinks {
		if err := t.deleteLink(graph.NewLinkKey(lk.A, lk.B)); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) deleteRejected(w *graph.Write) error {
	for _, p := range w.DeleteRejected {
		lk := graph.NewLinkKey(p.A, p.B)
		if err := t.rejected().Delete(pairKey(lk.A, lk.B)); err != nil {
			return err
		}
		if err := t.rejectedAdj().Delete(append(part(lk.A), lk.B...)); err != nil {
			return err
		}
		if err := t.rejectedAdj().Delete(append(part(lk.B), lk.A...)); err != nil {
			return err
		}
	}
	return nil
}

// putRejected keeps one refusal per unordered pair, stored with the
// direction it was given: A kept its profile, B was refused.
func (t *tx) putRejected(w *graph.Write) error {
	for _, r := range w.PutRejected {
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode rejected link %s - %s: %w", graph.KeyRef(r.A), graph.KeyRef(r.B), err)
		}
		if err := t.putPair(t.rejected(), t.rejectedAdj(), graph.NewLinkKey(r.A, r.B), v); err != nil {
			return err
		}
	}
	return nil
}

// putEvents writes the events, then their BY entries, each in key order:
// bbolt inserts in key order touch each page once.
func (t *tx) putEvents(w *graph.Write) error {
	order := make([]*graph.Event, len(w.Events))
	nby := 0
	for i := range w.Events {
		order[i] = &w.Events[i]
		nby += len(w.Events[i].Keys)
	}
	slices.SortStableFunc(order, func(a, b *graph.Event) int { return strings.Compare(a.ID, b.ID) })
	by := make([][]byte, 0, nby)
	for _, ev := range order {
		id := []byte(ev.ID)
		if t.events().Get(id) != nil {
			return fmt.Errorf("event %q is already stored; its id was not claimed", ev.ID)
		}
		v, err := encodeEvent(ev)
		if err != nil {
			return fmt.Errorf("encode event %q: %w", ev.ID, err)
		}
		if err := t.events().Put(id, v); err != nil {
			return fmt.Errorf("put event %q: %w", ev.ID, err)
		}
		for _, k := range ev.Keys {
			by = append(by, byKey(k, ev.Timestamp, ev.ID))
		}
	}
	slices.SortFunc(by, bytes.Compare)
	for _, e := range by {
		if err := t.idents.Put(e, present); err != nil {
			return fmt.Errorf("index events: %w", err)
		}
	}
	return nil
}

// scrubEvents replaces the properties and traits of stored events, and
// their name, channel and campaign when the payload gives them; the other
// fields keep their exact bytes, Keys included. An event not stored is
// skipped.
func (t *tx) scrubEvents(w *graph.Write) error {
	for _, p := range w.ScrubEvents {
		id := []byte(p.ID)
		v := t.events().Get(id)
		if v == nil {
			continue
		}
		r, err := parseEvent(p.ID, v)
		if err != nil {
			return err
		}
		if p.Name != nil {
			r.Name = *p.Name
		}
		if p.Channel != nil {
			r.Channel = *p.Channel
		}
		if p.Campaign != nil {
			r.Campaign = *p.Campaign
		}
		r.props, r.traits = nil, nil
		if len(p.Properties) > 0 {
			if r.props, err = json.Marshal(p.Properties); err != nil {
				return fmt.Errorf("encode properties of event %q: %w", p.ID, err)
			}
		}
		if len(p.Traits) > 0 {
			if r.traits, err = json.Marshal(p.Traits); err != nil {
				return fmt.Errorf("encode traits of event %q: %w", p.ID, err)
			}
		}
		if err := t.events().Put(id, r.encode()); err != nil {
			return fmt.Errorf("put event %q: %w", p.ID, err)
		}
	}
	return nil
}

func (t *tx) putTraits(w *graph.Write) error {
	for _, u := range w.Traits {
		r, err := t.ident(u.Key)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("set traits of %s: identifier not stored", graph.KeyRef(u.Key))
		}
		n := *r
		n.Traits = u.Traits
		t.setIdent(u.Key, &n)
	}
	return nil
}

// putChanges appends history under a sequence number, indexed under both
// profiles by time then sequence.
func (t *tx) putChanges(w *graph.Write) error {
	for _, ch := range w.Changes {
		seq, err := t.changes().NextSequence()
		if err != nil {
			return err
		}
		v, err := json.Marshal(ch)
		if err != nil {
			return fmt.Errorf("encode history entry: %w", err)
		}
		if err := t.changes().Put(u64(seq), v); err != nil {
			return err
		}
		for _, id := range []string{ch.From, ch.Into} {
			if id == "" {
				continue
			}
			if err := t.changeIdx().Put(changeIdxKey(id, ch, seq), present); err != nil {
				return err
			}
		}
	}
	return nil
}

func changeIdxKey(profileID string, ch graph.ProfileChange, seq uint64) []byte {
	return append(appendTime(part(profileID), ch.At), u64(seq)...)
}

// rewriteChanges replaces the Reason and Members of every stored history
// entry that matches one of w.RewriteChanges by Kind, From, Into and At.
// The entries are found under From in the index, at their time; their
// index entries stay, as neither profile nor time changes.
func (t *tx) rewriteChanges(w *graph.Write) error {
	for _, rc := range w.RewriteChanges {
		switch rc.Kind {
		case graph.ChangeMerge, graph.ChangeSplit:
		default:
			return fmt.Errorf("rewrite history: unknown change kind %q", rc.Kind)
		}
		var seqs [][]byte
		_ = scanPrefix(t.changeIdx().Cursor(), appendTime(part(rc.From), rc.At), func(rest []byte) error {
			if len(rest) == 8 {
				seqs = append(seqs, append([]byte(nil), rest...))
			}
			return nil
		})
		for _, seq := range seqs {
			v := t.changes().Get(seq)
			if v == nil {
				return fmt.Errorf("history entry %d is indexed but not stored", decodeU64(seq))
			}
			var ch graph.ProfileChange
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("decode history entry %d: %w", decodeU64(seq), err)
			}
			if ch.Kind != rc.Kind || ch.From != rc.From || ch.Into != rc.Into || !ch.At.Equal(rc.At) {
				continue
			}
			ch.Reason, ch.Members = rc.Reason, rc.Members
			nv, err := json.Marshal(ch)
			if err != nil {
				return fmt.Errorf("encode history entry: %w", err)
			}
			if err := t.changes().Put(seq, nv); err != nil {
				return err
			}
		}
	}
	return nil
}

// deleteProfiles removes each profile, live or merged, and every history
// entry that names it, from both profiles' indexes.
func (t *tx) deleteProfiles(w *graph.Write) error {
	delta := 0
	for _, id := range w.DeleteProfiles {
		bid := []byte(id)
		if t.profiles.Get(bid) != nil {
			if err := t.profiles.Delete(bid); err != nil {
				return err
			}
			delta--
		}
		if err := t.merged.Delete(bid); err != nil {
			return err
		}
		var seqs [][]byte
		_ = scanPrefix(t.changeIdx().Cursor(), part(id), func(rest []byte) error {
			if len(rest) == timeLen+8 {
				seqs = append(seqs, append([]byte(nil), rest[timeLen:]...))
			}
			return nil
		})
		for _, seq := range seqs {
			v := t.changes().Get(seq)
			if v == nil {
				continue
			}
			var ch graph.ProfileChange
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("decode history entry %d: %w", decodeU64(seq), err)
			}
			for _, pid := range []string{ch.From, ch.Into} {
				if err := t.changeIdx().Delete(changeIdxKey(pid, ch, decodeU64(seq))); err != nil {
					return err
				}
			}
			if err := t.changes().Delete(seq); err != nil {
				return err
			}
		}
	}
	return t.addLive(delta)
}
