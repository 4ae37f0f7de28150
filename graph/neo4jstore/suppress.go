package neo4jstore

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/privacy"
)

// Suppression: (:Suppressed {hash, at, reason}), unique on hash, one node
// per suppressed identifier's HMAC; and (:SuppressionKey {id: "default",
// secret}), unique on id, the secret of those HMACs as a byte array. Both
// stand apart from the identity graph and hold no personal value.

var (
	_ privacy.SuppressionStore = (*Store)(nil)
	_ privacy.TxSuppression    = (*tx)(nil)
	_ privacy.TxUnsuppress     = (*tx)(nil)
)

// suppressionKeyID is the id of the one SuppressionKey node.
const suppressionKeyID = "default"

// qSuppressionKey makes the secret on first use: MERGE on a property with a
// unique constraint locks it, so concurrent first calls, from any server,
// create one node, and ON CREATE keeps the first secret.
var qSuppressionKey = cypher(`
MERGE (k:{{SuppressionKey}} { {{id}}: $id })
ON CREATE SET k.{{secret}} = $secret
RETURN k.{{secret}} AS secret`)

var qReadSuppressionKey = cypher(`MATCH (k:{{SuppressionKey}} { {{id}}: $id }) RETURN k.{{secret}} AS secret`)

// SuppressionKey implements privacy.SuppressionStore: a read, and a write
// only while no secret exists.
func (s *Store) SuppressionKey(ctx context.Context) ([]byte, error) {
	decode := func(recs []*neo4j.Record) ([]byte, error) {
		if len(recs) == 0 {
			return nil, nil
		}
		b, ok := recs[0].Values[0].([]byte)
		if !ok || len(b) != privacy.SuppressionKeyLen {
			return nil, fmt.Errorf("the stored suppression key is not %d bytes", privacy.SuppressionKeyLen)
		}
		return b, nil
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qReadSuppressionKey, map[string]any{"id": suppressionKeyID})
		if err != nil {
			return nil, fmt.Errorf("read suppression key: %w", err)
		}
		return decode(recs)
	})
	if err != nil {
		return nil, err
	}
	if key := out.([]byte); key != nil {
		return key, nil
	}
	out, err = s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qSuppressionKey, map[string]any{"id": suppressionKeyID, "secret": privacy.NewSuppressionKey()})
		if err != nil {
			return nil, fmt.Errorf("make suppression key: %w", err)
		}
		key, err := decode(recs)
		if err == nil && key == nil {
			err = fmt.Errorf("make suppression key: no row")
		}
		return key, err
	})
	if err != nil {
		return nil, err
	}
	return out.([]byte), nil
}

// qSuppress adds a batch in one statement; ON CREATE keeps the first at and
// reason of a hash already on the list. A null reason (none given) leaves
// the property out.
var qSuppress = cypher(`
UNWIND $rows AS r
MERGE (s:{{Suppressed}} { {{hash}}: r.hash })
ON CREATE SET s.{{at}} = r.at, s.{{reason}} = r.reason`)

// Suppress implements privacy.SuppressionStore.
func (s *Store) Suppress(ctx context.Context, entries []privacy.Suppression) error {
	entries, err := privacy.CheckSuppressions(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	_, err = s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, suppress(ctx, t, entries)
	})
	return err
}

