package embedded

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// Suppress inside a transaction keeps the first At and Reason of a hash,
// whether Store.Suppress or the transaction itself put it first, and
// stores times cleaned; the conformance suite cannot see either through
// privacy.SuppressionStore, so this reads the bucket.
func TestTxSuppressKeepsFirst(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	if err := s.Suppress(ctx, []privacy.Suppression{{Hash: a, At: t0, Reason: "first"}}); err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return privacy.SuppressInTx(ctx, tx, []privacy.Suppression{
			{Hash: a, At: t0.Add(time.Hour), Reason: "again"},
			{Hash: b, At: t0.Add(1500*time.Microsecond + 700*time.Nanosecond).In(time.FixedZone("X", 3600)), Reason: "erasure rcp_1"},
			{Hash: b, At: t0.Add(2 * time.Hour), Reason: "repeated"},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return privacy.SuppressInTx(ctx, tx, []privacy.Suppression{{Hash: b, At: t0.Add(3 * time.Hour), Reason: "later"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]suppressedRecord{
		a: {At: t0, Reason: "first"},
		b: {At: time.Date(2026, 4, 1, 9, 0, 0, 1500000, time.UTC), Reason: "erasure rcp_1"},
	}
	err = s.view(ctx, func(btx *bolt.Tx) error {
		bk := btx.Bucket(bucketSuppressed)
		if n := bk.Stats().KeyN; n != 2 {
			t.Errorf("the bucket holds %d hashes, want 2", n)
		}
		for h, w := range want {
			var got suppressedRecord
			if err := json.Unmarshal(bk.Get(hashKey(h)), &got); err != nil {
				return err
			}
			if !got.At.Equal(w.At) || got.Reason != w.Reason {
				t.Errorf("hash %s… stored %+v, want %+v", h[:4], got, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
