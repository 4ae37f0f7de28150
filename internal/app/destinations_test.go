package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/app"
	"github.com/idgraph/cdp/internal/storetest"
)

// Through the wired service: a destination created over GraphQL receives
// an event sent to the collector; a receiver answering 410 dead-letters
// the batch, destinationDeliveries shows it, and replayDeadLetters sends
// it again under the same delivery id once the receiver answers 200.
func TestWebhookFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		const secret = "flow-secret-0123456789abcdef"
		var mu sync.Mutex
		status := 410
		type hit struct{ id, sig, body string }
		var hits []hit
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			hits = append(hits, hit{r.Header.Get("X-CDP-Delivery-Id"), r.Header.Get("X-CDP-Signature"), string(b)})
			code := status
			mu.Unlock()
			w.WriteHeader(code)
		}))
		t.Cleanup(rcv.Close)

		dial := startWebhookService(t, st, 20*time.Millisecond)

		var created struct {
			D struct{ ID string } `json:"createDestination"`
		}
		gqlData(t, dial, "", fmt.Sprintf(`mutation { createDestination(input: {name: "flow", url: %q, secret: %q, kinds: [EVENT_ADDED]}) { id } }`,
			rcv.URL, secret), &created)
		if st := collect(t, dial, "", `{"userId":"u-1","messageId":"flow-1","traits":{"email":"ann@example.com"}}`); st != 200 {
			t.Fatalf("collector: %d", st)
		}
		type deliveries struct {
			C struct {
				Nodes []struct {
					ID             string
					Attempts       int
					LastStatusCode *int
					EntryCount     int
				}
			} `json:"destinationDeliveries"`
		}
		list := func(status string) deliveries {
			var out deliveries
			gqlData(t, dial, "", fmt.Sprintf(`{ destinationDeliveries(destinationId: %q, status: %s) { nodes { id attempts lastStatusCode entryCount } } }`,
				created.D.ID, status), &out)
			return out
		}
		waitFor(t, "a dead letter", func() bool { return len(list("DEAD").C.Nodes) == 1 })
		dead := list("DEAD").C.Nodes[0]
		if dead.Attempts != 1 || dead.LastStatusCode == nil || *dead.LastStatusCode != 410 || dead.EntryCount != 1 {
			t.Fatalf("dead letter %+v, want one attempt answered 410, one entry", dead)
		}
		mu.Lock()
		status = 200
		mu.Unlock()
		var replay struct {
			N int `json:"replayDeadLetters"`
		}
		gqlData(t, dial, "", fmt.Sprintf(`mutation { replayDeadLetters(destinationId: %q) }`, created.D.ID), &replay)
		if replay.N != 1 {
			t.Fatalf("replayDeadLetters = %d, want 1", replay.N)
		}
		waitFor(t, "the replayed batch delivered", func() bool { return len(list("DELIVERED").C.Nodes) == 1 })
		if got := list("DELIVERED").C.Nodes[0].ID; got != dead.ID {
			t.Fatalf("delivered %s, want the dead letter %s", got, dead.ID)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(hits) != 2 || hits[0].id != dead.ID || hits[1].id != dead.ID {
			t.Fatalf("receiver hits %+v, want two under %s", hits, dead.ID)
		}
		for _, h := range hits {
			ts, v1, _ := strings.Cut(h.sig, ",v1=")
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write([]byte(strings.TrimPrefix(ts, "t=") + "." + h.body))
			if !hmac.Equal([]byte(v1), []byte(hex.EncodeToString(mac.Sum(nil)))) {
				t.Fatalf("signature %q does not verify", h.sig)
			}
			var p struct {
				Entries []struct {
					EventID string
					Profile struct {
						Identifiers []struct{ Type, Value string }
					}
				}
			}
			if err := json.Unmarshal([]byte(h.body), &p); err != nil || len(p.Entries) != 1 {
				t.Fatalf("body %s: %v", h.body, err)
			}
			if strings.Contains(h.body, "ann@example.com") || !strings.Contains(h.body, "a***@example.com") {
				t.Fatalf("the batch of a destination without includePII is not masked: %s", h.body)
			}
		}
	})
}

