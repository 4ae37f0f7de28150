package destination_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
	"github.com/idgraph/cdp/privacy"
)

// store is what the worker runs on.
type store interface {
	graph.Store
	graph.FeedStore
	destination.Store
	privacy.ConsentStore
	audience.Store
}

const secret = "whsec-test-0123456789abcdef"

type request struct {
	body      []byte
	delivery  string
	signature string
	custom    string
}

// receiver is a webhook receiver on 127.0.0.1 that answers the nth
// request (1, 2, ...) with status(n).
type receiver struct {
	mu     sync.Mutex
	reqs   []request
	status func(n int) int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{body: body, delivery: req.Header.Get("X-CDP-Delivery-Id"),
			signature: req.Header.Get("X-CDP-Signature"), custom: req.Header.Get("X-Tenant")})
		n, st := len(r.reqs), r.status
		r.mu.Unlock()
		w.WriteHeader(st(n))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

func (r *receiver) setStatus(f func(int) int) {
	r.mu.Lock()
	r.status = f
	r.mu.Unlock()
}

// verify checks a signature the way a receiver would, with crypto/hmac.
func verify(t *testing.T, sig string, body []byte) {
	t.Helper()
	ts, v1, ok := strings.Cut(sig, ",v1=")
	if !ok || !strings.HasPrefix(ts, "t=") {
		t.Fatalf("signature %q is not t=...,v1=...", sig)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strings.TrimPrefix(ts, "t=") + "." + string(body)))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(v1), []byte(want)) {
		t.Fatalf("signature %q does not verify (want v1=%s)", sig, want)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func open(t *testing.T, s graph.Store) (store, *graph.Engine) {
	t.Helper()
	st, ok := s.(store)
	if !ok {
		t.Fatalf("%T is not a destination store", s)
	}
	return st, graph.NewEngine(s, nil)
}

func startWorker(t *testing.T, s store, e *graph.Engine, allowPrivate bool) *destination.Worker {
	t.Helper()
	return startWorkerWith(t, s, e, allowPrivate, nil)
}

func startWorkerWith(t *testing.T, s store, e *graph.Engine, allowPrivate bool, reg prometheus.Registerer) *destination.Worker {
	t.Helper()
	audit, _ := s.(access.Store)
	w := destination.NewWorker(destination.WorkerConfig{
		Store: s, Feed: s, AllowPrivate: allowPrivate, Logger: zerolog.Nop(), Registerer: reg, Audit: audit,
		Profiles: destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules()), Audiences: s},
		Poll:     20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	})
	w.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

var tEv = time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)

func event(id, user, email string) graph.Event {
	ids := []graph.IdentifierRef{{Type: graph.TypeUserID, Value: user}}
	if email != "" {
		ids = append(ids, graph.IdentifierRef{Type: graph.TypeEmail, Value: email})
	}
	return graph.Event{ID: "web/" + id, Type: "identify", Source: "web", Timestamp: tEv, ReceivedAt: tEv,
		Identifiers: ids, Traits: map[string]any{"plan": "pro", "name": "Ann Lee"}}
}

func create(t *testing.T, s store, url string, edit func(d *destination.Destination)) destination.Destination {
	t.Helper()
	d := destination.Destination{ID: destination.NewID(), Name: "crm", URL: url, Secret: secret,
		Kinds: []graph.FeedKind{graph.FeedEventAdded}, Headers: map[string]string{"X-Tenant": "acme"},
		CreatedAt: graph.Now(), UpdatedAt: graph.Now()}
	if edit != nil {
		edit(&d)
	}
	// The store refuses a destination that sends an audience it does not
	// hold: each is stored (static, no members) first.
	ctx := context.Background()
	held, err := s.Audiences(ctx, d.AudienceIDs)
	storetest.Must(t, err)
	for _, a := range d.AudienceIDs {
		if _, ok := held[a]; !ok {
			storetest.Must(t, s.PutAudience(ctx, audience.Audience{ID: a, Name: "sent", Static: true, CreatedAt: d.CreatedAt, UpdatedAt: d.CreatedAt}))
		}
	}
	got, err := s.CreateDestination(ctx, d)
	storetest.Must(t, err)
	return got
}

func deliveries(t *testing.T, s store, id string, st destination.Status) []destination.Delivery {
	t.Helper()
	ds, err := s.Deliveries(context.Background(), destination.DeliveryQuery{DestinationID: id, Status: st, Limit: 100})
	storetest.Must(t, err)
	return ds
}

