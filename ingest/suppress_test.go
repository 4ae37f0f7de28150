package ingest_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

var tSuppress = time.Date(2026, 4, 2, 9, 0, 0, 0, time.UTC)

// countingList is a real suppression list that counts its lookups.
type countingList struct {
	*privacy.SuppressionList
	mu     sync.Mutex
	calls  int
	hashes [][]string
}

func (l *countingList) SuppressedIn(ctx context.Context, tx graph.Tx, hashes []string) (map[string]bool, error) {
	l.mu.Lock()
	l.calls++
	l.hashes = append(l.hashes, slices.Clone(hashes))
	l.mu.Unlock()
	return l.SuppressionList.SuppressedIn(ctx, tx, hashes)
}

func (l *countingList) lookups() (int, [][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls, l.hashes
}

func openList(t *testing.T, s graph.Store) *countingList {
	t.Helper()
	ss, ok := s.(privacy.SuppressionStore)
	if !ok {
		t.Fatalf("%T is not a privacy.SuppressionStore", s)
	}
	l, err := privacy.OpenSuppressionList(context.Background(), ss)
	if err != nil {
		t.Fatal(err)
	}
	return &countingList{SuppressionList: l}
}

// storedKeys returns which of keys the store holds as identifiers.
func storedKeys(t *testing.T, s graph.Store, keys ...string) []string {
	t.Helper()
	var got []string
	err := s.View(context.Background(), func(ctx context.Context, tx graph.ReadTx) error {
		m, err := tx.Identifiers(ctx, keys)
		if err != nil {
			return err
		}
		got = slices.Sorted(maps.Keys(m))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSuppressedMessagesAreDropped: a batch over HTTP in which one message
// carries a suppressed email, spelt otherwise than it was suppressed, and
// the others do not: that message is refused with reason suppressed and
// nothing of it is stored (neither its event nor its other identifier),
// the others are stored, and the counter counts it. After Unsuppress the
// same message is accepted.
func TestSuppressedMessagesAreDropped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		list := openList(t, s)
		h := newHarness(t, s, ingest.Config{Suppression: list})
		if _, err := list.SuppressKeys(ctx, []string{"email:ann@example.com", "phone:+14155550100"}, tSuppress, "erasure rcpt_1"); err != nil {
			t.Fatal(err)
		}
		ann := map[string]any{"type": "identify", "messageId": "m-ann", "userId": "u-ann",
			"traits": map[string]any{"email": "  Ann@Example.COM ", "plan": "pro"}}
		batch := map[string]any{"batch": []any{
			map[string]any{"type": "track", "event": "Viewed", "messageId": "m-bob", "anonymousId": "a-bob"},
			ann,
			map[string]any{"type": "identify", "messageId": "m-cat", "userId": "u-cat",
				"traits": map[string]any{"email": "cat@example.com"}},
		}}
		r := h.sdkPost(t, "/v1/batch", "wk-node", batch)
		if r.status != http.StatusOK || r.body.Stored != 2 || r.body.Rejected != 1 ||
			len(r.body.Errors) != 1 || r.body.Errors[0] != (ingest.ItemError{Index: 1, Reason: ingest.ReasonSuppressed}) {
			t.Fatalf("batch answered %d %s; want 200, 2 stored, item 1 rejected as suppressed", r.status, r.raw)
		}
		all := []string{"user_id:u-ann", "email:ann@example.com", "anonymous_id:a-bob", "user_id:u-cat", "email:cat@example.com"}
		if got, want := storedKeys(t, s, all...), []string{"anonymous_id:a-bob", "email:cat@example.com", "user_id:u-cat"}; !slices.Equal(got, want) {
			t.Fatalf("stored identifiers %v, want %v", got, want)
		}
		if got := stored(t, h.eng, "node/m-ann", "node/m-bob", "node/m-cat"); len(got) != 2 || got["node/m-ann"].ID != "" {
			t.Fatalf("stored events %v, want m-bob and m-cat only", slices.Sorted(maps.Keys(got)))
		}
		if n := h.metric(t, "cdp_ingest_events_suppressed_total"); n != 1 {
			t.Errorf("cdp_ingest_events_suppressed_total = %v, want 1", n)
		}
		if n := h.metric(t, "cdp_ingest_events_rejected_total"); n != 0 {
			t.Errorf("cdp_ingest_events_rejected_total = %v, want 0: a suppressed message is not invalid", n)
		}
		if n := h.metric(t, "cdp_ingest_events_stored_total"); n != 2 {
			t.Errorf("cdp_ingest_events_stored_total = %v, want 2", n)
		}
		// One lookup for the micro-batch, of the five distinct keys; on a
		// store with several writers a second, once the identifiers are
		// locked, of the keys of the kept messages that bring a new one
		// (bob's and cat's three).
		calls, hashes := list.lookups()
		want := []int{5}
		if _, serial := s.(graph.SerialWriter); !serial {
			want = append(want, 3)
		}
		if calls != len(want) || !slices.Equal(lens(hashes), want) {
			t.Errorf("%d lookups (%v); want %v hashes", calls, hashes, want)
		}

		// A single message with the suppressed phone alone: 400, suppressed.
		r = h.sdkPost(t, "/v1/identify", "wk-node", map[string]any{"messageId": "m-phone", "userId": "u-dan",
			"traits": map[string]any{"phone": "+1 415 555 0100"}})
		if r.status != http.StatusBadRequest || r.body.Error != ingest.ReasonSuppressed {
			t.Fatalf("single suppressed message answered %d %s; want 400 suppressed", r.status, r.raw)
		}
		if got := storedKeys(t, s, "user_id:u-dan", "phone:+14155550100"); len(got) != 0 {
			t.Fatalf("the suppressed single message stored %v", got)
		}
		if n := h.metric(t, "cdp_ingest_events_suppressed_total"); n != 2 {
			t.Errorf("cdp_ingest_events_suppressed_total = %v, want 2", n)
		}

		// Lifted: the same message is stored.
		ok, err := list.UnsuppressKey(ctx, "email:ann@example.com")
		if err != nil || !ok {
			t.Fatalf("UnsuppressKey = %v, %v", ok, err)
		}
		r = h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{"batch": []any{ann}})
		if r.status != http.StatusOK || r.body.Stored != 1 || r.body.Rejected != 0 {
			t.Fatalf("after Unsuppress the message answered %d %s; want it stored", r.status, r.raw)
		}
		if got := storedKeys(t, s, "user_id:u-ann", "email:ann@example.com"); len(got) != 2 {
			t.Fatalf("after Unsuppress stored identifiers %v, want both of Ann's", got)
		}
		if got := stored(t, h.eng, "node/m-ann"); got["node/m-ann"].ID != "node/m-ann" {
			t.Fatal("after Unsuppress Ann's event is not stored")
		}
		if n := h.metric(t, "cdp_ingest_events_suppressed_total"); n != 2 {
			t.Errorf("cdp_ingest_events_suppressed_total = %v, want still 2", n)
		}
	})
}

