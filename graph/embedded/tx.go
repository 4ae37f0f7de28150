package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// identRecord is an identifier as it is kept in a transaction.
type identRecord struct {
	Type      string
	Value     string
	FirstSeen time.Time
	LastSeen  time.Time
	Sources   []string
	Profile   string
	Traits    map[string]graph.TraitValue
}

func (r *identRecord) identifier(key string) graph.Identifier {
	return graph.Identifier{
		Key: key, Type: r.Type, Value: r.Value, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen,
		Sources: r.Sources, ProfileID: r.Profile, Traits: r.Traits,
	}
}

// tx serves both graph.ReadTx and graph.Tx over one bbolt transaction.
type tx struct {
	btx *bolt.Tx

	// The buckets every read reaches are opened with the transaction;
	// the others (lazy) on first use, since a transaction of a lookup
	// never needs them and each costs a search of the root bucket.
	idents, members, profiles, merged *bolt.Bucket
	lazy                              struct {
		meta, rejected, rejectedAdj, events, changes, changeIdx, retired *bolt.Bucket
	}

	// In a write transaction an identifier is typically locked, assigned
	// and given traits by the same batch. Decoded records are kept here
	// and each changed one is encoded once, by flush, before commit.
	// Records are replaced, never mutated in place, so values already
	// handed to the engine do not change under it.
	cache map[string]*identRecord
	dirty map[string]bool
	// linkKnown holds, per pair LinksBetween read, whether the link is
	// stored, so that writing it next needs no second read; writes keep
	// it current.
	linkKnown map[graph.LinkKey]bool
	// journeys is what Journeys reuses, made on its first call.
	journeys *journeyReader
}

var _ graph.Tx = (*tx)(nil)

func newTx(btx *bolt.Tx, writable bool) *tx {
	t := &tx{
		btx:      btx,
		idents:   btx.Bucket(bucketIdentifiers),
		members:  btx.Bucket(bucketMembers),
		profiles: btx.Bucket(bucketProfiles),
		merged:   btx.Bucket(bucketMerged),
	}
	if writable {
		t.cache = map[string]*identRecord{}
		t.dirty = map[string]bool{}
	}
	return t
}

// open returns the bucket name, kept in *b from its first use on.
func (t *tx) open(b **bolt.Bucket, name []byte) *bolt.Bucket {
	if *b == nil {
		*b = t.btx.Bucket(name)
	}
	return *b
}

func (t *tx) meta() *bolt.Bucket     { return t.open(&t.lazy.meta, bucketMeta) }
func (t *tx) rejected() *bolt.Bucket { return t.open(&t.lazy.rejected, bucketRejected) }
func (t *tx) rejectedAdj() *bolt.Bucket {
	return t.open(&t.lazy.rejectedAdj, bucketRejectedAdj)
}
func (t *tx) events() *bolt.Bucket    { return t.open(&t.lazy.events, bucketEvents) }
func (t *tx) changes() *bolt.Bucket   { return t.open(&t.lazy.changes, bucketChanges) }
func (t *tx) changeIdx() *bolt.Bucket { return t.open(&t.lazy.changeIdx, bucketChangeIdx) }
func (t *tx) retired() *bolt.Bucket   { return t.open(&t.lazy.retired, bucketRetired) }

// ident returns the stored identifier under key, or nil.
func (t *tx) ident(key string) (*identRecord, error) {
	if r, ok := t.cache[key]; ok {
		return r, nil
	}
	v := t.idents.Get(identKey(key))
	if v == nil {
		return nil, nil
	}
	r, err := decodeIdent(key, v)
	if err != nil {
		return nil, err
	}
	if t.cache != nil {
		t.cache[key] = r
	}
	return r, nil
}

// setIdent records r as the new state of key, written by flush.
func (t *tx) setIdent(key string, r *identRecord) {
	t.cache[key] = r
	t.dirty[key] = true
}

func (t *tx) deleteIdent(key string) error {
	delete(t.cache, key)
	delete(t.dirty, key)
	return t.idents.Delete(identKey(key))
}

// flush writes the changed identifiers, in key order so the B+tree is
// filled page by page.
func (t *tx) flush() error {
	if len(t.dirty) == 0 {
		return nil
	}
	keys := make([]string, 0, len(t.dirty))
	for k := range t.dirty {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := encodeIdent(k, t.cache[k])
		if err != nil {
			return fmt.Errorf("encode identifier %s: %w", graph.KeyRef(k), err)
		}
		if err := t.idents.Put(identKey(k), v); err != nil {
			return fmt.Errorf("put identifier %s: %w", graph.KeyRef(k), err)
		}
	}
	clear(t.dirty)
	return nil
}

