package neo4jstore_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
	"github.com/idgraph/cdp/privacy/receipttest"
)

func TestReceiptConformance(t *testing.T) { receipttest.Run(t, storetest.Neo4j) }

// A receipt is an :ErasureReceipt node apart from the identity graph, as
// an analyst reads it: a zoned datetime cleaned to microseconds, integer
// counts, and no key properties in open mode.
func TestReceiptModel(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	rs := []privacy.ErasureReceipt{
		{ID: "rcp_" + strings.Repeat("1", 32), At: time.Date(2026, 6, 1, 10, 0, 0, 1234567, time.UTC), Kind: privacy.ErasureProfile,
			Reason: "ticket 1", KeyID: "key_ops", KeyName: "ops", Identifiers: 3, Events: 5, ScrubbedEvents: 2, Traits: 4,
			ConsentRecords: 1, SuppressedHashes: 3},
		{ID: "rcp_" + strings.Repeat("2", 32), At: time.Date(2026, 6, 1, 11, 0, 0, 0, time.UTC), Kind: privacy.ErasureIdentifier, Reason: "ticket 2"},
	}
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		for _, r := range rs {
			if err := privacy.PutReceiptInTx(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sess := rawSession(t)
	params := map[string]any{"one": rs[0].ID, "two": rs[1].ID}
	for _, c := range []struct {
		what, query string
		want        any
	}{
		{"nodes", "MATCH (r:ErasureReceipt) RETURN count(r)", int64(2)},
		{"apart from the graph", "MATCH (r:ErasureReceipt) WHERE COUNT { (r)--() } > 0 RETURN count(r)", int64(0)},
		{"time", "MATCH (r:ErasureReceipt {id: $one}) RETURN valueType(r.at) + ' ' + toString(r.at = datetime('2026-06-01T10:00:00.001234Z'))",
			"ZONED DATETIME NOT NULL true"},
		{"fields", "MATCH (r:ErasureReceipt {id: $one}) RETURN r.kind + ' ' + r.reason + ' ' + r.keyId + ' ' + r.keyName",
			"profile ticket 1 key_ops ops"},
		{"counts", "MATCH (r:ErasureReceipt {id: $one}) RETURN [r.identifierCount, r.eventCount, r.scrubbedEventCount, r.traitCount, r.consentRecordCount, r.suppressedHashCount]",
			[]any{int64(3), int64(5), int64(2), int64(4), int64(1), int64(3)}},
		{"open mode", "MATCH (r:ErasureReceipt {id: $two}) RETURN r.keyId IS NULL AND r.keyName IS NULL AND r.eventCount = 0", true},
	} {
		if got := single(t, sess, c.query, params); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.what, got, c.want)
		}
	}
}