func decode(t *testing.T, body []byte) destination.Payload {
	t.Helper()
	var p destination.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("body is not a payload: %v", err)
	}
	return p
}

// A receiver that answers 500, 500, then 200 gets the batch three times,
// under one delivery id, each signed.
func TestRetryThenDeliver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(n int) int {
			if n <= 2 {
				return 500
			}
			return 200
		})
		d := create(t, s, rcv.srv.URL+"/hook", nil)
		reg := prometheus.NewRegistry()
		startWorkerWith(t, s, e, true, reg)
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "ann@example.com")})
		storetest.Must(t, err)
		waitFor(t, "a delivered batch", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
		reqs := rcv.requests()
		if len(reqs) != 3 {
			t.Fatalf("the receiver got %d requests, want 3", len(reqs))
		}
		ds := deliveries(t, s, d.ID, "")
		if len(ds) != 1 || ds[0].Attempts != 3 || ds[0].LastStatusCode != 200 || ds[0].LastError != "" {
			t.Fatalf("deliveries %+v, want one delivered at the third attempt", ds)
		}
		for i, r := range reqs {
			if r.delivery != ds[0].ID {
				t.Errorf("request %d has delivery id %q, want %q", i+1, r.delivery, ds[0].ID)
			}
			if r.custom != "acme" {
				t.Errorf("request %d lacks the custom header", i+1)
			}
			verify(t, r.signature, r.body)
			p := decode(t, r.body)
			if p.DeliveryID != ds[0].ID || p.DestinationID != d.ID || len(p.Entries) != 1 {
				t.Fatalf("request %d: payload %+v", i+1, p)
			}
			en := p.Entries[0]
			if en.Kind != "EVENT_ADDED" || en.EventID != "web/m1" || en.Profile == nil || en.Profile.ID != en.ProfileID {
				t.Fatalf("request %d: entry %+v", i+1, en)
			}
		}
		want := "# HELP cdp_webhook_attempts_total Webhook delivery attempts, by what they left: delivered, failed (to be retried) or dead.\n" +
			"# TYPE cdp_webhook_attempts_total counter\n" +
			"cdp_webhook_attempts_total{outcome=\"dead\"} 0\n" +
			"cdp_webhook_attempts_total{outcome=\"delivered\"} 1\n" +
			"cdp_webhook_attempts_total{outcome=\"failed\"} 2\n"
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "cdp_webhook_attempts_total"); err != nil {
			t.Error(err)
		}
	})
}

// A receiver that answers 410 dead-letters the batch at once; a replay
// delivers it, under the same id, once the receiver answers 200.
func TestDeadLetterReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 410 })
		d := create(t, s, rcv.srv.URL, nil)
		startWorker(t, s, e, true)
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "")})
		storetest.Must(t, err)
		waitFor(t, "a dead letter", func() bool { return len(deliveries(t, s, d.ID, destination.Dead)) == 1 })
		dead := deliveries(t, s, d.ID, destination.Dead)[0]
		if dead.Attempts != 1 || dead.LastStatusCode != 410 || dead.LastError != "HTTP 410" {
			t.Fatalf("dead letter %+v, want one attempt, 410", dead)
		}
		if n := len(rcv.requests()); n != 1 {
			t.Fatalf("a 410 was tried %d times, want 1", n)
		}
		rcv.setStatus(func(int) int { return 200 })
		n, err := s.ReplayDead(ctx, d.ID, time.Now(), 100)
		storetest.Must(t, err)
		if n != 1 {
			t.Fatalf("replayed %d, want 1", n)
		}
		waitFor(t, "the replayed batch delivered", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
		reqs := rcv.requests()
		if len(reqs) != 2 || reqs[1].delivery != dead.ID {
			t.Fatalf("%d requests, last id %q; want 2, the second under %s", len(reqs), reqs[len(reqs)-1].delivery, dead.ID)
		}
		verify(t, reqs[1].signature, reqs[1].body)
	})
}

// A redirect is never followed: it dead-letters the batch.
func TestRedirectIsDead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		target := newReceiver(t, func(int) int { return 200 })
		rcv := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusTemporaryRedirect))
		t.Cleanup(rcv.Close)
		d := create(t, s, rcv.URL, nil)
		startWorker(t, s, e, true)
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "")})
		storetest.Must(t, err)
		waitFor(t, "a dead letter", func() bool { return len(deliveries(t, s, d.ID, destination.Dead)) == 1 })
		if got := deliveries(t, s, d.ID, destination.Dead)[0].LastStatusCode; got != 307 {
			t.Fatalf("status %d, want 307", got)
		}
		if n := len(target.requests()); n != 0 {
			t.Fatalf("the redirect was followed (%d requests)", n)
		}
	})
}

