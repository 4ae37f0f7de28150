package ingest_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

var tHook = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// hookRecorder makes events hooks that append one audit entry each,
// through the transaction, naming the profiles of the call's results, and
// remembers the results each hook saw on its last run.
type hookRecorder struct {
	mu  sync.Mutex
	saw map[string][]graph.EventResult
}

type reqKey struct{}

// hook returns the hook of the call whose audit entry is id; fail, when
// not nil, is returned after the entry was appended.
func (h *hookRecorder) hook(id string, fail error) graph.EventsHook {
	return func(ctx context.Context, tx graph.Tx, rs []graph.EventResult) error {
		h.mu.Lock()
		if h.saw == nil {
			h.saw = map[string][]graph.EventResult{}
		}
		h.saw[id] = append([]graph.EventResult{}, rs...)
		h.mu.Unlock()
		e := access.AuditEntry{ID: id, At: tHook, Action: "ingest", Outcome: access.OutcomeOK}
		// The hook sees the values of the Submit call's context.
		e.RequestID, _ = ctx.Value(reqKey{}).(string)
		var pids []string
		for _, r := range rs {
			pids = append(pids, r.ProfileID)
		}
		e.SetProfiles(pids)
		if err := access.AppendInTx(ctx, tx, []access.AuditEntry{e}); err != nil {
			return err
		}
		return fail
	}
}

func (h *hookRecorder) results(id string) []graph.EventResult {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.saw[id]
}

// submitCtx is a Submit context carrying hook and a request id.
func submitCtx(reqID string, hook graph.EventsHook) context.Context {
	return graph.WithEventsHook(context.WithValue(context.Background(), reqKey{}, reqID), hook)
}

// pidOf is the id of the profile a new user_id seeds: derived from its key.
func pidOf(user string) string { return graph.ProfileIDFor(graph.TypeUserID+":"+user, 0) }

// unusable is an event with no usable identifier.
func unusable(id string) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: "e", Source: "test",
		Identifiers: []graph.IdentifierRef{{Type: graph.TypeUserID, Value: "undefined"}}}
}

// sameResults compares results by id, status and profile; a rejected
// result must give a reason, whatever its words.
func sameResults(t *testing.T, what string, got, want []graph.EventResult) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d results %+v, want %+v", what, len(got), got, want)
		return
	}
	for i := range want {
		g := got[i]
		if g.ID != want[i].ID || g.Status != want[i].Status || g.ProfileID != want[i].ProfileID ||
			(g.Status == graph.StatusRejected) != (g.Reason != "") {
			t.Errorf("%s: result %d = %+v, want %+v", what, i, g, want[i])
		}
	}
}

// wantAudit checks the stored audit log, newest first, by id, request id
// and profiles.
func wantAudit(t *testing.T, s graph.Store, want ...access.AuditEntry) {
	t.Helper()
	as, ok := s.(access.Store)
	if !ok {
		t.Fatalf("%T is not an access.Store", s)
	}
	got, err := as.Audit(context.Background(), access.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	type brief struct {
		ID, RequestID string
		ProfileIDs    []string
		ProfileCount  int
	}
	var g, w []brief
	for _, e := range got {
		if len(e.ProfileIDs) == 0 {
			e.ProfileIDs = nil
		}
		g = append(g, brief{e.ID, e.RequestID, e.ProfileIDs, e.ProfileCount})
	}
	for _, e := range want {
		w = append(w, brief{e.ID, e.RequestID, e.ProfileIDs, e.ProfileCount})
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("audit log = %+v, want %+v", g, w)
	}
}

// TestSubmitHookCommitsWithEvents: the hook of a Submit call runs in the
// transaction that stores its events, sees its results in order (the
// rejected one too) and its context's values, and what it appends commits
// with the events.
func TestSubmitHookCommitsWithEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		var rec hookRecorder
		res, err := h.coll.Submit(submitCtx("req-1", rec.hook("aud_one", nil)),
			[]graph.Event{event("h-1", "alice"), unusable("h-2"), event("h-3", "bob")})
		if err != nil {
			t.Fatal(err)
		}
		want := []graph.EventResult{
			{ID: "h-1", Status: graph.StatusStored, ProfileID: pidOf("alice")},
			{ID: "h-2", Status: graph.StatusRejected},
			{ID: "h-3", Status: graph.StatusStored, ProfileID: pidOf("bob")},
		}
		sameResults(t, "Submit", res, want)
		sameResults(t, "hook", rec.results("aud_one"), want)
		if got := stored(t, h.eng, "h-1", "h-3"); len(got) != 2 {
			t.Errorf("stored %d of the 2 usable events", len(got))
		}
		wantAudit(t, s, access.AuditEntry{ID: "aud_one", RequestID: "req-1", ProfileIDs: sortedIDs(pidOf("alice"), pidOf("bob")), ProfileCount: 2})
	})
}

