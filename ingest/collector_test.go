package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

func event(id, user string) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: "e", Source: "test", Channel: "server",
		Identifiers: []graph.IdentifierRef{{Type: graph.TypeUserID, Value: user}}}
}

func stored(t *testing.T, eng *graph.Engine, ids ...string) map[string]graph.Event {
	t.Helper()
	evs, err := eng.Events(context.Background(), ids)
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	return evs
}

// TestGroupCommitSharesTransactions: requests queued while the store is
// busy are committed together, and each caller gets its own results.
func TestGroupCommitSharesTransactions(t *testing.T) {
	s := storetest.Embedded(t)
	h := newHarness(t, s, ingest.Config{MaxWait: time.Millisecond})
	release := blockStore(t, s)
	defer release()

	const n = 10
	var wg sync.WaitGroup
	results := make([][]graph.EventResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := []graph.Event{event(fmt.Sprintf("g-%d", i), fmt.Sprintf("user-%d", i))}
			if i == 3 {
				evs = append(evs, graph.Event{ID: "g-bad", Type: "track", Identifiers: []graph.IdentifierRef{{Type: "user_id", Value: "undefined"}}})
			}
			results[i], errs[i] = h.coll.Submit(context.Background(), evs)
		}()
	}
	waitFor(t, "all events queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == n+1 })
	release()
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if results[i][0].ID != fmt.Sprintf("g-%d", i) || results[i][0].Status != graph.StatusStored {
			t.Errorf("request %d got %+v", i, results[i])
		}
	}
	if r := results[3][1]; r.Status != graph.StatusRejected || r.Reason == "" {
		t.Errorf("unusable event: %+v", r)
	}
	if commits := h.metric(t, "cdp_ingest_batch_size"); commits >= n {
		t.Errorf("%v commits for %d requests: queued requests must share transactions", commits, n)
	}
	if d := h.metric(t, "cdp_ingest_queue_depth"); d != 0 {
		t.Errorf("queue depth %v after everything committed", d)
	}
}

// TestMicroBatchSplit: one request larger than MaxBatch spans several
// transactions, and its results stay in order.
func TestMicroBatchSplit(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{MaxBatch: 3})
	var evs []graph.Event
	for i := range 7 {
		evs = append(evs, event(fmt.Sprintf("s-%d", i), fmt.Sprintf("u-%d", i%2)))
	}
	res, err := h.coll.Submit(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.ID != evs[i].ID || r.Status != graph.StatusStored {
			t.Errorf("result %d = %+v", i, r)
		}
	}
	if commits := h.metric(t, "cdp_ingest_batch_size"); commits != 3 {
		t.Errorf("%v commits, want 3 (3+3+1)", commits)
	}
}

