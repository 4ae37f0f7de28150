// Package receipttest is the conformance suite of privacy.ReceiptStore and
// privacy.TxReceipts: every store runs it (graph/embedded and
// graph/neo4jstore, through internal/storetest) against a real database.
// Expectations are written out by hand from the receipts the test puts,
// never read back from what a store wrote.
package receipttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var (
	must     = storetest.Must
	wantCode = storetest.WantCode
)

// Store is what a store under test must be: a graph.Store whose write
// transactions implement privacy.TxReceipts, and a privacy.ReceiptStore.
type Store interface {
	graph.Store
	privacy.ReceiptStore
}

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	get := storetest.As[Store](open)
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, get(t)) })
	t.Run("NewestFirst", func(t *testing.T) { testNewestFirst(t, get(t)) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, get(t)) })
	t.Run("Limit", func(t *testing.T) { testLimit(t, get(t)) })
	t.Run("Conflict", func(t *testing.T) { testConflict(t, get(t)) })
	t.Run("Input", func(t *testing.T) { testInput(t, get(t)) })
	t.Run("RolledBack", func(t *testing.T) { testRolledBack(t, get(t)) })
}

// t0 is the suite's own time.
var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// moonLanding is before 1970, where the order must still hold.
var moonLanding = time.Date(1969, 7, 20, 20, 17, 40, 0, time.UTC)

// id returns a well-formed receipt id ending in n.
func id(n int) string { return fmt.Sprintf("rcp_%032x", n) }

// receipt returns a valid receipt n at at, with a few counts set.
func receipt(n int, at time.Time) privacy.ErasureReceipt {
	return privacy.ErasureReceipt{
		ID: id(n), At: at, Kind: privacy.ErasureIdentifier, Reason: fmt.Sprintf("ticket %d", n),
		Identifiers: 1, Events: n,
	}
}

// put stores rs in one write transaction.
func put(t *testing.T, s Store, rs ...privacy.ErasureReceipt) {
	t.Helper()
	must(t, s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		for _, r := range rs {
			if err := privacy.PutReceiptInTx(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	}))
}

func page(t *testing.T, s Store, q privacy.ReceiptQuery) []privacy.ErasureReceipt {
	t.Helper()
	rs, err := s.Receipts(context.Background(), q)
	must(t, err)
	return rs
}

func count(t *testing.T, s Store) int {
	t.Helper()
	n, err := s.CountReceipts(context.Background())
	must(t, err)
	return n
}

// ids lists the receipts' ids by the number each ends in.
func ids(rs []privacy.ErasureReceipt) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		if _, err := fmt.Sscanf(r.ID, "rcp_%x", &out[i]); err != nil {
			out[i] = -1
		}
	}
	return out
}

// same reports whether got is want field for field, with got's time in
// UTC.
func same(got, want privacy.ErasureReceipt) bool {
	if !got.At.Equal(want.At) || got.At.Location() != time.UTC {
		return false
	}
	got.At, want.At = time.Time{}, time.Time{}
	return got == want
}

// Every field comes back as put, the time cleaned to microseconds in UTC.
func testRoundTrip(t *testing.T, s Store) {
	if n := count(t, s); n != 0 {
		t.Fatalf("an empty store counts %d receipts", n)
	}
	if got := page(t, s, privacy.ReceiptQuery{Limit: 10}); len(got) != 0 {
		t.Fatalf("an empty store lists %v", got)
	}
	paris := time.FixedZone("CEST", 2*3600)
	full := privacy.ErasureReceipt{
		ID: id(0xabc), At: time.Date(2026, 6, 1, 12, 30, 0, 123456789, paris), Kind: privacy.ErasureProfile,
		Reason: "GDPR art. 17 request, ticket 4711 — é", KeyID: "key_ops", KeyName: "ops admin",
		Identifiers: 4, Events: 12, ScrubbedEvents: 3, Traits: 7, ConsentRecords: 2, SuppressedHashes: 4,
	}
	open := privacy.ErasureReceipt{ID: id(0xdef), At: moonLanding, Kind: privacy.ErasureIdentifier, Reason: "r"}
	put(t, s, full)
	put(t, s, open)
	wantFull := full
	wantFull.At = time.Date(2026, 6, 1, 10, 30, 0, 123456000, time.UTC)
	got := page(t, s, privacy.ReceiptQuery{Limit: 10})
	if len(got) != 2 {
		t.Fatalf("Receipts = %+v, want 2 receipts", got)
	}
	if !same(got[0], wantFull) {
		t.Errorf("receipt with every field:\n got %+v\nwant %+v", got[0], wantFull)
	}
	if !same(got[1], open) {
		t.Errorf("receipt of open mode:\n got %+v\nwant %+v", got[1], open)
	}
	if n := count(t, s); n != 2 {
		t.Fatalf("CountReceipts = %d, want 2", n)
	}
}