// uniqueSorted returns the distinct non-empty strings of xs in order, so
// index cursors move forward only.
func uniqueSorted(xs []string) []string {
	out := slices.DeleteFunc(slices.Clone(xs), func(x string) bool { return x == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// scanPrefixKV calls fn with the rest and the value of every key of b that
// starts with p. Both are only valid until fn returns.
func scanPrefixKV(c *bolt.Cursor, p []byte, fn func(rest, v []byte) error) error {
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := fn(k[len(p):], v); err != nil {
			return err
		}
	}
	return nil
}

// scanPrefix calls fn with the rest of every key of b that starts with p.
// The rest is only valid until fn returns.
func scanPrefix(c *bolt.Cursor, p []byte, fn func(rest []byte) error) error {
	for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		if err := fn(k[len(p):]); err != nil {
			return err
		}
	}
	return nil
}

func decodeU64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// Identifiers implements graph.ReadTx.
func (t *tx) Identifiers(ctx context.Context, keys []string) (map[string]graph.Identifier, error) {
	out := make(map[string]graph.Identifier, len(keys))
	for _, k := range keys {
		r, err := t.ident(k)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out[k] = r.identifier(k)
		}
	}
	return out, nil
}

// Profiles implements graph.ReadTx.
func (t *tx) Profiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	out := make(map[string]graph.Profile, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, ok := out[id]; ok {
			continue
		}
		p, ok, err := t.profile(id)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = p
		}
	}
	return out, nil
}

// profile reads a live profile, or else a merged one.
func (t *tx) profile(id string) (graph.Profile, bool, error) {
	v := t.profiles.Get([]byte(id))
	if v == nil {
		if v = t.merged.Get([]byte(id)); v == nil {
			return graph.Profile{}, false, nil
		}
	}
	p, err := decodeProfile(id, v)
	return p, err == nil, err
}

// memberKeys returns the keys IN profile id, in key order.
func (t *tx) memberKeys(c *bolt.Cursor, id string) []string {
	var keys []string
	_ = scanPrefix(c, part(id), func(rest []byte) error {
		keys = append(keys, string(rest))
		return nil
	})
	return keys
}

// MemberKeys implements graph.MemberKeysReader.
// The keys of a profile the last Journeys call read, in a read-only
// transaction, are not read again: nothing changes them in it.
func (t *tx) MemberKeys(ctx context.Context, profileIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(profileIDs))
	var read map[string][]string
	if t.journeys != nil {
		read = t.journeys.members
	}
	c := t.members.Cursor()
	for _, id := range uniqueSorted(profileIDs) {
		keys, ok := read[id]
		if !ok {
			keys = t.memberKeys(c, id)
		}
		if len(keys) > 0 {
			out[id] = keys
		}
	}
	return out, nil
}

var _ graph.MemberKeysReader = (*tx)(nil)

// Members implements graph.ReadTx.
func (t *tx) Members(ctx context.Context, profileIDs []string) (map[string][]graph.Identifier, error) {
	out := make(map[string][]graph.Identifier, len(profileIDs))
	c := t.members.Cursor()
	for _, id := range uniqueSorted(profileIDs) {
		keys := t.memberKeys(c, id)
		if len(keys) == 0 {
			continue
		}
		ms := make([]graph.Identifier, 0, len(keys))
		for _, k := range keys {
			r, err := t.ident(k)
			if err != nil {
				return nil, err
			}
			if r == nil {
				return nil, fmt.Errorf("profile %q lists member %s, which is not stored", id, graph.KeyRef(k))
			}
			ms = append(ms, r.identifier(k))
		}
		out[id] = ms
	}
	return out, nil
}

// pairsOf returns the distinct pairs of the adjacency index adj that touch
// keys, ordered by their pair key.
func pairsOf(adj *bolt.Bucket, keys []string) []graph.LinkKey {
	seen := map[graph.LinkKey]bool{}
	var out []graph.LinkKey
	c := adj.Cursor()
	for _, k := range uniqueSorted(keys) {
		_ = scanPrefix(c, part(k), func(rest []byte) error {
			lk := graph.NewLinkKey(k, string(rest))
			if !seen[lk] {
				seen[lk] = true
				out = append(out, lk)
			}
			return nil
		})
	}
	sortPairs(out)
	return out
}

func sortPairs(ps []graph.LinkKey) {
	slices.SortFunc(ps, func(x, y graph.LinkKey) int {
		if c := strings.Compare(x.A, y.A); c != 0 {
			return c
		}
		return strings.Compare(x.B, y.B)
	})
}

