package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/feedhub"
)

// GoalSubscriptionRatio is issue 13's floor: ingest with one stalled
// subscriber is at least this fraction of ingest with none.
const GoalSubscriptionRatio = 0.9

// SubscriptionResult is the subscription measure (issue 13): how long a
// committed event takes to reach a subscriber on the process that
// committed it (woken by its commit) and on another process on the same
// store (by polling, --feed-poll), and ingest with one stalled subscriber
// against none.
type SubscriptionResult struct {
	Latencies int `json:"subscription_latencies"`
	// From the change's time, stamped in its transaction, to its arrival
	// at the subscriber, in milliseconds.
	LocalP50  float64 `json:"subscription_local_p50_ms"`
	LocalP99  float64 `json:"subscription_local_p99_ms"`
	RemoteP50 float64 `json:"subscription_remote_p50_ms"`
	RemoteP99 float64 `json:"subscription_remote_p99_ms"`

	Messages         int       `json:"subscription_messages"`
	Rounds           int       `json:"subscription_rounds"`
	NonePerSecond    float64   `json:"subscription_ingest_per_second_none"`
	StalledPerSecond float64   `json:"subscription_ingest_per_second_stalled"`
	Ratio            float64   `json:"subscription_ingest_ratio"`
	NoneRuns         []float64 `json:"subscription_ingest_per_second_none_runs"`
	StalledRuns      []float64 `json:"subscription_ingest_per_second_stalled_runs"`
	// SlowClosed counts the stalled subscribers the server ended as too
	// slow, over the stalled passes.
	SlowClosed uint64 `json:"subscription_slow_closed"`
}

// benchSub is a graphql-transport-ws client of one subscription.
type benchSub struct {
	c *websocket.Conn
}

type benchChange struct {
	At      time.Time `json:"at"`
	EventID string    `json:"eventId"`
}

// subscribe opens a websocket to the service at base (http://host:port)
// and subscribes to query. A positive rcvbuf shrinks the socket's receive
// buffer, so that a client that reads nothing stalls the server at once.
func subscribe(ctx context.Context, base, query string, rcvbuf int) (*benchSub, error) {
	d := &net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf) }); err != nil {
				return err
			}
			return serr
		}
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: d.DialContext}},
	})
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	s := &benchSub{c: c}
	if err := s.write(ctx, map[string]any{"type": "connection_init"}); err != nil {
		return nil, err
	}
	var ack struct{ Type string }
	if _, b, err := c.Read(ctx); err != nil || json.Unmarshal(b, &ack) != nil || ack.Type != "connection_ack" {
		_ = c.CloseNow()
		return nil, fmt.Errorf("websocket: no connection_ack (%v)", err)
	}
	if err := s.write(ctx, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": query}}); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *benchSub) write(ctx context.Context, v any) error {
	b, _ := json.Marshal(v)
	return s.c.Write(ctx, websocket.MessageText, b)
}

// next returns the next change, answering pings.
func (s *benchSub) next(ctx context.Context) (benchChange, error) {
	for {
		_, b, err := s.c.Read(ctx)
		if err != nil {
			return benchChange{}, err
		}
		var m struct {
			Type    string
			Payload struct {
				Data map[string]benchChange
			}
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return benchChange{}, err
		}
		switch m.Type {
		case "ping":
			if err := s.write(ctx, map[string]any{"type": "pong"}); err != nil {
				return benchChange{}, err
			}
		case "next":
			for _, c := range m.Payload.Data {
				return c, nil
			}
		case "pong", "ka":
		default:
			return benchChange{}, fmt.Errorf("subscription ended: %s", b)
		}
	}
}

func (s *benchSub) close() { _ = s.c.CloseNow() }