// orderFixture puts eight receipts, out of order and over three
// transactions, and returns their ids in receipt order, worked out by
// hand: time descending, then id descending. Receipt 8's time cleans to
// receipt 5's, so they tie.
func orderFixture(t *testing.T, s Store) []int {
	put(t, s, receipt(3, at(120)), receipt(5, at(60)), receipt(1, at(0)))
	put(t, s, receipt(7, at(0)), receipt(4, moonLanding))
	put(t, s, receipt(9, at(120)), receipt(2, at(180)), receipt(8, at(60).Add(300*time.Nanosecond)))
	return []int{2, 9, 3, 8, 5, 7, 1, 4}
}

func testNewestFirst(t *testing.T, s Store) {
	want := orderFixture(t, s)
	got := page(t, s, privacy.ReceiptQuery{Limit: privacy.MaxReceiptPage})
	if !slices.Equal(ids(got), want) {
		t.Fatalf("Receipts order = %v, want %v", ids(got), want)
	}
	if !got[3].At.Equal(at(60)) || !got[4].At.Equal(at(60)) {
		t.Fatalf("receipts 8 and 5 are at %v and %v, want both at %v", got[3].At, got[4].At, at(60))
	}
	if n := count(t, s); n != 8 {
		t.Fatalf("CountReceipts = %d, want 8", n)
	}
	if got := page(t, s, privacy.ReceiptQuery{Limit: 3}); !slices.Equal(ids(got), want[:3]) {
		t.Fatalf("the first 3 = %v, want %v", ids(got), want[:3])
	}
}

func testPaging(t *testing.T, s Store) {
	orderFixture(t, s)
	// Pages of 3, each after the last receipt of the one before.
	wantPages := [][]int{{2, 9, 3}, {8, 5, 7}, {1, 4}, {}}
	var after *privacy.ReceiptCursor
	for i, want := range wantPages {
		got := page(t, s, privacy.ReceiptQuery{After: after, Limit: 3})
		if !slices.Equal(ids(got), want) {
			t.Fatalf("page %d = %v, want %v", i, ids(got), want)
		}
		if len(got) > 0 {
			last := got[len(got)-1]
			after = &privacy.ReceiptCursor{At: last.At, ID: last.ID}
		}
	}
	// Cursors at no stored receipt.
	for _, c := range []struct {
		name  string
		after privacy.ReceiptCursor
		want  []int
	}{
		// At the time of 9 and 3, between their ids: 3 is after it.
		{"between tied ids", privacy.ReceiptCursor{At: at(120), ID: id(5)}, []int{3, 8, 5, 7, 1, 4}},
		// At a time no receipt has.
		{"between times", privacy.ReceiptCursor{At: at(90), ID: ""}, []int{8, 5, 7, 1, 4}},
		// After the tie at 60 minutes with an id above both: both follow.
		{"above a tie", privacy.ReceiptCursor{At: at(60), ID: id(0xff)}, []int{8, 5, 7, 1, 4}},
		// A time finer than a microsecond: receipts at the microsecond
		// before it come after it, whatever their id.
		{"finer than stored", privacy.ReceiptCursor{At: at(60).Add(500 * time.Nanosecond), ID: id(0)}, []int{8, 5, 7, 1, 4}},
		// In another zone: the same instant as 120 minutes in UTC.
		{"other zone", privacy.ReceiptCursor{At: at(120).In(time.FixedZone("X", -5*3600)), ID: id(9)}, []int{3, 8, 5, 7, 1, 4}},
		{"before everything", privacy.ReceiptCursor{At: moonLanding, ID: id(4)}, []int{}},
		{"after the newest", privacy.ReceiptCursor{At: at(1000), ID: id(1)}, []int{2, 9, 3, 8, 5, 7, 1, 4}},
	} {
		got := page(t, s, privacy.ReceiptQuery{After: &c.after, Limit: 100})
		if !slices.Equal(ids(got), c.want) {
			t.Errorf("%s: %v, want %v", c.name, ids(got), c.want)
		}
	}
}