// TestQueueFullAnswers429: with the queue full, callers are refused at once
// with Retry-After instead of waiting without bound.
func TestQueueFullAnswers429(t *testing.T) {
	s := storetest.Embedded(t)
	h := newHarness(t, s, ingest.Config{QueueSize: 2, RetryAfter: 3 * time.Second})
	release := blockStore(t, s)
	defer release()

	first := make(chan error, 1)
	go func() {
		_, err := h.coll.Submit(context.Background(), []graph.Event{event("q-1", "u-1"), event("q-2", "u-2")})
		first <- err
	}()
	waitFor(t, "the first request queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == 2 })

	if _, err := h.coll.Submit(context.Background(), []graph.Event{event("q-3", "u-3")}); !errors.Is(err, ingest.ErrOverloaded) {
		t.Fatalf("Submit on a full queue: %v, want ErrOverloaded", err)
	}
	r := h.sdkPost(t, "/v1/track", "wk-node", map[string]any{"userId": "u-4", "event": "e", "messageId": "q-4"})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "3" || r.body.Success {
		t.Fatalf("HTTP on a full queue: %d Retry-After=%q %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	release()
	if err := <-first; err != nil {
		t.Fatalf("queued request: %v", err)
	}
	got := stored(t, h.eng, "q-1", "q-2", "q-3", "node/q-4")
	if len(got) != 2 || got["q-3"].ID != "" || got["node/q-4"].ID != "" {
		t.Fatalf("stored %v: want exactly the accepted q-1 and q-2", got)
	}
}

// TestCancelledRequestStillCommits: a caller that gives up after its events
// were queued loses nothing, and a retry does not apply them twice.
func TestCancelledRequestStillCommits(t *testing.T) {
	s := storetest.Embedded(t)
	h := newHarness(t, s, ingest.Config{})
	release := blockStore(t, s)
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.coll.Submit(ctx, []graph.Event{event("c-1", "u-1")})
		done <- err
	}()
	waitFor(t, "the request queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Submit: %v", err)
	}
	release()
	res, err := h.coll.Submit(context.Background(), []graph.Event{event("c-1", "u-1")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != graph.StatusDuplicate {
		t.Fatalf("retry after cancel: %+v; the cancelled request must have committed", res[0])
	}
	if got := stored(t, h.eng, "c-1"); len(got) != 1 {
		t.Fatal("cancelled request lost")
	}
}

// TestCloseFlushesQueue: Close commits everything queued before returning,
// and afterwards requests get 503 with Retry-After.
func TestCloseFlushesQueue(t *testing.T) {
	s := storetest.Embedded(t)
	h := newHarness(t, s, ingest.Config{})
	release := blockStore(t, s)
	defer release()

	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := h.coll.Submit(context.Background(), []graph.Event{event(fmt.Sprintf("f-%d", i), "u")})
			errs <- err
		}()
	}
	waitFor(t, "three requests queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == 3 })
	closed := make(chan error, 1)
	go func() { closed <- h.coll.Close(context.Background()) }()
	// Close has stopped intake once Submit says so. The probe's context is
	// already cancelled, so before Close it is refused without queuing.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	waitFor(t, "intake stopped", func() bool {
		_, err := h.coll.Submit(gone, []graph.Event{event("late", "u")})
		return errors.Is(err, ingest.ErrClosed)
	})
	r := h.sdkPost(t, "/v1/track", "wk-node", map[string]any{"userId": "u", "event": "e"})
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("after Close: %d %s", r.status, r.raw)
	}
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("queued request during Close: %v", err)
		}
	}
	if got := stored(t, h.eng, "f-0", "f-1", "f-2", "late"); len(got) != 3 {
		t.Fatalf("after Close the store holds %d of the 3 queued events (and no late one)", len(got))
	}
}

// TestStoreStoppedMidLoad: concurrent clients send while the store is
// closed under them. Every message answered 2xx is in the store afterwards;
// every other answer is 503 or 429.
func TestStoreStoppedMidLoad(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, s, ingest.Config{QueueSize: 40, MaxBatch: 16})

	const clients, perClient, perBatch = 6, 30, 4
	type sent struct {
		status int
		ids    []string
	}
	var mu sync.Mutex
	var log []sent
	oks := 0
	stop := sync.OnceFunc(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				var batch []any
				var ids []string
				for j := range perBatch {
					id := fmt.Sprintf("load-%d-%d-%d", c, i, j)
					ids = append(ids, ingest.EventID("node", id))
					batch = append(batch, map[string]any{"type": "track", "event": "e", "messageId": id,
						"userId": fmt.Sprintf("user-%d-%d", c, j)})
				}
				r := h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{"batch": batch, "sentAt": iso(time.Now())})
				mu.Lock()
				log = append(log, sent{r.status, ids})
				if r.status == http.StatusOK {
					oks++
				}
				halfway := oks == clients*perClient/4
				mu.Unlock()
				if halfway {
					go stop() // the store goes away while requests are in flight
				}
			}
		}()
	}
	wg.Wait()
	stop()

	s2, err := embedded.Open(dir)
	if err != nil {
		t.Fatalf("reopen store: %v", err)
	}
	defer s2.Close(context.Background())
	eng := graph.NewEngine(s2, nil)
	var acked []string
	refused := 0
	for _, l := range log {
		switch l.status {
		case http.StatusOK:
			acked = append(acked, l.ids...)
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			refused++
		default:
			t.Errorf("status %d: only 200, 503 and 429 are acceptable", l.status)
		}
	}
	if refused == 0 || len(acked) == 0 {
		t.Fatalf("%d acknowledged, %d refused: the test must see both sides of the outage", len(acked), refused)
	}
	got := stored(t, eng, acked...)
	for _, id := range acked {
		if _, ok := got[id]; !ok {
			t.Errorf("message %s was answered 200 but is not in the store", id)
		}
	}
	t.Logf("%d messages acknowledged and stored, %d requests refused", len(acked), refused)
}

