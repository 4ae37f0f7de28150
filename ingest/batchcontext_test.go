package ingest_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// TestBatchContextMakesEventsDistinct: a batch-level context gives its
// messages identifiers, so two messages that differ only in it are two
// events. Without a messageId each gets its own derived id; with one, a
// resend under another batch context is a conflict, not a duplicate; the
// same batch again is still a duplicate.
func TestBatchContextMakesEventsDistinct(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ts := tConsent.Format(time.RFC3339)
		post := func(email string, msg map[string]any) reply {
			return h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{
				"batch":   []any{msg},
				"context": map[string]any{"traits": map[string]any{"email": email}},
			})
		}
		login := func() map[string]any { return map[string]any{"type": "track", "event": "Login", "timestamp": ts} }
		for _, email := range []string{"ann@example.com", "bob@example.com"} {
			if r := post(email, login()); r.status != http.StatusOK || r.body.Stored != 1 || r.body.Duplicates != 0 {
				t.Fatalf("a login under the batch context of %s answered %d %s; want 1 stored", email, r.status, r.raw)
			}
		}
		ann, bob := h.profile(t, graph.TypeEmail, "ann@example.com"), h.profile(t, graph.TypeEmail, "bob@example.com")
		if ann.ID == bob.ID || ann.Size != 1 || bob.Size != 1 {
			t.Fatalf("ann in %s (size %d), bob in %s (size %d): want two profiles of one identifier", ann.ID, ann.Size, bob.ID, bob.Size)
		}
		if a, b := h.journey(t, ann.ID), h.journey(t, bob.ID); len(a) != 1 || len(b) != 1 || a[0].ID == b[0].ID {
			t.Fatalf("journeys %v and %v: want one event each, different", a, b)
		}
		if r := post("bob@example.com", login()); r.status != http.StatusOK || r.body.Duplicates != 1 || r.body.Stored != 0 {
			t.Fatalf("the same batch again answered %d %s; want 1 duplicate", r.status, r.raw)
		}

		withID := func() map[string]any { m := login(); m["messageId"] = "m-ctx"; return m }
		if r := post("cat@example.com", withID()); r.status != http.StatusOK || r.body.Stored != 1 {
			t.Fatalf("m-ctx answered %d %s", r.status, r.raw)
		}
		r := post("dan@example.com", withID())
		if r.status != http.StatusOK || r.body.Stored != 0 || r.body.Duplicates != 0 || len(r.body.Errors) != 1 ||
			!strings.HasPrefix(r.body.Errors[0].Reason, graph.ReasonDuplicateConflict) {
			t.Fatalf("m-ctx under another batch context answered %d %s; want its item refused as %s", r.status, r.raw, graph.ReasonDuplicateConflict)
		}
	})
}

// TestBatchContextConsent: consent preferences in the batch-level context
// count for each message of the batch, as the rest of that context does:
// an identify gets its records, and Segment's consent track is accepted.
func TestBatchContextConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		ts := tConsent.Format(time.RFC3339)
		r := h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{
			"batch": []any{
				map[string]any{"type": "identify", "messageId": "bc1", "userId": "u-bc", "timestamp": ts},
				map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": "bc2", "anonymousId": "a-bc", "timestamp": ts},
			},
			"context": prefs(map[string]any{"Advertising": true}),
		})
		if r.status != http.StatusOK || r.body.Stored != 2 || r.body.Rejected != 0 {
			t.Fatalf("batch with consent in its context answered %d %s; want 2 stored", r.status, r.raw)
		}
		want := []string{
			"anonymous_id:a-bc advertising GRANTED 2026-03-10T08:30:00Z node node/bc2 CONSENT",
			"user_id:u-bc advertising GRANTED 2026-03-10T08:30:00Z node node/bc1 CONSENT",
		}
		if got := ledger(t, s, "user_id:u-bc", "anonymous_id:a-bc"); !slices.Equal(got, want) {
			t.Fatalf("ledger\n got %q\nwant %q", got, want)
		}
	})
}