// TestSuppressedFirstCopyInABatch: in one batch, the copies of a message
// id give what they would give sent one batch each, in order. The first
// copy carries a suppressed email and is refused; the second, with other
// content and no suppressed identifier, is then the first to be stored;
// a copy of it is a duplicate, a third content is a duplicate_conflict,
// and a copy of the suppressed content is refused as suppressed again.
func TestSuppressedFirstCopyInABatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		list := openList(t, s)
		h := newHarness(t, s, ingest.Config{Suppression: list})
		if _, err := list.SuppressKeys(context.Background(), []string{"email:gone@example.com"}, tSuppress, "erasure rcpt_2"); err != nil {
			t.Fatal(err)
		}
		gone := map[string]any{"type": "identify", "messageId": "m-x", "userId": "u-x",
			"traits": map[string]any{"email": "gone@example.com"}}
		other := map[string]any{"type": "track", "messageId": "m-x", "userId": "u-x", "event": "Other"}
		third := map[string]any{"type": "track", "messageId": "m-x", "userId": "u-x", "event": "Third"}
		r := h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{"batch": []any{gone, other, other, third, gone}})
		if r.status != http.StatusOK || r.body.Stored != 1 || r.body.Duplicates != 1 || r.body.Rejected != 3 || len(r.body.Errors) != 3 {
			t.Fatalf("batch answered %d %s; want 200, 1 stored, 1 duplicate, 3 rejected", r.status, r.raw)
		}
		want := []struct {
			index  int
			reason string
		}{{0, ingest.ReasonSuppressed}, {3, graph.ReasonDuplicateConflict}, {4, ingest.ReasonSuppressed}}
		for i, w := range want {
			if e := r.body.Errors[i]; e.Index != w.index || !strings.HasPrefix(e.Reason, w.reason) {
				t.Errorf("error %d = %+v, want index %d, reason %s", i, e, w.index, w.reason)
			}
		}
		if got := stored(t, h.eng, "node/m-x")["node/m-x"]; got.Name != "Other" {
			t.Errorf("stored event %+v, want the second copy's (event Other)", got)
		}
		if got, want := storedKeys(t, s, "user_id:u-x", "email:gone@example.com"), []string{"user_id:u-x"}; !slices.Equal(got, want) {
			t.Errorf("stored identifiers %v, want %v", got, want)
		}
		if n := h.metric(t, "cdp_ingest_events_duplicate_conflict_total"); n != 1 {
			t.Errorf("cdp_ingest_events_duplicate_conflict_total = %v, want 1", n)
		}
		if n := h.metric(t, "cdp_ingest_events_suppressed_total"); n != 2 {
			t.Errorf("cdp_ingest_events_suppressed_total = %v, want 2", n)
		}
	})
}