// Without --destinations-allow-private, a connection to 127.0.0.1 is
// refused at the dial, and the batch is dead.
func TestDialRefusesPrivate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 200 })
		d := create(t, s, rcv.srv.URL, nil) // the store does not resolve URLs
		startWorker(t, s, e, false)
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "")})
		storetest.Must(t, err)
		waitFor(t, "a dead letter", func() bool { return len(deliveries(t, s, d.ID, destination.Dead)) == 1 })
		dead := deliveries(t, s, d.ID, destination.Dead)[0]
		if dead.LastStatusCode != 0 || !strings.Contains(dead.LastError, "not public") {
			t.Fatalf("dead letter %+v, want no answer and a refusal", dead)
		}
		if n := len(rcv.requests()); n != 0 {
			t.Fatalf("the receiver on 127.0.0.1 got %d requests", n)
		}
	})
}

// Identifiers and traits are masked unless includePII; a destination with
// a purpose gets only the entries of profiles that granted it.
func TestMaskingAndConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		masked := newReceiver(t, func(int) int { return 200 })
		raw := newReceiver(t, func(int) int { return 200 })
		consented := newReceiver(t, func(int) int { return 200 })
		create(t, s, masked.srv.URL, nil)
		rawID := create(t, s, raw.srv.URL, func(d *destination.Destination) { d.IncludePII = true }).ID
		create(t, s, consented.srv.URL, func(d *destination.Destination) { d.Purpose = "email" })
		// ann grants email, bob denies it, cal says nothing.
		now := time.Now().UTC()
		storetest.Must(t, s.PutConsent(ctx, []privacy.Record{
			{ID: privacy.NewRecordID(), Purpose: "email", Status: privacy.StatusGranted, At: now, Source: "web",
				LegalBasis: privacy.BasisConsent, Identifier: "email:ann@example.com", ReceivedAt: now},
			{ID: privacy.NewRecordID(), Purpose: "email", Status: privacy.StatusDenied, At: now, Source: "web",
				LegalBasis: privacy.BasisConsent, Identifier: "email:bob@example.com", ReceivedAt: now},
		}))
		startWorker(t, s, e, true)
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "ann", "ann@example.com"), event("m2", "bob", "bob@example.com"),
			event("m3", "cal", "cal@example.com")})
		storetest.Must(t, err)
		entries := func(r *receiver) []destination.PayloadEntry {
			var out []destination.PayloadEntry
			for _, q := range r.requests() {
				out = append(out, decode(t, q.body).Entries...)
			}
			return out
		}
		waitFor(t, "three entries at the masked and raw receivers", func() bool {
			return len(entries(masked)) == 3 && len(entries(raw)) == 3
		})
		emails := func(es []destination.PayloadEntry) map[string]string {
			out := map[string]string{}
			for _, en := range es {
				for _, id := range en.Profile.Identifiers {
					if id.Type == graph.TypeEmail {
						out[en.EventID] = id.Value + " " + fmt.Sprint(en.Profile.Traits["name"]) + " " + fmt.Sprint(en.Profile.Traits["plan"])
					}
				}
			}
			return out
		}
		wantMasked := map[string]string{"web/m1": "a***@example.com *** pro", "web/m2": "b***@example.com *** pro", "web/m3": "c***@example.com *** pro"}
		wantRaw := map[string]string{"web/m1": "ann@example.com Ann Lee pro", "web/m2": "bob@example.com Ann Lee pro", "web/m3": "cal@example.com Ann Lee pro"}
		if got := emails(entries(masked)); fmt.Sprint(got) != fmt.Sprint(wantMasked) {
			t.Errorf("masked: %v, want %v", got, wantMasked)
		}
		if got := emails(entries(raw)); fmt.Sprint(got) != fmt.Sprint(wantRaw) {
			t.Errorf("raw: %v, want %v", got, wantRaw)
		}
		// Only the unmasked destination's attempts are audited, each naming
		// the profiles it sent: here one attempt, of the three people.
		logged, err := gs.(access.Store).Audit(ctx, access.AuditQuery{Action: destination.DeliverAction, Limit: 10})
		storetest.Must(t, err)
		if len(logged) != 1 || logged[0].ProfileCount != 3 || !strings.Contains(logged[0].Reason, rawID) {
			t.Errorf("audit entries of unmasked deliveries: %+v, want one of 3 profiles naming %s", logged, rawID)
		}
		// The consent destination's batch is settled once it is delivered.
		waitFor(t, "the consent destination's batch", func() bool { return len(entries(consented)) >= 1 })
		got := entries(consented)
		if len(got) != 1 || got[0].EventID != "web/m1" {
			t.Fatalf("the destination for purpose email got %+v, want only ann's entry (web/m1)", got)
		}
	})
}

