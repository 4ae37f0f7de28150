// Package suppresstest is the conformance suite of privacy.SuppressionStore:
// every store runs it (graph/embedded and graph/neo4jstore, through
// internal/storetest) against a real database. Expectations are worked out
// by hand from the operations the test makes, never read back from what a
// store wrote.
package suppresstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
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

// Run runs the suite; open returns a fresh, empty store for one test.
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	get := storetest.As[privacy.SuppressionStore](open)
	t.Run("Key", func(t *testing.T) { testKey(t, get(t)) })
	t.Run("KeyConcurrent", func(t *testing.T) { testKeyConcurrent(t, get(t)) })
	t.Run("List", func(t *testing.T) { testList(t, get(t)) })
	t.Run("Input", func(t *testing.T) { testInput(t, get(t)) })
	t.Run("SuppressionList", func(t *testing.T) { testSuppressionList(t, get(t)) })
	t.Run("InTx", func(t *testing.T) { testInTx(t, storetest.As[TxStore](open)(t)) })
	t.Run("UnsuppressInTx", func(t *testing.T) { testUnsuppressInTx(t, storetest.As[TxStore](open)(t)) })
}

// testUnsuppressInTx: UnsuppressInTx lifts a hash with the rest of its
// transaction: rolled back, the hash stays listed; committed, it is gone,
// and the call reported whether it was listed.
func testUnsuppressInTx(t *testing.T, s TxStore) {
	ctx := context.Background()
	must(t, s.Suppress(ctx, []privacy.Suppression{{Hash: h('a'), At: t0}, {Hash: h('b'), At: t0}}))
	errFail := errors.New("failed after its writes")
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		was, err := privacy.UnsuppressInTx(ctx, tx, h('a'))
		if err != nil {
			return err
		}
		if !was {
			t.Error("UnsuppressInTx of a listed hash reported it was not listed")
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("Update = %v, want %v", err, errFail)
	}
	if got := suppressed(t, s, h('a'), h('b')); !slices.Equal(got, []string{h('a'), h('b')}) {
		t.Fatalf("after a rolled-back unsuppress: Suppressed = %v, want a and b", got)
	}
	var was [3]bool
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		for i, x := range []byte{'a', 'a', 'c'} {
			var err error
			if was[i], err = privacy.UnsuppressInTx(ctx, tx, h(x)); err != nil {
				return err
			}
		}
		return nil
	}))
	if was != [3]bool{true, false, false} {
		t.Errorf("UnsuppressInTx of a, a again, c (never listed) = %v, want true, false, false", was)
	}
	if got := suppressed(t, s, h('a'), h('b')); !slices.Equal(got, []string{h('b')}) {
		t.Fatalf("after a committed unsuppress: Suppressed = %v, want b only", got)
	}
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		_, err := privacy.UnsuppressInTx(ctx, tx, "ann@example.com")
		return err
	})
	wantCode(t, err, graph.EINVALID, "UnsuppressInTx with a malformed hash")
	if strings.Contains(err.Error(), "ann@example.com") {
		t.Errorf("error %q echoes the value", err)
	}
}

// TxStore is what a store under test must be for SuppressInTx: a
// graph.Store whose write transactions implement privacy.TxSuppression,
// and a privacy.SuppressionStore.
type TxStore interface {
	graph.Store
	privacy.SuppressionStore
}

// h returns a well-formed hash made of one repeated hex digit.
func h(c byte) string { return strings.Repeat(string(c), 64) }

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func testKey(t *testing.T, s privacy.SuppressionStore) {
	ctx := context.Background()
	k1, err := s.SuppressionKey(ctx)
	must(t, err)
	if len(k1) != privacy.SuppressionKeyLen {
		t.Fatalf("key is %d bytes, want %d", len(k1), privacy.SuppressionKeyLen)
	}
	if bytes.Equal(k1, make([]byte, privacy.SuppressionKeyLen)) {
		t.Fatal("key is all zero bytes")
	}
	for range 3 {
		k2, err := s.SuppressionKey(ctx)
		must(t, err)
		if !bytes.Equal(k1, k2) {
			t.Fatal("a second call returned another key")
		}
	}
	// Suppressing does not change the key.
	must(t, s.Suppress(ctx, []privacy.Suppression{{Hash: h('a'), At: t0}}))
	k3, err := s.SuppressionKey(ctx)
	must(t, err)
	if !bytes.Equal(k1, k3) {
		t.Fatal("the key changed after a Suppress")
	}
}

