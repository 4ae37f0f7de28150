package graph_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The hash of a retired id is HMAC-SHA256 of the domain-prefixed id: it
// is neither the id nor the hash the suppression list would keep of an
// identifier, and no identifier key hashes like it, as no type holds a
// space.
func TestRetiredIDHash(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	id := graph.ProfileIDFor("email:ann@example.com", 0)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("retired profile id:" + id))
	want := hex.EncodeToString(m.Sum(nil))
	got := graph.RetiredIDHash(secret, id)
	if got != want {
		t.Fatalf("RetiredIDHash = %s, want %s", got, want)
	}
	if !graph.ValidKeyedHash(got) {
		t.Errorf("ValidKeyedHash(%s) = false", got)
	}
	plain := hmac.New(sha256.New, secret)
	plain.Write([]byte(id))
	if got == hex.EncodeToString(plain.Sum(nil)) {
		t.Error("the retired hash is the plain HMAC of the id")
	}
	if other := graph.RetiredIDHash([]byte("another secret of 32 bytes......"), id); other == got {
		t.Error("two secrets give one hash")
	}
	n := graph.NewNormalizer(graph.DefaultRules())
	if _, why := n.Normalize(graph.IdentifierRef{Type: "retired profile id", Value: id}); why == "" {
		t.Error("the domain of retired hashes is a valid identifier type")
	}
	for _, bad := range []string{"", want[:63], want + "0", "G" + want[1:], "A" + want[1:]} {
		if graph.ValidKeyedHash(bad) {
			t.Errorf("ValidKeyedHash(%q) = true", bad)
		}
	}
}

// callCounter counts the calls a write transaction makes, by method.
type callCounter struct {
	graph.Store
	mu    sync.Mutex
	calls map[string]int
}

func (s *callCounter) count(m string) {
	s.mu.Lock()
	s.calls[m]++
	s.mu.Unlock()
}

func (s *callCounter) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = map[string]int{}
	return c
}

func (s *callCounter) SerialWrites() bool { return graph.SerialWrites(s.Store) }

func (s *callCounter) SuppressionKey(ctx context.Context) ([]byte, error) {
	return s.Store.(graph.SecretKeeper).SuppressionKey(ctx)
}

func (s *callCounter) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		s.count("Update")
		return fn(ctx, &countedTx{Tx: tx, s: s})
	})
}

type countedTx struct {
	graph.Tx
	s *callCounter
}

func (t *countedTx) Identifiers(ctx context.Context, keys []string) (map[string]graph.Identifier, error) {
	t.s.count("Identifiers")
	return t.Tx.Identifiers(ctx, keys)
}

func (t *countedTx) Profiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	t.s.count("Profiles")
	return t.Tx.Profiles(ctx, ids)
}

func (t *countedTx) TakenProfileIDs(ctx context.Context, cands []graph.ProfileIDCandidate) (map[string]bool, error) {
	t.s.count("TakenProfileIDs")
	return t.Tx.TakenProfileIDs(ctx, cands)
}

func (t *countedTx) Members(ctx context.Context, ids []string) (map[string][]graph.Identifier, error) {
	t.s.count("Members")
	return t.Tx.Members(ctx, ids)
}

func (t *countedTx) LinksBetween(ctx context.Context, pairs []graph.LinkKey) (map[graph.LinkKey]graph.Link, error) {
	t.s.count("LinksBetween")
	return t.Tx.LinksBetween(ctx, pairs)
}

func (t *countedTx) Rejected(ctx context.Context, keys []string) ([]graph.RejectedLink, error) {
	t.s.count("Rejected")
	return t.Tx.Rejected(ctx, keys)
}

func (t *countedTx) ClaimEvents(ctx context.Context, claims []graph.EventClaim) (map[string]string, error) {
	t.s.count("ClaimEvents")
	return t.Tx.ClaimEvents(ctx, claims)
}

func (t *countedTx) LockIdentifiers(ctx context.Context, seen []graph.IdentifierSeen, create bool) (map[string]graph.Identifier, error) {
	t.s.count("LockIdentifiers")
	return t.Tx.LockIdentifiers(ctx, seen, create)
}

func (t *countedTx) LockProfiles(ctx context.Context, ids []string) (map[string]graph.Profile, error) {
	t.s.count("LockProfiles")
	return t.Tx.LockProfiles(ctx, ids)
}

func (t *countedTx) Apply(ctx context.Context, w *graph.Write) error {
	t.s.count("Apply")
	return t.Tx.Apply(ctx, w)
}

