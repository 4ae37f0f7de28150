package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
)

// The destination buckets (layout version 13):
//
//	destinations       id -> destRecord JSON (definition, cursor, lease, last number)
//	deliveries         id number -> deliveryRecord JSON
//	delivery_status    id status number -> present
//
// Destination ids have a fixed length (destination.ValidID), so id number
// keys sort by destination, then by number (8 bytes, big endian).
// delivery_status indexes deliveries by status, so that the in-flight
// delivery and a page of one status are found without walking the others.
var (
	bucketDestinations   = []byte("destinations")
	bucketDeliveries     = []byte("deliveries")
	bucketDeliveryStatus = []byte("delivery_status")
)

var destinationBuckets = [][]byte{bucketDestinations, bucketDeliveries, bucketDeliveryStatus}

var _ destination.Store = (*Store)(nil)

type destRecord struct {
	Name         string            `json:"name"`
	URL          string            `json:"url"`
	Secret       string            `json:"secret"`
	Kinds        []string          `json:"kinds,omitempty"`
	AudienceIDs  []string          `json:"audienceIds,omitempty"`
	Purpose      string            `json:"purpose,omitempty"`
	BatchSize    int               `json:"batchSize"`
	MaxAttempts  int               `json:"maxAttempts"`
	Headers      map[string]string `json:"headers,omitempty"`
	IncludePII   bool              `json:"includePII,omitempty"`
	CreatedAt    int64             `json:"createdAt"` // Unix nanoseconds
	UpdatedAt    int64             `json:"updatedAt"`
	Cursor       uint64            `json:"cursor"`
	LeaseHolder  string            `json:"leaseHolder,omitempty"`
	LeaseExpires int64             `json:"leaseExpires,omitempty"`
	Last         uint64            `json:"last"` // Number of the newest delivery
}

type deliveryRecord struct {
	ID          string       `json:"id"`
	Entries     []feedRecord `json:"e,omitempty"`
	Seqs        []uint64     `json:"s,omitempty"`
	Ats         []int64      `json:"t,omitempty"`
	Count       int          `json:"n"`
	First       uint64       `json:"f"`
	Last        uint64       `json:"l"`
	Status      string       `json:"status"`
	Attempts    int          `json:"attempts"`
	NextAttempt int64        `json:"next"`
	StatusCode  int          `json:"code,omitempty"`
	Error       string       `json:"error,omitempty"`
	CreatedAt   int64        `json:"createdAt"`
	QueuedAt    int64        `json:"queuedAt"`
	UpdatedAt   int64        `json:"updatedAt"`
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return graph.Clean(t).UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func encodeDest(d destination.Destination, cursor, last uint64, lease destination.Lease) destRecord {
	r := destRecord{Name: d.Name, URL: d.URL, Secret: d.Secret, AudienceIDs: d.AudienceIDs, Purpose: d.Purpose,
		BatchSize: d.BatchSize, MaxAttempts: d.MaxAttempts, Headers: d.Headers, IncludePII: d.IncludePII,
		CreatedAt: nanos(d.CreatedAt), UpdatedAt: nanos(d.UpdatedAt), Cursor: cursor, Last: last,
		LeaseHolder: lease.Holder, LeaseExpires: nanos(lease.Expires)}
	for _, k := range d.Kinds {
		r.Kinds = append(r.Kinds, string(k))
	}
	return r
}

func (r destRecord) decode(id string) destination.Destination {
	d := destination.Destination{ID: id, Name: r.Name, URL: r.URL, Secret: r.Secret, AudienceIDs: r.AudienceIDs,
		Purpose: r.Purpose, BatchSize: r.BatchSize, MaxAttempts: r.MaxAttempts, Headers: r.Headers,
		IncludePII: r.IncludePII, CreatedAt: fromNanos(r.CreatedAt), UpdatedAt: fromNanos(r.UpdatedAt),
		Cursor: r.Cursor, LastNumber: r.Last, Lease: destination.Lease{Holder: r.LeaseHolder, Expires: fromNanos(r.LeaseExpires)}}
	for _, k := range r.Kinds {
		d.Kinds = append(d.Kinds, graph.FeedKind(k))
	}
	return d
}

func getDest(btx *bolt.Tx, id string) (destRecord, bool, error) {
	v := btx.Bucket(bucketDestinations).Get([]byte(id))
	if v == nil {
		return destRecord{}, false, nil
	}
	var r destRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("destination %s: %w", id, err)
	}
	return r, true, nil
}

