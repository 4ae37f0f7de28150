package neo4jstore

import (
	"context"
	"fmt"

	"github.com/idgraph/cdp/audience"
)

var _ audience.TxFacts = (*tx)(nil)

var qPutFacts = cypher(`
UNWIND $rows AS r
MERGE (f:{{ProfileFacts}} { {{profileId}}: r.p })
SET f.{{data}} = r.d`)

// PutFacts implements audience.Store, in one statement.
func (s *Store) PutFacts(ctx context.Context, facts []audience.Facts) error {
	enc, err := audience.CheckFacts(facts)
	if err != nil {
		return err
	}
	if len(facts) == 0 {
		return nil
	}
	rows := make([]any, len(facts))
	for i := range facts {
		rows[i] = map[string]any{"p": facts[i].ProfileID, "d": enc[i]}
	}
	_, err = s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		if err := t.exec(ctx, qPutFacts, map[string]any{"rows": rows}); err != nil {
			return nil, fmt.Errorf("put profile facts: %w", err)
		}
		return nil, nil
	})
	return err
}

var qDeleteFacts = cypher(`
UNWIND $pids AS p
MATCH (f:{{ProfileFacts}} { {{profileId}}: p })
DELETE f`)

// DeleteFacts implements audience.Store, in one statement.
func (s *Store) DeleteFacts(ctx context.Context, profileIDs []string) error {
	if len(profileIDs) == 0 {
		return nil
	}
	_, err := s.accessWrite(ctx, func(ctx context.Context, t *readTx) (any, error) {
		return nil, deleteFacts(ctx, t, profileIDs)
	})
	return err
}

// DeleteFacts implements audience.TxFacts.
func (t *tx) DeleteFacts(ctx context.Context, profileIDs []string) error {
	if len(profileIDs) == 0 {
		return nil
	}
	return deleteFacts(ctx, &t.readTx, profileIDs)
}

func deleteFacts(ctx context.Context, t *readTx, profileIDs []string) error {
	if err := t.exec(ctx, qDeleteFacts, map[string]any{"pids": uniq(profileIDs)}); err != nil {
		return fmt.Errorf("delete profile facts: %w", err)
	}
	return nil
}

var qFacts = cypher(`
UNWIND $pids AS p
MATCH (f:{{ProfileFacts}} { {{profileId}}: p })
RETURN p, f.{{data}}`)

// Facts implements audience.Store, in one statement.
func (s *Store) Facts(ctx context.Context, profileIDs []string) (map[string]audience.Facts, error) {
	out := make(map[string]audience.Facts, len(profileIDs))
	if len(profileIDs) == 0 {
		return out, nil
	}
	_, err := s.accessRead(ctx, func(ctx context.Context, t *readTx) (any, error) {
		recs, err := t.query(ctx, qFacts, map[string]any{"pids": uniq(profileIDs)})
		if err != nil {
			return nil, fmt.Errorf("read profile facts: %w", err)
		}
		var d audience.FactsDecoder
		for _, rec := range recs {
			id, _ := rec.Values[0].(string)
			data, ok := rec.Values[1].([]byte)
			if !ok {
				return nil, fmt.Errorf("read profile facts: the data of profile %s is a %T", id, rec.Values[1])
			}
			f, err := d.Decode(id, string(data))
			if err != nil {
				return nil, fmt.Errorf("read profile facts: %w", err)
			}
			out[id] = f
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
