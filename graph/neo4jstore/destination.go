package neo4jstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
)

// Webhook destinations: (:Destination {id, name, url, secret, kinds,
// audienceIds, purpose, batchSize, maxAttempts, headers (JSON), includePII,
// createdAt, updatedAt, cursor, leaseHolder, leaseExpires, deliveryCount})
// and one (:Delivery {destinationId, number, id, entries (JSON), status,
// attempts, nextAttempt, statusCode, error, createdAt, queuedAt, updatedAt}) per
// batch. Neither is connected to the identity graph: entries name profiles
// by id, like the feed.
//
// Every write that checks a destination's lease or cursor first sets its
// lock property: the write lock it takes is held to the commit, so of two
// processes racing, the second reads what the first committed.

const (
	labelDestination  = "Destination"
	labelDelivery     = "Delivery"
	propURL           = "url"
	propBatchSize     = "batchSize"
	propMaxAttempts   = "maxAttempts"
	propHeaders       = "headers"
	propIncludePII    = "includePII"
	propCursor        = "cursor"
	propLeaseHolder   = "leaseHolder"
	propLeaseExpires  = "leaseExpires"
	propDeliveryCount = "deliveryCount"
	propDestinationID = "destinationId"
	propNumber        = "number"
	propEntries       = "entries"
	propAttempts      = "attempts"
	propNextAttempt   = "nextAttempt"
	propStatusCode    = "statusCode"
	propError         = "error"
	propQueuedAt      = "queuedAt"
	propEntryCount    = "entryCount"
	propFirstSeq      = "firstSeq"
	propLastSeq       = "lastSeq"
)

// destinationNames join the model's allow-list (model.go).
var destinationNames = []string{labelDestination, labelDelivery, propURL, propBatchSize, propMaxAttempts, propHeaders,
	propIncludePII, propCursor, propLeaseHolder, propLeaseExpires, propDeliveryCount, propDestinationID, propNumber,
	propEntries, propAttempts, propNextAttempt, propStatusCode, propError, propQueuedAt,
	propEntryCount, propFirstSeq, propLastSeq}

var _ destination.Store = (*Store)(nil)

func destParams(d destination.Destination) (map[string]any, error) {
	headers, err := jsonParam(d.Headers)
	if err != nil {
		return nil, err
	}
	kinds := make([]string, len(d.Kinds))
	for i, k := range d.Kinds {
		kinds[i] = string(k)
	}
	return map[string]any{
		"id": d.ID, "name": d.Name, "url": d.URL, "secret": d.Secret, "kinds": strsParam(kinds),
		"audienceIds": strsParam(d.AudienceIDs), "purpose": strParam(d.Purpose), "batchSize": int64(d.BatchSize),
		"maxAttempts": int64(d.MaxAttempts), "headers": headers, "includePII": d.IncludePII,
		"createdAt": timeParam(d.CreatedAt), "updatedAt": timeParam(d.UpdatedAt),
	}, nil
}

func decodeDestination(v any) (destination.Destination, error) {
	p, err := asProps(v)
	if err != nil {
		return destination.Destination{}, err
	}
	d := destination.Destination{ID: p.str(propID), Name: p.str(propName), URL: p.str(propURL), Secret: p.str(propSecret),
		AudienceIDs: p.strs(propAudienceIDs), Purpose: p.str(propPurpose), BatchSize: p.int(propBatchSize),
		MaxAttempts: p.int(propMaxAttempts), CreatedAt: p.time(propCreatedAt), UpdatedAt: p.time(propUpdatedAt),
		Lease: destination.Lease{Holder: p.str(propLeaseHolder), Expires: p.time(propLeaseExpires)}}
	d.IncludePII, _ = p[propIncludePII].(bool)
	c, _ := p[propCursor].(int64)
	d.Cursor = uint64(c)
	n, _ := p[propDeliveryCount].(int64)
	d.LastNumber = uint64(n)
	for _, k := range p.strs(propKinds) {
		d.Kinds = append(d.Kinds, graph.FeedKind(k))
	}
	if err := p.json(propHeaders, &d.Headers); err != nil {
		return d, err
	}
	return d, nil
}

var qCountDestinations = cypher(`MATCH (d:{{Destination}}) RETURN count(d)`)

// qLockDestinationCount takes the feed counter's write lock (setting and removing
// the lock property), held to the commit, before the destinations are
// counted: of creations racing near MaxDestinations, in this process or
// another, each counts what the one before it committed. Taken after the
// audiences' locks, in the order the audience keeper takes them
// (ApplyMembership locks its audience, then appends to the feed).
var qLockDestinationCount = cypher(`
MERGE (c:{{FeedCounter}} { {{id}}: $cid })
ON CREATE SET c.{{head}} = 0
SET c.{{lock}} = true
REMOVE c.{{lock}}`)

// qCreateDestination starts the cursor at the feed head as committed now:
// a transaction appending to the feed commits its entries with the head,
// so every entry after it commits later.
var qCreateDestination = cypher(`
OPTIONAL MATCH (c:{{FeedCounter}} { {{id}}: $cid })
WITH coalesce(c.{{head}}, 0) AS head
MERGE (d:{{Destination}} { {{id}}: $id })
ON CREATE SET d.{{name}} = $name, d.{{url}} = $url, d.{{secret}} = $secret, d.{{kinds}} = $kinds,
  d.{{audienceIds}} = $audienceIds, d.{{purpose}} = $purpose, d.{{batchSize}} = $batchSize,
  d.{{maxAttempts}} = $maxAttempts, d.{{headers}} = $headers, d.{{includePII}} = $includePII,
  d.{{createdAt}} = $createdAt, d.{{updatedAt}} = $updatedAt, d.{{cursor}} = head, d.{{deliveryCount}} = 0
RETURN d { .* }`)