func putDest(btx *bolt.Tx, id string, r destRecord) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return btx.Bucket(bucketDestinations).Put([]byte(id), v)
}

// audiencesStored refuses d when its audienceIds name an audience the
// store does not hold (destination.MissingAudienceError).
func audiencesStored(btx *bolt.Tx, d destination.Destination) error {
	b := btx.Bucket(bucketAudiences)
	return destination.MissingAudience(d.AudienceIDs, func(id string) bool { return b.Get([]byte(id)) != nil })
}

// destinationsSending returns, sorted, the ids of the stored destinations
// whose audienceIds name the audience id.
func destinationsSending(btx *bolt.Tx, id string) ([]string, error) {
	var out []string
	err := btx.Bucket(bucketDestinations).ForEach(func(k, v []byte) error {
		var r struct {
			AudienceIDs []string `json:"audienceIds"`
		}
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("destination %s: %w", k, err)
		}
		if slices.Contains(r.AudienceIDs, id) {
			out = append(out, string(k))
		}
		return nil
	})
	return out, err // ForEach walks the keys, the ids, in order
}

func notFound(id string) error {
	return graph.Errorf(graph.ENOTFOUND, "destination %s is not stored", id)
}

func checkDestID(id string) error {
	if !destination.ValidID(id) {
		return graph.Errorf(graph.EINVALID, "destination id is not %s followed by 32 lowercase hex digits", destination.IDPrefix)
	}
	return nil
}

// CreateDestination implements destination.Store.
func (s *Store) CreateDestination(ctx context.Context, d destination.Destination) (destination.Destination, error) {
	d = d.Normalize()
	if err := d.Check(""); err != nil {
		return destination.Destination{}, err
	}
	var out destination.Destination
	err := s.update(ctx, func(btx *bolt.Tx) error {
		// The checks in the Neo4j store's order: the audiences, the
		// count, then the id.
		if err := audiencesStored(btx, d); err != nil {
			return err
		}
		b := btx.Bucket(bucketDestinations)
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		if n >= destination.MaxDestinations {
			return graph.Errorf(graph.ECONFLICT, "%d destinations are stored, the most there may be", n)
		}
		if b.Get([]byte(d.ID)) != nil {
			return graph.Errorf(graph.ECONFLICT, "destination %s is already stored", d.ID)
		}
		r := encodeDest(d, btx.Bucket(bucketFeed).Sequence(), 0, destination.Lease{})
		if err := putDest(btx, d.ID, r); err != nil {
			return err
		}
		out = r.decode(d.ID)
		return nil
	})
	return out, err
}