// Concurrent first calls all end with one key.
func testKeyConcurrent(t *testing.T, s privacy.SuppressionStore) {
	ctx := context.Background()
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			keys[i], errs[i] = s.SuppressionKey(ctx)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		must(t, errs[i])
		if len(keys[i]) != privacy.SuppressionKeyLen || !bytes.Equal(keys[i], keys[0]) {
			t.Fatalf("concurrent call %d got another key than call 0", i)
		}
	}
	again, err := s.SuppressionKey(ctx)
	must(t, err)
	if !bytes.Equal(again, keys[0]) {
		t.Fatal("the key after the concurrent calls differs")
	}
}

func suppressed(t *testing.T, s privacy.SuppressionStore, hashes ...string) []string {
	t.Helper()
	m, err := s.Suppressed(context.Background(), hashes)
	must(t, err)
	for k, v := range m {
		if !v {
			t.Fatalf("Suppressed maps %s to false; absent hashes must be left out", k)
		}
		if !slices.Contains(hashes, k) {
			t.Fatalf("Suppressed returned %s, which was not asked", k)
		}
	}
	return slices.Sorted(maps.Keys(m))
}

func count(t *testing.T, s privacy.SuppressionStore) int {
	t.Helper()
	n, err := s.CountSuppressed(context.Background())
	must(t, err)
	return n
}

func testList(t *testing.T, s privacy.SuppressionStore) {
	ctx := context.Background()
	if n := count(t, s); n != 0 {
		t.Fatalf("an empty store counts %d suppressed, want 0", n)
	}
	if got := suppressed(t, s, h('a'), h('b')); len(got) != 0 {
		t.Fatalf("an empty store has %v suppressed", got)
	}
	if got := suppressed(t, s); len(got) != 0 {
		t.Fatalf("Suppressed of no hashes = %v", got)
	}
	must(t, s.Suppress(ctx, nil))

	// a twice in one batch, b, c; then a again and d: a is stored once.
	must(t, s.Suppress(ctx, []privacy.Suppression{
		{Hash: h('a'), At: t0, Reason: "erasure rcpt_1"},
		{Hash: h('b'), At: t0.Add(1500 * time.Microsecond), Reason: "erasure rcpt_1"},
		{Hash: h('a'), At: t0.Add(time.Hour), Reason: "repeated"},
		{Hash: h('c'), At: t0},
	}))
	must(t, s.Suppress(ctx, []privacy.Suppression{
		{Hash: h('a'), At: t0.Add(2 * time.Hour), Reason: "again"},
		{Hash: h('d'), At: t0.Add(2 * time.Hour), Reason: "erasure rcpt_2"},
	}))
	if n := count(t, s); n != 4 {
		t.Fatalf("CountSuppressed = %d, want 4 (a, b, c, d)", n)
	}
	// Asked with repeats and unknown hashes, in any order.
	got := suppressed(t, s, h('e'), h('d'), h('a'), h('a'), h('0'), h('c'))
	if want := []string{h('a'), h('c'), h('d')}; !slices.Equal(got, want) {
		t.Fatalf("Suppressed = %v, want %v", got, want)
	}

	// Unsuppress removes one hash; a second time it reports false.
	ok, err := s.Unsuppress(ctx, h('a'))
	must(t, err)
	if !ok {
		t.Fatal("Unsuppress(a) reported a was not suppressed")
	}
	ok, err = s.Unsuppress(ctx, h('a'))
	must(t, err)
	if ok {
		t.Fatal("a second Unsuppress(a) reported it was suppressed")
	}
	ok, err = s.Unsuppress(ctx, h('f'))
	must(t, err)
	if ok {
		t.Fatal("Unsuppress of a hash never suppressed reported true")
	}
	if got := suppressed(t, s, h('a'), h('b'), h('c'), h('d')); !slices.Equal(got, []string{h('b'), h('c'), h('d')}) {
		t.Fatalf("after Unsuppress(a): Suppressed = %v, want b, c, d", got)
	}
	if n := count(t, s); n != 3 {
		t.Fatalf("CountSuppressed after Unsuppress = %d, want 3", n)
	}
	// Suppressed again after removal: back on the list.
	must(t, s.Suppress(ctx, []privacy.Suppression{{Hash: h('a'), At: t0.Add(3 * time.Hour)}}))
	if got := suppressed(t, s, h('a')); !slices.Equal(got, []string{h('a')}) {
		t.Fatalf("after suppressing a again: Suppressed = %v", got)
	}
	if n := count(t, s); n != 4 {
		t.Fatalf("CountSuppressed = %d, want 4", n)
	}

	// A batch of many hashes is one call each way.
	var many []privacy.Suppression
	var asked []string
	for i := range 1200 {
		hash := fmt.Sprintf("%064x", i+1000)
		many = append(many, privacy.Suppression{Hash: hash, At: t0})
		if i%100 == 0 {
			asked = append(asked, hash)
		}
	}
	must(t, s.Suppress(ctx, many))
	if n := count(t, s); n != 1204 {
		t.Fatalf("CountSuppressed = %d, want 1204", n)
	}
	asked = append(asked, fmt.Sprintf("%064x", 999), fmt.Sprintf("%064x", 2200))
	if got := suppressed(t, s, asked...); len(got) != 12 {
		t.Fatalf("Suppressed of 12 listed and 2 unlisted hashes found %d", len(got))
	}
}