// TestConsentStaysWithTheEventsProfile: a message whose identifiers cannot
// all link (a device Ann used, now with Bob's user id) records its consent
// only on the identifiers of its own profile (Bob's), so Ann, who decided
// nothing, stays UNKNOWN, and only Bob's profile gets a CONSENT_CHANGED.
// Separate messages and one batch alike.
func TestConsentStaysWithTheEventsProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		for _, oneBatch := range []bool{false, true} {
			h := newHarness(t, s, ingest.Config{})
			ts := tConsent.Format(time.RFC3339)
			sfx := fmt.Sprint(oneBatch)
			ann := map[string]any{"type": "identify", "messageId": "cs1" + sfx, "userId": "u-ann-" + sfx, "anonymousId": "d-cs-" + sfx, "timestamp": ts}
			bob := map[string]any{"type": "track", "event": privacy.SegmentConsentEvent, "messageId": "cs2" + sfx, "userId": "u-bob-" + sfx,
				"anonymousId": "d-cs-" + sfx, "timestamp": ts, "context": prefs(map[string]any{"Advertising": true})}
			batches := [][]any{{ann}, {bob}}
			if oneBatch {
				batches = [][]any{{ann, bob}}
			}
			for _, b := range batches {
				if r := h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{"batch": b}); r.status != http.StatusOK || r.body.Stored != len(b) {
					t.Fatalf("batch answered %d %s", r.status, r.raw)
				}
			}
			pa, pb := h.profile(t, graph.TypeUserID, "u-ann-"+sfx), h.profile(t, graph.TypeUserID, "u-bob-"+sfx)
			if pa.ID == pb.ID {
				t.Fatal("the two user ids were linked")
			}
			if h.profile(t, graph.TypeAnonymousID, "d-cs-"+sfx).ID != pa.ID {
				t.Fatal("the device is not in Ann's profile")
			}
			want := []string{"user_id:u-bob-" + sfx + " advertising GRANTED 2026-03-10T08:30:00Z node node/cs2" + sfx + " CONSENT"}
			if got := ledger(t, s, "user_id:u-ann-"+sfx, "anonymous_id:d-cs-"+sfx, "user_id:u-bob-"+sfx); !slices.Equal(got, want) {
				t.Errorf("ledger\n got %q\nwant %q", got, want)
			}
			fs := s.(graph.FeedStore)
			es, err := fs.Feed(context.Background(), 0, []graph.FeedKind{graph.FeedConsentChanged}, graph.MaxFeedPage)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				if e.ProfileID == pa.ID || e.ProfileID == pb.ID {
					got = append(got, e.ProfileID)
				}
			}
			if !slices.Equal(got, []string{pb.ID}) {
				t.Errorf("CONSENT_CHANGED for %v, want Bob's profile %s alone", got, pb.ID)
			}
		}
	})
}

// TestBatchContextIsBounded: a batch-level context is merged into every
// message, so it may be no larger than a message (32 KiB), and its size
// times the batch's messages no more than ten requests' worth (5,000 KiB):
// a 400 naming the numbers, and nothing stored. Within both, the batch is
// taken.
func TestBatchContextIsBounded(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	batches := 0
	track := func(n int) []any {
		batches++
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"type": "track", "event": "e", "userId": "u-bound", "messageId": fmt.Sprintf("b%d-%d", batches, i)}
		}
		return out
	}
	blob := func(n int) map[string]any {
		// {"traits":{"blob":"xxx"}} is 22 bytes around the x's.
		return map[string]any{"traits": map[string]any{"blob": strings.Repeat("x", n-22)}}
	}
	for _, c := range []struct {
		name    string
		ctx     map[string]any
		n       int
		want    int
		message string
	}{
		{"over a message", blob(32<<10 + 1), 1, http.StatusBadRequest, "batch context is 32769 bytes, over the 32 KiB per-message limit"},
		// 2,000 bytes x 2,561 = 5,122,000 > 5,120,000.
		{"too many copies", blob(2000), 2561, http.StatusBadRequest, "batch context is 2000 bytes and is merged into each of the 2561 messages: 5122000 bytes in all, over the 5000 KiB"},
		{"at a message, one copy", blob(32 << 10), 1, http.StatusOK, ""},
		{"at the copies", blob(2000), 2560, http.StatusOK, ""},
	} {
		r := h.sdkPost(t, "/v1/batch", "wk-node", map[string]any{"batch": track(c.n), "context": c.ctx})
		if r.status != c.want || !strings.Contains(r.raw, c.message) {
			t.Errorf("%s: answered %d %.300s; want %d with %q", c.name, r.status, r.raw, c.want, c.message)
		}
		if c.want != http.StatusOK && strings.Contains(r.raw, "xxxx") {
			t.Errorf("%s: the refusal echoes the context", c.name)
		}
		if stored := map[bool]int{true: c.n}[c.want == http.StatusOK]; r.body.Stored != stored {
			t.Errorf("%s: %d stored, want %d", c.name, r.body.Stored, stored)
		}
	}
}
