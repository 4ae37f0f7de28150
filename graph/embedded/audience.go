package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
)

// The audience buckets (layout version 10), apart from the identity graph:
// a profile is named by its id only.
//
//	audiences             id -> audienceRecord JSON (static since version 14)
//	audience_members      part(audienceID) profileID -> since (time)
//	audience_memberships  part(profileID) audienceID -> since (time)
//	audience_changes      part(audienceID) time seq -> kind profileID
//	computed_traits       name -> audience.ComputedTrait JSON
//	computed_values       part(profileID) name -> valueRecord (binary)
//	computed_by_name      part(name) profileID -> present
//	computed_expiry       time name 0x00 profileID -> present
//
// Members are kept both ways, so Members is one range scan under the
// audience and MembershipsOf one per profile. A change's key ends with
// its time (appendTime) and its seq (8 bytes big-endian, the audience's
// count of changes written), so byte order under an audience is log order
// reversed and Changes walks backwards. A computed value is found by
// profile (ComputedValues), by name (DeleteComputedTrait) and, when it
// expires, by its expiry time, then name, then profile (ExpiringValues, a
// forward scan); names hold no 0x00, so the separator is unambiguous.
var (
	bucketAudiences         = []byte("audiences")
	bucketAudienceMembers   = []byte("audience_members")
	bucketAudienceMemberOf  = []byte("audience_memberships")
	bucketAudienceChanges   = []byte("audience_changes")
	bucketComputedTraits    = []byte("computed_traits")
	bucketComputedValues    = []byte("computed_values")
	bucketComputedByName    = []byte("computed_by_name")
	bucketComputedExpiryIdx = []byte("computed_expiry")
)

var audienceBuckets = [][]byte{
	bucketAudiences, bucketAudienceMembers, bucketAudienceMemberOf, bucketAudienceChanges,
	bucketComputedTraits, bucketComputedValues, bucketComputedByName, bucketComputedExpiryIdx,
}

var _ audience.Store = (*Store)(nil)