// Suppress implements privacy.TxSuppression: the entries commit, or roll
// back, with the rest of the transaction.
func (t *tx) Suppress(ctx context.Context, entries []privacy.Suppression) error {
	entries, err := privacy.CheckSuppressions(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	return suppress(ctx, &t.readTx, entries)
}

// suppress writes entries that privacy.CheckSuppressions returned, one
// statement per chunkRows of them.
func suppress(ctx context.Context, t *readTx, entries []privacy.Suppression) error {
	for start := 0; start < len(entries); start += chunkRows {
		chunk := entries[start:min(start+chunkRows, len(entries))]
		rows := make([]any, len(chunk))
		for i, e := range chunk {
			rows[i] = map[string]any{"hash": e.Hash, "at": timeParam(e.At), "reason": strParam(e.Reason)}
		}
		if err := t.exec(ctx, qSuppress, map[string]any{"rows": rows}); err != nil {
			return fmt.Errorf("suppress: %w", err)
		}
	}
	return nil
}

var qUnsuppress = cypher(`
MATCH (s:{{Suppressed}} { {{hash}}: $hash })
DELETE s
RETURN count(s) AS n`)

// Unsuppress implements privacy.SuppressionStore.
func (s *Store) Unsuppress(ctx context.Context, hash string) (bool, error) {
	if err := privacy.CheckHash(hash); err != nil {
		return false, err
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return unsuppress(ctx, t, hash)
	})
	if err != nil {
		return false, err
	}
	return out.(bool), nil
}

// Unsuppress implements privacy.TxUnsuppress: the hash leaves the list
// when the rest of the transaction commits.
func (t *tx) Unsuppress(ctx context.Context, hash string) (bool, error) {
	if err := privacy.CheckHash(hash); err != nil {
		return false, err
	}
	return unsuppress(ctx, &t.readTx, hash)
}

// unsuppress deletes hash from the list, in one round trip, and reports
// whether it was on it.
func unsuppress(ctx context.Context, t *readTx, hash string) (bool, error) {
	recs, err := t.query(ctx, qUnsuppress, map[string]any{"hash": hash})
	if err != nil {
		return false, fmt.Errorf("unsuppress: %w", err)
	}
	if len(recs) != 1 {
		return false, fmt.Errorf("unsuppress: %d rows", len(recs))
	}
	n, _ := recs[0].Values[0].(int64)
	return n > 0, nil
}

// qSuppressed is one index seek per distinct hash.
var qSuppressed = listRows(cypher(`
UNWIND $hashes AS h
MATCH (s:{{Suppressed}} { {{hash}}: h })
RETURN s.{{hash}} AS hash`), "hash")

// Suppressed implements privacy.SuppressionStore.
func (s *Store) Suppressed(ctx context.Context, hashes []string) (map[string]bool, error) {
	if err := privacy.CheckHashes(hashes); err != nil {
		return nil, err
	}
	if len(hashes) == 0 {
		return map[string]bool{}, nil
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return suppressed(ctx, t, hashes)
	})
	if err != nil {
		return nil, err
	}
	return out.(map[string]bool), nil
}

// Suppressed implements privacy.TxSuppression: the list read in the
// transaction, in one round trip.
func (t *tx) Suppressed(ctx context.Context, hashes []string) (map[string]bool, error) {
	if err := privacy.CheckHashes(hashes); err != nil {
		return nil, err
	}
	if len(hashes) == 0 {
		return map[string]bool{}, nil
	}
	return suppressed(ctx, &t.readTx, hashes)
}

func suppressed(ctx context.Context, t *readTx, hashes []string) (map[string]bool, error) {
	recs, err := t.queryList(ctx, qSuppressed, map[string]any{"hashes": uniq(hashes)})
	if err != nil {
		return nil, fmt.Errorf("read suppression list: %w", err)
	}
	m := make(map[string]bool, len(recs))
	for _, r := range recs {
		if h, ok := r.Values[0].(string); ok {
			m[h] = true
		}
	}
	return m, nil
}

// The count comes from the count store.
var qCountSuppressed = cypher(`MATCH (s:{{Suppressed}}) RETURN count(s) AS n`)

// CountSuppressed implements privacy.SuppressionStore.
func (s *Store) CountSuppressed(ctx context.Context) (int, error) {
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qCountSuppressed, nil)
		if err != nil {
			return nil, fmt.Errorf("count suppressed: %w", err)
		}
		if len(recs) != 1 {
			return nil, fmt.Errorf("count suppressed: %d rows", len(recs))
		}
		n, _ := recs[0].Values[0].(int64)
		return int(n), nil
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}
