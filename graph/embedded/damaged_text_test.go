package embedded

import (
	"context"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/dump"
)

// A damaged link or refused link is reported by the type and digest of
// its identifiers (graph.KeyRef), never by their values: the error reaches
// logs and cdp copy's output, and the values are personal data.
func TestDamagedLinksAreReportedWithoutValues(t *testing.T) {
	const (
		ann = "email:ann.personal@example.com"
		bob = "phone:+15550100777"
	)
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	at := graph.Now()
	if err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return tx.Apply(ctx, &graph.Write{At: at,
			PutLinks:    []graph.Link{{A: ann, B: bob, Source: "web", Evidence: "web/m1", FirstSeen: at, LastSeen: at, Count: 1}},
			PutRejected: []graph.RejectedLink{{A: ann, B: bob, Source: "web", Reason: "over the limit", Evidence: "web/m2", At: at}}})
	}); err != nil {
		t.Fatal(err)
	}
	lk := graph.NewLinkKey(ann, bob)
	damage := func(fn func(btx *bolt.Tx) error) {
		t.Helper()
		if err := s.db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error from a damaged record", what)
		}
		for _, v := range []string{"ann.personal", "5550100777"} {
			if strings.Contains(err.Error(), v) {
				t.Errorf("%s: the error %q names an identifier's value", what, err)
			}
		}
		if !strings.Contains(err.Error(), graph.KeyRef(lk.A)) || !strings.Contains(err.Error(), graph.KeyRef(lk.B)) {
			t.Errorf("%s: the error %q does not name the identifiers by type and digest (%s, %s)", what, err, graph.KeyRef(lk.A), graph.KeyRef(lk.B))
		}
	}
	view := func(fn func(tx graph.ReadTx) error) error {
		return s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error { return fn(tx) })
	}

	// The link's record cut short.
	damage(func(btx *bolt.Tx) error { return btx.Bucket(bucketIdentifiers).Put(linkEntry(lk.A, lk.B), []byte{1}) })
	_, err = s.Page(ctx, dump.Links, "", 10)
	check("a dump page of links", err)
	check("LinksBetween", view(func(tx graph.ReadTx) error {
		_, err := tx.LinksBetween(ctx, []graph.LinkKey{lk})
		return err
	}))

	// The refused link's record not JSON, then gone from under its index.
	damage(func(btx *bolt.Tx) error { return btx.Bucket(bucketRejected).Put(pairKey(lk.A, lk.B), []byte("{")) })
	check("Rejected, record damaged", view(func(tx graph.ReadTx) error {
		_, err := tx.Rejected(ctx, []string{ann})
		return err
	}))
	damage(func(btx *bolt.Tx) error { return btx.Bucket(bucketRejected).Delete(pairKey(lk.A, lk.B)) })
	check("Rejected, record missing", view(func(tx graph.ReadTx) error {
		_, err := tx.Rejected(ctx, []string{ann})
		return err
	}))
}