// UpdateDestination implements destination.Store.
func (s *Store) UpdateDestination(ctx context.Context, d destination.Destination) (destination.Destination, error) {
	d = d.Normalize()
	if err := d.CheckStored(""); err != nil {
		return destination.Destination{}, err
	}
	var out destination.Destination
	err := s.update(ctx, func(btx *bolt.Tx) error {
		// The audiences first, as the Neo4j store checks them.
		if err := audiencesStored(btx, d); err != nil {
			return err
		}
		old, ok, err := getDest(btx, d.ID)
		if err != nil {
			return err
		}
		if !ok {
			return notFound(d.ID)
		}
		// What the caller left out keeps what is stored now, and the
		// version it read is checked.
		if d, err = d.Apply(old.decode(d.ID)); err != nil {
			return err
		}
		if d.Name != old.Name {
			// A name given anew passes CheckName; the stored one is kept.
			if err := d.CheckName(""); err != nil {
				return err
			}
		}
		if d.Secret != old.Secret {
			// So does a secret given anew (CheckStored takes one stored
			// while the limit counted bytes).
			if err := d.CheckSecret(""); err != nil {
				return err
			}
		}
		if !maps.Equal(d.Headers, old.Headers) {
			// And headers given anew (CheckStored takes values stored
			// before today's rule).
			if err := d.CheckHeaders(""); err != nil {
				return err
			}
		}
		d.CreatedAt = fromNanos(old.CreatedAt)
		r := encodeDest(d, old.Cursor, old.Last, destination.Lease{Holder: old.LeaseHolder, Expires: fromNanos(old.LeaseExpires)})
		if err := putDest(btx, d.ID, r); err != nil {
			return err
		}
		out = r.decode(d.ID)
		return nil
	})
	return out, err
}

// deleteUnder deletes every key of b that starts with prefix.
func deleteUnder(b *bolt.Bucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// DeleteDestination implements destination.Store.
func (s *Store) DeleteDestination(ctx context.Context, id string) (bool, error) {
	if err := checkDestID(id); err != nil {
		return false, err
	}
	was := false
	err := s.update(ctx, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketDestinations)
		was = b.Get([]byte(id)) != nil
		if !was {
			return nil
		}
		if err := deleteUnder(btx.Bucket(bucketDeliveries), []byte(id)); err != nil {
			return err
		}
		if err := deleteUnder(btx.Bucket(bucketDeliveryStatus), []byte(id)); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
	return was, err
}

// Destination implements destination.Store.
func (s *Store) Destination(ctx context.Context, id string) (destination.Destination, error) {
	if err := checkDestID(id); err != nil {
		return destination.Destination{}, err
	}
	var out destination.Destination
	err := s.view(ctx, func(btx *bolt.Tx) error {
		r, ok, err := getDest(btx, id)
		if err != nil {
			return err
		}
		if !ok {
			return notFound(id)
		}
		out = r.decode(id)
		return nil
	})
	return out, err
}

// DestinationPage implements destination.Store.
func (s *Store) DestinationPage(ctx context.Context, after string, limit int) ([]destination.Destination, error) {
	if err := destination.CheckPage(after, limit); err != nil {
		return nil, err
	}
	var out []destination.Destination
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		c := btx.Bucket(bucketDestinations).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Next() {
			var r destRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("destination %s: %w", k, err)
			}
			out = append(out, r.decode(string(k)))
		}
		return nil
	})
	return out, err
}

// AcquireLease implements destination.Store: the store's one writer at a
// time makes the check and the write one step.
func (s *Store) AcquireLease(ctx context.Context, id, holder string, now time.Time, ttl time.Duration) (destination.Lease, bool, error) {
	if err := destination.CheckLease(id, holder, ttl); err != nil {
		return destination.Lease{}, false, err
	}
	var lease destination.Lease
	held := false
	err := s.update(ctx, func(btx *bolt.Tx) error {
		r, ok, err := getDest(btx, id)
		if err != nil {
			return err
		}
		if !ok {
			return notFound(id)
		}
		cur := destination.Lease{Holder: r.LeaseHolder, Expires: fromNanos(r.LeaseExpires)}
		if cur.Holder != "" && cur.Holder != holder && cur.Expires.After(now) {
			lease, held = cur, false
			return nil
		}
		r.LeaseHolder, r.LeaseExpires = holder, nanos(now.Add(ttl))
		lease, held = destination.Lease{Holder: holder, Expires: fromNanos(r.LeaseExpires)}, true
		return putDest(btx, id, r)
	})
	return lease, held, err
}

// ReleaseLease implements destination.Store.
func (s *Store) ReleaseLease(ctx context.Context, id, holder string) error {
	if err := checkDestID(id); err != nil {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		r, ok, err := getDest(btx, id)
		if err != nil || !ok || r.LeaseHolder != holder {
			return err
		}
		r.LeaseHolder, r.LeaseExpires = "", 0
		return putDest(btx, id, r)
	})
}

