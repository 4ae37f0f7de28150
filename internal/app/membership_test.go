package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// recorder is a refresher that records its calls, and fails while fail is
// set; it stands for the keeper, whose own tests run on both stores.
type recorder struct {
	mu    sync.Mutex
	calls [][]string // nil slice for RefreshAll
	fail  bool
	saw   chan struct{}
}

func (r *recorder) Refresh(_ context.Context, ids []string) error {
	return r.record(slices.Clone(ids))
}

func (r *recorder) RefreshAll(context.Context) error { return r.record(nil) }

// RefreshDue is recorded as an empty, non-nil list.
func (r *recorder) RefreshDue(context.Context) error { return r.record([]string{}) }

func (r *recorder) record(ids []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, ids)
	select {
	case r.saw <- struct{}{}:
	default:
	}
	if r.fail {
		return errors.New("store down")
	}
	return nil
}

func (r *recorder) take() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// The queue: touched profiles are evaluated once each, sorted, in chunks;
// an overflow turns the next round into a full one; a failed round queues
// its profiles again; close evaluates what is left.
func TestMembershipQueue(t *testing.T) {
	ctx := context.Background()
	r := &recorder{saw: make(chan struct{}, 100)}
	m := newMemberships(r, 0, 0, zerolog.Nop())
	m.touch([]string{"p_b", "p_a"})
	m.touch([]string{"p_a", "p_c"})
	if err := m.round(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c := r.take(); len(c) != 1 || !slices.Equal(c[0], []string{"p_a", "p_b", "p_c"}) {
		t.Fatalf("calls %v, want one Refresh of p_a p_b p_c", c)
	}
	ids := make([]string, refreshChunk+1)
	for i := range ids {
		ids[i] = string(rune('a'+i%26)) + time.Duration(i).String()
	}
	m.touch(ids)
	if err := m.round(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c := r.take(); len(c) != 2 || len(c[0]) != refreshChunk || len(c[1]) != 1 {
		t.Fatalf("%d calls, want two chunks of %d and 1", len(c), refreshChunk)
	}
	// A failure queues them again.
	r.fail = true
	m.touch([]string{"p_x"})
	if err := m.round(ctx, false); err == nil {
		t.Fatal("a failed round reported no error")
	}
	r.fail = false
	r.take()
	if err := m.close(ctx); err != nil {
		t.Fatal(err)
	}
	if c := r.take(); len(c) != 1 || !slices.Equal(c[0], []string{"p_x"}) {
		t.Fatalf("after a failure, close evaluated %v, want p_x again", c)
	}
	// Overflow: the next round is a full one.
	big := make([]string, maxDirty+1)
	for i := range big {
		big[i] = time.Duration(i).String()
	}
	m.touch(big)
	if err := m.round(ctx, false); err != nil {
		t.Fatal(err)
	}
	if c := r.take(); len(c) != 1 || c[0] != nil {
		t.Fatalf("after an overflow: %d calls, want one RefreshAll", len(c))
	}
}

// The loop wakes on touch, and on its tick evaluates the audiences time
// changes; refreshAll makes the next round a full one.
func TestMembershipLoop(t *testing.T) {
	r := &recorder{saw: make(chan struct{}, 100)}
	m := newMemberships(r, 50*time.Millisecond, 0, zerolog.Nop())
	m.start()
	m.touch([]string{"p_a"})
	deadline := time.After(10 * time.Second)
	sawOne, sawAll, sawDue := false, false, false
	asked := false
	for !sawOne || !sawAll || !sawDue {
		if sawOne && !asked {
			m.refreshAll() // it clears the queue: asked once p_a was seen
			asked = true
		}
		select {
		case <-r.saw:
		case <-deadline:
			t.Fatalf("after 10 s: touched profile evaluated %v, full round %v, due round %v", sawOne, sawAll, sawDue)
		}
		for _, c := range r.take() {
			switch {
			case c == nil:
				sawAll = true
			case len(c) == 0:
				sawDue = true
			case slices.Equal(c, []string{"p_a"}):
				sawOne = true
			}
		}
	}
	if err := m.close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// A failed round is retried by itself after retryAfter, with no touch and
// no tick (refresh every 0: no tick at all): a full round asked for while
// the store was down runs once it is back.
func TestMembershipRetriesAFailedRound(t *testing.T) {
	r := &recorder{saw: make(chan struct{}, 100), fail: true}
	m := newMemberships(r, 0, 0, zerolog.Nop())
	m.start()
	defer m.close(context.Background())
	m.refreshAll()
	deadline := time.After(30 * time.Second)
	fulls := 0
	for fulls < 2 {
		select {
		case <-r.saw:
		case <-deadline:
			t.Fatalf("after 30 s, %d full rounds; want the failed one and its retry", fulls)
		}
		for _, c := range r.take() {
			if c == nil {
				fulls++
				r.mu.Lock()
				r.fail = false // the store is back after the first failure
				r.mu.Unlock()
			}
		}
	}
	m.mu.Lock()
	pending := m.all
	m.mu.Unlock()
	if pending {
		t.Fatal("the full round is still pending after its retry succeeded")
	}
}

// gated is a refresher whose Refresh waits for a value on gate, and
// reports each call it finished on ran.
type gated struct {
	gate chan error
	ran  chan []string
}

func (g *gated) Refresh(_ context.Context, ids []string) error {
	err := <-g.gate
	if err == nil {
		g.ran <- slices.Clone(ids)
	}
	return err
}
func (g *gated) RefreshAll(ctx context.Context) error { return g.Refresh(ctx, nil) }
func (g *gated) RefreshDue(context.Context) error     { return nil }

// settle returns once what was queued before it has been evaluated, not
// before; it gives up (false) when the rounds fail, and returns at once
// when nothing was ever queued.
func TestMembershipSettle(t *testing.T) {
	ctx := context.Background()
	g := &gated{gate: make(chan error), ran: make(chan []string, 10)}
	m := newMemberships(g, 0, 0, zerolog.Nop())
	if !m.settle(ctx, time.Hour) {
		t.Fatal("settle with nothing queued reported the queue behind")
	}
	m.start()
	defer func() {
		close(g.gate) // every later Refresh succeeds
		if err := m.close(ctx); err != nil {
			t.Error(err)
		}
	}()
	m.touch([]string{"p_a"})
	settled := make(chan bool, 1)
	go func() { settled <- m.settle(ctx, time.Hour) }()
	select {
	case <-settled:
		t.Fatal("settle returned before the queued profile was evaluated")
	case <-time.After(100 * time.Millisecond):
	}
	// A failed round does not settle it either.
	g.gate <- errors.New("store down")
	select {
	case <-settled:
		t.Fatal("settle returned after a failed round")
	case <-time.After(100 * time.Millisecond):
	}
	// The retry succeeds.
	g.gate <- nil
	if ids := <-g.ran; !slices.Equal(ids, []string{"p_a"}) {
		t.Fatalf("evaluated %v, want p_a", ids)
	}
	if ok := <-settled; !ok {
		t.Fatal("settle reported the queue behind after it was evaluated")
	}
	// A queue that cannot be evaluated: settle gives up after its wait.
	m.touch([]string{"p_b"})
	if m.settle(ctx, 50*time.Millisecond) {
		t.Fatal("settle reported p_b evaluated while its round was still held")
	}
}

// A round starts at least gap after the previous one ended, so that the
// profiles touched meanwhile are evaluated in one round; the first round
// after a quiet gap starts at once, and a settle call cuts the wait short.
func TestMembershipGap(t *testing.T) {
	ctx := context.Background()
	r := &recorder{saw: make(chan struct{}, 100)}
	m := newMemberships(r, 0, time.Hour, zerolog.Nop())
	m.start()
	defer func() {
		if err := m.close(ctx); err != nil {
			t.Error(err)
		}
	}()
	m.touch([]string{"p_a"})
	select {
	case <-r.saw:
	case <-time.After(10 * time.Second): // a liveness bound
		t.Fatal("the first round waited for the gap")
	}
	m.touch([]string{"p_b"})
	// A loop that did not wait would evaluate p_b alone meanwhile.
	time.Sleep(50 * time.Millisecond)
	m.touch([]string{"p_c"})
	if !m.settle(ctx, 10*time.Second) {
		t.Fatal("settle did not cut the wait for the gap short")
	}
	if got, want := r.take(), [][]string{{"p_a"}, {"p_b", "p_c"}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("rounds %v, want %v", got, want)
	}
}

// Rounds wait on the embedded store, whose one writer the keeper takes
// from ingestion, and not on Neo4j, whose keeper writes beside it.
func TestRoundGapFor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st, ok := s.(audience.Store)
		if !ok {
			t.Fatalf("%T keeps no audiences", s)
		}
		want := map[string]time.Duration{"embedded": time.Second, "neo4j": 0}
		name := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		w, known := want[name]
		if !known {
			t.Fatalf("no expected gap for the store %q", name)
		}
		if got := roundGapFor(st); got != w {
			t.Fatalf("gap %v on %s, want %v", got, name, w)
		}
	})
}

// A pass over every profile logs a line each 10,000 profiles, and a new
// pass counts from the start again.
func TestPassProgress(t *testing.T) {
	var buf strings.Builder
	p := passProgress(zerolog.New(&buf))
	for _, done := range []int{500, 9_500, 10_000, 10_500, 19_999, 25_000, 500, 10_000} {
		p(done)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		got = append(got, line)
	}
	want := []string{
		`{"level":"info","profiles":10000,"message":"audiences: evaluating every profile"}`,
		`{"level":"info","profiles":25000,"message":"audiences: evaluating every profile"}`,
		`{"level":"info","profiles":10000,"message":"audiences: evaluating every profile"}`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
