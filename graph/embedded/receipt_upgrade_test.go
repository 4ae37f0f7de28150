package embedded

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// A file of a layout before 9 opens with no erasure receipts and takes
// them; the layout 9 fixture reads back the receipts writeLayoutDataset
// wrote, as worked out here by hand.
func TestReceiptsAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	eachFixture(t, func(t *testing.T, v uint64, s *Store) {
		n, err := s.CountReceipts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Receipts(ctx, privacy.ReceiptQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if v < 9 {
			if n != 0 || len(got) != 0 {
				t.Fatalf("an upgraded file holds %d receipts: %+v", n, got)
			}
			r := privacy.ErasureReceipt{ID: "rcp_" + strings.Repeat("0a", 16), At: lt(6), Kind: privacy.ErasureIdentifier,
				Reason: "after the upgrade", Identifiers: 1}
			err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error { return privacy.PutReceiptInTx(ctx, tx, r) })
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Receipts(ctx, privacy.ReceiptQuery{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != r {
				t.Fatalf("after one PutReceipt: %+v, want %+v", got, r)
			}
			return
		}
		want := []privacy.ErasureReceipt{
			{ID: "rcp_e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5", At: time.Date(2026, 1, 1, 17, 0, 0, 2000, time.UTC),
				Kind: privacy.ErasureProfile, Reason: "ticket 12: forget me", KeyID: "key_admin", KeyName: "ops admin",
				Identifiers: 4, Events: 3, ScrubbedEvents: 1, Traits: 3, ConsentRecords: 2, SuppressedHashes: 4},
			{ID: "rcp_f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6f6", At: time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC),
				Kind: privacy.ErasureIdentifier, Reason: "import cleanup"},
		}
		if n != 2 || len(got) != 2 {
			t.Fatalf("Receipts = %+v (of %d), want 2", got, n)
		}
		for i, w := range want {
			if got[i] != w {
				t.Errorf("receipt %d = %+v, want %+v", i, got[i], w)
			}
		}
		if err := s.view(ctx, receiptIndexConsistent); err != nil {
			t.Fatal(err)
		}
	})
}

// receiptIndexConsistent checks that every id entry points to a receipt
// and that no receipt lacks one.
func receiptIndexConsistent(btx *bolt.Tx) error {
	b, ids := btx.Bucket(bucketReceipts), btx.Bucket(bucketReceiptIDs)
	n := 0
	err := ids.ForEach(func(id, at []byte) error {
		n++
		if b.Get(append(bytes.Clone(at), id...)) == nil {
			return fmt.Errorf("receipt id %s has no receipt", id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if m := b.Stats().KeyN; m != n {
		return fmt.Errorf("the receipts bucket holds %d receipts and its id index %d", m, n)
	}
	return nil
}