// qDestinationsSending reads, by id, the destinations whose audienceIds
// name the audience $id (there are at most destination.MaxDestinations),
// none when the audience is not stored: destinations stored before
// deletions checked them may still name one deleted.
var qDestinationsSending = cypher(`
MATCH (:{{Audience}} { {{id}}: $id })
MATCH (d:{{Destination}})
WHERE $id IN d.{{audienceIds}}
RETURN d.{{id}} AS id ORDER BY id`)

// lockAudiencesSent takes the write locks of the stored audiences d sends
// (in id order, as Normalize sorts them), then refuses d when one is not
// stored (destination.MissingAudienceError). DeleteAudience locks the
// audience it deletes before it reads the destinations that send it
// (qDestinationsSending): of a delete and a write of a destination that
// names the audience, the one that takes the lock second waits for the
// other to commit and then reads what it wrote. No statement is run when
// d names no audience (it then receives the entries of every one).
func lockAudiencesSent(ctx context.Context, t *readTx, d destination.Destination) error {
	if len(d.AudienceIDs) == 0 {
		return nil
	}
	if err := t.exec(ctx, qLockAudiences, map[string]any{"ids": d.AudienceIDs}); err != nil {
		return fmt.Errorf("lock the audiences the destination sends: %w", err)
	}
	recs, err := t.query(ctx, qRefsStored, map[string]any{"computed": []string{}, "audiences": d.AudienceIDs})
	if err != nil {
		return fmt.Errorf("read the audiences the destination sends: %w", err)
	}
	if len(recs) != 1 {
		return fmt.Errorf("read the audiences the destination sends: %d rows", len(recs))
	}
	stored := strSet(recs[0].Values[1])
	return destination.MissingAudience(d.AudienceIDs, func(id string) bool { return stored[id] })
}

// CreateDestination implements destination.Store, in three round trips,
// five when it sends audiences (lockAudiencesSent).
func (s *Store) CreateDestination(ctx context.Context, d destination.Destination) (destination.Destination, error) {
	d = d.Normalize()
	if err := d.Check(""); err != nil {
		return destination.Destination{}, err
	}
	params, err := destParams(d)
	if err != nil {
		return destination.Destination{}, err
	}
	params["cid"] = feedCounterID
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := lockAudiencesSent(ctx, t, d); err != nil {
			return nil, err
		}
		if err := t.exec(ctx, qLockDestinationCount, map[string]any{"cid": feedCounterID}); err != nil {
			return nil, fmt.Errorf("lock the feed counter: %w", err)
		}
		recs, err := t.query(ctx, qCountDestinations, nil)
		if err != nil {
			return nil, fmt.Errorf("count destinations: %w", err)
		}
		if n, _ := recs[0].Values[0].(int64); n >= destination.MaxDestinations {
			return nil, graph.Errorf(graph.ECONFLICT, "%d destinations are stored, the most there may be", n)
		}
		res, err := t.run.Run(ctx, qCreateDestination, params)
		if err != nil {
			return nil, fmt.Errorf("create destination: %w", err)
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return nil, fmt.Errorf("create destination: %w", err)
		}
		sum, err := res.Consume(ctx)
		if err != nil {
			return nil, fmt.Errorf("create destination: %w", err)
		}
		if sum.Counters().NodesCreated() != 1 {
			return nil, graph.Errorf(graph.ECONFLICT, "destination %s is already stored", d.ID)
		}
		return decodeDestination(rec.Values[0])
	})
	if err != nil {
		return destination.Destination{}, err
	}
	return out.(destination.Destination), nil
}

// qUpdateDestination changes nothing and answers nameOK false when the
// name is not the stored one and is not allowed as a new name
// ($newNameOK), secretOK false when the secret is not the stored one and
// is not allowed as a new secret ($newSecretOK), headersOK false when the
// headers are not the stored ones (JSON with sorted names, as destParams
// writes them) and are not allowed as new headers ($newHeadersOK).
var qUpdateDestination = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
WITH d, $newNameOK OR d.{{name}} = $name AS nameOK, $newSecretOK OR d.{{secret}} = $secret AS secretOK,
  $newHeadersOK OR coalesce(d.{{headers}} = $headers, false) AS headersOK
FOREACH (_ IN CASE WHEN nameOK AND secretOK AND headersOK THEN [1] ELSE [] END |
  SET d.{{name}} = $name, d.{{url}} = $url, d.{{secret}} = $secret, d.{{kinds}} = $kinds,
    d.{{audienceIds}} = $audienceIds, d.{{purpose}} = $purpose, d.{{batchSize}} = $batchSize,
    d.{{maxAttempts}} = $maxAttempts, d.{{headers}} = $headers, d.{{includePII}} = $includePII,
    d.{{updatedAt}} = $updatedAt)
RETURN d { .* }, nameOK, secretOK, headersOK`)

// qLockReadDestination takes the destination's write lock and reads it.
var qLockReadDestination = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
SET d.{{lock}} = true REMOVE d.{{lock}}
RETURN d { .* }`)

