package neo4jstore

import (
	"context"
	"fmt"

	"github.com/idgraph/cdp/privacy"
)

// The consent ledger: (:Consent {id, purpose, status, at, source,
// legalBasis, identifier, proofText, proofVersion, proofChannel,
// proofCollector, proofEventId, expiresAt, receivedAt}), unique on id and
// indexed on identifier, the graph key of the identifier the record was
// given with. A record is not linked to its (:Identifier) node: consent may
// arrive before the identifier is stored, and a merge, a split or a key's
// move between profiles then needs no relationship kept up to date. A
// profile's ledger is read by its identifiers' keys, one index seek each.
// Empty optional fields (proof parts, expiresAt) are left out.

var (
	_ privacy.ConsentStore = (*Store)(nil)
	_ privacy.TxConsent    = (*tx)(nil)
	_ privacy.PurposeStore = (*Store)(nil)
)

// qConsentPurposeStored finds one record of $purpose, by the
// consent_purpose index.
var qConsentPurposeStored = cypher(`
MATCH (c:{{Consent}})
WHERE c.{{purpose}} = $purpose
RETURN true
LIMIT 1`)

// ConsentPurposeStored implements privacy.PurposeStore, in one round trip.
func (s *Store) ConsentPurposeStored(ctx context.Context, purpose string) (bool, error) {
	if !privacy.PurposeName(purpose) {
		return false, nil
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qConsentPurposeStored, map[string]any{"purpose": purpose})
		if err != nil {
			return nil, fmt.Errorf("look for consent records of a purpose: %w", err)
		}
		return len(recs) > 0, nil
	})
	if err != nil {
		return false, err
	}
	return out.(bool), nil
}

// qPutConsent creates the records of a batch in one statement. MERGE on
// the unique id locks it, so a concurrent put of the same record waits and
// then finds it; ON CREATE leaves a stored record as it is. Every row
// returns the node as stored, which PutConsent compares with the record
// sent: a difference is a conflict, and the error rolls the transaction
// back.
var qPutConsent = cypher(`
UNWIND $rows AS r
MERGE (c:{{Consent}} { {{id}}: r.id })
ON CREATE SET c.{{purpose}} = r.purpose, c.{{status}} = r.status, c.{{at}} = r.at, c.{{source}} = r.source,
  c.{{legalBasis}} = r.legalBasis, c.{{identifier}} = r.identifier,
  c.{{proofText}} = r.proofText, c.{{proofVersion}} = r.proofVersion, c.{{proofChannel}} = r.proofChannel,
  c.{{proofCollector}} = r.proofCollector, c.{{proofEventId}} = r.proofEventId,
  c.{{expiresAt}} = r.expiresAt, c.{{receivedAt}} = r.receivedAt
RETURN c { .* } AS c`)

// PutConsent implements privacy.ConsentStore.
func (s *Store) PutConsent(ctx context.Context, records []privacy.Record) error {
	records, err := privacy.CheckConsent(records)
	if err != nil || len(records) == 0 {
		return err
	}
	_, err = s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, putConsent(ctx, t, records)
	})
	return err
}

// PutConsent implements privacy.TxConsent.
func (t *tx) PutConsent(ctx context.Context, records []privacy.Record) error {
	records, err := privacy.CheckConsent(records)
	if err != nil || len(records) == 0 {
		return err
	}
	return putConsent(ctx, &t.readTx, records)
}

func putConsent(ctx context.Context, t *readTx, records []privacy.Record) error {
	for start := 0; start < len(records); start += chunkRows {
		chunk := records[start:min(start+chunkRows, len(records))]
		byID := make(map[string]privacy.Record, len(chunk))
		rows := make([]any, len(chunk))
		for i, r := range chunk {
			byID[r.ID] = r
			rows[i] = map[string]any{
				"id": r.ID, "purpose": r.Purpose, "status": string(r.Status), "at": timeParam(r.At),
				"source": r.Source, "legalBasis": string(r.LegalBasis), "identifier": r.Identifier,
				"proofText": strParam(r.Proof.Text), "proofVersion": strParam(r.Proof.Version),
				"proofChannel": strParam(r.Proof.Channel), "proofCollector": strParam(r.Proof.Collector),
				"proofEventId": strParam(r.Proof.EventID),
				"expiresAt":    timeParam(r.ExpiresAt), "receivedAt": timeParam(r.ReceivedAt),
			}
		}
		recs, err := t.query(ctx, qPutConsent, map[string]any{"rows": rows})
		if err != nil {
			return fmt.Errorf("put consent records: %w", err)
		}
		if len(recs) != len(chunk) {
			return fmt.Errorf("put consent records: %d rows for %d records", len(recs), len(chunk))
		}
		for _, rec := range recs {
			stored, err := decodeConsent(rec.Values[0])
			if err != nil {
				return fmt.Errorf("put consent records: %w", err)
			}
			if sent, ok := byID[stored.ID]; !ok || !sent.Equal(stored) {
				return privacy.ConflictError(stored.ID)
			}
		}
	}
	return nil
}