// TestSuppressedWithHook: a Submit call with an events hook (the GraphQL
// ingest mutation) gets, and its hook sees, the suppressed result in its
// place; a call whose events are all suppressed still runs its hook.
func TestSuppressedWithHook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		list := openList(t, s)
		h := newHarness(t, s, ingest.Config{Suppression: list})
		if _, err := list.SuppressKeys(ctx, []string{"user_id:gone"}, tSuppress, ""); err != nil {
			t.Fatal(err)
		}
		var rec hookRecorder
		res, err := h.coll.Submit(submitCtx("req-s", rec.hook("aud_s", nil)),
			[]graph.Event{event("s-1", "alice"), event("s-2", " gone "), unusable("s-3"), event("s-4", "bob")})
		if err != nil {
			t.Fatal(err)
		}
		want := []graph.EventResult{
			{ID: "s-1", Status: graph.StatusStored, ProfileID: pidOf("alice")},
			{ID: "s-2", Status: graph.StatusRejected},
			{ID: "s-3", Status: graph.StatusRejected},
			{ID: "s-4", Status: graph.StatusStored, ProfileID: pidOf("bob")},
		}
		sameResults(t, "Submit", res, want)
		sameResults(t, "hook", rec.results("aud_s"), want)
		if res[1].Reason != ingest.ReasonSuppressed || rec.results("aud_s")[1].Reason != ingest.ReasonSuppressed {
			t.Errorf("suppressed result: %+v, hook saw %+v; want reason %q", res[1], rec.results("aud_s")[1], ingest.ReasonSuppressed)
		}
		if res[2].Reason == ingest.ReasonSuppressed {
			t.Errorf("the unusable event was reported as suppressed: %+v", res[2])
		}
		if got := stored(t, h.eng, "s-1", "s-2", "s-4"); len(got) != 2 || got["s-2"].ID != "" {
			t.Errorf("stored %v, want s-1 and s-4", slices.Sorted(maps.Keys(got)))
		}
		wantAudit(t, s, accessEntry("aud_s", "req-s", pidOf("alice"), pidOf("bob")))

		// Every event suppressed: nothing stored, the hook still runs.
		res, err = h.coll.Submit(submitCtx("req-t", rec.hook("aud_t", nil)), []graph.Event{event("t-1", "gone")})
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, "Submit of a suppressed event", res, []graph.EventResult{{ID: "t-1", Status: graph.StatusRejected}})
		sameResults(t, "its hook", rec.results("aud_t"), []graph.EventResult{{ID: "t-1", Status: graph.StatusRejected}})
		if got := storedKeys(t, s, "user_id:gone"); len(got) != 0 {
			t.Errorf("stored %v", got)
		}
		wantAudit(t, s, accessEntry("aud_t", "req-t"), accessEntry("aud_s", "req-s", pidOf("alice"), pidOf("bob")))
		if n := h.metric(t, "cdp_ingest_events_suppressed_total"); n != 2 {
			t.Errorf("cdp_ingest_events_suppressed_total = %v, want 2", n)
		}
	})
}