// UpdateDestination implements destination.Store, in two round trips
// (the destination locked and read, then written), four when it sends
// audiences (lockAudiencesSent).
func (s *Store) UpdateDestination(ctx context.Context, d destination.Destination) (destination.Destination, error) {
	d = d.Normalize()
	if err := d.CheckStored(""); err != nil {
		return destination.Destination{}, err
	}
	given := d
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		d := given
		if err := lockAudiencesSent(ctx, t, d); err != nil {
			return nil, err
		}
		{
			// What the caller left out keeps what is stored now, the
			// version it read is checked, and the one it stores follows
			// the stored one, read under the destination's lock.
			recs, err := t.query(ctx, qLockReadDestination, map[string]any{"id": d.ID})
			if err != nil {
				return nil, fmt.Errorf("update destination: lock it: %w", err)
			}
			if len(recs) == 0 {
				return nil, graph.Errorf(graph.ENOTFOUND, "destination %s is not stored", d.ID)
			}
			stored, err := decodeDestination(recs[0].Values[0])
			if err != nil {
				return nil, err
			}
			if d, err = d.Apply(stored); err != nil {
				return nil, err
			}
		}
		// A name given anew passes CheckName, a secret given anew
		// CheckSecret (CheckStored takes one stored while the limit
		// counted bytes), headers given anew CheckHeaders; the stored ones
		// are kept.
		newNameErr, newSecretErr, newHeadersErr := d.CheckName(""), d.CheckSecret(""), d.CheckHeaders("")
		params, err := destParams(d)
		if err != nil {
			return nil, err
		}
		params["newNameOK"], params["newSecretOK"], params["newHeadersOK"] = newNameErr == nil, newSecretErr == nil, newHeadersErr == nil
		recs, err := t.query(ctx, qUpdateDestination, params)
		if err != nil {
			return nil, fmt.Errorf("update destination: %w", err)
		}
		if len(recs) == 0 {
			return nil, graph.Errorf(graph.ENOTFOUND, "destination %s is not stored", d.ID)
		}
		if ok, _ := recs[0].Values[3].(bool); !ok {
			return nil, newHeadersErr
		}
		if ok, _ := recs[0].Values[2].(bool); !ok {
			return nil, newSecretErr
		}
		if ok, _ := recs[0].Values[1].(bool); !ok {
			return nil, newNameErr
		}
		return decodeDestination(recs[0].Values[0])
	})
	if err != nil {
		return destination.Destination{}, err
	}
	return out.(destination.Destination), nil
}

// qLockDestination takes the destination's write lock (the lock property)
// before its deliveries are deleted: a TakeBatch that locked it first
// commits its new batch before they are read, one that comes later finds
// the destination gone. Without it a batch could be added between the two
// deletes and outlive its destination, where erasure would not find it.
var qLockDestination = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
SET d.{{lock}} = true`)

var qDeleteDeliveries = cypher(`
MATCH (x:{{Delivery}})
USING INDEX SEEK x:{{Delivery}}({{destinationId}}, {{number}})
WHERE x.{{destinationId}} = $id AND x.{{number}} >= 0
DELETE x`)

var qDeleteDestination = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
DELETE d
RETURN count(d)`)

// DeleteDestination implements destination.Store, in three round trips.
func (s *Store) DeleteDestination(ctx context.Context, id string) (bool, error) {
	if err := checkDestID(id); err != nil {
		return false, err
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qLockDestination, map[string]any{"id": id}); err != nil {
			return nil, fmt.Errorf("lock destination: %w", err)
		}
		if err := t.exec(ctx, qDeleteDeliveries, map[string]any{"id": id}); err != nil {
			return nil, fmt.Errorf("delete deliveries: %w", err)
		}
		recs, err := t.query(ctx, qDeleteDestination, map[string]any{"id": id})
		if err != nil {
			return nil, fmt.Errorf("delete destination: %w", err)
		}
		n, _ := recs[0].Values[0].(int64)
		return n > 0, nil
	})
	if err != nil {
		return false, err
	}
	return out.(bool), nil
}

func checkDestID(id string) error {
	if !destination.ValidID(id) {
		return graph.Errorf(graph.EINVALID, "destination id is not %s followed by 32 lowercase hex digits", destination.IDPrefix)
	}
	return nil
}

func destNotFound(id string) error {
	return graph.Errorf(graph.ENOTFOUND, "destination %s is not stored", id)
}

var qDestination = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
RETURN d { .* }`)

// Destination implements destination.Store.
func (s *Store) Destination(ctx context.Context, id string) (destination.Destination, error) {
	if err := checkDestID(id); err != nil {
		return destination.Destination{}, err
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qDestination, map[string]any{"id": id})
		if err != nil {
			return nil, fmt.Errorf("read destination: %w", err)
		}
		if len(recs) == 0 {
			return nil, destNotFound(id)
		}
		return decodeDestination(recs[0].Values[0])
	})
	if err != nil {
		return destination.Destination{}, err
	}
	return out.(destination.Destination), nil
}

var qDestinationPage = cypher(`
MATCH (d:{{Destination}})
USING INDEX SEEK d:{{Destination}}({{id}})
WHERE d.{{id}} > $after
WITH d ORDER BY d.{{id}} LIMIT $limit
RETURN d { .* }`)

// DestinationPage implements destination.Store.
func (s *Store) DestinationPage(ctx context.Context, after string, limit int) ([]destination.Destination, error) {
	if err := destination.CheckPage(after, limit); err != nil {
		return nil, err
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qDestinationPage, map[string]any{"after": after, "limit": int64(limit)})
		if err != nil {
			return nil, fmt.Errorf("read destinations: %w", err)
		}
		ds := make([]destination.Destination, 0, len(recs))
		for _, r := range recs {
			d, err := decodeDestination(r.Values[0])
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
		return ds, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]destination.Destination), nil
}

// qAcquireLease locks the destination before it reads the lease.
var qAcquireLease = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
SET d.{{lock}} = true
WITH d, (d.{{leaseHolder}} IS NULL OR d.{{leaseHolder}} = $holder OR d.{{leaseExpires}} <= $now) AS free
SET d.{{leaseHolder}} = CASE WHEN free THEN $holder ELSE d.{{leaseHolder}} END,
  d.{{leaseExpires}} = CASE WHEN free THEN $until ELSE d.{{leaseExpires}} END
RETURN free, d.{{leaseHolder}}, d.{{leaseExpires}}`)