// startWebhookService starts the wired service on st, with destinations
// allowed on loopback, polling every 20 ms and retrying after retryBase,
// and returns the address to dial.
func startWebhookService(t *testing.T, st graph.Store, retryBase time.Duration) string {
	t.Helper()
	_, dial := startSubs(t, st, app.Defaults().Feed, func(c *app.Config) {
		c.Destinations = app.DestinationConfig{AllowPrivate: true, Poll: 20 * time.Millisecond, RetryBase: retryBase}
	})
	return dial
}

// waitFor polls cond until it holds, for up to a minute.
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

// A failing batch waits its backoff (here an hour) until retryDestination
// makes it due: the receiver, fixed meanwhile, gets it under the same
// delivery id at once, and the batch keeps its count of attempts.
func TestWebhookRetryNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st graph.Store) {
		var mu sync.Mutex
		status := http.StatusServiceUnavailable
		var hits []string
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits = append(hits, r.Header.Get("X-CDP-Delivery-Id"))
			code := status
			mu.Unlock()
			w.WriteHeader(code)
		}))
		t.Cleanup(rcv.Close)
		dial := startWebhookService(t, st, time.Hour)

		var created struct {
			D struct{ ID string } `json:"createDestination"`
		}
		gqlData(t, dial, "", fmt.Sprintf(`mutation { createDestination(input: {name: "retry", url: %q, secret: "retry-secret-0123456789", kinds: [EVENT_ADDED]}) { id } }`,
			rcv.URL), &created)
		retry := func(id string) bool {
			var out struct {
				R bool `json:"retryDestination"`
			}
			gqlData(t, dial, "", fmt.Sprintf(`mutation { retryDestination(destinationId: %q) }`, id), &out)
			return out.R
		}
		if retry(created.D.ID) {
			t.Fatal("retryDestination with nothing in flight = true")
		}
		if st := collect(t, dial, "", `{"userId":"u-1","messageId":"retry-1"}`); st != 200 {
			t.Fatalf("collector: %d", st)
		}
		type node struct {
			ID            string
			Attempts      int
			NextAttemptAt *time.Time
		}
		list := func(status string) []node {
			var out struct {
				C struct{ Nodes []node } `json:"destinationDeliveries"`
			}
			gqlData(t, dial, "", fmt.Sprintf(`{ destinationDeliveries(destinationId: %q, status: %s) { nodes { id attempts nextAttemptAt } } }`,
				created.D.ID, status), &out)
			return out.C.Nodes
		}
		waitFor(t, "a failed attempt", func() bool { return len(list("FAILED")) == 1 })
		failed := list("FAILED")[0]
		if failed.Attempts != 1 || failed.NextAttemptAt == nil || time.Until(*failed.NextAttemptAt) < 10*time.Minute {
			t.Fatalf("failed batch %+v, want one attempt and the next one about an hour away", failed)
		}
		mu.Lock()
		status = http.StatusOK
		mu.Unlock()
		if !retry(created.D.ID) {
			t.Fatal("retryDestination with a failing batch = false")
		}
		waitFor(t, "the retried batch delivered", func() bool { return len(list("DELIVERED")) == 1 })
		got := list("DELIVERED")[0]
		if got.ID != failed.ID || got.Attempts != 2 {
			t.Fatalf("delivered %+v, want %s after two attempts", got, failed.ID)
		}
		mu.Lock()
		if len(hits) != 2 || hits[0] != failed.ID || hits[1] != failed.ID {
			t.Errorf("receiver hits %v, want two under %s", hits, failed.ID)
		}
		mu.Unlock()
		var e struct {
			Errors []struct {
				Message    string
				Extensions struct{ Code string }
			}
		}
		body, _ := json.Marshal(map[string]any{"query": `mutation { retryDestination(destinationId: "dst_00000000000000000000000000000009") }`})
		r := send(t, "POST", "http://"+dial+"/graphql", "", "", string(body))
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Extensions.Code != "NOT_FOUND" ||
			!strings.Contains(e.Errors[0].Message, "destinationId") {
			t.Fatalf("retryDestination of an unknown id: %s, want NOT_FOUND naming destinationId", r.body)
		}
	})
}