var statusBytes = map[destination.Status]byte{
	destination.Pending: 'p', destination.Failed: 'f', destination.Delivered: 'd', destination.Dead: 'x',
}

func deliveryKey(id string, number uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte(id), number)
}

func statusKey(id string, st destination.Status, number uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(id), statusBytes[st]), number)
}

func statusPrefix(id string, st destination.Status) []byte {
	return append([]byte(id), statusBytes[st])
}

func (r deliveryRecord) decode(id string, number uint64) destination.Delivery {
	d := destination.Delivery{ID: r.ID, DestinationID: id, Number: number, Status: destination.Status(r.Status),
		Attempts: r.Attempts, NextAttempt: fromNanos(r.NextAttempt), LastStatusCode: r.StatusCode, LastError: r.Error,
		CreatedAt: fromNanos(r.CreatedAt), QueuedAt: fromNanos(r.QueuedAt), UpdatedAt: fromNanos(r.UpdatedAt),
		EntryCount: r.Count, FirstSeq: r.First, LastSeq: r.Last}
	d.Entries = make([]graph.FeedEntry, len(r.Entries))
	for i, e := range r.Entries {
		d.Entries[i] = graph.FeedEntry{Seq: r.Seqs[i], At: fromNanos(r.Ats[i]), Kind: graph.FeedKind(e.K), ProfileID: e.P,
			PreviousIDs: e.V, EventID: e.E, AudienceID: e.A}
	}
	return d
}

func getDelivery(btx *bolt.Tx, id string, number uint64) (deliveryRecord, bool, error) {
	v := btx.Bucket(bucketDeliveries).Get(deliveryKey(id, number))
	if v == nil {
		return deliveryRecord{}, false, nil
	}
	var r deliveryRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("delivery %d of destination %s: %w", number, id, err)
	}
	return r, true, nil
}

// putDelivery writes r and moves its status index entry from old ("" for
// a new delivery).
func putDelivery(btx *bolt.Tx, id string, number uint64, r deliveryRecord, old destination.Status) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := btx.Bucket(bucketDeliveries).Put(deliveryKey(id, number), v); err != nil {
		return err
	}
	idx := btx.Bucket(bucketDeliveryStatus)
	if old != "" {
		if err := idx.Delete(statusKey(id, old, number)); err != nil {
			return err
		}
	}
	return idx.Put(statusKey(id, destination.Status(r.Status), number), present)
}

// firstOf returns the lowest number of the destination's deliveries of
// status st, 0 when none.
func firstOf(btx *bolt.Tx, id string, st destination.Status) uint64 {
	p := statusPrefix(id, st)
	k, _ := btx.Bucket(bucketDeliveryStatus).Cursor().Seek(p)
	if k == nil || !bytes.HasPrefix(k, p) || len(k) != len(p)+8 {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(p):])
}