func TestSubmitErrorsCarryRetryCode(t *testing.T) {
	for _, err := range []error{ingest.ErrOverloaded, ingest.ErrClosed} {
		if graph.ErrorCode(err) != graph.EUNAVAILABLE || graph.ErrorMessage(err) == "internal error" {
			t.Errorf("%v: code %q, message %q", err, graph.ErrorCode(err), graph.ErrorMessage(err))
		}
	}
	if errors.Is(ingest.ErrOverloaded, ingest.ErrClosed) {
		t.Error("ErrOverloaded and ErrClosed must be distinguishable")
	}
}

// TestCloseGivesUp: when the store hangs, Close returns when its context
// ends, and the waiting callers are answered once the store moves again,
// without a 2xx for what was not committed.
func TestCloseGivesUp(t *testing.T) {
	s := storetest.Embedded(t)
	h := newHarness(t, s, ingest.Config{})
	release := blockStore(t, s)
	defer release()
	done := make(chan error, 1)
	go func() {
		_, err := h.coll.Submit(context.Background(), []graph.Event{event("hung-1", "u")})
		done <- err
	}()
	waitFor(t, "the request queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.coll.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with an ended context: %v", err)
	}
	release()
	if err := <-done; !errors.Is(err, ingest.ErrClosed) {
		t.Fatalf("caller of a commit abandoned by Close: %v, want ErrClosed", err)
	}
	if got := stored(t, h.eng, "hung-1"); len(got) != 0 {
		t.Fatal("an abandoned commit was stored after its caller was told it failed")
	}
}

// TestParallelCommitters: with several committers, concurrent callers
// sending overlapping identifiers all get their own results, every event is
// stored once, and the partition stays valid, on both stores.
func TestParallelCommitters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		eng := graph.NewEngine(s, nil)
		coll := ingest.New(eng, ingest.Config{Committers: 3, MaxBatch: 20, MaxWait: time.Millisecond})
		const clients, requests, per = 6, 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		var ids []string
		for c := range clients {
			for r := range requests {
				for i := range per {
					ids = append(ids, fmt.Sprintf("pc-%d-%d-%d", c, r, i))
				}
			}
		}
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range requests {
					var evs []graph.Event
					for i := range per {
						ev := event(fmt.Sprintf("pc-%d-%d-%d", c, r, i), fmt.Sprintf("u%d", (c+i)%5))
						ev.Identifiers = append(ev.Identifiers, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: fmt.Sprintf("a%d", (c*r+i)%7)})
						evs = append(evs, ev)
					}
					res, err := coll.Submit(context.Background(), evs)
					if err != nil {
						errs <- err
						return
					}
					for i, x := range res {
						if x.ID != evs[i].ID || x.Status != graph.StatusStored {
							errs <- fmt.Errorf("result %d = %+v for %s", i, x, evs[i].ID)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if err := coll.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := stored(t, eng, ids...); len(got) != len(ids) {
			t.Fatalf("%d of %d events stored", len(got), len(ids))
		}
		var keys []string
		for i := range 7 {
			keys = append(keys, fmt.Sprintf("anonymous_id:a%d", i))
		}
		for i := range 5 {
			keys = append(keys, fmt.Sprintf("user_id:u%d", i))
		}
		if err := graphtest.CheckInvariants(context.Background(), eng, keys); err != nil {
			t.Fatal(err)
		}
	})
}