// TestSubmitHookFailureRollsBack: a hook that fails after appending
// rolls the whole transaction back: neither the events nor the entry is
// stored, and Submit returns the hook's error.
func TestSubmitHookFailureRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		var rec hookRecorder
		errHook := errors.New("refused after the checks")
		evs := []graph.Event{event("f-1", "alice"), event("f-2", "bob")}
		if _, err := h.coll.Submit(submitCtx("req-f", rec.hook("aud_fail", errHook)), evs); !errors.Is(err, errHook) {
			t.Fatalf("Submit with a failing hook = %v, want %v", err, errHook)
		}
		if got := stored(t, h.eng, "f-1", "f-2"); len(got) != 0 {
			t.Errorf("events of the rolled-back call are stored: %v", got)
		}
		wantAudit(t, s)
		// Nothing was claimed either: the same events are new afterwards.
		res, err := h.coll.Submit(context.Background(), evs)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, "resubmitted", res, []graph.EventResult{
			{ID: "f-1", Status: graph.StatusStored, ProfileID: pidOf("alice")},
			{ID: "f-2", Status: graph.StatusStored, ProfileID: pidOf("bob")},
		})
	})
}

// groupOfThree submits, in this order, call A (hook hookA), call C (no
// hook) and call B (hook hookB) to a collector whose micro-batch holds
// exactly their 5 events and waits for them as long as it takes, so all
// three share one micro-batch. It returns each call's results and error.
func groupOfThree(t *testing.T, h *harness, hookA, hookB graph.EventsHook) (a, b, c []graph.EventResult, errA, errB, errC error) {
	t.Helper()
	var wg sync.WaitGroup
	submit := func(ctx context.Context, evs []graph.Event, res *[]graph.EventResult, err *error, depth float64) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			*res, *err = h.coll.Submit(ctx, evs)
		}()
		if depth > 0 {
			waitFor(t, "the call queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == depth })
		}
	}
	submit(submitCtx("req-a", hookA), []graph.Event{event("a-1", "alice"), unusable("a-2")}, &a, &errA, 2)
	submit(context.Background(), []graph.Event{event("c-1", "dave")}, &c, &errC, 3)
	submit(submitCtx("req-b", hookB), []graph.Event{event("b-1", "bob"), event("a-1", "alice")}, &b, &errB, 0)
	wg.Wait()
	return
}

// groupConfig makes a micro-batch of exactly groupOfThree's 5 events: it
// waits for them far longer than any test takes.
var groupConfig = ingest.Config{MaxBatch: 5, MaxWait: time.Hour}

// TestGroupCommitHooksGetOwnResults: calls group-committed in one
// micro-batch each have their hook run with exactly their own results.
func TestGroupCommitHooksGetOwnResults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, groupConfig)
		var rec hookRecorder
		a, b, c, errA, errB, errC := groupOfThree(t, h, rec.hook("aud_A", nil), rec.hook("aud_B", nil))
		for _, err := range []error{errA, errB, errC} {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n := h.metric(t, "cdp_ingest_batch_size"); n != 1 {
			t.Fatalf("%v micro-batches, want the three calls in one", n)
		}
		wantA := []graph.EventResult{
			{ID: "a-1", Status: graph.StatusStored, ProfileID: pidOf("alice")},
			{ID: "a-2", Status: graph.StatusRejected},
		}
		// B repeats A's a-1, which came earlier in the micro-batch.
		wantB := []graph.EventResult{
			{ID: "b-1", Status: graph.StatusStored, ProfileID: pidOf("bob")},
			{ID: "a-1", Status: graph.StatusDuplicate},
		}
		sameResults(t, "Submit A", a, wantA)
		sameResults(t, "hook A", rec.results("aud_A"), wantA)
		sameResults(t, "Submit B", b, wantB)
		sameResults(t, "hook B", rec.results("aud_B"), wantB)
		sameResults(t, "Submit C", c, []graph.EventResult{{ID: "c-1", Status: graph.StatusStored, ProfileID: pidOf("dave")}})
		wantAudit(t, s,
			access.AuditEntry{ID: "aud_B", RequestID: "req-b", ProfileIDs: []string{pidOf("bob")}, ProfileCount: 1},
			access.AuditEntry{ID: "aud_A", RequestID: "req-a", ProfileIDs: []string{pidOf("alice")}, ProfileCount: 1})
	})
}