func inFlight(btx *bolt.Tx, id string) uint64 {
	a, b := firstOf(btx, id, destination.Pending), firstOf(btx, id, destination.Failed)
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// InFlight implements destination.Store.
func (s *Store) InFlight(ctx context.Context, id string) (destination.Delivery, bool, error) {
	if err := checkDestID(id); err != nil {
		return destination.Delivery{}, false, err
	}
	var out destination.Delivery
	found := false
	err := s.view(ctx, func(btx *bolt.Tx) error {
		r, n, err := readInFlight(btx, id)
		if err == nil && n != 0 {
			out = r.decode(id, n)
		}
		found = n != 0
		return err
	})
	return out, found, err
}

// readInFlight returns the destination's in-flight delivery and its
// number, 0 when none is; ENOTFOUND when the destination is not stored.
func readInFlight(btx *bolt.Tx, id string) (deliveryRecord, uint64, error) {
	if _, ok, err := getDest(btx, id); err != nil || !ok {
		if err == nil {
			err = notFound(id)
		}
		return deliveryRecord{}, 0, err
	}
	n := inFlight(btx, id)
	if n == 0 {
		return deliveryRecord{}, 0, nil
	}
	r, ok, err := getDelivery(btx, id, n)
	if err == nil && !ok {
		err = fmt.Errorf("destination %s: delivery %d is indexed and missing", id, n)
	}
	if err != nil {
		return deliveryRecord{}, 0, err
	}
	return r, n, nil
}

func leaseLost(id string) error {
	return graph.Errorf(graph.ECONFLICT, "the lease on destination %s is not held", id)
}

// TakeBatch implements destination.Store.
func (s *Store) TakeBatch(ctx context.Context, id, holder string, from, through uint64, entries []graph.FeedEntry, now time.Time) (destination.Delivery, bool, error) {
	if err := destination.CheckTake(id, holder, from, through, entries); err != nil {
		return destination.Delivery{}, false, err
	}
	now = graph.Clean(now)
	var out destination.Delivery
	made := false
	err := s.update(ctx, func(btx *bolt.Tx) error {
		made = false
		r, ok, err := getDest(btx, id)
		if err != nil {
			return err
		}
		switch {
		case !ok:
			return notFound(id)
		case r.LeaseHolder != holder || !fromNanos(r.LeaseExpires).After(now):
			return leaseLost(id)
		case r.Cursor != from:
			return graph.Errorf(graph.ECONFLICT, "destination %s: the cursor is at %d, not %d", id, r.Cursor, from)
		case inFlight(btx, id) != 0:
			return graph.Errorf(graph.ECONFLICT, "destination %s: a delivery is in flight", id)
		}
		r.Cursor = through
		// Read again, in this transaction (the store's one writer), what
		// the feed holds at the entries' Seqs: an erasure that committed
		// since they were read has made its entries gaps.
		current, err := feedAt(btx, entries)
		if err != nil {
			return err
		}
		entries := destination.InFeed(entries, current, btx.Bucket(bucketFeed).Sequence())
		if len(entries) > 0 {
			r.Last++
			d := deliveryRecord{ID: destination.NewDeliveryID(), Status: string(destination.Pending), NextAttempt: now.UnixNano(),
				CreatedAt: now.UnixNano(), QueuedAt: now.UnixNano(), UpdatedAt: now.UnixNano(),
				Count: len(entries), First: entries[0].Seq, Last: entries[len(entries)-1].Seq}
			for _, e := range entries {
				d.Entries = append(d.Entries, feedRecord{K: string(e.Kind), P: e.ProfileID, V: e.PreviousIDs, E: e.EventID, A: e.AudienceID})
				d.Seqs = append(d.Seqs, e.Seq)
				d.Ats = append(d.Ats, nanos(e.At))
			}
			if err := putDelivery(btx, id, r.Last, d, ""); err != nil {
				return err
			}
			out, made = d.decode(id, r.Last), true
		}
		return putDest(btx, id, r)
	})
	return out, made, err
}

// feedAt returns the entries the feed holds now at the Seqs of entries
// (in Seq order), by Seq: a gap, or a Seq the feed no longer holds, is
// not in it.
func feedAt(btx *bolt.Tx, entries []graph.FeedEntry) (map[uint64]graph.FeedEntry, error) {
	out := make(map[uint64]graph.FeedEntry, len(entries))
	c := btx.Bucket(bucketFeed).Cursor()
	var first uint64
	var rec *feedBatch
	for _, e := range entries {
		if rec == nil || e.Seq >= first+uint64(len(rec.E)) {
			// The record that holds e.Seq is the last keyed at or before it.
			key := binary.BigEndian.AppendUint64(nil, e.Seq)
			k, v := c.Seek(key)
			if k == nil || !bytes.Equal(k, key) {
				if k == nil {
					k, v = c.Last()
				} else {
					k, v = c.Prev()
				}
			}
			rec = nil
			if k == nil {
				continue
			}
			first = binary.BigEndian.Uint64(k)
			var b feedBatch
			if err := json.Unmarshal(v, &b); err != nil {
				return nil, fmt.Errorf("feed record %d: %w", first, err)
			}
			rec = &b
		}
		if e.Seq < first || e.Seq >= first+uint64(len(rec.E)) {
			continue
		}
		r := rec.E[e.Seq-first]
		if r.K == "" {
			continue
		}
		out[e.Seq] = graph.FeedEntry{Seq: e.Seq, At: fromNanos(rec.At), Kind: graph.FeedKind(r.K), ProfileID: r.P,
			PreviousIDs: r.V, EventID: r.E, AudienceID: r.A}
	}
	return out, nil
}

// RecordAttempt implements destination.Store.
func (s *Store) RecordAttempt(ctx context.Context, id, holder string, number uint64, o destination.Outcome) error {
	if err := destination.CheckOutcome(id, holder, o); err != nil {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		r, ok, err := getDest(btx, id)
		if err != nil {
			return err
		}
		if !ok {
			return notFound(id)
		}
		if r.LeaseHolder != holder || !fromNanos(r.LeaseExpires).After(o.At) {
			return leaseLost(id)
		}
		d, ok, err := getDelivery(btx, id, number)
		if err != nil {
			return err
		}
		old := destination.Status(d.Status)
		if !ok || !old.InFlight() {
			return graph.Errorf(graph.ECONFLICT, "destination %s: delivery %d is not in flight", id, number)
		}
		d.Status, d.Attempts, d.NextAttempt = string(o.Status), o.Attempts, nanos(o.NextAttempt)
		d.StatusCode, d.Error, d.UpdatedAt = o.LastStatusCode, o.LastError, nanos(o.At)
		if o.Status == destination.Delivered {
			d.Entries, d.Seqs, d.Ats = nil, nil, nil
		}
		return putDelivery(btx, id, number, d, old)
	})
}