func decodeConsent(v any) (privacy.Record, error) {
	p, err := asProps(v)
	if err != nil {
		return privacy.Record{}, err
	}
	return privacy.Record{
		ID: p.str(propID), Purpose: p.str(propPurpose), Status: privacy.Status(p.str(propStatus)),
		At: p.time(propAt), Source: p.str(propSource), LegalBasis: privacy.LegalBasis(p.str(propLegalBasis)),
		Identifier: p.str(propIdentifier),
		Proof: privacy.Proof{
			Text: p.str(propProofText), Version: p.str(propProofVersion), Channel: p.str(propProofChannel),
			Collector: p.str(propProofCollector), EventID: p.str(propProofEventID),
		},
		ExpiresAt: p.time(propExpiresAt), ReceivedAt: p.time(propReceivedAt),
	}, nil
}

// qConsentOf is one index seek per distinct key.
var qConsentOf = cypher(`
UNWIND $keys AS k
MATCH (c:{{Consent}} { {{identifier}}: k })
RETURN c { .* } AS c`)

// ConsentOf implements privacy.ConsentStore.
func (s *Store) ConsentOf(ctx context.Context, keys []string) (map[string][]privacy.Record, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return map[string][]privacy.Record{}, nil
	}
	out, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return consentOf(ctx, t, keys)
	})
	if err != nil {
		return nil, err
	}
	return out.(map[string][]privacy.Record), nil
}

// ConsentOf implements privacy.TxConsent.
func (t *tx) ConsentOf(ctx context.Context, keys []string) (map[string][]privacy.Record, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return map[string][]privacy.Record{}, nil
	}
	return consentOf(ctx, &t.readTx, keys)
}

func consentOf(ctx context.Context, t *readTx, keys []string) (map[string][]privacy.Record, error) {
	recs, err := t.query(ctx, qConsentOf, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return nil, fmt.Errorf("read consent records: %w", err)
	}
	out := map[string][]privacy.Record{}
	for _, rec := range recs {
		r, err := decodeConsent(rec.Values[0])
		if err != nil {
			return nil, fmt.Errorf("read consent records: %w", err)
		}
		out[r.Identifier] = append(out[r.Identifier], r)
	}
	privacy.SortNewestFirst(out)
	return out, nil
}

// qDeleteConsent deletes the records of the distinct keys; the count is
// of the nodes deleted.
var qDeleteConsent = cypher(`
UNWIND $keys AS k
MATCH (c:{{Consent}} { {{identifier}}: k })
DELETE c
RETURN count(c) AS n`)

// DeleteConsent implements privacy.ConsentStore.
func (s *Store) DeleteConsent(ctx context.Context, keys []string) (int, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	out, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return deleteConsent(ctx, t, keys)
	})
	if err != nil {
		return 0, err
	}
	return out.(int), nil
}

// DeleteConsent implements privacy.TxConsent.
func (t *tx) DeleteConsent(ctx context.Context, keys []string) (int, error) {
	if err := privacy.CheckIdentifierKeys(keys); err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	return deleteConsent(ctx, &t.readTx, keys)
}

func deleteConsent(ctx context.Context, t *readTx, keys []string) (int, error) {
	recs, err := t.query(ctx, qDeleteConsent, map[string]any{"keys": uniq(keys)})
	if err != nil {
		return 0, fmt.Errorf("delete consent records: %w", err)
	}
	if len(recs) != 1 {
		return 0, fmt.Errorf("delete consent records: %d rows", len(recs))
	}
	n, _ := recs[0].Values[0].(int64)
	return int(n), nil
}