// A batch names its new profiles with one read of the ids taken, stored
// or retired, however many there are: a batch of one new profile and one
// of forty make the same store calls, and no read of profiles. A second
// read is needed only for an id taken, here a retired one.
func TestNamingReadsTakenIDsOncePerRound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		c := &callCounter{Store: s, calls: map[string]int{}}
		e := graph.NewEngine(c, nil)
		batch := func(prefix string, n int) []graph.Event {
			evs := make([]graph.Event, n)
			for i := range evs {
				evs[i] = viewedEvent(fmt.Sprintf("%s%d", prefix, i), graph.IdentifierRef{Type: graph.TypeUserID, Value: fmt.Sprintf("%s%d", prefix, i)})
			}
			return evs
		}
		if _, err := e.ApplyBatch(ctx, batch("one", 1)); err != nil {
			t.Fatal(err)
		}
		one := c.take()
		if _, err := e.ApplyBatch(ctx, batch("forty", 40)); err != nil {
			t.Fatal(err)
		}
		forty := c.take()
		t.Logf("one new profile: %v; forty: %v", one, forty)
		if !maps.Equal(one, forty) {
			t.Errorf("store calls grow with the new profiles: one %v, forty %v", one, forty)
		}
		if one["TakenProfileIDs"] != 1 || one["Profiles"] != 0 {
			t.Errorf("naming a new profile read taken ids %d times and profiles %d times, want 1 and 0", one["TakenProfileIDs"], one["Profiles"])
		}

		// u's profile deleted: u seen again takes its second attempt,
		// after a second read.
		u := graph.IdentifierRef{Type: graph.TypeUserID, Value: "one0"}
		if _, err := e.RemoveIdentifier(ctx, u, "test"); err != nil {
			t.Fatal(err)
		}
		c.take()
		if _, err := e.ApplyBatch(ctx, batch("one", 1)); err != nil {
			t.Fatal(err)
		}
		again := c.take()
		if again["TakenProfileIDs"] != 2 {
			t.Errorf("naming a profile whose first id is retired read taken ids %d times, want 2", again["TakenProfileIDs"])
		}
		p, err := e.ProfileByIdentifier(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if want := graph.ProfileIDFor("user_id:one0", 1); p.ID != want {
			t.Errorf("u seen again: profile %s, want %s", p.ID, want)
		}
		if got := slices.Sorted(maps.Keys(again)); !slices.Equal(got, slices.Sorted(maps.Keys(one))) {
			t.Errorf("calls %v, then %v", one, again)
		}
	})
}

// An identifier removed and seen again many times (a junk id a correction
// keeps removing) has many retired ids: the next is still found, with
// reads that double how many ids they ask for. Its first 20 ids retired,
// the reads ask for id 0, ids 1-2, 3-6, 7-14 and 15-30, and it takes id
// 20, in five reads.
func TestNamingAfterManyRetiredIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		c := &callCounter{Store: s, calls: map[string]int{}}
		e := graph.NewEngine(c, nil)
		junk := graph.IdentifierRef{Type: graph.TypeDeviceID, Value: "junk"}
		for i := range 20 {
			if _, err := e.ApplyBatch(ctx, []graph.Event{viewedEvent(fmt.Sprintf("j%d", i), junk)}); err != nil {
				t.Fatal(err)
			}
			p, err := e.ProfileByIdentifier(ctx, junk)
			if err != nil {
				t.Fatal(err)
			}
			if want := graph.ProfileIDFor("device_id:junk", i); p.ID != want {
				t.Fatalf("seen for the %d-th time: profile %s, want %s", i+1, p.ID, want)
			}
			if _, err := e.RemoveIdentifier(ctx, junk, "junk"); err != nil {
				t.Fatal(err)
			}
		}
		c.take()
		if _, err := e.ApplyBatch(ctx, []graph.Event{viewedEvent("j20", junk)}); err != nil {
			t.Fatal(err)
		}
		if n := c.take()["TakenProfileIDs"]; n != 5 {
			t.Errorf("naming after 20 retired ids read taken ids %d times, want 5", n)
		}
		p, err := e.ProfileByIdentifier(ctx, junk)
		if err != nil {
			t.Fatal(err)
		}
		if want := graph.ProfileIDFor("device_id:junk", 20); p.ID != want {
			t.Errorf("seen after 20 removals: profile %s, want %s", p.ID, want)
		}
	})
}