// Deliveries implements destination.Store: a backward walk of the
// deliveries, or of one status's index entries.
func (s *Store) Deliveries(ctx context.Context, q destination.DeliveryQuery) ([]destination.Delivery, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	var out []destination.Delivery
	err := s.view(ctx, func(btx *bolt.Tx) error {
		out = nil
		if _, ok, err := getDest(btx, q.DestinationID); err != nil || !ok {
			if err == nil {
				err = notFound(q.DestinationID)
			}
			return err
		}
		prefix := []byte(q.DestinationID)
		b := btx.Bucket(bucketDeliveries)
		if q.Status != "" {
			prefix = statusPrefix(q.DestinationID, q.Status)
			b = btx.Bucket(bucketDeliveryStatus)
		}
		before := q.Before
		if before == 0 {
			before = ^uint64(0)
		}
		c := b.Cursor()
		k, _ := c.Seek(binary.BigEndian.AppendUint64(bytes.Clone(prefix), before))
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < q.Limit; k, _ = c.Prev() {
			if len(k) != len(prefix)+8 {
				continue
			}
			n := binary.BigEndian.Uint64(k[len(prefix):])
			if n >= before {
				continue
			}
			r, ok, err := getDelivery(btx, q.DestinationID, n)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, r.decode(q.DestinationID, n))
			}
		}
		return nil
	})
	return out, err
}