// AcquireLease implements destination.Store, in one round trip.
func (s *Store) AcquireLease(ctx context.Context, id, holder string, now time.Time, ttl time.Duration) (destination.Lease, bool, error) {
	if err := destination.CheckLease(id, holder, ttl); err != nil {
		return destination.Lease{}, false, err
	}
	type result struct {
		lease destination.Lease
		held  bool
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qAcquireLease, map[string]any{"id": id, "holder": holder, "now": timeParam(now), "until": timeParam(now.Add(ttl))})
		if err != nil {
			return nil, fmt.Errorf("acquire lease: %w", err)
		}
		if len(recs) == 0 {
			return nil, destNotFound(id)
		}
		held, _ := recs[0].Values[0].(bool)
		h, _ := recs[0].Values[1].(string)
		exp, _ := recs[0].Values[2].(time.Time)
		l := destination.Lease{Holder: h}
		if !exp.IsZero() {
			l.Expires = graph.Clean(exp)
		}
		return result{l, held}, nil
	})
	if err != nil {
		return destination.Lease{}, false, err
	}
	r := out.(result)
	return r.lease, r.held, nil
}

// qReleaseLease removes the lease if $holder holds it. The holder is read
// once the destination is locked: read before, it could be a holder whose
// lease another replica was taking meanwhile, and the release would drop
// that replica's new lease.
var qReleaseLease = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
SET d.{{lock}} = true
REMOVE d.{{lock}}
WITH d WHERE d.{{leaseHolder}} = $holder
REMOVE d.{{leaseHolder}}, d.{{leaseExpires}}`)

// ReleaseLease implements destination.Store.
func (s *Store) ReleaseLease(ctx context.Context, id, holder string) error {
	if err := checkDestID(id); err != nil {
		return err
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, t.exec(ctx, qReleaseLease, map[string]any{"id": id, "holder": holder})
	})
	return err
}

type deliveryEntry struct {
	Seq uint64   `json:"s"`
	At  int64    `json:"t"`
	K   string   `json:"k"`
	P   string   `json:"p,omitempty"`
	V   []string `json:"v,omitempty"`
	E   string   `json:"e,omitempty"`
	A   string   `json:"a,omitempty"`
}

func decodeDelivery(v any) (destination.Delivery, error) {
	p, err := asProps(v)
	if err != nil {
		return destination.Delivery{}, err
	}
	n, _ := p[propNumber].(int64)
	d := destination.Delivery{ID: p.str(propID), DestinationID: p.str(propDestinationID), Number: uint64(n),
		Status: destination.Status(p.str(propStatus)), Attempts: p.int(propAttempts), NextAttempt: p.time(propNextAttempt),
		LastStatusCode: p.int(propStatusCode), LastError: p.str(propError), CreatedAt: p.time(propCreatedAt),
		QueuedAt: p.time(propQueuedAt), UpdatedAt: p.time(propUpdatedAt), EntryCount: p.int(propEntryCount)}
	first, _ := p[propFirstSeq].(int64)
	last, _ := p[propLastSeq].(int64)
	d.FirstSeq, d.LastSeq = uint64(first), uint64(last)
	es, err := decodeEntries(p.str(propEntries))
	if err != nil {
		return d, err
	}
	d.Entries = make([]graph.FeedEntry, len(es))
	for i, e := range es {
		d.Entries[i] = graph.FeedEntry{Seq: e.Seq, At: time.Unix(0, e.At).UTC(), Kind: graph.FeedKind(e.K), ProfileID: e.P,
			PreviousIDs: e.V, EventID: e.E, AudienceID: e.A}
	}
	return d, nil
}

var inFlightStatuses = []any{string(destination.Pending), string(destination.Failed)}

// matchInFlight matches the in-flight deliveries of destination $id
// ($statuses: inFlightStatuses) through the status index.
const matchInFlight = `
MATCH (x:{{Delivery}})
USING INDEX SEEK x:{{Delivery}}({{destinationId}}, {{status}}, {{number}})
WHERE x.{{destinationId}} = $id AND x.{{status}} IN $statuses AND x.{{number}} >= 0`

var qInFlight = cypher(matchInFlight + `
WITH x ORDER BY x.{{number}} LIMIT 1
RETURN x { .* }`)

var qDestinationExists = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
RETURN d.{{id}}`)

// InFlight implements destination.Store, in two round trips.
func (s *Store) InFlight(ctx context.Context, id string) (destination.Delivery, bool, error) {
	if err := checkDestID(id); err != nil {
		return destination.Delivery{}, false, err
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qDestinationExists, map[string]any{"id": id})
		if err != nil {
			return nil, fmt.Errorf("read destination: %w", err)
		}
		if len(recs) == 0 {
			return nil, destNotFound(id)
		}
		recs, err = t.query(ctx, qInFlight, map[string]any{"id": id, "statuses": inFlightStatuses})
		if err != nil {
			return nil, fmt.Errorf("read the delivery in flight: %w", err)
		}
		if len(recs) == 0 {
			return nil, nil
		}
		return decodeDelivery(recs[0].Values[0])
	})
	if err != nil {
		return destination.Delivery{}, false, err
	}
	if out == nil {
		return destination.Delivery{}, false, nil
	}
	return out.(destination.Delivery), true, nil
}

// qLockForWork locks the destination, then reads its lease, its cursor
// and whether a delivery is in flight.
var qLockForWork = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
SET d.{{lock}} = true
WITH d
OPTIONAL CALL (d) {` + matchInFlight + `
  RETURN x.{{number}} AS inflight LIMIT 1
}
RETURN d.{{leaseHolder}} = $holder AND d.{{leaseExpires}} > $now, d.{{cursor}}, inflight`)

var qTake = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
SET d.{{cursor}} = $through, d.{{deliveryCount}} = d.{{deliveryCount}} + $n
WITH d
UNWIND CASE WHEN $n > 0 THEN [1] ELSE [] END AS one
CREATE (x:{{Delivery}} { {{destinationId}}: $id, {{number}}: d.{{deliveryCount}}, {{id}}: $did, {{entries}}: $entries,
  {{status}}: $status, {{attempts}}: 0, {{nextAttempt}}: $now, {{createdAt}}: $now, {{queuedAt}}: $now, {{updatedAt}}: $now,
  {{entryCount}}: $count, {{firstSeq}}: $firstSeq, {{lastSeq}}: $lastSeq })
RETURN x { .* }`)