// Links implements graph.ReadTx. A link is stored in its adjacency entry
// under its smaller key; the entry under the other key only points back.
func (t *tx) Links(ctx context.Context, keys []string) ([]graph.Link, error) {
	found := map[graph.LinkKey]graph.Link{}
	var pairs []graph.LinkKey
	var pending []graph.LinkKey // links seen from their B side
	c := t.idents.Cursor()
	for _, k := range uniqueSorted(keys) {
		err := scanPrefixKV(c, linkPrefix(k), func(rest, v []byte) error {
			o := string(rest)
			lk := graph.NewLinkKey(k, o)
			if _, ok := found[lk]; ok {
				return nil
			}
			if k > o {
				pending = append(pending, lk)
				return nil
			}
			l, err := decodeLink(k, o, v)
			if err != nil {
				return err
			}
			found[lk] = l
			pairs = append(pairs, lk)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, lk := range pending {
		if _, ok := found[lk]; ok {
			continue
		}
		l, ok, err := t.link(lk)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("link %s - %s is indexed but not stored", graph.KeyRef(lk.A), graph.KeyRef(lk.B))
		}
		found[lk] = l
		pairs = append(pairs, lk)
	}
	sortPairs(pairs)
	out := make([]graph.Link, len(pairs))
	for i, lk := range pairs {
		out[i] = found[lk]
	}
	return out, nil
}

// LinksBetween implements graph.ReadTx: one point read per pair.
func (t *tx) LinksBetween(ctx context.Context, pairs []graph.LinkKey) (map[graph.LinkKey]graph.Link, error) {
	out := make(map[graph.LinkKey]graph.Link, len(pairs))
	if t.linkKnown == nil {
		t.linkKnown = make(map[graph.LinkKey]bool, len(pairs))
	}
	for _, p := range pairs {
		lk := graph.NewLinkKey(p.A, p.B)
		l, ok, err := t.link(lk)
		if err != nil {
			return nil, err
		}
		if ok {
			out[lk] = l
		}
		t.linkKnown[lk] = ok
	}
	return out, nil
}

// link reads the link lk (ordered) from its A side entry.
func (t *tx) link(lk graph.LinkKey) (graph.Link, bool, error) {
	v := t.idents.Get(linkEntry(lk.A, lk.B))
	if v == nil {
		return graph.Link{}, false, nil
	}
	l, err := decodeLink(lk.A, lk.B, v)
	return l, err == nil, err
}

// Rejected implements graph.ReadTx.
func (t *tx) Rejected(ctx context.Context, keys []string) ([]graph.RejectedLink, error) {
	pairs := pairsOf(t.rejectedAdj(), keys)
	out := make([]graph.RejectedLink, 0, len(pairs))
	for _, lk := range pairs {
		v := t.rejected().Get(pairKey(lk.A, lk.B))
		if v == nil {
			return nil, fmt.Errorf("rejected link %s - %s is indexed but not stored", graph.KeyRef(lk.A), graph.KeyRef(lk.B))
		}
		var r graph.RejectedLink
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode rejected link %s - %s: %w", graph.KeyRef(lk.A), graph.KeyRef(lk.B), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Events implements graph.ReadTx.
func (t *tx) Events(ctx context.Context, ids []string) (map[string]graph.Event, error) {
	out := make(map[string]graph.Event, len(ids))
	for _, id := range ids {
		if id == "" {
			continue
		}
		ev, ok, err := t.event(id)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = ev
		}
	}
	return out, nil
}

// EventsBy implements graph.ReadTx: the ids under each key's BY entries,
// then the events, in id order. Each event record holds all its Keys.
func (t *tx) EventsBy(ctx context.Context, keys []string) ([]graph.Event, error) {
	seen := map[string]bool{}
	var ids []string
	c := t.idents.Cursor()
	for _, k := range uniqueSorted(keys) {
		_ = scanPrefix(c, byPrefix(k), func(rest []byte) error {
			if len(rest) < timeLen {
				return nil
			}
			if id := string(rest[timeLen:]); !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
			return nil
		})
	}
	slices.Sort(ids)
	out := make([]graph.Event, 0, len(ids))
	for _, id := range ids {
		ev, ok, err := t.event(id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("event %q is indexed but not stored", id)
		}
		out = append(out, ev)
	}
	return out, nil
}

func (t *tx) event(id string) (graph.Event, bool, error) {
	v := t.events().Get([]byte(id))
	if v == nil {
		return graph.Event{}, false, nil
	}
	ev, err := decodeEvent(id, v)
	return ev, err == nil, err
}

// ProfilesPage implements graph.ReadTx. A Limit below 1 means no limit.
func (t *tx) ProfilesPage(ctx context.Context, q graph.PageQuery) ([]graph.Profile, error) {
	var out []graph.Profile
	full := func() bool { return q.Limit > 0 && len(out) >= q.Limit }
	add := func(k, v []byte) error {
		p, err := decodeProfile(string(k), v)
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	}
	c := t.profiles.Cursor()
	if q.Reverse {
		var k, v []byte
		if q.Before == "" {
			k, v = c.Last()
		} else if k, _ = c.Seek([]byte(q.Before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && !full() && (q.After == "" || string(k) > q.After); k, v = c.Prev() {
			if err := add(k, v); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var k, v []byte
	if q.After == "" {
		k, v = c.First()
	} else if k, v = c.Seek([]byte(q.After)); k != nil && string(k) == q.After {
		k, v = c.Next()
	}
	for ; k != nil && !full() && (q.Before == "" || string(k) < q.Before); k, v = c.Next() {
		if err := add(k, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ProfileIDs implements graph.ProfileIDsReader.
func (t *tx) ProfileIDs(ctx context.Context, q graph.PageQuery) ([]string, error) {
	if q.Reverse {
		return nil, fmt.Errorf("ProfileIDs reads forwards only")
	}
	var out []string
	c := t.profiles.Cursor()
	var k []byte
	if q.After == "" {
		k, _ = c.First()
	} else if k, _ = c.Seek([]byte(q.After)); k != nil && string(k) == q.After {
		k, _ = c.Next()
	}
	for ; k != nil && (q.Limit < 1 || len(out) < q.Limit) && (q.Before == "" || string(k) < q.Before); k, _ = c.Next() {
		out = append(out, string(k))
	}
	return out, nil
}

var _ graph.ProfileIDsReader = (*tx)(nil)

// CountProfiles implements graph.ReadTx from the count kept by writes.
func (t *tx) CountProfiles(ctx context.Context) (int, error) {
	return int(t.liveCount()), nil
}

func (t *tx) liveCount() uint64 {
	if v := t.meta().Get(metaLiveCount); len(v) == 8 {
		return decodeU64(v)
	}
	return 0
}

// Changes implements graph.ReadTx. Entries at the same time keep the order
// they were written in.
func (t *tx) Changes(ctx context.Context, profileIDs []string) ([]graph.ProfileChange, error) {
	var found [][]byte // time then sequence: byte order is history order
	seen := map[string]bool{}
	c := t.changeIdx().Cursor()
	for _, id := range uniqueSorted(profileIDs) {
		_ = scanPrefix(c, part(id), func(rest []byte) error {
			if !seen[string(rest)] {
				seen[string(rest)] = true
				found = append(found, append([]byte(nil), rest...))
			}
			return nil
		})
	}
	sort.Slice(found, func(i, j int) bool { return bytes.Compare(found[i], found[j]) < 0 })
	out := make([]graph.ProfileChange, 0, len(found))
	for _, f := range found {
		seq := f[timeLen:]
		v := t.changes().Get(seq)
		if v == nil {
			return nil, fmt.Errorf("history entry %d is indexed but not stored", decodeU64(seq))
		}
		var ch graph.ProfileChange
		if err := json.Unmarshal(v, &ch); err != nil {
			return nil, fmt.Errorf("decode history entry %d: %w", decodeU64(seq), err)
		}
		out = append(out, ch)
	}
	return out, nil
}

// LookupProfiles implements graph.ReadTx with the plain reads: in a bbolt
// transaction each is a few page reads, with no round trip to save.
func (t *tx) LookupProfiles(ctx context.Context, keys []string, withMembers bool) (map[string]graph.Identifier, map[string]graph.Profile, map[string][]graph.Identifier, error) {
	idents, err := t.Identifiers(ctx, keys)
	if err != nil {
		return nil, nil, nil, err
	}
	profiles := map[string]graph.Profile{}
	for _, id := range idents {
		if _, ok := profiles[id.ProfileID]; ok || id.ProfileID == "" {
			continue
		}
		p, ok, err := t.profile(id.ProfileID)
		if err != nil {
			return nil, nil, nil, err
		}
		if ok {
			profiles[p.ID] = p
		}
	}
	if !withMembers {
		return idents, profiles, nil, nil
	}
	var live []string
	for id, p := range profiles {
		if p.Live() {
			live = append(live, id)
		}
	}
	members, err := t.Members(ctx, live)
	if err != nil {
		return nil, nil, nil, err
	}
	return idents, profiles, members, nil
}