// ReplayDead implements destination.Store.
func (s *Store) ReplayDead(ctx context.Context, id string, now time.Time, limit int) (int, error) {
	if err := checkDestID(id); err != nil {
		return 0, err
	}
	if limit < 1 || limit > destination.MaxPage {
		return 0, graph.Errorf(graph.EINVALID, "limit must be 1 to %d, got %d", destination.MaxPage, limit)
	}
	now = graph.Clean(now)
	n := 0
	err := s.update(ctx, func(btx *bolt.Tx) error {
		n = 0
		if _, ok, err := getDest(btx, id); err != nil || !ok {
			if err == nil {
				err = notFound(id)
			}
			return err
		}
		p := statusPrefix(id, destination.Dead)
		var nums []uint64
		c := btx.Bucket(bucketDeliveryStatus).Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(nums) < limit; k, _ = c.Next() {
			nums = append(nums, binary.BigEndian.Uint64(k[len(p):]))
		}
		for _, num := range nums {
			d, ok, err := getDelivery(btx, id, num)
			if err != nil || !ok {
				if err == nil {
					err = fmt.Errorf("destination %s: delivery %d is indexed and missing", id, num)
				}
				return err
			}
			d.Status, d.Attempts, d.NextAttempt, d.UpdatedAt = string(destination.Pending), 0, now.UnixNano(), now.UnixNano()
			d.QueuedAt = now.UnixNano()
			if err := putDelivery(btx, id, num, d, destination.Dead); err != nil {
				return err
			}
		}
		n = len(nums)
		return nil
	})
	return n, err
}

// RetryNow implements destination.Store.
func (s *Store) RetryNow(ctx context.Context, id string, now time.Time) (bool, error) {
	if err := checkDestID(id); err != nil {
		return false, err
	}
	now = graph.Clean(now)
	done := false
	err := s.update(ctx, func(btx *bolt.Tx) error {
		done = false
		d, n, err := readInFlight(btx, id)
		if err != nil || n == 0 || destination.Status(d.Status) != destination.Failed || d.NextAttempt <= now.UnixNano() {
			return err
		}
		d.NextAttempt, d.UpdatedAt = now.UnixNano(), now.UnixNano()
		done = true
		return putDelivery(btx, id, n, d, destination.Failed)
	})
	return done, err
}

var _ destination.TxRedact = (*tx)(nil)

