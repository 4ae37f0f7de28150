package destination_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// heldAudit is an audit log whose first append waits until release is
// closed, saying on entered that it began: it holds a worker between the
// batch it built and the POST.
type heldAudit struct {
	access.Store
	entered, release chan struct{}
	once             atomic.Bool
}

func (a *heldAudit) AppendAudit(ctx context.Context, es []access.AuditEntry) error {
	if a.once.CompareAndSwap(false, true) {
		close(a.entered)
		<-a.release
	}
	return a.Store.AppendAudit(ctx, es)
}

// watchedLeases is a destination store that counts, once watch is set, the
// calls that take a lease or record an attempt.
type watchedLeases struct {
	store
	watch atomic.Bool
	calls atomic.Int64
}

func (w *watchedLeases) AcquireLease(ctx context.Context, id, holder string, now time.Time, ttl time.Duration) (destination.Lease, bool, error) {
	if w.watch.Load() {
		w.calls.Add(1)
	}
	return w.store.AcquireLease(ctx, id, holder, now, ttl)
}

func (w *watchedLeases) RecordAttempt(ctx context.Context, id, holder string, number uint64, o destination.Outcome) error {
	if w.watch.Load() {
		w.calls.Add(1)
	}
	return w.store.RecordAttempt(ctx, id, holder, number, o)
}

// A worker held up between building a batch and sending it, past the end
// of its lease, sends nothing once it goes on: another process took the
// destination over meanwhile and delivered that batch and the next, and a
// POST of the older batch after them would break the feed's order at the
// receiver. On both stores. (The stale holder sent it, and learnt of its
// lost lease only when it recorded the outcome.)
func TestStaleLeaseHolderSendsNothing(t *testing.T) {
	staleLeaseHolder(t, false)
}

// As above, but the other process stops (and so gives the lease up) after
// delivering batch 2, before the stale holder goes on: the lease is free
// to take again, and the stale holder, which takes it, still sends nothing
// of batch 1, which is no longer in flight. On both stores. (It took the
// free lease and sent batch 1 after batch 2.)
func TestStaleLeaseHolderSendsNothingAfterTheLeaseIsFreed(t *testing.T) {
	staleLeaseHolder(t, true)
}

// staleLeaseHolder runs the two tests above: a worker held in its attempt
// past its 1 s lease, another that delivers batches 1 and 2 meanwhile (and
// then stops, when otherStops), and the receiver's requests checked by
// hand once the held worker goes on.
func staleLeaseHolder(t *testing.T, otherStops bool) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 200 })
		d := create(t, s, rcv.srv.URL, func(d *destination.Destination) { d.BatchSize, d.IncludePII = 1, true })
		profiles := destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules()), Audiences: s}

		audit := &heldAudit{Store: gs.(access.Store), entered: make(chan struct{}), release: make(chan struct{})}
		released := false
		defer func() {
			if !released {
				close(audit.release)
			}
		}()
		ws := &watchedLeases{store: s}
		stale := destination.NewWorker(destination.WorkerConfig{Store: ws, Feed: s, AllowPrivate: true, Logger: zerolog.Nop(),
			Audit: audit, Profiles: profiles, Poll: 20 * time.Millisecond, LeaseTTL: time.Second, Holder: "stale"})
		stale.Start()
		t.Cleanup(func() { _ = stale.Close(context.Background()) })
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "ann", "ann@example.com")})
		storetest.Must(t, err)
		select {
		case <-audit.entered:
		case <-time.After(60 * time.Second):
			t.Fatal("the first worker did not reach its attempt")
		}

		// Another process takes the destination over once the stale
		// holder's lease (1 s) ends, delivers batch 1, then batch 2.
		other := destination.NewWorker(destination.WorkerConfig{Store: s, Feed: s, AllowPrivate: true, Logger: zerolog.Nop(),
			Audit: gs.(access.Store), Profiles: profiles, Poll: 20 * time.Millisecond, LeaseTTL: time.Second, Holder: "other"})
		other.Start()
		if !otherStops {
			t.Cleanup(func() { _ = other.Close(context.Background()) })
		}
		waitFor(t, "batch 1 delivered by the other worker", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
		_, err = e.ApplyBatch(ctx, []graph.Event{event("m2", "bob", "bob@example.com")})
		storetest.Must(t, err)
		waitFor(t, "batch 2 delivered", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 2 })
		// The stale holder goes on, up to its next lease or attempt call
		// (which follows any POST it makes); when the other stopped, it
		// first takes the free lease (one call more).
		calls := int64(0)
		if otherStops {
			storetest.Must(t, other.Close(ctx)) // gives its lease up
			calls = 1
		}
		ws.watch.Store(true)
		close(audit.release)
		released = true
		waitFor(t, "the stale worker to go on", func() bool { return ws.calls.Load() > calls })

		// By hand: the receiver got m1 then m2, each once, in that order.
		var got []string
		for _, r := range rcv.requests() {
			for _, en := range decode(t, r.body).Entries {
				got = append(got, en.EventID)
			}
		}
		if fmt.Sprint(got) != "[web/m1 web/m2]" {
			t.Fatalf("the receiver got %v, want [web/m1 web/m2]", got)
		}
	})
}