// TestGroupCommitHookFailureCommitsOthers: when one call's hook fails, the
// micro-batch rolls back; that call gets the error and stores nothing, and
// the other calls are committed again without it.
func TestGroupCommitHookFailureCommitsOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, groupConfig)
		var rec hookRecorder
		errHook := errors.New("refused after the checks")
		_, b, c, errA, errB, errC := groupOfThree(t, h, rec.hook("aud_A", errHook), rec.hook("aud_B", nil))
		if !errors.Is(errA, errHook) {
			t.Fatalf("call A = %v, want its hook's error", errA)
		}
		if errB != nil || errC != nil {
			t.Fatalf("calls B and C failed with A's hook: %v, %v", errB, errC)
		}
		if n := h.metric(t, "cdp_ingest_batch_size"); n != 2 {
			t.Errorf("%v commits, want 2: the micro-batch, then again without A", n)
		}
		// Without A, B's a-1 is the first of its id.
		wantB := []graph.EventResult{
			{ID: "b-1", Status: graph.StatusStored, ProfileID: pidOf("bob")},
			{ID: "a-1", Status: graph.StatusStored, ProfileID: pidOf("alice")},
		}
		sameResults(t, "Submit B", b, wantB)
		sameResults(t, "hook B", rec.results("aud_B"), wantB)
		sameResults(t, "Submit C", c, []graph.EventResult{{ID: "c-1", Status: graph.StatusStored, ProfileID: pidOf("dave")}})
		wantAudit(t, s, access.AuditEntry{ID: "aud_B", RequestID: "req-b", ProfileIDs: sortedIDs(pidOf("alice"), pidOf("bob")), ProfileCount: 2})
	})
}

// TestHookedCallIsNotSplit: a call with a hook larger than MaxBatch goes
// whole into one micro-batch, so its hook sees all its results at once.
func TestHookedCallIsNotSplit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{MaxBatch: 2})
		var rec hookRecorder
		users := []string{"u-1", "u-2", "u-3", "u-4", "u-5"}
		var evs []graph.Event
		var want []graph.EventResult
		for i, u := range users {
			id := "n-" + users[i][2:]
			evs = append(evs, event(id, u))
			want = append(want, graph.EventResult{ID: id, Status: graph.StatusStored, ProfileID: pidOf(u)})
		}
		res, err := h.coll.Submit(submitCtx("req-n", rec.hook("aud_whole", nil)), evs)
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, "Submit", res, want)
		sameResults(t, "hook", rec.results("aud_whole"), want)
		if n := h.metric(t, "cdp_ingest_batch_size"); n != 1 {
			t.Errorf("%v micro-batches for one call with a hook, want 1", n)
		}
		wantAudit(t, s, access.AuditEntry{ID: "aud_whole", RequestID: "req-n",
			ProfileIDs: sortedIDs(pidOf("u-1"), pidOf("u-2"), pidOf("u-3"), pidOf("u-4"), pidOf("u-5")), ProfileCount: 5})
	})
}

// TestHookWithoutEvents: a call with a hook and no events still runs its
// hook, in a transaction of its own.
func TestHookWithoutEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		var rec hookRecorder
		res, err := h.coll.Submit(submitCtx("req-0", rec.hook("aud_empty", nil)), nil)
		if err != nil || len(res) != 0 {
			t.Fatalf("Submit of no events = %v, %v", res, err)
		}
		wantAudit(t, s, access.AuditEntry{ID: "aud_empty", RequestID: "req-0"})
	})
}

func sortedIDs(ids ...string) []string {
	return slices.Sorted(slices.Values(ids))
}

// TestDroppedValuesCountedOnceCommitted: a value dropped in normalization
// is counted when its call commits, once: not for a call whose hook
// failed (it stored nothing and its client sends it again), and not again
// when the other calls of its micro-batch are committed without that one.
func TestDroppedValuesCountedOnceCommitted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{MaxBatch: 3, MaxWait: time.Hour})
		var rec hookRecorder
		junk := func(id, user string) graph.Event {
			ev := event(id, user)
			ev.Identifiers = append(ev.Identifiers, graph.IdentifierRef{Type: graph.TypeEmail, Value: "undefined"})
			return ev
		}
		var wg sync.WaitGroup
		var errA, errC error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errA = h.coll.Submit(submitCtx("req-a", rec.hook("aud_A", errors.New("refused"))), []graph.Event{junk("a-1", "alice")})
		}()
		waitFor(t, "the call queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == 1 })
		go func() {
			defer wg.Done()
			_, errC = h.coll.Submit(context.Background(), []graph.Event{junk("c-1", "carol"), event("c-2", "dave")})
		}()
		wg.Wait()
		if errA == nil || errC != nil {
			t.Fatalf("calls = %v, %v; want A's hook error, then C committed", errA, errC)
		}
		var n int64
		for _, c := range h.eng.Normalizer().Drops() {
			n += c
		}
		if n != 1 {
			t.Errorf("dropped values counted %d times (%v), want 1: c-1's, not a-1's", n, h.eng.Normalizer().Drops())
		}
	})
}
