package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// The facts bucket (layout version 11), apart from the identity graph:
//
//	profile_facts  profileID -> audience.EncodeFacts
var bucketProfileFacts = []byte("profile_facts")

var factsBuckets = [][]byte{bucketProfileFacts}

// PutFacts implements audience.Store.
func (s *Store) PutFacts(ctx context.Context, facts []audience.Facts) error {
	enc, err := audience.CheckFacts(facts)
	if err != nil {
		return err
	}
	if len(facts) == 0 {
		return nil
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketProfileFacts)
		for i := range facts {
			if err := b.Put([]byte(facts[i].ProfileID), enc[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteFacts implements audience.Store.
func (s *Store) DeleteFacts(ctx context.Context, profileIDs []string) error {
	if len(profileIDs) == 0 {
		return nil
	}
	return s.update(ctx, func(btx *bolt.Tx) error { return deleteFacts(btx, profileIDs) })
}

// DeleteFacts implements audience.TxFacts.
func (t *tx) DeleteFacts(ctx context.Context, profileIDs []string) error {
	return deleteFacts(t.btx, profileIDs)
}

func deleteFacts(btx *bolt.Tx, profileIDs []string) error {
	b := btx.Bucket(bucketProfileFacts)
	for _, id := range profileIDs {
		if id == "" {
			continue
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
	}
	return nil
}

// Facts implements audience.Store: one read transaction, the ids taken in
// order with one cursor, which steps to the next key rather than seeking
// when the ids asked for are adjacent (a page of profiles).
func (s *Store) Facts(ctx context.Context, profileIDs []string) (map[string]audience.Facts, error) {
	out := make(map[string]audience.Facts, len(profileIDs))
	if len(profileIDs) == 0 {
		return out, nil
	}
	ids := slices.Clone(profileIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	// The values found are copied into one buffer, made one string, and
	// decoded as substrings of it: one copy for the whole call.
	// Room for facts of a typical size; larger ones grow it.
	buf := make([]byte, 0, 512*min(len(ids), 1000))
	type found struct {
		id         string
		start, end int
	}
	got := make([]found, 0, len(ids))
	err := s.view(ctx, func(btx *bolt.Tx) error {
		buf, got = buf[:0], got[:0]
		c := btx.Bucket(bucketProfileFacts).Cursor()
		var k, v []byte
		positioned := false
		for _, id := range ids {
			if id == "" {
				continue
			}
			want := []byte(id)
			// A few steps forward before a seek.
			for step := 0; positioned && k != nil && bytes.Compare(k, want) < 0 && step < 4; step++ {
				k, v = c.Next()
			}
			if !positioned || k == nil || bytes.Compare(k, want) < 0 {
				k, v = c.Seek(want)
				positioned = true
			}
			if k == nil || !bytes.Equal(k, want) {
				continue
			}
			got = append(got, found{id, len(buf), len(buf) + len(v)})
			buf = append(buf, v...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	all := string(buf)
	var d audience.FactsDecoder
	for _, g := range got {
		f, err := d.Decode(g.id, all[g.start:g.end])
		if err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
		out[g.id] = f
	}
	return out, nil
}

// Keep implements audience.Store, in one write transaction.
func (s *Store) Keep(ctx context.Context, w audience.KeepWrite) ([]string, error) {
	enc, err := audience.CheckKeep(w)
	if err != nil {
		return nil, err
	}
	if len(w.Facts) == 0 && len(w.DeleteFacts) == 0 && len(w.Changes) == 0 {
		return nil, nil
	}
	at := graph.Clean(w.At)
	var stale []string
	err = s.update(ctx, func(btx *bolt.Tx) error {
		stale = nil
		profiles, merged := btx.Bucket(bucketProfiles), btx.Bucket(bucketMerged)
		// A profile written since the keeper read it is left out, as one
		// no longer live is.
		skip := map[string]bool{}
		for _, id := range slices.Sorted(maps.Keys(w.Read)) {
			v := profiles.Get([]byte(id))
			if v == nil {
				v = merged.Get([]byte(id))
			}
			if v == nil {
				continue // erased: nothing of it is written
			}
			p, err := decodeProfile(id, v)
			if err != nil {
				return err
			}
			if !w.Fresh(id, p.UpdatedAt) {
				skip[id] = true
				stale = append(stale, id)
			}
		}
		// A round evaluated on definitions no longer stored writes only
		// its Static changes; one that another, evaluated later, wrote
		// before leaves out the profiles it changes too.
		current, err := definitionsCurrent(btx, &w)
		if err != nil {
			return err
		}
		if !current {
			for _, id := range w.Evaluated() {
				skip[id] = true
			}
			stale = append(stale, w.Evaluated()...)
		} else {
			later, err := evaluatedLater(btx, &w, at, skip)
			if err != nil {
				return err
			}
			for _, id := range later {
				skip[id] = true
			}
			stale = append(stale, later...)
		}
		slices.Sort(stale)
		stale = slices.Compact(stale)
		live := func(id string) bool { return profiles.Get([]byte(id)) != nil }
		del := slices.DeleteFunc(slices.Clone(w.DeleteFacts), func(id string) bool { return skip[id] })
		if err := deleteFacts(btx, del); err != nil {
			return err
		}
		b := btx.Bucket(bucketProfileFacts)
		// A profile given twice keeps its last facts, compared with those
		// stored before this write.
		last := map[string]int{}
		for i := range w.Facts {
			last[w.Facts[i].ProfileID] = i
		}
		var feed []graph.FeedEntry
		for _, pid := range slices.Sorted(maps.Keys(last)) {
			i := last[pid]
			if !live(pid) || skip[pid] {
				continue
			}
			changed, err := audience.ComputedChanged(pid, b.Get([]byte(pid)), &w.Facts[i])
			if err != nil {
				return err
			}
			if changed {
				feed = append(feed, graph.FeedEntry{At: at, Kind: graph.FeedComputedChanged, ProfileID: pid})
			}
			if err := b.Put([]byte(pid), enc[i]); err != nil {
				return err
			}
		}
		for _, c := range w.Changes {
			c = c.Checked(skip)
			r, err := getAudience(btx, c.AudienceID)
			if err != nil {
				return err
			}
			if r == nil {
				continue // deleted since the keeper read it
			}
			enter := slices.DeleteFunc(slices.Clone(c.Enter), func(id string) bool { return !live(id) })
			if err := applyMembership(btx, c.AudienceID, r, enter, c.Exit, at, &feed); err != nil {
				return err
			}
		}
		return appendFeed(btx, feed)
	})
	if err != nil {
		return nil, err
	}
	return stale, nil
}

// definitionsCurrent reports whether the audiences of w.Audiences that are
// stored, and the computed trait definitions, are those w's round read
// (audience.KeepWrite.AudienceCurrent, ComputedCurrent), inside btx.
func definitionsCurrent(btx *bolt.Tx, w *audience.KeepWrite) (bool, error) {
	if !w.ChecksDefinitions() {
		return true, nil
	}
	for _, id := range slices.Sorted(maps.Keys(w.Audiences)) {
		r, err := getAudience(btx, id)
		if err != nil {
			return false, err
		}
		if r != nil && !w.AudienceCurrent(id, r.UpdatedAt) {
			return false, nil
		}
	}
	if w.Computed == nil {
		return true, nil
	}
	stored := map[string]time.Time{}
	err := btx.Bucket(bucketComputedTraits).ForEach(func(_, v []byte) error {
		c, err := decodeComputedTrait(v)
		if err != nil {
			return err
		}
		stored[c.Name] = c.UpdatedAt
		return nil
	})
	if err != nil {
		return false, err
	}
	return w.ComputedCurrent(stored), nil
}

// evaluatedLater returns, sorted, the profiles not in skip that a change
// of w that is not Static enters in or exits from an audience whose log
// holds an entry for them after at, or of which they are members since
// after at: another round, evaluated later, wrote them first. Per
// audience changed it reads its log from the first key after at (one
// seek, then the entries logged after at, which are those of rounds
// evaluated after this one: none, mostly), and a member row per profile.
func evaluatedLater(btx *bolt.Tx, w *audience.KeepWrite, at time.Time, skip map[string]bool) ([]string, error) {
	members, changes := btx.Bucket(bucketAudienceMembers), btx.Bucket(bucketAudienceChanges)
	found := map[string]bool{}
	for _, c := range w.Changes {
		if c.Static {
			continue
		}
		want := map[string]bool{}
		for _, ids := range [][]string{c.Enter, c.Exit} {
			for _, id := range ids {
				if !skip[id] && !found[id] {
					want[id] = true
				}
			}
		}
		if len(want) == 0 {
			continue
		}
		prefix := part(c.AudienceID)
		for id := range want {
			if v := members.Get(append(bytes.Clone(prefix), id...)); len(v) >= timeLen && decodeTime(v).After(at) {
				found[id] = true
				delete(want, id)
			}
		}
		// The first key after every entry at at: its seq is the largest.
		from := binary.BigEndian.AppendUint64(appendTime(bytes.Clone(prefix), at), math.MaxUint64)
		cur := changes.Cursor()
		for k, v := cur.Seek(from); k != nil && bytes.HasPrefix(k, prefix) && len(want) > 0; k, v = cur.Next() {
			ch, ok := decodeChange(k, v)
			if !ok {
				return nil, fmt.Errorf("audience %s: a change key or value is malformed", c.AudienceID)
			}
			if ch.At.After(at) && want[ch.ProfileID] {
				found[ch.ProfileID] = true
				delete(want, ch.ProfileID)
			}
		}
	}
	return slices.Sorted(maps.Keys(found)), nil
}
