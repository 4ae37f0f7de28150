package graph_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The events hook is exercised through access.AppendInTx because an audit
// entry is what it exists for and both stores' transactions accept one;
// graph itself does not import access.

var tHook = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func userEvent(id, user string) graph.Event {
	return viewedEvent(id, graph.IdentifierRef{Type: graph.TypeUserID, Value: user})
}

// viewedEvent is a "Viewed" track from the web at tHook carrying refs.
func viewedEvent(id string, refs ...graph.IdentifierRef) graph.Event {
	return graph.Event{ID: id, Type: "track", Name: "Viewed", Source: "web", Timestamp: tHook, Identifiers: refs}
}

// pidOf is the id of the profile a new user_id seeds: derived from its key.
func pidOf(user string) string { return graph.ProfileIDFor(graph.TypeUserID+":"+user, 0) }

// auditHook appends entry id naming the results' profiles, after checking
// that the batch's write is visible in tx (the hook runs after it), and
// records the results it saw into *saw; fail, when not nil, is returned
// after the entry is appended.
func auditHook(id string, saw *[]graph.EventResult, fail error) graph.EventsHook {
	return func(ctx context.Context, tx graph.Tx, rs []graph.EventResult) error {
		*saw = slices.Clone(rs)
		var pids, keys []string
		for _, r := range rs {
			if r.ProfileID != "" {
				pids = append(pids, r.ProfileID)
			}
		}
		for _, r := range rs {
			if r.Status == graph.StatusStored {
				keys = append(keys, graph.TypeUserID+":"+r.ID[len("ev-"):])
			}
		}
		idents, err := tx.Identifiers(ctx, keys)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if idents[k].ProfileID == "" {
				return errors.New("the hook ran before the batch's write: " + k + " has no profile")
			}
		}
		e := access.AuditEntry{ID: id, At: tHook, Action: "ingest", Outcome: access.OutcomeOK}
		e.SetProfiles(pids)
		if err := access.AppendInTx(ctx, tx, []access.AuditEntry{e}); err != nil {
			return err
		}
		return fail
	}
}

func auditIDs(t *testing.T, s graph.Store) map[string][]string {
	t.Helper()
	got, err := s.(access.Store).Audit(context.Background(), access.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, e := range got {
		out[e.ID] = append([]string{}, e.ProfileIDs...)
	}
	return out
}

func brief(rs []graph.EventResult) []graph.EventResult {
	out := make([]graph.EventResult, len(rs))
	for i, r := range rs {
		out[i] = graph.EventResult{ID: r.ID, Status: r.Status, ProfileID: r.ProfileID}
		if r.Reason != "" {
			out[i].Reason = "(a reason)"
		}
	}
	return out
}

// TestApplyBatchEventsHook: ApplyBatch runs the hook its context carries
// in the batch's transaction, after the write, with every result in order;
// what the hook appends commits with the batch, and its error rolls both
// back and is returned.
func TestApplyBatchEventsHook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, nil)
		e.Now = func() time.Time { return tHook }
		noIdent := graph.Event{ID: "ev-none", Type: "track", Source: "web"}

		// A failing hook: nothing of the batch nor of the hook is stored.
		errHook := errors.New("refused after the checks")
		var saw []graph.EventResult
		_, err := e.ApplyBatch(graph.WithEventsHook(ctx, auditHook("aud_fail", &saw, errHook)),
			[]graph.Event{userEvent("ev-alice", "alice"), userEvent("ev-bob", "bob")})
		if !errors.Is(err, errHook) {
			t.Fatalf("ApplyBatch with a failing hook = %v, want %v", err, errHook)
		}
		if evs, err := e.Events(ctx, []string{"ev-alice", "ev-bob"}); err != nil || len(evs) != 0 {
			t.Fatalf("events of the rolled-back batch: %v, %v", evs, err)
		}
		if _, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "alice"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Fatalf("alice's profile after the rollback: %v, want ENOTFOUND", err)
		}
		if got := auditIDs(t, s); len(got) != 0 {
			t.Fatalf("audit entries of a rolled-back batch: %v", got)
		}

		// The same batch, a rejected event in the middle, with a hook
		// that succeeds.
		res, err := e.ApplyBatch(graph.WithEventsHook(ctx, auditHook("aud_ok", &saw, nil)),
			[]graph.Event{userEvent("ev-alice", "alice"), noIdent, userEvent("ev-bob", "bob")})
		if err != nil {
			t.Fatal(err)
		}
		want := []graph.EventResult{
			{ID: "ev-alice", Status: graph.StatusStored, ProfileID: pidOf("alice")},
			{ID: "ev-none", Status: graph.StatusRejected, Reason: "(a reason)"},
			{ID: "ev-bob", Status: graph.StatusStored, ProfileID: pidOf("bob")},
		}
		if !reflect.DeepEqual(brief(res.Results), want) || !reflect.DeepEqual(brief(saw), want) {
			t.Fatalf("results = %+v, hook saw %+v, want %+v", res.Results, saw, want)
		}
		if res.Stored != 2 || res.Rejected != 1 {
			t.Errorf("counts: %+v", res)
		}
		wantLog := map[string][]string{"aud_ok": slices.Sorted(slices.Values([]string{pidOf("alice"), pidOf("bob")}))}
		if got := auditIDs(t, s); !reflect.DeepEqual(got, wantLog) {
			t.Fatalf("audit = %v, want %v", got, wantLog)
		}

		// A batch with nothing to store still runs its hook, in a
		// transaction of its own: duplicates and a rejection.
		saw = nil
		res, err = e.ApplyBatch(graph.WithEventsHook(ctx, auditHook("aud_nothing", &saw, nil)),
			[]graph.Event{userEvent("ev-alice", "alice"), noIdent})
		if err != nil {
			t.Fatal(err)
		}
		want = []graph.EventResult{
			{ID: "ev-alice", Status: graph.StatusDuplicate},
			{ID: "ev-none", Status: graph.StatusRejected, Reason: "(a reason)"},
		}
		if !reflect.DeepEqual(brief(res.Results), want) || !reflect.DeepEqual(brief(saw), want) {
			t.Fatalf("nothing to store: results = %+v, hook saw %+v, want %+v", res.Results, saw, want)
		}
		saw = nil
		if _, err := e.ApplyBatch(graph.WithEventsHook(ctx, auditHook("aud_onlyrejected", &saw, nil)), []graph.Event{noIdent}); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(brief(saw), want[1:]) {
			t.Fatalf("only a rejection: hook saw %+v, want %+v", saw, want[1:])
		}
		wantLog["aud_nothing"], wantLog["aud_onlyrejected"] = []string{}, []string{}
		if got := auditIDs(t, s); !reflect.DeepEqual(got, wantLog) {
			t.Fatalf("audit = %v, want %v", got, wantLog)
		}

		// Without a hook, nothing is appended.
		if _, err := e.ApplyBatch(ctx, []graph.Event{userEvent("ev-carol", "carol")}); err != nil {
			t.Fatal(err)
		}
		if got := auditIDs(t, s); !reflect.DeepEqual(got, wantLog) {
			t.Fatalf("audit after a batch without a hook = %v, want %v", got, wantLog)
		}
	})
}