func testLimit(t *testing.T, s Store) {
	ctx := context.Background()
	put(t, s, receipt(1, at(0)))
	for _, limit := range []int{0, -1, privacy.MaxReceiptPage + 1} {
		_, err := s.Receipts(ctx, privacy.ReceiptQuery{Limit: limit})
		wantCode(t, err, graph.EINVALID, fmt.Sprintf("Receipts with Limit %d", limit))
		if !strings.Contains(err.Error(), "page size") {
			t.Errorf("Limit %d: error %q does not name the page size", limit, err)
		}
	}
	c := &privacy.ReceiptCursor{At: at(10), ID: id(2)}
	_, err := s.Receipts(ctx, privacy.ReceiptQuery{After: c, Limit: 0})
	wantCode(t, err, graph.EINVALID, "Receipts after a cursor with Limit 0")
	if got := page(t, s, privacy.ReceiptQuery{Limit: privacy.MaxReceiptPage}); !slices.Equal(ids(got), []int{1}) {
		t.Fatalf("Receipts with Limit %d = %v, want [1]", privacy.MaxReceiptPage, ids(got))
	}
	if got := page(t, s, privacy.ReceiptQuery{Limit: 1}); !slices.Equal(ids(got), []int{1}) {
		t.Fatalf("Receipts with Limit 1 = %v, want [1]", ids(got))
	}
}

// A receipt id is written once: putting it again, with the same content
// or other, fails the transaction and changes nothing.
func testConflict(t *testing.T, s Store) {
	ctx := context.Background()
	first := receipt(1, at(0))
	put(t, s, first)
	other := first
	other.At, other.Reason, other.Events = at(5), "another reason", 99
	for _, c := range []struct {
		name string
		r    privacy.ErasureReceipt
	}{{"same content", first}, {"other content", other}} {
		err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			// Receipt 2 comes first in the transaction and goes with it.
			if err := privacy.PutReceiptInTx(ctx, tx, receipt(2, at(1))); err != nil {
				return err
			}
			return privacy.PutReceiptInTx(ctx, tx, c.r)
		})
		wantCode(t, err, graph.ECONFLICT, "a repeated receipt id, "+c.name)
		if !strings.Contains(err.Error(), id(1)) {
			t.Errorf("%s: error %q does not name the receipt id", c.name, err)
		}
		got := page(t, s, privacy.ReceiptQuery{Limit: 10})
		if len(got) != 1 || !same(got[0], first) {
			t.Fatalf("%s: after the conflict Receipts = %+v, want only %+v", c.name, got, first)
		}
		if n := count(t, s); n != 1 {
			t.Fatalf("%s: CountReceipts = %d, want 1", c.name, n)
		}
	}
	// Twice in one transaction: the second is the conflict.
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		for range 2 {
			if err := privacy.PutReceiptInTx(ctx, tx, receipt(3, at(3))); err != nil {
				return err
			}
		}
		return nil
	})
	wantCode(t, err, graph.ECONFLICT, "one receipt id put twice in a transaction")
	if n := count(t, s); n != 1 {
		t.Fatalf("CountReceipts = %d, want 1", n)
	}
}

