package ingest_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestAnalyticsJSRetryIsADuplicate: analytics.js resends a batch it got no
// answer for (or a 5xx, or a 429) with the same messageIds and a new
// sentAt, and marks each message's _metadata with retryCount; its
// _metadata also lists the bundled destinations, which a settings change
// between two attempts can change. _metadata is the library's bookkeeping,
// not the event: a message stored on the first attempt must come back as
// a duplicate, on both stores, not as a duplicate_conflict (a 409 for a
// single message).
func TestAnalyticsJSRetryIsADuplicate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		plain := map[string]string{"Content-Type": "text/plain"}

		// The batched dispatcher: {writeKey, batch, sentAt}, to /v1/b.
		first := `{"writeKey":"wk-js","sentAt":"2026-03-01T10:00:05Z","batch":[` +
			`{"type":"track","messageId":"ajs-1","anonymousId":"anon-r","event":"Viewed","timestamp":"2026-03-01T10:00:00Z","writeKey":"wk-js","_metadata":{"bundled":["Segment.io"],"unbundled":[]}},` +
			`{"type":"page","anonymousId":"anon-r","name":"Home","timestamp":"2026-03-01T10:00:01Z","writeKey":"wk-js","_metadata":{"bundled":["Segment.io"],"unbundled":[]}}]}`
		if r := h.rawPost(t, "/v1/b", []byte(first), plain); r.status != http.StatusOK || r.body.Stored != 2 {
			t.Fatalf("first attempt: %d %s", r.status, r.raw)
		}
		retry := `{"writeKey":"wk-js","sentAt":"2026-03-01T10:00:15Z","batch":[` +
			`{"type":"track","messageId":"ajs-1","anonymousId":"anon-r","event":"Viewed","timestamp":"2026-03-01T10:00:00Z","writeKey":"wk-js","_metadata":{"bundled":["Segment.io","Amplitude"],"unbundled":[],"retryCount":1}},` +
			`{"type":"page","anonymousId":"anon-r","name":"Home","timestamp":"2026-03-01T10:00:01Z","writeKey":"wk-js","_metadata":{"bundled":["Segment.io"],"unbundled":[],"retryCount":1}}]}`
		if r := h.rawPost(t, "/v1/b", []byte(retry), plain); r.status != http.StatusOK || r.body.Stored != 0 || r.body.Duplicates != 2 || r.body.Rejected != 0 {
			t.Fatalf("retry of a stored batch: %d %s; want 2 duplicates", r.status, r.raw)
		}

		// The standard dispatcher: one message to /v1/t, writeKey and
		// sentAt in it.
		one := `{"type":"track","messageId":"ajs-2","anonymousId":"anon-r","event":"Clicked","timestamp":"2026-03-01T10:01:00Z","sentAt":"2026-03-01T10:01:00Z","writeKey":"wk-js"}`
		if r := h.rawPost(t, "/v1/t", []byte(one), plain); r.status != http.StatusOK || r.body.Stored != 1 {
			t.Fatalf("single message: %d %s", r.status, r.raw)
		}
		oneRetry := `{"type":"track","messageId":"ajs-2","anonymousId":"anon-r","event":"Clicked","timestamp":"2026-03-01T10:01:00Z","sentAt":"2026-03-01T10:01:09Z","writeKey":"wk-js","_metadata":{"retryCount":2}}`
		if r := h.rawPost(t, "/v1/t", []byte(oneRetry), plain); r.status != http.StatusOK || r.body.Duplicates != 1 {
			t.Fatalf("retry of a stored single message: %d %s; want 200 with 1 duplicate", r.status, r.raw)
		}

		if got := h.metric(t, "cdp_ingest_events_duplicate_conflict_total"); got != 0 {
			t.Errorf("duplicate_conflict metric %v, want 0", got)
		}
		if j := h.journey(t, h.profile(t, graph.TypeAnonymousID, "anon-r").ID); len(j) != 3 {
			t.Errorf("journey holds %d events, want 3 (Viewed, Home, Clicked once each)", len(j))
		}
	})
}

// TestBasicKeyWithoutColon: Segment's HTTP API takes the write key as the
// Basic user name with an empty password ("key:" encoded), and, for older
// clients, the key encoded without the colon. Such a header names the key
// too: with static write keys, its events are stored under the key's
// source; an unknown key so sent is still refused.
func TestBasicKeyWithoutColon(t *testing.T) {
	h := newHarness(t, storetest.Embedded(t), ingest.Config{})
	noColon := func(key string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(key))}
	}
	for path, body := range map[string]string{
		"/v1/track": `{"messageId":"nc-1","userId":"u-nc","event":"e"}`,
		"/v1/batch": `{"batch":[{"type":"track","messageId":"nc-2","userId":"u-nc","event":"e"}]}`,
	} {
		if r := h.rawPost(t, path, []byte(body), noColon("wk-crm")); r.status != http.StatusOK || r.body.Stored != 1 {
			t.Errorf("%s, key encoded without a colon: %d %s, want 200 with 1 stored", path, r.status, r.raw)
		}
	}
	wantSources(t, h.eng, map[string]string{"crm/nc-1": "crm", "crm/nc-2": "crm"})
	r := h.rawPost(t, "/v1/track", []byte(`{"messageId":"nc-3","userId":"u-nc","event":"e","writeKey":"wk-js"}`), noColon("wk-unknown"))
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body.Error, "write key not recognized") {
		t.Errorf("unknown key without a colon: %d %s, want 401", r.status, r.raw)
	}
}