// qLockFeedAt takes the write lock of every feed batch that holds one of
// $seqs (setting and removing the lock property, which leaves the batch as
// it was), held to the commit. An erasure's RedactFeed writes the batches
// that name the profiles, and then its RedactDeliveries reads the
// deliveries: whichever of it and TakeBatch locks a batch second waits for
// the other's commit, so either TakeBatch reads the batch as the erasure
// left it, or the erasure finds the delivery TakeBatch stored.
//
// Batches hold consecutive Seqs and do not overlap, so at most $n (the
// Seqs from $min to $max) of them, taken in last order from $min, can hold
// one: the index seek stops there instead of running to the feed's head.
var qLockFeedAt = cypher(`
MATCH (b:{{FeedBatch}})
USING INDEX SEEK b:{{FeedBatch}}({{last}})
WHERE b.{{last}} >= $min
WITH b ORDER BY b.{{last}} LIMIT $n
WITH b WHERE b.{{first}} <= $max AND any(s IN $seqs WHERE b.{{first}} <= s <= b.{{last}})
SET b.{{lock}} = true
REMOVE b.{{lock}}
RETURN count(b)`)

// qFeedAt reads, once they are locked (qLockFeedAt), the feed batches that
// hold one of $seqs, and the feed head.
var qFeedAt = cypher(`
OPTIONAL MATCH (c:{{FeedCounter}} { {{id}}: $cid })
WITH coalesce(c.{{head}}, 0) AS head
OPTIONAL CALL () {
  MATCH (b:{{FeedBatch}})
  USING INDEX SEEK b:{{FeedBatch}}({{last}})
  WHERE b.{{last}} >= $min
  WITH b ORDER BY b.{{last}} LIMIT $n
  WITH b WHERE b.{{first}} <= $max AND any(s IN $seqs WHERE b.{{first}} <= s <= b.{{last}})
  RETURN collect([b.{{first}}, b.{{at}}, b.{{kinds}}, b.{{profileIds}}, b.{{previousIds}}, b.{{eventIds}}, b.{{audienceIds}}]) AS batches
}
RETURN head, batches`)

// feedAt locks and reads, inside the write transaction t, what the feed
// holds now at the Seqs of entries (in Seq order), by Seq (a gap, or a
// Seq the feed no longer holds, is not in it), and the feed head.
func feedAt(ctx context.Context, t *readTx, entries []graph.FeedEntry) (map[uint64]graph.FeedEntry, uint64, error) {
	seqs := make([]any, len(entries))
	for i, e := range entries {
		seqs[i] = int64(e.Seq)
	}
	lo, hi := int64(entries[0].Seq), int64(entries[len(entries)-1].Seq)
	params := map[string]any{"seqs": seqs, "min": lo, "max": hi, "n": hi - lo + 1, "cid": feedCounterID}
	if err := t.exec(ctx, qLockFeedAt, params); err != nil {
		return nil, 0, fmt.Errorf("lock the feed: %w", err)
	}
	recs, err := t.query(ctx, qFeedAt, params)
	if err != nil {
		return nil, 0, fmt.Errorf("read the feed: %w", err)
	}
	out := map[uint64]graph.FeedEntry{}
	if len(recs) == 0 {
		return out, 0, nil
	}
	head, _ := recs[0].Values[0].(int64)
	batches, _ := recs[0].Values[1].([]any)
	want := map[uint64]bool{}
	for _, e := range entries {
		want[e.Seq] = true
	}
	for _, b := range batches {
		row, _ := b.([]any)
		if len(row) != 7 {
			continue
		}
		first, _ := row[0].(int64)
		at, _ := row[1].(time.Time)
		ks, ps, vs, es, as := strList(row[2]), strList(row[3]), strList(row[4]), strList(row[5]), strList(row[6])
		for i, k := range ks {
			seq := uint64(first) + uint64(i)
			if k == "" || !want[seq] {
				continue
			}
			e := graph.FeedEntry{Seq: seq, At: graph.Clean(at), Kind: graph.FeedKind(k), ProfileID: at0(ps, i), EventID: at0(es, i), AudienceID: at0(as, i)}
			if v := at0(vs, i); v != "" {
				e.PreviousIDs = strings.Split(v, ",")
			}
			out[seq] = e
		}
	}
	return out, uint64(head), nil
}

// TakeBatch implements destination.Store, in two round trips, and two
// more when entries is not empty (feedAt).
func (s *Store) TakeBatch(ctx context.Context, id, holder string, from, through uint64, entries []graph.FeedEntry, now time.Time) (destination.Delivery, bool, error) {
	if err := destination.CheckTake(id, holder, from, through, entries); err != nil {
		return destination.Delivery{}, false, err
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := lockForWork(ctx, t, id, holder, now, &from); err != nil {
			return nil, err
		}
		kept := entries
		if len(entries) > 0 {
			// Read again, locked, what the feed holds at the entries'
			// Seqs: an erasure that committed since they were read has
			// made its entries gaps.
			current, head, err := feedAt(ctx, t, entries)
			if err != nil {
				return nil, err
			}
			kept = destination.InFeed(entries, current, head)
		}
		raw, err := encodeEntries(kept)
		if err != nil {
			return nil, err
		}
		n, firstSeq, lastSeq := int64(0), int64(0), int64(0)
		if len(kept) > 0 {
			n, firstSeq, lastSeq = 1, int64(kept[0].Seq), int64(kept[len(kept)-1].Seq)
		}
		recs, err := t.query(ctx, qTake, map[string]any{"id": id, "through": int64(through), "n": n, "did": destination.NewDeliveryID(),
			"entries": raw, "status": string(destination.Pending), "now": timeParam(now),
			"count": int64(len(kept)), "firstSeq": firstSeq, "lastSeq": lastSeq})
		if err != nil {
			return nil, fmt.Errorf("take a batch: %w", err)
		}
		if len(recs) == 0 {
			return nil, nil
		}
		return decodeDelivery(recs[0].Values[0])
	})
	if err != nil {
		return destination.Delivery{}, false, err
	}
	if out == nil {
		return destination.Delivery{}, false, nil
	}
	return out.(destination.Delivery), true, nil
}