// downList is a real suppression list whose reads fail as a store that
// cannot be reached does.
type downList struct{ *privacy.SuppressionList }

func (downList) SuppressedIn(context.Context, graph.Tx, []string) (map[string]bool, error) {
	return nil, graph.ErrUnavailable(errors.New("connection refused"))
}

// TestSuppressionListDown: when the list cannot be read, the micro-batch
// is not stored and the caller is told to retry (503): an event is never
// stored unchecked.
func TestSuppressionListDown(t *testing.T) {
	s := storetest.Embedded(t)
	h := newHarness(t, s, ingest.Config{Suppression: downList{openList(t, s).SuppressionList}})
	_, err := h.coll.Submit(context.Background(), []graph.Event{event("d-1", "alice")})
	if graph.ErrorCode(err) != graph.EUNAVAILABLE || errors.Is(err, ingest.ErrOverloaded) {
		t.Fatalf("Submit with the list down = %v, want an EUNAVAILABLE error", err)
	}
	r := h.sdkPost(t, "/v1/track", "wk-node", map[string]any{"event": "Viewed", "messageId": "m-d", "userId": "u-d"})
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("HTTP with the list down answered %d %s, want 503", r.status, r.raw)
	}
	if got := storedKeys(t, s, "user_id:alice", "user_id:u-d"); len(got) != 0 {
		t.Fatalf("stored %v while the list was down", got)
	}
}

// TestSuppressionReadInTransaction: the list is read through each
// micro-batch's own transaction (privacy.SuppressedInTx), on both stores: a
// hash added by an ingestion's transaction (here its events hook, as an
// erasure adds its hashes in its own) is honoured by the next batch, and
// the other events of that batch are stored.
func TestSuppressionReadInTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		list := openList(t, s)
		h := newHarness(t, s, ingest.Config{Suppression: list})
		entries, _ := list.Entries([]string{"user_id:carol"}, tSuppress, "erasure rcp_1")
		add := func(ctx context.Context, tx graph.Tx, _ []graph.EventResult) error {
			return privacy.SuppressInTx(ctx, tx, entries)
		}
		res, err := h.coll.Submit(graph.WithEventsHook(context.Background(), add), []graph.Event{event("c-1", "carol")})
		if err != nil || len(res) != 1 || res[0].Status != graph.StatusStored {
			t.Fatalf("first call: %+v, %v; want its event stored (the hash joins the list as it commits)", res, err)
		}
		res, err = h.coll.Submit(context.Background(), []graph.Event{event("c-2", "carol"), event("c-3", "dave")})
		if err != nil {
			t.Fatal(err)
		}
		sameResults(t, "second call", res, []graph.EventResult{{ID: "c-2", Status: graph.StatusRejected}, {ID: "c-3", Status: graph.StatusStored, ProfileID: pidOf("dave")}})
		if res[0].Reason != ingest.ReasonSuppressed {
			t.Errorf("c-2 reason %q, want %q", res[0].Reason, ingest.ReasonSuppressed)
		}
	})
}

// accessEntry is the audit entry a hookRecorder hook appends, as wantAudit
// compares it.
func accessEntry(id, reqID string, profiles ...string) access.AuditEntry {
	e := access.AuditEntry{ID: id, RequestID: reqID, ProfileCount: len(profiles)}
	if len(profiles) > 0 {
		e.ProfileIDs = sortedIDs(profiles...)
	}
	return e
}

// lens is the length of each list.
func lens(lists [][]string) []int {
	out := make([]int, len(lists))
	for i, l := range lists {
		out[i] = len(l)
	}
	return out
}