// Hooks added to one context all run, in the order added, inside the
// correction's transaction; the first error stops the chain and rolls the
// correction back.
func TestBeforeCommitHooksChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, nil)
		anon := userEvent("e2", "b")
		anon.Identifiers = []graph.IdentifierRef{{Type: graph.TypeAnonymousID, Value: "b"}}
		if _, err := e.ApplyBatch(ctx, []graph.Event{userEvent("e1", "a"), anon}); err != nil {
			t.Fatal(err)
		}
		pa0, errA := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "a"})
		pb0, errB := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "b"})
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		ids := []string{pa0.ID, pb0.ID}
		var order []string
		hook := func(name string, fail error) graph.BeforeCommit {
			return func(ctx context.Context, tx graph.Tx, w *graph.Write) error {
				order = append(order, name)
				return fail
			}
		}
		errStop := errors.New("second hook refuses")
		chained := graph.WithBeforeCommit(graph.WithBeforeCommit(graph.WithBeforeCommit(ctx, hook("first", nil)), hook("second", errStop)), hook("third", nil))
		if _, err := e.MergeProfiles(chained, ids, "same person"); !errors.Is(err, errStop) {
			t.Fatalf("merge with a refusing hook: %v, want %v", err, errStop)
		}
		if len(order) == 0 || !slices.Equal(order[len(order)-2:], []string{"first", "second"}) || slices.Contains(order, "third") {
			t.Fatalf("hooks ran %v, want first then second, and never third", order)
		}
		pa, errA := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "a"})
		pb, errB := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "b"})
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if pa.ID == pb.ID {
			t.Fatalf("the refused merge was committed: both in %s", pa.ID)
		}
		order = nil
		ok := graph.WithBeforeCommit(graph.WithBeforeCommit(ctx, hook("first", nil)), hook("second", nil))
		if _, err := e.MergeProfiles(ok, ids, "same person"); err != nil {
			t.Fatal(err)
		}
		if len(order) < 2 || !slices.Equal(order[len(order)-2:], []string{"first", "second"}) {
			t.Fatalf("hooks ran %v, want first then second", order)
		}
	})
}