// RedactDeliveries implements destination.TxRedact: a walk of the status
// index's PENDING, FAILED and DEAD entries of every destination.
func (t *tx) RedactDeliveries(ctx context.Context, profileIDs, eventIDs []string) (int, error) {
	if len(profileIDs) == 0 && len(eventIDs) == 0 {
		return 0, nil
	}
	drop := make(map[string]bool, len(profileIDs))
	for _, p := range profileIDs {
		drop[p] = true
	}
	dropEvents := make(map[string]bool, len(eventIDs))
	for _, e := range eventIDs {
		dropEvents[e] = true
	}
	var ids []string
	c := t.btx.Bucket(bucketDestinations).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		ids = append(ids, string(k))
	}
	n := 0
	for _, id := range ids {
		for _, st := range []destination.Status{destination.Pending, destination.Failed, destination.Dead} {
			p := statusPrefix(id, st)
			var nums []uint64
			ic := t.btx.Bucket(bucketDeliveryStatus).Cursor()
			for k, _ := ic.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = ic.Next() {
				if len(k) == len(p)+8 {
					nums = append(nums, binary.BigEndian.Uint64(k[len(p):]))
				}
			}
			for _, num := range nums {
				r, ok, err := getDelivery(t.btx, id, num)
				if err != nil || !ok {
					return n, err
				}
				kept, changed := destination.Redact(r.decode(id, num).Entries, drop, dropEvents)
				if !changed {
					continue
				}
				r.Entries, r.Seqs, r.Ats = nil, nil, nil
				for _, e := range kept {
					r.Entries = append(r.Entries, feedRecord{K: string(e.Kind), P: e.ProfileID, V: e.PreviousIDs, E: e.EventID, A: e.AudienceID})
					r.Seqs = append(r.Seqs, e.Seq)
					r.Ats = append(r.Ats, nanos(e.At))
				}
				if err := putDelivery(t.btx, id, num, r, st); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

// PruneDelivered implements destination.Store: a forward walk of the
// destination's DELIVERED index entries, all of them when fewer than limit
// are old enough (as the Neo4j store's index scan does; the worker prunes
// once an hour).
func (s *Store) PruneDelivered(ctx context.Context, id string, before time.Time, limit int) (int, error) {
	if err := checkDestID(id); err != nil {
		return 0, err
	}
	if limit < 1 || limit > destination.MaxPage {
		return 0, graph.Errorf(graph.EINVALID, "limit must be 1 to %d, got %d", destination.MaxPage, limit)
	}
	cut := graph.Clean(before).UnixNano()
	n := 0
	err := s.update(ctx, func(btx *bolt.Tx) error {
		n = 0
		p := statusPrefix(id, destination.Delivered)
		idx := btx.Bucket(bucketDeliveryStatus)
		var nums []uint64
		c := idx.Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(nums) < limit; k, _ = c.Next() {
			if len(k) != len(p)+8 {
				continue
			}
			num := binary.BigEndian.Uint64(k[len(p):])
			r, ok, err := getDelivery(btx, id, num)
			if err != nil {
				return err
			}
			if ok && r.UpdatedAt >= cut {
				// Batches are delivered in number order, bar replays: a
				// replayed dead letter delivered lately may come before
				// batches delivered long ago, so the walk goes on.
				continue
			}
			nums = append(nums, num)
		}
		for _, num := range nums {
			if err := btx.Bucket(bucketDeliveries).Delete(deliveryKey(id, num)); err != nil {
				return err
			}
			if err := idx.Delete(statusKey(id, destination.Delivered, num)); err != nil {
				return err
			}
		}
		n = len(nums)
		return nil
	})
	return n, err
}

var _ destination.Loader = (*Store)(nil)

// LoadDestinations implements destination.Loader, in one transaction. A
// replaced destination keeps the number of its newest delivery when it is
// above the one given.
func (s *Store) LoadDestinations(ctx context.Context, ds []destination.Destination) error {
	norm := make([]destination.Destination, len(ds))
	for i, d := range ds {
		norm[i] = d.Normalize()
		if err := norm[i].CheckStored(""); err != nil {
			return err
		}
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		for _, d := range norm {
			old, _, err := getDest(btx, d.ID)
			if err != nil {
				return err
			}
			if err := putDest(btx, d.ID, encodeDest(d, d.Cursor, max(old.Last, d.LastNumber), destination.Lease{})); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadDeliveries implements destination.Loader, in one transaction.
func (s *Store) LoadDeliveries(ctx context.Context, ds []destination.Delivery) error {
	if err := destination.CheckLoad(ds); err != nil {
		return err
	}
	return s.update(ctx, func(btx *bolt.Tx) error {
		for _, d := range ds {
			r, ok, err := getDest(btx, d.DestinationID)
			if err != nil {
				return err
			}
			if !ok {
				return notFound(d.DestinationID)
			}
			old, had, err := getDelivery(btx, d.DestinationID, d.Number)
			if err != nil {
				return err
			}
			rec := deliveryRecord{ID: d.ID, Count: d.EntryCount, First: d.FirstSeq, Last: d.LastSeq, Status: string(d.Status),
				Attempts: d.Attempts, NextAttempt: nanos(d.NextAttempt), StatusCode: d.LastStatusCode, Error: d.LastError,
				CreatedAt: nanos(d.CreatedAt), QueuedAt: nanos(d.QueuedAt), UpdatedAt: nanos(d.UpdatedAt)}
			for _, e := range d.Entries {
				rec.Entries = append(rec.Entries, feedRecord{K: string(e.Kind), P: e.ProfileID, V: e.PreviousIDs, E: e.EventID, A: e.AudienceID})
				rec.Seqs = append(rec.Seqs, e.Seq)
				rec.Ats = append(rec.Ats, nanos(e.At))
			}
			var was destination.Status
			if had {
				was = destination.Status(old.Status)
			}
			if err := putDelivery(btx, d.DestinationID, d.Number, rec, was); err != nil {
				return err
			}
			if d.Number > r.Last {
				r.Last = d.Number
				if err := putDest(btx, d.DestinationID, r); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