// A 429's Retry-After is honoured: the next attempt is due no sooner than
// it asks (here 1 s, more than the test's backoff of at most 100 ms).
func TestRetryAfter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		// The second attempt is due a second after the first; a test slowed
		// down for longer would read the dead letter and never the failed
		// batch. So the receiver holds the second attempt until the failed
		// batch has been read.
		var calls atomic.Int32
		read := make(chan struct{})
		var readOnce sync.Once
		readDone := func() { readOnce.Do(func() { close(read) }) }
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) > 1 {
				<-read
			}
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		t.Cleanup(rcv.Close)
		t.Cleanup(readDone) // before rcv.Close, which waits for the handlers
		d := create(t, s, rcv.URL, func(d *destination.Destination) { d.MaxAttempts = 2 })
		startWorker(t, s, e, true)
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "")})
		storetest.Must(t, err)
		var failed destination.Delivery
		time.Sleep(2500 * time.Millisecond) // PROBE: a slow test
		waitFor(t, "a failed attempt", func() bool {
			ds := deliveries(t, s, d.ID, "")
			if len(ds) == 1 && ds[0].Attempts >= 1 {
				failed = ds[0]
				return true
			}
			return false
		})
		readDone()
		// The stored times say it: due no sooner than 1 s after the answer.
		if failed.Attempts != 1 || failed.Status != destination.Failed || failed.LastStatusCode != 429 ||
			failed.NextAttempt.Sub(failed.UpdatedAt) < time.Second {
			t.Fatalf("after a 429 asking 1 s: %+v", failed)
		}
		// maxAttempts 2: the second 429 makes it dead.
		waitFor(t, "a dead letter", func() bool { return len(deliveries(t, s, d.ID, destination.Dead)) == 1 })
		if dead := deliveries(t, s, d.ID, destination.Dead)[0]; dead.Attempts != 2 || dead.LastStatusCode != 429 {
			t.Fatalf("dead letter %+v, want 2 attempts, 429", dead)
		}
	})
}

// Two workers (two processes' worth) on one store share the destination
// under its lease: every entry arrives, and in feed order.
func TestTwoWorkersShareTheWork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 200 })
		create(t, s, rcv.srv.URL, func(d *destination.Destination) { d.BatchSize = 3 })
		startWorker(t, s, e, true)
		startWorker(t, s, e, true)
		const n = 20
		for i := range n {
			_, err := e.ApplyBatch(ctx, []graph.Event{event(fmt.Sprintf("m%02d", i), fmt.Sprintf("u%d", i%3), "")})
			storetest.Must(t, err)
		}
		seen := map[string]bool{}
		waitFor(t, "every entry", func() bool {
			clear(seen)
			for _, r := range rcv.requests() {
				for _, en := range decode(t, r.body).Entries {
					seen[en.EventID] = true
				}
			}
			return len(seen) == n
		})
		var last uint64
		for _, r := range rcv.requests() {
			for _, en := range decode(t, r.body).Entries {
				if en.Seq <= last {
					t.Fatalf("entry %d arrived after entry %d", en.Seq, last)
				}
				last = en.Seq
			}
		}
	})
}