// TestEventFilter: the filter sees the events about to be stored, with
// their normalized keys, every copy of a repeated id included (each is
// judged on its own content); the events it refuses get a
// rejected result with its reason, in the results and in what the events
// hook sees, and nothing of them is stored; an error from it stores
// nothing and is returned.
func TestEventFilter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := graph.NewEngine(s, nil)
		ctx := context.Background()
		var seen [][]string
		refuseBob := func(ctx context.Context, tx graph.Tx, evs []graph.Event) ([]string, error) {
			out := make([]string, len(evs))
			var keys []string
			for i, ev := range evs {
				keys = append(keys, ev.Keys...)
				if slices.Contains(ev.Keys, "user_id:bob") {
					out[i] = "refused"
				}
			}
			seen = append(seen, keys)
			return out, nil
		}
		var saw []graph.EventResult
		fctx := graph.WithEventsHook(graph.WithEventFilter(ctx, refuseBob), auditHook("aud_f", &saw, nil))
		res, err := e.ApplyBatch(fctx, []graph.Event{userEvent("ev-ann", " ann "), userEvent("ev-bob", "bob"), userEvent("ev-ann", "ann")})
		if err != nil {
			t.Fatal(err)
		}
		want := []graph.EventResult{
			{ID: "ev-ann", Status: graph.StatusStored, ProfileID: pidOf("ann")},
			{ID: "ev-bob", Status: graph.StatusRejected, Reason: "refused"},
			{ID: "ev-ann", Status: graph.StatusDuplicate, ProfileID: ""},
		}
		if res.Stored != 1 || res.Rejected != 1 || !reflect.DeepEqual(res.Results[:2], want[:2]) {
			t.Fatalf("results %+v (stored %d, rejected %d), want %+v", res.Results, res.Stored, res.Rejected, want[:2])
		}
		if !reflect.DeepEqual(saw[:2], want[:2]) {
			t.Errorf("the events hook saw %+v, want %+v", saw[:2], want[:2])
		}
		// On a store with several writers it reads again, once the
		// identifiers are locked, for the kept events that carry a new one.
		w := [][]string{{"user_id:ann", "user_id:bob", "user_id:ann"}}
		if _, serial := s.(graph.SerialWriter); !serial {
			w = append(w, []string{"user_id:ann"})
		}
		if !reflect.DeepEqual(seen, w) {
			t.Errorf("the filter saw keys %v, want %v (normalized, every copy; the second read the first copy only)", seen, w)
		}
		if _, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "bob"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("the refused event's identifier: %v, want NOT_FOUND", err)
		}
		boom := errors.New("boom")
		_, err = e.ApplyBatch(graph.WithEventFilter(ctx, func(context.Context, graph.Tx, []graph.Event) ([]string, error) { return nil, boom }),
			[]graph.Event{userEvent("ev-cat", "cat")})
		if !errors.Is(err, boom) {
			t.Fatalf("a failing filter: %v, want its error", err)
		}
		if _, err := e.ProfileByIdentifier(ctx, graph.IdentifierRef{Type: graph.TypeUserID, Value: "cat"}); graph.ErrorCode(err) != graph.ENOTFOUND {
			t.Errorf("after a failing filter: %v, want NOT_FOUND", err)
		}
	})
}

// TestBatchReportsMerged: a batch that merges profiles names the ones it
// merged away, so that what keeps derived state (audience membership) can
// drop them; a batch that merges nothing names none.
func TestBatchReportsMerged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := graph.NewEngine(s, nil)
		ctx := context.Background()
		anon := func(id, a string) graph.Event {
			return graph.Event{ID: id, Type: "track", Source: "web", Timestamp: tHook,
				Identifiers: []graph.IdentifierRef{{Type: graph.TypeAnonymousID, Value: a}}}
		}
		res, err := e.ApplyBatch(ctx, []graph.Event{anon("m1", "a1"), anon("m2", "a2"), userEvent("m3", "u")})
		if err != nil || len(res.Merged) != 0 {
			t.Fatalf("separate people: merged %v, %v; want none", res.Merged, err)
		}
		// u takes in a1 and a2: two of the three profiles are merged into
		// the survivor (the user's, by size then age: all are of size 1,
		// so the oldest; whichever it is, the other two are named).
		login := userEvent("m4", "u")
		login.Identifiers = append(login.Identifiers, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "a1"}, graph.IdentifierRef{Type: graph.TypeAnonymousID, Value: "a2"})
		res, err = e.ApplyBatch(ctx, []graph.Event{login})
		if err != nil {
			t.Fatal(err)
		}
		survivor := res.Results[0].ProfileID
		all := []string{graph.ProfileIDFor("anonymous_id:a1", 0), graph.ProfileIDFor("anonymous_id:a2", 0), pidOf("u")}
		var want []string
		for _, id := range all {
			if id != survivor {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		if !slices.Contains(all, survivor) || !slices.Equal(res.Merged, want) {
			t.Errorf("merged %v into %s, want %v merged into one of %v", res.Merged, survivor, want, all)
		}
	})
}