// audienceRecord is an audience.Audience as stored, without its id (the
// key), with Seq, the number of changes logged so far.
type audienceRecord struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Filter      json.RawMessage `json:"filter"`
	Purpose     string          `json:"purpose,omitempty"`
	Static      bool            `json:"static,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	Size        int             `json:"size"`
	RefreshedAt time.Time       `json:"refreshedAt"`
	Seq         uint64          `json:"seq"`
}

func getAudience(btx *bolt.Tx, id string) (*audienceRecord, error) {
	v := btx.Bucket(bucketAudiences).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var r audienceRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("audience %s: %w", id, err)
	}
	return &r, nil
}

func putAudience(btx *bolt.Tx, id string, r *audienceRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return btx.Bucket(bucketAudiences).Put([]byte(id), v)
}

func (r *audienceRecord) audience(id string) (audience.Audience, error) {
	f, err := audience.DecodeFilter(r.Filter)
	if err != nil {
		return audience.Audience{}, fmt.Errorf("audience %s: %w", id, err)
	}
	return audience.Audience{
		ID: id, Name: r.Name, Description: r.Description, Filter: f, Purpose: r.Purpose, Static: r.Static,
		CreatedAt: utcOrZero(r.CreatedAt), UpdatedAt: utcOrZero(r.UpdatedAt),
		Size: r.Size, RefreshedAt: utcOrZero(r.RefreshedAt),
	}, nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func cleanOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return graph.Clean(t)
}

// PutAudience implements audience.Store: the references of the filter,
// and that it reaches no cycle, are checked in the write transaction, the
// store's only one at a time.
func (s *Store) PutAudience(ctx context.Context, a audience.Audience) error {
	_, err := s.putAudience(ctx, a, false, time.Time{})
	return err
}

// ReplaceAudience implements audience.Store: PutAudience of an audience
// that must be stored when the write transaction runs.
func (s *Store) ReplaceAudience(ctx context.Context, a audience.Audience, ifUpdatedAt time.Time) (time.Time, error) {
	return s.putAudience(ctx, a, true, ifUpdatedAt)
}

// putAudience is PutAudience, and with replace ReplaceAudience; it returns
// the UpdatedAt stored.
func (s *Store) putAudience(ctx context.Context, a audience.Audience, replace bool, ifUpdatedAt time.Time) (time.Time, error) {
	if err := a.Validate(); err != nil {
		return time.Time{}, err
	}
	filter, err := audience.EncodeFilter(a.Filter)
	if err != nil {
		return time.Time{}, err
	}
	var stored time.Time
	err = s.update(ctx, func(btx *bolt.Tx) error {
		traits, auds := btx.Bucket(bucketComputedTraits), btx.Bucket(bucketAudiences)
		if replace {
			r, err := getAudience(btx, a.ID)
			if err != nil {
				return err
			}
			if r == nil {
				return audience.ErrNotStored(a.ID)
			}
			if err := audience.CheckVersion(a.ID, ifUpdatedAt, r.UpdatedAt); err != nil {
				return err
			}
		}
		if m := audience.MissingRef(&a.Filter,
			func(name string) bool { return traits.Get([]byte(name)) != nil },
			func(id string) bool { return auds.Get([]byte(id)) != nil },
		); m != nil {
			return m
		}
		cycle, err := audience.FindCycle(a.ID, &a.Filter, func(ids []string) (map[string]audience.Filter, error) {
			out := make(map[string]audience.Filter, len(ids))
			for _, id := range ids {
				r, err := getAudience(btx, id)
				if err != nil {
					return nil, err
				}
				if r == nil {
					continue
				}
				if out[id], err = audience.DecodeFilter(r.Filter); err != nil {
					return nil, fmt.Errorf("audience %s: %w", id, err)
				}
			}
			return out, nil
		})
		if err != nil {
			return err
		}
		if cycle != nil {
			return cycle
		}
		r, err := getAudience(btx, a.ID)
		if err != nil {
			return err
		}
		if r == nil {
			if n := btx.Bucket(bucketAudiences).Stats().KeyN; n >= audience.MaxAudiences {
				return graph.Errorf(graph.ECONFLICT, "the store holds %d audiences, the most it keeps", n)
			}
			r = &audienceRecord{CreatedAt: cleanOrZero(a.CreatedAt)}
		}
		r.Name, r.Description, r.Filter, r.Purpose, r.Static = a.Name, a.Description, filter, a.Purpose, a.Static
		if replace {
			r.UpdatedAt = audience.NextVersion(a.UpdatedAt, r.UpdatedAt)
		} else {
			r.UpdatedAt = cleanOrZero(a.UpdatedAt)
		}
		stored = r.UpdatedAt
		return putAudience(btx, a.ID, r)
	})
	if err != nil {
		return time.Time{}, err
	}
	return stored, nil
}

// DeleteAudience implements audience.Store: the audience, its members both
// ways and its log, unless another audience names it.
func (s *Store) DeleteAudience(ctx context.Context, id string) (bool, error) {
	if !audience.ValidAudienceID(id) {
		return false, graph.Errorf(graph.EINVALID, "audience id must be %s and 32 lowercase hex digits", audience.AudienceIDPrefix)
	}
	found := false
	err := s.update(ctx, func(btx *bolt.Tx) error {
		// An audience not stored is not refused for the destinations
		// that still name it (stored before deletions checked them).
		aud := btx.Bucket(bucketAudiences)
		if aud.Get([]byte(id)) == nil {
			return nil
		}
		named, err := audiencesNaming(btx, id)
		if err != nil {
			return err
		}
		users := audience.AudienceUsers(named, id)
		dests, err := destinationsSending(btx, id)
		if err != nil {
			return err
		}
		if len(users)+len(dests) > 0 {
			return &audience.InUseError{Audience: id, Users: users, Destinations: dests}
		}
		found = true
		if err := aud.Delete([]byte(id)); err != nil {
			return err
		}
		prefix := part(id)
		memberOf := btx.Bucket(bucketAudienceMemberOf)
		members, err := prefixKeys(btx.Bucket(bucketAudienceMembers), prefix)
		if err != nil {
			return err
		}
		for _, k := range members {
			pid := string(k[len(prefix):])
			if err := memberOf.Delete(append(part(pid), id...)); err != nil {
				return err
			}
			if err := btx.Bucket(bucketAudienceMembers).Delete(k); err != nil {
				return err
			}
		}
		changes, err := prefixKeys(btx.Bucket(bucketAudienceChanges), prefix)
		if err != nil {
			return err
		}
		for _, k := range changes {
			if err := btx.Bucket(bucketAudienceChanges).Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}

// audiencesNaming returns the stored audiences whose filter may name ref,
// a computed trait or an audience (audience.RefNeedle): a superset of
// those that do, each decoded.
func audiencesNaming(btx *bolt.Tx, ref string) ([]audience.Audience, error) {
	needle := []byte(audience.RefNeedle(ref))
	var out []audience.Audience
	err := btx.Bucket(bucketAudiences).ForEach(func(k, v []byte) error {
		if !bytes.Contains(v, needle) {
			return nil
		}
		a, err := decodeAudienceRecord(k, v)
		if err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// decodeAudienceRecord decodes the audience stored under key k.
func decodeAudienceRecord(k, v []byte) (audience.Audience, error) {
	var r audienceRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return audience.Audience{}, fmt.Errorf("audience %s: %w", k, err)
	}
	return r.audience(string(k))
}

// prefixKeys collects the keys of b under prefix, so the caller may delete
// them after the walk.
func prefixKeys(b *bolt.Bucket, prefix []byte) ([][]byte, error) {
	var out [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, bytes.Clone(k))
	}
	return out, nil
}

// Audiences implements audience.Store.
func (s *Store) Audiences(ctx context.Context, ids []string) (map[string]audience.Audience, error) {
	out := make(map[string]audience.Audience, len(ids))
	err := s.view(ctx, func(btx *bolt.Tx) error {
		for _, id := range ids {
			r, err := getAudience(btx, id)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			a, err := r.audience(id)
			if err != nil {
				return err
			}
			out[id] = a
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AudiencePage implements audience.Store: one forward walk.
func (s *Store) AudiencePage(ctx context.Context, p audience.Page) ([]audience.Audience, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	var out []audience.Audience
	err := s.view(ctx, func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketAudiences).Cursor()
		k, v := c.Seek([]byte(p.After))
		if k != nil && p.After != "" && string(k) == p.After {
			k, v = c.Next()
		}
		for ; k != nil && len(out) < p.Limit; k, v = c.Next() {
			a, err := decodeAudienceRecord(k, v)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// changeKey is the log key of an audience's change at at with seq.
func changeKey(id string, at time.Time, seq uint64) []byte {
	k := appendTime(part(id), at)
	return binary.BigEndian.AppendUint64(k, seq)
}

// ApplyMembership implements audience.Store, in one write transaction.
func (s *Store) ApplyMembership(ctx context.Context, id string, enter, exit []string, at time.Time) error {
	if err := audience.CheckMembership(id, enter, exit); err != nil {
		return err
	}
	at = graph.Clean(at)
	return s.update(ctx, func(btx *bolt.Tx) error {
		r, err := getAudience(btx, id)
		if err != nil {
			return err
		}
		if r == nil {
			return graph.Errorf(graph.ENOTFOUND, "audience %s is not stored", id)
		}
		var feed []graph.FeedEntry
		if err := applyMembership(btx, id, r, enter, exit, at, &feed); err != nil {
			return err
		}
		return appendFeed(btx, feed)
	})
}

// applyMembership is ApplyMembership inside btx, for the stored audience
// r of id. It adds an entry to *feed for each profile that entered or
// left, which the caller appends to the feed.
func applyMembership(btx *bolt.Tx, id string, r *audienceRecord, enter, exit []string, at time.Time, feed *[]graph.FeedEntry) error {
	since := appendTime(nil, at)
	{
		members, memberOf, changes := btx.Bucket(bucketAudienceMembers), btx.Bucket(bucketAudienceMemberOf), btx.Bucket(bucketAudienceChanges)
		prefix := part(id)
		logChange := func(kind byte, pid string) error {
			r.Seq++
			return changes.Put(changeKey(id, at, r.Seq), append([]byte{kind}, pid...))
		}
		for _, pid := range enter {
			mk := append(bytes.Clone(prefix), pid...)
			if members.Get(mk) != nil {
				continue
			}
			if err := members.Put(mk, since); err != nil {
				return err
			}
			if err := memberOf.Put(append(part(pid), id...), since); err != nil {
				return err
			}
			r.Size++
			if err := logChange(changeEntered, pid); err != nil {
				return err
			}
			*feed = append(*feed, graph.FeedEntry{At: at, Kind: graph.FeedAudienceEntered, ProfileID: pid, AudienceID: id})
		}
		for _, pid := range exit {
			mk := append(bytes.Clone(prefix), pid...)
			if members.Get(mk) == nil {
				continue
			}
			if err := members.Delete(mk); err != nil {
				return err
			}
			if err := memberOf.Delete(append(part(pid), id...)); err != nil {
				return err
			}
			r.Size--
			if err := logChange(changeExited, pid); err != nil {
				return err
			}
			*feed = append(*feed, graph.FeedEntry{At: at, Kind: graph.FeedAudienceExited, ProfileID: pid, AudienceID: id})
		}
		r.RefreshedAt = at
		return putAudience(btx, id, r)
	}
}

// The first byte of a change's value.
const (
	changeEntered byte = 'E'
	changeExited  byte = 'X'
)

// decodeChange decodes a log entry: its key (changeKey: the audience id,
// the time, the seq) and its value (the kind byte, then the profile id).
// ok is false for a malformed one.
func decodeChange(k, v []byte) (c audience.Change, ok bool) {
	id, rest := splitPart(k)
	if id == "" || len(rest) != timeLen+8 || len(v) < 1 {
		return audience.Change{}, false
	}
	c = audience.Change{AudienceID: id, ProfileID: string(v[1:]), Kind: audience.Entered,
		At: decodeTime(rest), Seq: binary.BigEndian.Uint64(rest[timeLen:])}
	if v[0] == changeExited {
		c.Kind = audience.Exited
	}
	return c, true
}

// Members implements audience.Store: one forward walk under the audience.
func (s *Store) Members(ctx context.Context, id string, p audience.Page) ([]audience.Membership, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	var out []audience.Membership
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = membersIn(btx, id, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MembersOfAudiences implements audience.Store: one read transaction,
// one forward walk per audience.
func (s *Store) MembersOfAudiences(ctx context.Context, ids []string, p audience.Page) (map[string][]audience.Membership, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return perAudience(ctx, s, ids, func(btx *bolt.Tx, id string) ([]audience.Membership, error) {
		return membersIn(btx, id, p), nil
	})
}

// perAudience runs walk for every audience of ids (each once) in one read
// transaction, and keeps what is not empty by audience id.
func perAudience[T any](ctx context.Context, s *Store, ids []string, walk func(btx *bolt.Tx, id string) ([]T, error)) (map[string][]T, error) {
	out := make(map[string][]T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := s.view(ctx, func(btx *bolt.Tx) error {
		clear(out)
		for _, id := range ids {
			if _, done := out[id]; done {
				continue
			}
			xs, err := walk(btx, id)
			if err != nil {
				return err
			}
			if len(xs) > 0 {
				out[id] = xs
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// membersIn walks the members of audience id forward from p.After, at most
// p.Limit.
func membersIn(btx *bolt.Tx, id string, p audience.Page) []audience.Membership {
	var out []audience.Membership
	prefix := part(id)
	c := btx.Bucket(bucketAudienceMembers).Cursor()
	k, v := c.Seek(append(bytes.Clone(prefix), p.After...))
	if k != nil && p.After != "" && string(k[len(prefix):]) == p.After && bytes.HasPrefix(k, prefix) {
		k, v = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < p.Limit; k, v = c.Next() {
		out = append(out, audience.Membership{AudienceID: id, ProfileID: string(k[len(prefix):]), Since: decodeTime(v)})
	}
	return out
}

// Changes implements audience.Store: one backward walk under the audience.
func (s *Store) Changes(ctx context.Context, id string, p audience.ChangePage) ([]audience.Change, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	var out []audience.Change
	err := s.view(ctx, func(btx *bolt.Tx) (err error) {
		out, err = changesIn(btx, id, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ChangesOfAudiences implements audience.Store: one read transaction, one
// backward walk per audience.
func (s *Store) ChangesOfAudiences(ctx context.Context, ids []string, p audience.ChangePage) (map[string][]audience.Change, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return perAudience(ctx, s, ids, func(btx *bolt.Tx, id string) ([]audience.Change, error) {
		return changesIn(btx, id, p)
	})
}

// changesIn walks the log of audience id backward from the cursor of p,
// at most p.Limit entries.
func changesIn(btx *bolt.Tx, id string, p audience.ChangePage) ([]audience.Change, error) {
	var out []audience.Change
	prefix := part(id)
	c := btx.Bucket(bucketAudienceChanges).Cursor()
	var from []byte
	if p.After {
		from = changeKey(id, graph.Clean(p.AfterAt), p.AfterSeq)
	} else {
		// Past every key under the prefix: a time and a seq are
		// timeLen+8 bytes, none of which exceeds 0xff.
		from = append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, timeLen+9)...)
	}
	k, v := c.Seek(from)
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < p.Limit; k, v = c.Prev() {
		ch, ok := decodeChange(k, v)
		if !ok {
			return nil, fmt.Errorf("audience %s: a change key or value is malformed", id)
		}
		out = append(out, ch)
	}
	return out, nil
}

// ChangesOf implements audience.Store. The log has no index by profile
// (as ForgetProfiles, which finds an erased profile's rows the same way),
// so it is one walk of the whole log, every audience's, in one read
// transaction: a cost in the number of changes kept that a data export,
// rare, accepts rather than a new layout version. It holds at most twice
// the page's limit of entries at a time.
func (s *Store) ChangesOf(ctx context.Context, profileIDs []string, p audience.ProfileChangePage) ([]audience.Change, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	if len(profileIDs) == 0 {
		return nil, nil
	}
	want := make(map[string]bool, len(profileIDs))
	for _, id := range profileIDs {
		want[id] = true
	}
	var out []audience.Change
	// keep sorts out and drops what falls past the page.
	keep := func() {
		slices.SortFunc(out, audience.CompareProfileChanges)
		out = out[:min(len(out), p.Limit)]
	}
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		c := btx.Bucket(bucketAudienceChanges).Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			// A change's value is its kind byte, then the profile id.
			if len(v) < 2 || !want[string(v[1:])] {
				continue
			}
			ch, ok := decodeChange(k, v)
			if !ok {
				return fmt.Errorf("audience changes: a change key is malformed")
			}
			if p.After != nil && audience.CompareProfileChanges(ch, *p.After) <= 0 {
				continue
			}
			if out = append(out, ch); len(out) >= 2*p.Limit {
				keep()
			}
		}
		keep()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MembershipsOf implements audience.Store: one walk per profile.
func (s *Store) MembershipsOf(ctx context.Context, profileIDs []string) (map[string][]audience.Membership, error) {
	out := make(map[string][]audience.Membership, len(profileIDs))
	err := s.view(ctx, func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketAudienceMemberOf).Cursor()
		for _, pid := range profileIDs {
			if _, done := out[pid]; done {
				continue
			}
			prefix := part(pid)
			var ms []audience.Membership
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				ms = append(ms, audience.Membership{AudienceID: string(k[len(prefix):]), ProfileID: pid, Since: decodeTime(v)})
			}
			if len(ms) > 0 {
				out[pid] = ms
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutComputedTrait implements audience.Store.
func (s *Store) PutComputedTrait(ctx context.Context, c audience.ComputedTrait) error {
	if err := c.Validate(); err != nil {
		return err
	}
	c.CreatedAt, c.UpdatedAt = cleanOrZero(c.CreatedAt), cleanOrZero(c.UpdatedAt)
	return s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketComputedTraits)
		if old := b.Get([]byte(c.Name)); old != nil {
			prev, err := decodeComputedTrait(old)
			if err != nil {
				return err
			}
			c.CreatedAt = prev.CreatedAt
		} else if n := b.Stats().KeyN; n >= audience.MaxComputedTraits {
			return graph.Errorf(graph.ECONFLICT, "the store holds %d computed traits, the most it keeps", n)
		}
		v, err := json.Marshal(c)
		if err != nil {
			return graph.Errorf(graph.EINVALID, "computed trait does not encode as JSON (a where value is not a JSON value)")
		}
		return b.Put([]byte(c.Name), v)
	})
}

func decodeComputedTrait(v []byte) (audience.ComputedTrait, error) {
	var c audience.ComputedTrait
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return c, fmt.Errorf("computed trait: %w", err)
	}
	c.CreatedAt, c.UpdatedAt = utcOrZero(c.CreatedAt), utcOrZero(c.UpdatedAt)
	return c, nil
}

// DeleteComputedTrait implements audience.Store: the definition and every
// value of it, found by name, unless an audience uses it.
func (s *Store) DeleteComputedTrait(ctx context.Context, name string) (bool, error) {
	if err := audience.CheckComputedName(name); err != nil {
		return false, err
	}
	found := false
	err := s.update(ctx, func(btx *bolt.Tx) error {
		named, err := audiencesNaming(btx, name)
		if err != nil {
			return err
		}
		if users := audience.ComputedUsers(named, name); len(users) > 0 {
			return &audience.InUseError{Computed: name, Users: users}
		}
		b := btx.Bucket(bucketComputedTraits)
		if b.Get([]byte(name)) != nil {
			found = true
			if err := b.Delete([]byte(name)); err != nil {
				return err
			}
		}
		prefix := part(name)
		keys, err := prefixKeys(btx.Bucket(bucketComputedByName), prefix)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := deleteValue(btx, string(k[len(prefix):]), name); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}

// ComputedTraits implements audience.Store.
func (s *Store) ComputedTraits(ctx context.Context) ([]audience.ComputedTrait, error) {
	var out []audience.ComputedTrait
	err := s.view(ctx, func(btx *bolt.Tx) error {
		return btx.Bucket(bucketComputedTraits).ForEach(func(_, v []byte) error {
			c, err := decodeComputedTrait(v)
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// A value record: a flag byte (1 when it expires), ComputedAt, Expires
// when flagged, then the value's JSON (audience.EncodeValue).
func encodeValueRecord(v audience.ComputedValue, value []byte) []byte {
	b := make([]byte, 0, 1+2*timeLen+len(value))
	if v.Expires.IsZero() {
		b = append(b, 0)
		b = appendTime(b, v.ComputedAt)
	} else {
		b = append(b, 1)
		b = appendTime(b, v.ComputedAt)
		b = appendTime(b, v.Expires)
	}
	return append(b, value...)
}

func decodeValueRecord(pid, name string, b []byte) (audience.ComputedValue, error) {
	v := audience.ComputedValue{ProfileID: pid, Name: name}
	if len(b) < 1+timeLen {
		return v, fmt.Errorf("computed value %s: the record is malformed", name)
	}
	v.ComputedAt = decodeTime(b[1:])
	rest := b[1+timeLen:]
	if b[0] == 1 {
		if len(rest) < timeLen {
			return v, fmt.Errorf("computed value %s: the record is malformed", name)
		}
		v.Expires = decodeTime(rest)
		rest = rest[timeLen:]
	}
	val, err := audience.DecodeValue(rest)
	if err != nil {
		return v, err
	}
	v.Value = val
	return v, nil
}

func valueKey(pid, name string) []byte { return append(part(pid), name...) }

func expiryKey(at time.Time, pid, name string) []byte {
	k := appendTime(make([]byte, 0, timeLen+len(name)+1+len(pid)), at)
	k = append(k, name...)
	k = append(k, 0)
	return append(k, pid...)
}

// deleteValue removes a profile's value of name with its index entries.
func deleteValue(btx *bolt.Tx, pid, name string) error {
	vals := btx.Bucket(bucketComputedValues)
	k := valueKey(pid, name)
	old := vals.Get(k)
	if old != nil && len(old) >= 1+2*timeLen && old[0] == 1 {
		if err := btx.Bucket(bucketComputedExpiryIdx).Delete(expiryKey(decodeTime(old[1+timeLen:]), pid, name)); err != nil {
			return err
		}
	}
	if err := vals.Delete(k); err != nil {
		return err
	}
	return btx.Bucket(bucketComputedByName).Delete(append(part(name), pid...))
}

// PutComputedValues implements audience.Store, in one write transaction.
func (s *Store) PutComputedValues(ctx context.Context, values []audience.ComputedValue) error {
	encoded := make([][]byte, len(values))
	for i, v := range values {
		if err := audience.CheckComputedValue(v); err != nil {
			return err
		}
		var err error
		if encoded[i], err = audience.EncodeValue(v.Value); err != nil {
			return err
		}
	}
	if len(values) == 0 {
		return nil
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		for i, v := range values {
			v.ComputedAt, v.Expires = cleanOrZero(v.ComputedAt), cleanOrZero(v.Expires)
			if err := deleteValue(btx, v.ProfileID, v.Name); err != nil {
				return err
			}
			if err := btx.Bucket(bucketComputedValues).Put(valueKey(v.ProfileID, v.Name), encodeValueRecord(v, encoded[i])); err != nil {
				return err
			}
			if err := btx.Bucket(bucketComputedByName).Put(append(part(v.Name), v.ProfileID...), present); err != nil {
				return err
			}
			if !v.Expires.IsZero() {
				if err := btx.Bucket(bucketComputedExpiryIdx).Put(expiryKey(v.Expires, v.ProfileID, v.Name), present); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// DeleteComputedValues implements audience.Store.
func (s *Store) DeleteComputedValues(ctx context.Context, profileIDs []string) error {
	if len(profileIDs) == 0 {
		return nil
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		for _, pid := range profileIDs {
			prefix := part(pid)
			keys, err := prefixKeys(btx.Bucket(bucketComputedValues), prefix)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := deleteValue(btx, pid, string(k[len(prefix):])); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ComputedValues implements audience.Store: one walk per profile.
func (s *Store) ComputedValues(ctx context.Context, profileIDs []string) (map[string]map[string]audience.ComputedValue, error) {
	out := make(map[string]map[string]audience.ComputedValue, len(profileIDs))
	err := s.view(ctx, func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketComputedValues).Cursor()
		for _, pid := range profileIDs {
			if _, done := out[pid]; done {
				continue
			}
			prefix := part(pid)
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				name := string(k[len(prefix):])
				cv, err := decodeValueRecord(pid, name, v)
				if err != nil {
					return err
				}
				if out[pid] == nil {
					out[pid] = map[string]audience.ComputedValue{}
				}
				out[pid][name] = cv
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExpiringValues implements audience.Store: one forward walk of the expiry
// index, soonest first, then by name and profile id.
func (s *Store) ExpiringValues(ctx context.Context, before time.Time, limit int) ([]audience.ComputedValue, error) {
	if limit < 1 || limit > audience.MaxPage {
		return nil, graph.Errorf(graph.EINVALID, "limit must be between 1 and %d, got %d", audience.MaxPage, limit)
	}
	before = graph.Clean(before)
	var out []audience.ComputedValue
	err := s.view(ctx, func(btx *bolt.Tx) error {
		c := btx.Bucket(bucketComputedExpiryIdx).Cursor()
		vals := btx.Bucket(bucketComputedValues)
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) < timeLen || decodeTime(k).After(before) {
				break
			}
			rest := k[timeLen:]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				return fmt.Errorf("a computed value expiry key is malformed")
			}
			name, pid := string(rest[:i]), string(rest[i+1:])
			v := vals.Get(valueKey(pid, name))
			if v == nil {
				return fmt.Errorf("computed value %s has an expiry entry and no value", name)
			}
			cv, err := decodeValueRecord(pid, name, v)
			if err != nil {
				return err
			}
			out = append(out, cv)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