// waitSubscribed waits until svc holds n subscriptions.
func waitSubscribed(ctx context.Context, svc *service, n int) error {
	for svc.Feed.Stats().Active < n {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// subscriptionLatency starts two services on store, each with a
// subscriber to the added events, sends n events one at a time through
// the first, and returns how long each took to reach each subscriber.
func subscriptionLatency(ctx context.Context, cfg Config, store graph.Store, n int) (local, remote []time.Duration, err error) {
	rules, err := Rules()
	if err != nil {
		return nil, nil, err
	}
	a, err := startService(ctx, store, rules, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer a.stop(context.WithoutCancel(ctx))
	b, err := startService(ctx, store, rules, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer b.stop(context.WithoutCancel(ctx))
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	const q = `subscription { changes(kinds: [EVENT_ADDED]) { at eventId } }`
	type arrival struct {
		id      string
		latency time.Duration
	}
	var subs []chan arrival
	for _, svc := range []*service{a, b} {
		s, err := subscribe(ctx, svc.url, q, 0)
		if err != nil {
			return nil, nil, err
		}
		defer s.close()
		if err := waitSubscribed(ctx, svc, 1); err != nil {
			return nil, nil, err
		}
		ch := make(chan arrival, n)
		subs = append(subs, ch)
		go func() {
			defer close(ch)
			for {
				c, err := s.next(ctx)
				if err != nil {
					return
				}
				ch <- arrival{c.EventID, time.Since(c.At)}
			}
		}()
	}
	hc := &http.Client{Timeout: time.Minute}
	for i := range n {
		// A random pause, so that commits fall anywhere between the
		// second service's polls rather than right after each one.
		time.Sleep(rand.N(feedhub.DefaultPoll))
		id := fmt.Sprintf("sub-latency-%d", i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url+"/v1/track",
			bytes.NewReader([]byte(`{"messageId":"`+id+`","anonymousId":"bench-latency","event":"Latency"}`)))
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(writeKey, "")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, nil, fmt.Errorf("track: status %d", resp.StatusCode)
		}
		for j, ch := range subs {
			got, ok := <-ch
			if !ok {
				return nil, nil, fmt.Errorf("subscriber %d ended", j)
			}
			if !strings.HasSuffix(got.id, "/"+id) {
				return nil, nil, fmt.Errorf("subscriber %d got %s, want %s", j, got.id, id)
			}
			if j == 0 {
				local = append(local, got.latency)
			} else {
				remote = append(remote, got.latency)
			}
		}
	}
	return local, remote, nil
}

// subscriptionPasses measures ingest of the first cfg.SubscriptionEvents
// messages with one stalled subscriber and with none, alternating, on a
// fresh store each pass (a new file in dir; n4 emptied on Neo4j).
func subscriptionPasses(ctx context.Context, cfg Config, n4 graph.Store, dir string, ds *Dataset, rules *graph.Rules) (SubscriptionResult, error) {
	msgs := ds.Messages
	if cfg.SubscriptionEvents > 0 && cfg.SubscriptionEvents < len(msgs) {
		msgs = msgs[:cfg.SubscriptionEvents]
	}
	work, err := prepare(&Dataset{Messages: msgs}, rules, cfg.Batch)
	if err != nil {
		return SubscriptionResult{}, err
	}
	r := SubscriptionResult{Messages: len(msgs), Rounds: cfg.SubscriptionRounds}
	var none, stalled []float64
	for pass := range 2 * cfg.SubscriptionRounds {
		stall := pass%2 == 1
		if (pass/2)%2 == 1 {
			stall = !stall
		}
		cfg.logf("subscriptions %d/%d: %d messages through HTTP, stalled subscriber: %v", pass+1, 2*cfg.SubscriptionRounds, len(msgs), stall)
		took, slow, err := subscriptionPass(ctx, cfg, n4, filepath.Join(dir, fmt.Sprintf("subscriptions-%d", pass)), work, rules, stall)
		if err != nil {
			return SubscriptionResult{}, fmt.Errorf("subscription pass %d: %w", pass+1, err)
		}
		rate := float64(len(msgs)) / took.Seconds()
		if stall {
			stalled = append(stalled, rate)
			r.SlowClosed += slow
		} else {
			none = append(none, rate)
		}
	}
	r.NonePerSecond, r.StalledPerSecond = median(none), median(stalled)
	r.Ratio = safeDiv(r.StalledPerSecond, r.NonePerSecond)
	r.NoneRuns, r.StalledRuns = roundAll(none), roundAll(stalled)
	return r, nil
}

// subscriptionPass sends work through a service on a fresh store, with a
// subscriber to every change that reads nothing when stall is set, and
// returns the time the sending took and how many subscribers the server
// ended as too slow.
func subscriptionPass(ctx context.Context, cfg Config, n4 graph.Store, dir string, work *workload, rules *graph.Rules, stall bool) (time.Duration, uint64, error) {
	store, done, err := passStore(ctx, n4, dir)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	// Not behind the timing wrapper, which hides the feed's reads.
	svc, err := startService(ctx, store, rules, cfg)
	if err != nil {
		return 0, 0, err
	}
	if svc.Feed == nil {
		_ = svc.stop(ctx)
		return 0, 0, fmt.Errorf("store %T keeps no change feed", store)
	}
	if stall {
		s, err := subscribe(ctx, svc.url, `subscription { changes { cursor kind at profileId previousIds eventId } }`, 2048)
		if err != nil {
			_ = svc.stop(ctx)
			return 0, 0, err
		}
		defer s.close()
		if err := waitSubscribed(ctx, svc, 1); err != nil {
			_ = svc.stop(ctx)
			return 0, 0, err
		}
	}
	sent, err := sendAll(ctx, svc.url, work.bodies, cfg.Clients)
	slow := svc.Feed.Stats().SlowClosed
	if stopErr := svc.stop(ctx); err == nil {
		err = stopErr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("ingest through HTTP: %w", err)
	}
	if sent.stored != work.storable {
		return 0, 0, fmt.Errorf("the service stored %d events; %d distinct messages carry a usable identifier", sent.stored, work.storable)
	}
	return sent.elapsed, slow, nil
}

// subscriptionMeasure runs both parts of the measure.
func subscriptionMeasure(ctx context.Context, cfg Config, n4 graph.Store, dir string, ds *Dataset, rules *graph.Rules) (SubscriptionResult, error) {
	var r SubscriptionResult
	if cfg.SubscriptionLatencies > 0 {
		store, done, err := passStore(ctx, n4, filepath.Join(dir, "subscription-latency"))
		if err != nil {
			return r, err
		}
		defer done()
		cfg.logf("subscriptions: %d events one at a time, to a subscriber on the committing service and on another", cfg.SubscriptionLatencies)
		local, remote, err := subscriptionLatency(ctx, cfg, store, cfg.SubscriptionLatencies)
		if err != nil {
			return r, fmt.Errorf("latency: %w", err)
		}
		r.Latencies = len(local)
		r.LocalP50, r.LocalP99 = percentile(local, 0.5), percentile(local, 0.99)
		r.RemoteP50, r.RemoteP99 = percentile(remote, 0.5), percentile(remote, 0.99)
	}
	if cfg.SubscriptionRounds > 0 {
		p, err := subscriptionPasses(ctx, cfg, n4, dir, ds, rules)
		if err != nil {
			return r, err
		}
		p.Latencies, p.LocalP50, p.LocalP99, p.RemoteP50, p.RemoteP99 = r.Latencies, r.LocalP50, r.LocalP99, r.RemoteP50, r.RemoteP99
		r = p
	}
	return r, nil
}