// lockForWork locks destination id and checks that holder holds its lease
// at now, that no delivery is in flight, and, when from is not nil, that
// its cursor is *from.
func lockForWork(ctx context.Context, t *readTx, id, holder string, now time.Time, from *uint64) error {
	recs, err := t.query(ctx, qLockForWork, map[string]any{"id": id, "holder": holder, "now": timeParam(now), "statuses": inFlightStatuses})
	if err != nil {
		return fmt.Errorf("lock destination: %w", err)
	}
	if len(recs) == 0 {
		return destNotFound(id)
	}
	held, _ := recs[0].Values[0].(bool)
	cur, _ := recs[0].Values[1].(int64)
	switch {
	case !held:
		return graph.Errorf(graph.ECONFLICT, "the lease on destination %s is not held", id)
	case from == nil:
		return nil
	case uint64(cur) != *from:
		return graph.Errorf(graph.ECONFLICT, "destination %s: the cursor is at %d, not %d", id, cur, *from)
	case recs[0].Values[2] != nil:
		return graph.Errorf(graph.ECONFLICT, "destination %s: a delivery is in flight", id)
	}
	return nil
}

var qRecordAttempt = cypher(`
MATCH (x:{{Delivery}} { {{destinationId}}: $id, {{number}}: $number })
WHERE x.{{status}} IN $statuses
SET x.{{status}} = $status, x.{{attempts}} = $attempts, x.{{nextAttempt}} = $next, x.{{statusCode}} = $code,
  x.{{error}} = $error, x.{{updatedAt}} = $at,
  x.{{entries}} = CASE WHEN $status = $delivered THEN null ELSE x.{{entries}} END
RETURN count(x)`)

// RecordAttempt implements destination.Store, in two round trips.
func (s *Store) RecordAttempt(ctx context.Context, id, holder string, number uint64, o destination.Outcome) error {
	if err := destination.CheckOutcome(id, holder, o); err != nil {
		return err
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := lockForWork(ctx, t, id, holder, o.At, nil); err != nil {
			return nil, err
		}
		var code any
		if o.LastStatusCode != 0 {
			code = int64(o.LastStatusCode)
		}
		recs, err := t.query(ctx, qRecordAttempt, map[string]any{"id": id, "number": int64(number), "statuses": inFlightStatuses,
			"status": string(o.Status), "attempts": int64(o.Attempts), "next": timeParam(o.NextAttempt), "code": code,
			"error": strParam(o.LastError), "at": timeParam(o.At), "delivered": string(destination.Delivered)})
		if err != nil {
			return nil, fmt.Errorf("record an attempt: %w", err)
		}
		if n, _ := recs[0].Values[0].(int64); n == 0 {
			return nil, graph.Errorf(graph.ECONFLICT, "destination %s: delivery %d is not in flight", id, number)
		}
		return nil, nil
	})
	return err
}

var qDeliveries = cypher(`
MATCH (x:{{Delivery}})
USING INDEX SEEK x:{{Delivery}}({{destinationId}}, {{number}})
WHERE x.{{destinationId}} = $id AND x.{{number}} < $before
WITH x ORDER BY x.{{destinationId}} DESC, x.{{number}} DESC LIMIT $limit
RETURN x { .* }`)

var qDeliveriesOf = cypher(`
MATCH (x:{{Delivery}})
USING INDEX SEEK x:{{Delivery}}({{destinationId}}, {{status}}, {{number}})
WHERE x.{{destinationId}} = $id AND x.{{status}} = $status AND x.{{number}} < $before
WITH x ORDER BY x.{{destinationId}} DESC, x.{{status}} DESC, x.{{number}} DESC LIMIT $limit
RETURN x { .* }`)

// Deliveries implements destination.Store, in two round trips.
func (s *Store) Deliveries(ctx context.Context, q destination.DeliveryQuery) ([]destination.Delivery, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	before := int64(q.Before)
	if q.Before == 0 || q.Before > uint64(1<<62) {
		before = 1 << 62
	}
	query, params := qDeliveries, map[string]any{"id": q.DestinationID, "before": before, "limit": int64(q.Limit)}
	if q.Status != "" {
		query, params["status"] = qDeliveriesOf, string(q.Status)
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qDestinationExists, map[string]any{"id": q.DestinationID})
		if err != nil {
			return nil, fmt.Errorf("read destination: %w", err)
		}
		if len(recs) == 0 {
			return nil, destNotFound(q.DestinationID)
		}
		recs, err = t.query(ctx, query, params)
		if err != nil {
			return nil, fmt.Errorf("read deliveries: %w", err)
		}
		ds := make([]destination.Delivery, 0, len(recs))
		for _, r := range recs {
			d, err := decodeDelivery(r.Values[0])
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
		return ds, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]destination.Delivery), nil
}

var qReplayDead = cypher(`
MATCH (x:{{Delivery}})
USING INDEX SEEK x:{{Delivery}}({{destinationId}}, {{status}}, {{number}})
WHERE x.{{destinationId}} = $id AND x.{{status}} = $dead AND x.{{number}} >= 0
WITH x ORDER BY x.{{number}} LIMIT $limit
SET x.{{status}} = $pending, x.{{attempts}} = 0, x.{{nextAttempt}} = $now, x.{{queuedAt}} = $now, x.{{updatedAt}} = $now
RETURN count(x)`)

