package neo4jstore

import (
	"context"
	"fmt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Erasure receipts: (:ErasureReceipt {id, at, kind, reason, keyId, keyName,
// identifierCount, eventCount, scrubbedEventCount, traitCount,
// consentRecordCount, suppressedHashCount}), unique on id and indexed on
// at, one node per erasure, apart from the identity graph. keyId and
// keyName are left out when empty (open mode).

var (
	_ privacy.ReceiptStore = (*Store)(nil)
	_ privacy.TxReceipts   = (*tx)(nil)
)

// qPutReceipt creates the receipt unless its id is stored: MERGE on the
// unique id locks it, so of two transactions putting one id the second
// waits and then finds the node. ON CREATE is the only write, and
// PutReceipt tells a conflict by the node not being created.
var qPutReceipt = cypher(`
MERGE (r:{{ErasureReceipt}} { {{id}}: $id })
ON CREATE SET r.{{at}} = $at, r.{{kind}} = $kind, r.{{reason}} = $reason,
  r.{{keyId}} = $keyId, r.{{keyName}} = $keyName,
  r.{{identifierCount}} = $identifiers, r.{{eventCount}} = $events,
  r.{{scrubbedEventCount}} = $scrubbedEvents, r.{{traitCount}} = $traits,
  r.{{consentRecordCount}} = $consentRecords, r.{{suppressedHashCount}} = $suppressedHashes`)

// PutReceipt implements privacy.TxReceipts, in one round trip.
func (t *tx) PutReceipt(ctx context.Context, r privacy.ErasureReceipt) error {
	if err := r.Validate(); err != nil {
		return err
	}
	res, err := t.run.Run(ctx, qPutReceipt, map[string]any{
		"id": r.ID, "at": timeParam(r.At), "kind": r.Kind, "reason": r.Reason,
		"keyId": strParam(r.KeyID), "keyName": strParam(r.KeyName),
		"identifiers": int64(r.Identifiers), "events": int64(r.Events), "scrubbedEvents": int64(r.ScrubbedEvents),
		"traits": int64(r.Traits), "consentRecords": int64(r.ConsentRecords), "suppressedHashes": int64(r.SuppressedHashes),
	})
	if err != nil {
		return fmt.Errorf("put erasure receipt: %w", err)
	}
	sum, err := res.Consume(ctx)
	if err != nil {
		return fmt.Errorf("put erasure receipt: %w", err)
	}
	if sum.Counters().NodesCreated() != 1 {
		return graph.Errorf(graph.ECONFLICT, "erasure receipt %s is already stored", r.ID)
	}
	return nil
}

// qReceipts reads the list newest first. The upper time bound is always
// given, so the plan is a seek on the at index, walked backwards and
// stopped after $limit rows; after a cursor, a receipt at the cursor's own
// time must also have a smaller id.
var qReceipts = cypher(`
MATCH (r:{{ErasureReceipt}})
USING INDEX SEEK r:{{ErasureReceipt}}({{at}})
WHERE r.{{at}} <= $upper AND ($afterId IS NULL OR r.{{at}} < $upper OR r.{{id}} < $afterId)
WITH r ORDER BY r.{{at}} DESC, r.{{id}} DESC LIMIT $limit
RETURN r { .* } AS r`)

// Receipts implements privacy.ReceiptStore.
func (s *Store) Receipts(ctx context.Context, q privacy.ReceiptQuery) ([]privacy.ErasureReceipt, error) {
	if err := q.Check(); err != nil {
		return nil, err
	}
	params := map[string]any{"upper": auditMaxTime, "afterId": nil, "limit": int64(q.Limit)}
	if q.After != nil {
		// The cursor's time as given, not cleaned, so that the query
		// admits exactly what ReceiptCursor.Admits does.
		params["upper"], params["afterId"] = q.After.At.In(utc), q.After.ID
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qReceipts, params)
		if err != nil {
			return nil, fmt.Errorf("read erasure receipts: %w", err)
		}
		rs := make([]privacy.ErasureReceipt, 0, len(recs))
		for _, rec := range recs {
			r, err := decodeReceipt(rec.Values[0])
			if err != nil {
				return nil, fmt.Errorf("read erasure receipts: %w", err)
			}
			rs = append(rs, r)
		}
		return rs, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]privacy.ErasureReceipt), nil
}

func decodeReceipt(v any) (privacy.ErasureReceipt, error) {
	p, err := asProps(v)
	if err != nil {
		return privacy.ErasureReceipt{}, err
	}
	return privacy.ErasureReceipt{
		ID: p.str(propID), At: p.time(propAt), Kind: p.str(propKind), Reason: p.str(propReason),
		KeyID: p.str(propKeyID), KeyName: p.str(propKeyName),
		Identifiers: p.int(propIdentifierCount), Events: p.int(propEventCount),
		ScrubbedEvents: p.int(propScrubbedEventCount), Traits: p.int(propTraitCount),
		ConsentRecords: p.int(propConsentRecordCount), SuppressedHashes: p.int(propSuppressedHashCount),
	}, nil
}

// The count comes from the count store.
var qCountReceipts = cypher(`MATCH (r:{{ErasureReceipt}}) RETURN count(r) AS n`)

// CountReceipts implements privacy.ReceiptStore.
func (s *Store) CountReceipts(ctx context.Context) (int, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qCountReceipts, nil)
		if err != nil {
			return nil, fmt.Errorf("count erasure receipts: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("count erasure receipts: %d rows", len(recs))
		}
		n, _ := recs[0].Values[0].(int64)
		return int(n), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}