func testInput(t *testing.T, s Store) {
	ctx := context.Background()
	ok := receipt(1, at(0))
	with := func(f func(r *privacy.ErasureReceipt)) privacy.ErasureReceipt {
		r := ok
		f(&r)
		return r
	}
	for _, c := range []struct {
		name string
		r    privacy.ErasureReceipt
		want string // in the message
	}{
		{"no id", with(func(r *privacy.ErasureReceipt) { r.ID = "" }), "receipt id"},
		{"upper-case id", with(func(r *privacy.ErasureReceipt) { r.ID = "rcp_" + strings.Repeat("A", 32) }), "receipt id"},
		{"short id", with(func(r *privacy.ErasureReceipt) { r.ID = "rcp_abc" }), "receipt id"},
		{"no time", with(func(r *privacy.ErasureReceipt) { r.At = time.Time{} }), "time"},
		{"unknown kind", with(func(r *privacy.ErasureReceipt) { r.Kind = "person" }), "kind"},
		{"blank reason", with(func(r *privacy.ErasureReceipt) { r.Reason = " \t" }), "reason"},
		{"long reason", with(func(r *privacy.ErasureReceipt) { r.Reason = strings.Repeat("x", privacy.MaxReceiptReasonLen+1) }), "reason"},
		{"invalid UTF-8 reason", with(func(r *privacy.ErasureReceipt) { r.Reason = "a\xffb" }), "reason"},
		{"long key name", with(func(r *privacy.ErasureReceipt) { r.KeyName = strings.Repeat("k", 201) }), "key"},
		{"negative events", with(func(r *privacy.ErasureReceipt) { r.Events = -1 }), "events"},
		{"negative suppressed", with(func(r *privacy.ErasureReceipt) { r.SuppressedHashes = -2 }), "suppressedHashes"},
	} {
		err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
			return privacy.PutReceiptInTx(ctx, tx, c.r)
		})
		wantCode(t, err, graph.EINVALID, c.name)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.want)
		}
	}
	if n := count(t, s); n != 0 {
		t.Fatalf("refused receipts: CountReceipts = %d, want 0", n)
	}
	// A reason of exactly the maximum is kept whole.
	longest := with(func(r *privacy.ErasureReceipt) { r.Reason = strings.Repeat("é", privacy.MaxReceiptReasonLen/2) })
	put(t, s, longest)
	if got := page(t, s, privacy.ReceiptQuery{Limit: 1}); len(got) != 1 || !same(got[0], longest) {
		t.Fatalf("a reason of %d bytes came back as %+v", privacy.MaxReceiptReasonLen, got)
	}
}

// A receipt put in a transaction that then fails is not stored; one put
// beside other writes in a transaction that commits is.
func testRolledBack(t *testing.T, s Store) {
	ctx := context.Background()
	errFail := errors.New("failed after its writes")
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if err := privacy.PutReceiptInTx(ctx, tx, receipt(1, at(0))); err != nil {
			return err
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("Update = %v, want %v", err, errFail)
	}
	if n := count(t, s); n != 0 {
		t.Fatalf("after a rolled-back transaction CountReceipts = %d, want 0", n)
	}
	if got := page(t, s, privacy.ReceiptQuery{Limit: 10}); len(got) != 0 {
		t.Fatalf("after a rolled-back transaction Receipts = %v", ids(got))
	}
	// The id is free: the same receipt commits in a transaction that also
	// stores an identifier.
	seen := []graph.IdentifierSeen{{Key: "user_id:u-1", Type: "user_id", Value: "u-1", First: at(0), Last: at(0), Sources: []string{"test"}}}
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
			return err
		}
		return privacy.PutReceiptInTx(ctx, tx, receipt(1, at(0)))
	}))
	if got := page(t, s, privacy.ReceiptQuery{Limit: 10}); len(got) != 1 || !same(got[0], receipt(1, at(0))) {
		t.Fatalf("after a committed transaction Receipts = %+v, want receipt 1", got)
	}
	if n := count(t, s); n != 1 {
		t.Fatalf("CountReceipts = %d, want 1", n)
	}
}