// ReplayDead implements destination.Store, in two round trips.
func (s *Store) ReplayDead(ctx context.Context, id string, now time.Time, limit int) (int, error) {
	if err := checkDestID(id); err != nil {
		return 0, err
	}
	if limit < 1 || limit > destination.MaxPage {
		return 0, graph.Errorf(graph.EINVALID, "limit must be 1 to %d, got %d", destination.MaxPage, limit)
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qDestinationExists, map[string]any{"id": id})
		if err != nil {
			return nil, fmt.Errorf("read destination: %w", err)
		}
		if len(recs) == 0 {
			return nil, destNotFound(id)
		}
		recs, err = t.query(ctx, qReplayDead, map[string]any{"id": id, "dead": string(destination.Dead),
			"pending": string(destination.Pending), "now": timeParam(now), "limit": int64(limit)})
		if err != nil {
			return nil, fmt.Errorf("replay dead letters: %w", err)
		}
		n, _ := recs[0].Values[0].(int64)
		return int(n), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}

// qRetryNow locks the destination, as every write of its deliveries
// does, then makes its in-flight delivery due when it is FAILED and due
// later.
var qRetryNow = cypher(`
MATCH (d:{{Destination}} { {{id}}: $id })
SET d.{{lock}} = true
WITH d
OPTIONAL CALL (d) {` + matchInFlight + `
  WITH x ORDER BY x.{{number}} LIMIT 1
  WITH x WHERE x.{{status}} = $failed AND x.{{nextAttempt}} > $now
  SET x.{{nextAttempt}} = $now, x.{{updatedAt}} = $now
  RETURN count(x) AS n
}
RETURN coalesce(n, 0)`)

// RetryNow implements destination.Store, in one round trip.
func (s *Store) RetryNow(ctx context.Context, id string, now time.Time) (bool, error) {
	if err := checkDestID(id); err != nil {
		return false, err
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qRetryNow, map[string]any{"id": id, "statuses": inFlightStatuses,
			"failed": string(destination.Failed), "now": timeParam(now)})
		if err != nil {
			return nil, fmt.Errorf("retry now: %w", err)
		}
		if len(recs) == 0 {
			return nil, destNotFound(id)
		}
		n, _ := recs[0].Values[0].(int64)
		return n > 0, nil
	})
	if err != nil {
		return false, err
	}
	return out.(bool), nil
}

func decodeEntries(raw string) ([]deliveryEntry, error) {
	if raw == "" {
		return nil, nil
	}
	var es []deliveryEntry
	if err := json.Unmarshal([]byte(raw), &es); err != nil {
		return nil, fmt.Errorf("delivery entries: %w", err)
	}
	return es, nil
}

func encodeEntries(entries []graph.FeedEntry) (string, error) {
	es := make([]deliveryEntry, len(entries))
	for i, e := range entries {
		es[i] = deliveryEntry{Seq: e.Seq, At: graph.Clean(e.At).UnixNano(), K: string(e.Kind), P: e.ProfileID, V: e.PreviousIDs, E: e.EventID, A: e.AudienceID}
	}
	b, err := json.Marshal(es)
	return string(b), err
}

var _ destination.TxRedact = (*tx)(nil)

var undeliveredStatuses = []any{string(destination.Pending), string(destination.Failed), string(destination.Dead)}

// qUndelivered locks and reads the entries of every delivery not
// delivered, of every destination (at most MaxDestinations), by the status
// index. Each is locked (setting and removing the lock property) before
// its status and entries are read again: two erasures redacting one
// delivery at once then read it one after the other, and a delivery
// recorded as delivered meanwhile (its entries dropped) is left alone. The
// deliveries are locked in (destination, number) order.
var qUndelivered = cypher(`
MATCH (d:{{Destination}})
USING INDEX SEEK d:{{Destination}}({{id}})
WHERE d.{{id}} >= ""
MATCH (x:{{Delivery}})
USING INDEX SEEK x:{{Delivery}}({{destinationId}}, {{status}}, {{number}})
WHERE x.{{destinationId}} = d.{{id}} AND x.{{status}} IN $statuses AND x.{{number}} >= 0
WITH x ORDER BY x.{{destinationId}}, x.{{number}}
SET x.{{lock}} = true
REMOVE x.{{lock}}
WITH x WHERE x.{{status}} IN $statuses
RETURN x.{{destinationId}}, x.{{number}}, x.{{entries}}`)

var qRewriteEntries = cypher(`
UNWIND $rows AS row
MATCH (x:{{Delivery}} { {{destinationId}}: row.id, {{number}}: row.number })
SET x.{{entries}} = row.entries`)

// RedactDeliveries implements destination.TxRedact, in two round trips.
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
	recs, err := t.query(ctx, qUndelivered, map[string]any{"statuses": undeliveredStatuses})
	if err != nil {
		return 0, fmt.Errorf("read deliveries to redact: %w", err)
	}
	var rows []any
	for _, r := range recs {
		id, _ := r.Values[0].(string)
		num, _ := r.Values[1].(int64)
		raw, _ := r.Values[2].(string)
		es, err := decodeEntries(raw)
		if err != nil {
			return 0, err
		}
		entries := make([]graph.FeedEntry, len(es))
		for i, e := range es {
			entries[i] = graph.FeedEntry{Seq: e.Seq, At: time.Unix(0, e.At).UTC(), Kind: graph.FeedKind(e.K), ProfileID: e.P,
				PreviousIDs: e.V, EventID: e.E, AudienceID: e.A}
		}
		kept, changed := destination.Redact(entries, drop, dropEvents)
		if !changed {
			continue
		}
		enc, err := encodeEntries(kept)
		if err != nil {
			return 0, err
		}
		rows = append(rows, map[string]any{"id": id, "number": num, "entries": enc})
	}
	if len(rows) == 0 {
		return 0, nil
	}
	if err := t.exec(ctx, qRewriteEntries, map[string]any{"rows": rows}); err != nil {
		return 0, fmt.Errorf("redact deliveries: %w", err)
	}
	return len(rows), nil
}