// TestTooManyRequestsCarriesRateLimitReset: Segment's API answers a 429
// with Retry-After and X-RateLimit-Reset, both the seconds to wait, and
// analytics.js reads only X-RateLimit-Reset (without it, it retries after
// its own default). From a browser it can read the header only if the
// answer exposes it to CORS. Both 429s of the collector, a key past its
// rate limit and a full commit queue, carry it.
func TestTooManyRequestsCarriesRateLimitReset(t *testing.T) {
	check := func(t *testing.T, what string, r reply, want string) {
		t.Helper()
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("%s: %d %s, want 429", what, r.status, r.raw)
		}
		if got := r.header.Get("Retry-After"); got != want {
			t.Errorf("%s: Retry-After %q, want %q", what, got, want)
		}
		if got := r.header.Get("X-RateLimit-Reset"); got != want {
			t.Errorf("%s: X-RateLimit-Reset %q, want %q", what, got, want)
		}
		exposed := map[string]bool{}
		for _, v := range r.header.Values("Access-Control-Expose-Headers") {
			for _, name := range strings.Split(v, ",") {
				exposed[strings.ToLower(strings.TrimSpace(name))] = true
			}
		}
		if !exposed["x-ratelimit-reset"] || !exposed["retry-after"] {
			t.Errorf("%s: Access-Control-Expose-Headers %q, want Retry-After and X-RateLimit-Reset", what, r.header.Values("Access-Control-Expose-Headers"))
		}
	}
	origin := "https://shop.example"

	t.Run("key rate limit", func(t *testing.T) {
		h := newHarness(t, storetest.Embedded(t), ingest.Config{Keys: newKeyChecker(true)})
		body := `{"batch":[{"type":"track","messageId":"rl-1","userId":"u-rl","event":"e"}]}`
		r := h.rawPost(t, "/v1/b", []byte(body), map[string]string{"Origin": origin, "Content-Type": "text/plain", "Authorization": basicAuth(secretSlow)})
		check(t, "key past its rate limit", r, "2") // 1.5 s, rounded up
	})

	t.Run("queue full", func(t *testing.T) {
		s := storetest.Embedded(t)
		h := newHarness(t, s, ingest.Config{QueueSize: 1, RetryAfter: 3 * time.Second})
		release := blockStore(t, s)
		defer release()
		first := make(chan error, 1)
		go func() {
			_, err := h.coll.Submit(context.Background(), []graph.Event{event("rl-q1", "u-1")})
			first <- err
		}()
		waitFor(t, "the first request queued", func() bool { return h.metric(t, "cdp_ingest_queue_depth") == 1 })
		body := `{"writeKey":"wk-js","batch":[{"type":"track","messageId":"rl-2","userId":"u-rl","event":"e"}]}`
		r := h.rawPost(t, "/v1/b", []byte(body), map[string]string{"Origin": origin, "Content-Type": "text/plain"})
		check(t, "full queue", r, "3")
		release()
		if err := <-first; err != nil {
			t.Fatalf("queued request: %v", err)
		}
	})
}

// TestReplayedSegmentArchiveIsDatedByItsTimestamp: a message Segment has
// processed (its archives, warehouse exports and webhooks hold them)
// carries the client's originalTimestamp and the timestamp Segment
// corrected for the client's clock skew, which Segment's spec names the
// time to use for replays and historical imports. Sent without a sentAt
// (cdp import drops it), such a message is dated by its timestamp on both
// stores: a device whose clock read 1970 is neither refused nor misdated,
// and one running two days fast is not dated two days late. With a sentAt
// the skew is corrected from originalTimestamp, as before.
func TestReplayedSegmentArchiveIsDatedByItsTimestamp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		h := newHarness(t, s, ingest.Config{})
		archive := `{"batch":[` +
			`{"type":"track","messageId":"arch-1","userId":"u-arch","event":"Reset Clock","originalTimestamp":"1970-01-01T00:03:00Z","timestamp":"2026-03-04T10:00:00.000Z","receivedAt":"2026-03-04T10:00:02.000Z"},` +
			`{"type":"track","messageId":"arch-2","userId":"u-arch","event":"Fast Clock","originalTimestamp":"2026-03-07T09:00:00Z","timestamp":"2026-03-05T09:00:00.500Z","receivedAt":"2026-03-05T09:00:03Z"}]}`
		if r := h.rawPost(t, "/v1/import", []byte(archive), map[string]string{"Authorization": basic("wk-crm")}); r.status != http.StatusOK || r.body.Stored != 2 {
			t.Fatalf("replayed archive: %d %s; want both stored", r.status, r.raw)
		}
		want := map[string]time.Time{
			"Reset Clock": time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC),
			"Fast Clock":  time.Date(2026, 3, 5, 9, 0, 0, 500e6, time.UTC),
		}
		evs := h.journey(t, h.profile(t, graph.TypeUserID, "u-arch").ID)
		if len(evs) != len(want) {
			t.Fatalf("%d events stored, want %d", len(evs), len(want))
		}
		for _, ev := range evs {
			if w := want[ev.Name]; !ev.Timestamp.Equal(w) {
				t.Errorf("event %q dated %v, want %v (its timestamp)", ev.Name, ev.Timestamp, w)
			}
		}
	})
}