// A profile erased while its entries wait in a batch is left out of the
// batch when it is sent.
func TestErasedProfileLeftOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 503 })
		d := create(t, s, rcv.srv.URL, nil)
		first := startWorker(t, s, e, true)
		res, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "ann", "ann@example.com"), event("m2", "bob", "bob@example.com")})
		storetest.Must(t, err)
		waitFor(t, "a failed attempt", func() bool { return len(rcv.requests()) > 0 })
		if got := len(decode(t, rcv.requests()[0].body).Entries); got != 2 {
			t.Fatalf("the first attempt held %d entries, want 2", got)
		}
		// No attempt runs across the erasure: a batch built just before it
		// would still name ann.
		storetest.Must(t, first.Close(ctx))
		ann := res.Results[0].ProfileID
		_, err = e.ForgetProfile(ctx, ann, "test erasure", nil)
		storetest.Must(t, err)
		rcv.setStatus(func(int) int { return 200 })
		startWorker(t, s, e, true)
		waitFor(t, "the batch delivered", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
		reqs := rcv.requests()
		last := decode(t, reqs[len(reqs)-1].body)
		if len(last.Entries) != 1 || last.Entries[0].EventID != "web/m2" {
			t.Fatalf("after ann's erasure the batch held %+v, want bob's entry alone", last.Entries)
		}
		if strings.Contains(string(reqs[len(reqs)-1].body), ann) || strings.Contains(string(reqs[len(reqs)-1].body), "ann@") {
			t.Fatal("the batch sent after the erasure names ann")
		}
	})
}

// Kick wakes an idle destination at once: with a poll of an hour, the
// batch leaves only because of it.
func TestKickWakes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 200 })
		d := create(t, s, rcv.srv.URL, nil)
		w := destination.NewWorker(destination.WorkerConfig{
			Store: s, Feed: s, AllowPrivate: true, Logger: zerolog.Nop(), Poll: time.Hour,
			Profiles: destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules())},
		})
		w.Start()
		t.Cleanup(func() { _ = w.Close(context.Background()) })
		waitFor(t, "the worker to hold the lease", func() bool {
			got, err := s.Destination(ctx, d.ID)
			storetest.Must(t, err)
			return got.Lease.Holder == w.Holder()
		})
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "")})
		storetest.Must(t, err)
		w.Kick()
		waitFor(t, "the kicked delivery", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
	})
}

// Recheck makes an idle destination read its state again at once: a
// replayed dead letter leaves without waiting for the poll (an hour here).
func TestRecheckSendsAReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 410 })
		d := create(t, s, rcv.srv.URL, nil)
		w := destination.NewWorker(destination.WorkerConfig{
			Store: s, Feed: s, AllowPrivate: true, Logger: zerolog.Nop(), Poll: time.Hour,
			Profiles: destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules())},
		})
		w.Start()
		t.Cleanup(func() { _ = w.Close(context.Background()) })
		waitFor(t, "the worker to hold the lease", func() bool {
			got, err := s.Destination(ctx, d.ID)
			storetest.Must(t, err)
			return got.Lease.Holder == w.Holder()
		})
		_, err := e.ApplyBatch(ctx, []graph.Event{event("m1", "u1", "")})
		storetest.Must(t, err)
		w.Kick()
		waitFor(t, "a dead letter", func() bool { return len(deliveries(t, s, d.ID, destination.Dead)) == 1 })
		rcv.setStatus(func(int) int { return 200 })
		n, err := s.ReplayDead(ctx, d.ID, time.Now(), 10)
		storetest.Must(t, err)
		if n != 1 {
			t.Fatalf("replayed %d, want 1", n)
		}
		w.Recheck()
		waitFor(t, "the replay delivered", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
	})
}

// downLeases is a store whose AcquireLease fails as an unreachable store
// does while down is set, counting the calls.
type downLeases struct {
	store
	down  atomic.Bool
	calls atomic.Int64
}

func (d *downLeases) AcquireLease(ctx context.Context, id, holder string, now time.Time, ttl time.Duration) (destination.Lease, bool, error) {
	d.calls.Add(1)
	if d.down.Load() {
		return destination.Lease{}, false, graph.ErrUnavailable(errors.New("store down (test)"))
	}
	return d.store.AcquireLease(ctx, id, holder, now, ttl)
}

// While the store is down a destination retries with a growing wait and
// logs the failure once, not once a second; it logs the recovery once.
func TestStoreOutageLoggedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st, e := open(t, s)
		create(t, st, "https://93.184.215.14/hook", nil)
		d := &downLeases{store: st}
		d.down.Store(true)
		var logs testlog.Buffer
		startLoggedWorker(t, d, st, e, &logs)
		waitFor(t, "three lease attempts", func() bool { return d.calls.Load() >= 3 })
		d.down.Store(false)
		waitFor(t, "the recovery logged", func() bool { return strings.Contains(logs.String(), "the store answers again") })
		if n := strings.Count(logs.String(), "taking the lease failed"); n != 1 {
			t.Fatalf("the outage was logged %d times over %d attempts, want once:\n%s", n, d.calls.Load(), logs.String())
		}
	})
}