var qPruneDelivered = cypher(`
MATCH (x:{{Delivery}})
USING INDEX SEEK x:{{Delivery}}({{destinationId}}, {{status}}, {{number}})
WHERE x.{{destinationId}} = $id AND x.{{status}} = $delivered AND x.{{number}} >= 0 AND x.{{updatedAt}} < $before
WITH x ORDER BY x.{{destinationId}}, x.{{status}}, x.{{number}} LIMIT $limit
DELETE x
RETURN count(*)`)

// PruneDelivered implements destination.Store, in one round trip.
func (s *Store) PruneDelivered(ctx context.Context, id string, before time.Time, limit int) (int, error) {
	if err := checkDestID(id); err != nil {
		return 0, err
	}
	if limit < 1 || limit > destination.MaxPage {
		return 0, graph.Errorf(graph.EINVALID, "limit must be 1 to %d, got %d", destination.MaxPage, limit)
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qPruneDelivered, map[string]any{"id": id, "delivered": string(destination.Delivered),
			"before": timeParam(before), "limit": int64(limit)})
		if err != nil {
			return nil, fmt.Errorf("prune deliveries: %w", err)
		}
		n, _ := recs[0].Values[0].(int64)
		return int(n), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}

var _ destination.Loader = (*Store)(nil)

var qLoadDestinations = cypher(`
UNWIND $rows AS r
MERGE (d:{{Destination}} { {{id}}: r.id })
ON CREATE SET d.{{deliveryCount}} = 0
SET d.{{name}} = r.name, d.{{url}} = r.url, d.{{secret}} = r.secret, d.{{kinds}} = r.kinds,
  d.{{audienceIds}} = r.audienceIds, d.{{purpose}} = r.purpose, d.{{batchSize}} = r.batchSize,
  d.{{maxAttempts}} = r.maxAttempts, d.{{headers}} = r.headers, d.{{includePII}} = r.includePII,
  d.{{createdAt}} = r.createdAt, d.{{updatedAt}} = r.updatedAt, d.{{cursor}} = r.cursor,
  d.{{deliveryCount}} = CASE WHEN d.{{deliveryCount}} < r.lastNumber THEN r.lastNumber ELSE d.{{deliveryCount}} END,
  d.{{leaseHolder}} = null, d.{{leaseExpires}} = null`)

// LoadDestinations implements destination.Loader, in one round trip. A
// replaced destination keeps the number of its newest delivery when it is
// above the one given.
func (s *Store) LoadDestinations(ctx context.Context, ds []destination.Destination) error {
	rows := make([]any, len(ds))
	for i, d := range ds {
		d = d.Normalize()
		if err := d.CheckStored(""); err != nil {
			return err
		}
		row, err := destParams(d)
		if err != nil {
			return err
		}
		row["cursor"] = int64(d.Cursor)
		row["lastNumber"] = int64(d.LastNumber)
		rows[i] = row
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if _, err := t.query(ctx, qLoadDestinations, map[string]any{"rows": rows}); err != nil {
			return nil, fmt.Errorf("load destinations: %w", err)
		}
		return nil, nil
	})
	return err
}

var qLoadDeliveries = cypher(`
UNWIND $rows AS r
MATCH (d:{{Destination}} { {{id}}: r.destinationId })
SET d.{{deliveryCount}} = CASE WHEN d.{{deliveryCount}} < r.number THEN r.number ELSE d.{{deliveryCount}} END
MERGE (x:{{Delivery}} { {{destinationId}}: r.destinationId, {{number}}: r.number })
SET x.{{id}} = r.id, x.{{entries}} = r.entries, x.{{status}} = r.status, x.{{attempts}} = r.attempts,
  x.{{nextAttempt}} = r.nextAttempt, x.{{statusCode}} = r.code, x.{{error}} = r.error,
  x.{{createdAt}} = r.createdAt, x.{{queuedAt}} = r.queuedAt, x.{{updatedAt}} = r.updatedAt,
  x.{{entryCount}} = r.count, x.{{firstSeq}} = r.firstSeq, x.{{lastSeq}} = r.lastSeq
RETURN count(x)`)

// LoadDeliveries implements destination.Loader, in one round trip.
func (s *Store) LoadDeliveries(ctx context.Context, ds []destination.Delivery) error {
	if err := destination.CheckLoad(ds); err != nil {
		return err
	}
	rows := make([]any, len(ds))
	for i, d := range ds {
		var entries any // a delivered batch keeps none
		if d.Status != destination.Delivered || len(d.Entries) > 0 {
			es := make([]deliveryEntry, len(d.Entries))
			for j, e := range d.Entries {
				es[j] = deliveryEntry{Seq: e.Seq, At: graph.Clean(e.At).UnixNano(), K: string(e.Kind), P: e.ProfileID, V: e.PreviousIDs, E: e.EventID, A: e.AudienceID}
			}
			raw, err := json.Marshal(es)
			if err != nil {
				return err
			}
			entries = string(raw)
		}
		var code any
		if d.LastStatusCode != 0 {
			code = int64(d.LastStatusCode)
		}
		rows[i] = map[string]any{"destinationId": d.DestinationID, "number": int64(d.Number), "id": d.ID, "entries": entries,
			"status": string(d.Status), "attempts": int64(d.Attempts), "nextAttempt": timeParam(d.NextAttempt), "code": code,
			"error": strParam(d.LastError), "createdAt": timeParam(d.CreatedAt), "queuedAt": timeParam(d.QueuedAt),
			"updatedAt": timeParam(d.UpdatedAt), "count": int64(d.EntryCount), "firstSeq": int64(d.FirstSeq), "lastSeq": int64(d.LastSeq)}
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qLoadDeliveries, map[string]any{"rows": rows})
		if err != nil {
			return nil, fmt.Errorf("load deliveries: %w", err)
		}
		if n, _ := recs[0].Values[0].(int64); int(n) != len(ds) {
			return nil, graph.Errorf(graph.ENOTFOUND, "%d of %d deliveries name a destination that is not stored", len(ds)-int(n), len(ds))
		}
		return nil, nil
	})
	return err
}