func testInput(t *testing.T, s privacy.SuppressionStore) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		e    privacy.Suppression
		want string // in the message
	}{
		{"short hash", privacy.Suppression{Hash: "abc", At: t0}, "suppression 1: suppression hash"},
		{"upper-case hash", privacy.Suppression{Hash: strings.Repeat("A", 64), At: t0}, "hash"},
		{"an email", privacy.Suppression{Hash: "ann@example.com", At: t0}, "hash"},
		{"no time", privacy.Suppression{Hash: h('b')}, "time"},
		{"long reason", privacy.Suppression{Hash: h('b'), At: t0, Reason: strings.Repeat("x", privacy.MaxSuppressionReasonLen+1)}, "reason"},
		{"control in reason", privacy.Suppression{Hash: h('b'), At: t0, Reason: "a\nb"}, "reason"},
	} {
		err := s.Suppress(ctx, []privacy.Suppression{{Hash: h('a'), At: t0}, c.e})
		wantCode(t, err, graph.EINVALID, c.name)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.want)
		}
		if strings.Contains(err.Error(), "ann@example.com") {
			t.Errorf("%s: error %q echoes the value", c.name, err)
		}
	}
	// Nothing of a refused batch is stored.
	if n := count(t, s); n != 0 {
		t.Fatalf("refused batches stored %d hashes", n)
	}
	_, err := s.Suppressed(ctx, []string{h('a'), "not a hash"})
	wantCode(t, err, graph.EINVALID, "Suppressed with a malformed hash")
	if !strings.Contains(err.Error(), "hash 1") {
		t.Errorf("error %q does not name hash 1", err)
	}
	_, err = s.Unsuppress(ctx, "ann@example.com")
	wantCode(t, err, graph.EINVALID, "Unsuppress with a malformed hash")
	if strings.Contains(err.Error(), "ann@example.com") {
		t.Errorf("error %q echoes the value", err)
	}
}

// The list put together with its Hasher: keys hash under the store's
// secret, HMAC-SHA256 as RFC 4231 defines it.
func testSuppressionList(t *testing.T, s privacy.SuppressionStore) {
	ctx := context.Background()
	l, err := privacy.OpenSuppressionList(ctx, s)
	must(t, err)
	secret, err := s.SuppressionKey(ctx)
	must(t, err)
	hs, err := privacy.NewHasher(secret)
	must(t, err)
	ann := "email:ann@example.com"
	if l.Hash(ann) != hs.Hash(ann) || !privacy.ValidHash(l.Hash(ann)) {
		t.Fatal("the list hashes otherwise than the Hasher of the store's secret")
	}
	hashes, err := l.SuppressKeys(ctx, []string{ann, "phone:+15550100"}, t0, "erasure rcpt_9")
	must(t, err)
	if len(hashes) != 2 || hashes[0] != hs.Hash(ann) || hashes[1] != hs.Hash("phone:+15550100") {
		t.Fatalf("SuppressKeys returned %v", hashes)
	}
	for key, want := range map[string]bool{ann: true, "phone:+15550100": true, "email:bob@example.com": false} {
		got, err := l.KeySuppressed(ctx, key)
		must(t, err)
		if got != want {
			t.Errorf("KeySuppressed(%s) = %v, want %v", key, got, want)
		}
	}
	// The store holds hashes, never the key.
	if got := suppressed(t, s, hs.Hash(ann)); len(got) != 1 {
		t.Fatal("the store does not hold the hash of the suppressed key")
	}
	ok, err := l.UnsuppressKey(ctx, ann)
	must(t, err)
	if !ok {
		t.Fatal("UnsuppressKey(ann) reported it was not suppressed")
	}
	if got, err := l.KeySuppressed(ctx, ann); err != nil || got {
		t.Fatalf("after UnsuppressKey: KeySuppressed = %v, %v", got, err)
	}
	if n := count(t, s); n != 1 {
		t.Fatalf("CountSuppressed = %d, want 1 (the phone)", n)
	}
}