// A destination created on an empty feed starts at cursor 0. When the
// entries it has not reached yet are trimmed, the process that takes it up
// logs the entries it skips, as for any other cursor, and delivers what
// came after.
func TestTrimmedFromCursorZeroWarned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, gs graph.Store) {
		s, e := open(t, gs)
		ctx := context.Background()
		rcv := newReceiver(t, func(int) int { return 200 })
		d := create(t, s, rcv.srv.URL+"/hook", nil)
		if d.Cursor != 0 {
			t.Fatalf("a destination created on an empty feed has cursor %d, want 0", d.Cursor)
		}
		for _, id := range []string{"m1", "m2"} {
			_, err := e.ApplyBatch(ctx, []graph.Event{event(id, "u-"+id, "")})
			storetest.Must(t, err)
		}
		trimmed, err := s.TrimFeed(ctx, time.Now().Add(time.Hour), 100)
		storetest.Must(t, err)
		if trimmed != 4 {
			t.Fatalf("TrimFeed trimmed %d entries, want the 4 of m1 and m2 (each EVENT_ADDED and TRAITS_CHANGED)", trimmed)
		}
		_, err = e.ApplyBatch(ctx, []graph.Event{event("m3", "u-m3", "")})
		storetest.Must(t, err)
		var logs testlog.Buffer
		audit, _ := s.(access.Store)
		w := destination.NewWorker(destination.WorkerConfig{
			Store: s, Feed: s, AllowPrivate: true, Logger: zerolog.New(&logs), Audit: audit,
			Profiles: destination.Profiles{Engine: e, Consent: s, Masker: access.NewMasker(graph.DefaultRules())},
			Poll:     20 * time.Millisecond,
		})
		w.Start()
		defer w.Close(context.Background())
		waitFor(t, "a delivered batch", func() bool { return len(deliveries(t, s, d.ID, destination.Delivered)) == 1 })
		if p := decode(t, rcv.requests()[0].body); len(p.Entries) != 1 || p.Entries[0].EventID != "web/m3" {
			t.Fatalf("delivered %+v, want m3's entry alone", p.Entries)
		}
		if l := logs.String(); !strings.Contains(l, "feed entries were trimmed") || !strings.Contains(l, `"first_seq":1,"last_seq":4`) {
			t.Fatalf("the skipped entries 1 to 4 were not logged:\n%s", l)
		}
	})
}

// downList is a store whose DestinationPage fails as an unreachable store
// does while down is set, counting the calls.
type downList struct {
	store
	down  atomic.Bool
	calls atomic.Int64
}

func (d *downList) DestinationPage(ctx context.Context, after string, limit int) ([]destination.Destination, error) {
	d.calls.Add(1)
	if d.down.Load() {
		return nil, graph.ErrUnavailable(errors.New("store down (test)"))
	}
	return d.store.DestinationPage(ctx, after, limit)
}

// While the store is down, the worker's listing of destinations (once a
// second) logs the failure once, not at every attempt, and the recovery
// once.
func TestListingOutageLoggedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st, e := open(t, s)
		d := &downList{store: st}
		d.down.Store(true)
		var logs testlog.Buffer
		startLoggedWorker(t, d, st, e, &logs)
		waitFor(t, "three listings", func() bool { return d.calls.Load() >= 3 })
		if n := strings.Count(logs.String(), "listing destinations failed"); n != 1 {
			t.Fatalf("the outage was logged %d times over %d listings, want once:\n%s", n, d.calls.Load(), logs.String())
		}
		d.down.Store(false)
		waitFor(t, "the recovery logged", func() bool { return strings.Contains(logs.String(), "listing destinations works again") })
		if n := strings.Count(logs.String(), "listing destinations failed"); n != 1 {
			t.Fatalf("the outage was logged %d times, want once:\n%s", n, logs.String())
		}
	})
}

// startLoggedWorker starts a worker polling every 20 ms over ds (st, or st
// behind a wrapper), logging to logs, and closes it when the test ends.
func startLoggedWorker(t *testing.T, ds destination.Store, st store, e *graph.Engine, logs *testlog.Buffer) {
	w := destination.NewWorker(destination.WorkerConfig{
		Store: ds, Feed: st, Logger: zerolog.New(logs),
		Profiles: destination.Profiles{Engine: e, Consent: st, Masker: access.NewMasker(graph.DefaultRules())},
		Poll:     20 * time.Millisecond,
	})
	w.Start()
	t.Cleanup(func() { _ = w.Close(context.Background()) })
}