// Inside a graph write transaction, entries commit and roll back with the
// rest of it, by the rules of Suppress: a hash already on the list, put
// there by Suppress or by another transaction, is kept once.
func testInTx(t *testing.T, s TxStore) {
	ctx := context.Background()
	seen := func(value string) []graph.IdentifierSeen {
		return []graph.IdentifierSeen{{Key: "user_id:" + value, Type: "user_id", Value: value, First: t0, Last: t0, Sources: []string{"test"}}}
	}
	must(t, s.Suppress(ctx, []privacy.Suppression{{Hash: h('a'), At: t0, Reason: "first"}}))

	// Rolled back: neither the new hash nor the locked identifier stays.
	errFail := errors.New("failed after its writes")
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("u-fail"), true); err != nil {
			return err
		}
		if err := privacy.SuppressInTx(ctx, tx, []privacy.Suppression{
			{Hash: h('a'), At: t0.Add(time.Hour), Reason: "again"},
			{Hash: h('b'), At: t0.Add(time.Hour), Reason: "erasure rcp_1"},
		}); err != nil {
			return err
		}
		return errFail
	})
	if !errors.Is(err, errFail) {
		t.Fatalf("Update = %v, want %v", err, errFail)
	}
	if got := suppressed(t, s, h('a'), h('b')); !slices.Equal(got, []string{h('a')}) {
		t.Fatalf("after a rolled-back transaction: Suppressed = %v, want a only", got)
	}
	if n := count(t, s); n != 1 {
		t.Fatalf("after a rolled-back transaction: CountSuppressed = %d, want 1", n)
	}

	// Committed: a (already listed by Suppress), b twice, c.
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("u-ok"), true); err != nil {
			return err
		}
		if err := privacy.SuppressInTx(ctx, tx, nil); err != nil {
			return err
		}
		return privacy.SuppressInTx(ctx, tx, []privacy.Suppression{
			{Hash: h('a'), At: t0.Add(2 * time.Hour), Reason: "again"},
			{Hash: h('b'), At: t0.Add(2 * time.Hour), Reason: "erasure rcp_2"},
			{Hash: h('c'), At: t0.Add(2 * time.Hour)},
			{Hash: h('b'), At: t0.Add(3 * time.Hour), Reason: "repeated"},
		})
	}))
	if got := suppressed(t, s, h('a'), h('b'), h('c'), h('d')); !slices.Equal(got, []string{h('a'), h('b'), h('c')}) {
		t.Fatalf("after a committed transaction: Suppressed = %v, want a, b, c", got)
	}
	if n := count(t, s); n != 3 {
		t.Fatalf("after a committed transaction: CountSuppressed = %d, want 3", n)
	}
	// Suppress after the transaction, and another transaction, add
	// nothing twice.
	must(t, s.Suppress(ctx, []privacy.Suppression{{Hash: h('c'), At: t0.Add(4 * time.Hour)}}))
	must(t, s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return privacy.SuppressInTx(ctx, tx, []privacy.Suppression{{Hash: h('b'), At: t0.Add(5 * time.Hour)}, {Hash: h('d'), At: t0}})
	}))
	if n := count(t, s); n != 4 {
		t.Fatalf("CountSuppressed = %d, want 4 (a, b, c, d)", n)
	}

	// A malformed entry fails the transaction, naming its position and
	// not the value; nothing of it is stored.
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if _, err := tx.LockIdentifiers(ctx, seen("u-bad"), true); err != nil {
			return err
		}
		return privacy.SuppressInTx(ctx, tx, []privacy.Suppression{{Hash: h('e'), At: t0}, {Hash: "ann@example.com", At: t0}})
	})
	wantCode(t, err, graph.EINVALID, "SuppressInTx with a malformed hash")
	if !strings.Contains(err.Error(), "suppression 1") || strings.Contains(err.Error(), "ann@example.com") {
		t.Errorf("error %q does not name entry 1, or echoes its value", err)
	}
	if got := suppressed(t, s, h('e')); len(got) != 0 {
		t.Fatalf("a failed transaction suppressed %v", got)
	}
	var idents map[string]graph.Identifier
	must(t, s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		var err error
		idents, err = tx.Identifiers(ctx, []string{"user_id:u-fail", "user_id:u-ok", "user_id:u-bad"})
		return err
	}))
	if keys := slices.Sorted(maps.Keys(idents)); !slices.Equal(keys, []string{"user_id:u-ok"}) {
		t.Fatalf("identifiers = %v, want only user_id:u-ok", keys)
	}
}
