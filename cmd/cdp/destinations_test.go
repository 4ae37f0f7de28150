package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
)

// hookReceiver is a webhook receiver on 127.0.0.1. While blocking, it
// holds every request open until the client goes away (the server is
// killed); otherwise it answers 200 and records the delivery.
type hookReceiver struct {
	mu       sync.Mutex
	blocking bool
	seen     []string // delivery ids of every request, in arrival order
	ok       []hookDelivery
	srv      *httptest.Server
}

type hookDelivery struct {
	id      string
	seqs    []uint64
	msgIDs  []string
	profile []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{blocking: true}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("X-CDP-Delivery-Id")
		h.mu.Lock()
		h.seen = append(h.seen, id)
		blocking := h.blocking
		h.mu.Unlock()
		if blocking {
			<-r.Context().Done()
			return
		}
		var p struct {
			Entries []struct {
				Seq       uint64 `json:"seq"`
				EventID   string `json:"eventId"`
				ProfileID string `json:"profileId"`
			} `json:"entries"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			w.WriteHeader(400)
			return
		}
		d := hookDelivery{id: id}
		for _, e := range p.Entries {
			_, msg, _ := strings.Cut(e.EventID, "/")
			d.seqs, d.msgIDs, d.profile = append(d.seqs, e.Seq), append(d.msgIDs, msg), append(d.profile, e.ProfileID)
		}
		h.mu.Lock()
		h.ok = append(h.ok, d)
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) state() (seen []string, ok []hookDelivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...), append([]hookDelivery(nil), h.ok...)
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func postGraphQL(t *testing.T, addr, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post("http://"+addr+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any
		Errors []map[string]any
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) > 0 {
		t.Fatalf("GraphQL errors: %v", out.Errors)
	}
	return out.Data
}

// kill -9 of the server while a delivery is in flight loses nothing:
// after a restart on the same store, every event committed before the kill
// reaches the receiver (at least once), the batch cut short is sent again
// under its delivery id, and batches arrive in feed order.
func TestWebhooksSurviveKill(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		webhooksSurviveKill(t, t.TempDir(), nil)
	})
	t.Run("neo4j", func(t *testing.T) {
		storetest.OpenNeo4j(t)
		cfg := storetest.Neo4jConfig()
		env := []string{"NEO4J_URI=" + cfg.URI, "NEO4J_USER=" + cfg.User, "NEO4J_PASSWORD=" + cfg.Password}
		webhooksSurviveKill(t, t.TempDir(), env)
	})
}

// webhooksSurviveKill runs the test on the store in dir (embedded) or
// named by env (Neo4j).
func webhooksSurviveKill(t *testing.T, dir string, env []string) {
	rcv := newHookReceiver(t)
	env = append(env, "CDP_DESTINATIONS_ALLOW_PRIVATE=true")
	cmd, addr, logs := startServe(t, dir, env...)
	data := postGraphQL(t, addr, `mutation($in: DestinationInput!) { createDestination(input: $in) { id } }`, map[string]any{
		"in": map[string]any{"name": "kill test", "url": rcv.srv.URL + "/hook", "secret": "kill-test-secret-0123456789",
			"kinds": []string{"EVENT_ADDED"}, "batchSize": 4},
	})
	destID := data["createDestination"].(map[string]any)["id"].(string)

	const n = 30
	var want []string
	for b := 0; b < n/10; b++ {
		var batch []map[string]any
		for i := b * 10; i < b*10+10; i++ {
			msg := fmt.Sprintf("m%02d", i)
			want = append(want, msg)
			batch = append(batch, map[string]any{"type": "track", "event": "Viewed", "messageId": msg, "userId": fmt.Sprintf("u%d", i%4)})
		}
		body, _ := json.Marshal(map[string]any{"batch": batch})
		resp, err := http.Post("http://"+addr+"/v1/batch", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("batch %d: status %d", b, resp.StatusCode)
		}
	}
	// The first batch is on the wire, held open by the receiver.
	waitUntil(t, 60*time.Second, "the first delivery attempt", func() bool { seen, _ := rcv.state(); return len(seen) > 0 })
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()
	seen, _ := rcv.state()
	cut := seen[0]

	rcv.mu.Lock()
	rcv.blocking = false
	rcv.mu.Unlock()
	_, _, logs2 := startServe(t, dir, env...)
	// The killed process's lease expires first (30 s).
	got := map[string]int{}
	waitUntil(t, 120*time.Second, "every event at the receiver", func() bool {
		_, ok := rcv.state()
		clear(got)
		for _, d := range ok {
			for _, m := range d.msgIDs {
				got[m]++
			}
		}
		return len(got) >= n
	})
	_, ok := rcv.state()
	for _, m := range want {
		if got[m] == 0 {
			t.Errorf("event %s never reached the receiver", m)
		}
	}
	if len(got) != n {
		t.Errorf("the receiver got %d distinct events, want %d: %v", len(got), n, got)
	}
	if ok[0].id != cut {
		t.Errorf("the first delivery after the restart is %s, want the batch cut short by the kill, %s", ok[0].id, cut)
	}
	var last uint64
	for _, d := range ok {
		for _, s := range d.seqs {
			if s <= last {
				t.Errorf("delivery %s holds seq %d after seq %d: out of feed order", d.id, s, last)
			}
			last = s
		}
	}
	if t.Failed() {
		t.Logf("destination %s; first run logs:\n%s\nsecond run logs:\n%s", destID, logs.String(), logs2.String())
	}
}

// Two cdp serve processes on one Neo4j share a destination under its
// lease: when the holder is killed mid-delivery, the other process takes
// the destination over once the lease expires, and every event arrives.
func TestWebhookLeaseMovesToTheOtherProcess(t *testing.T) {
	pair := startLeasePair(t, 0, "two processes", 5)
	rcv, cmdA, cmdB, addrB := pair.rcv, pair.cmd[0], pair.cmd[1], pair.addr[1]
	const n = 12
	var batch []map[string]any
	for i := range n {
		batch = append(batch, map[string]any{"type": "track", "event": "Viewed", "messageId": fmt.Sprintf("t%02d", i), "userId": fmt.Sprintf("u%d", i%3)})
	}
	body, _ := json.Marshal(map[string]any{"batch": batch})
	resp, err := http.Post("http://"+addrB+"/v1/batch", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("batch: status %d", resp.StatusCode)
	}
	waitUntil(t, 60*time.Second, "the first delivery attempt", func() bool { seen, _ := rcv.state(); return len(seen) > 0 })
	victim, survivor := cmdA, "B"
	if pair.holder(t) == 1 {
		victim, survivor = cmdB, "A"
	}
	if err := victim.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = victim.Wait()
	seen, _ := rcv.state()
	cut := seen[0]
	rcv.mu.Lock()
	rcv.blocking = false
	rcv.mu.Unlock()
	got := map[string]bool{}
	waitUntil(t, 120*time.Second, "every event, from process "+survivor, func() bool {
		_, ok := rcv.state()
		clear(got)
		for _, d := range ok {
			for _, m := range d.msgIDs {
				got[m] = true
			}
		}
		return len(got) >= n
	})
	_, ok := rcv.state()
	if ok[0].id != cut {
		t.Errorf("process %s first sent %s, want the batch cut short, %s", survivor, ok[0].id, cut)
	}
	for i := range n {
		if m := fmt.Sprintf("t%02d", i); !got[m] {
			t.Errorf("event %s never arrived", m)
		}
	}
}

// leasePair is two cdp serve processes on one Neo4j sharing one webhook
// destination of EVENT_ADDED, delivered to rcv.
type leasePair struct {
	rcv    *hookReceiver
	cmd    [2]*exec.Cmd
	addr   [2]string
	logs   [2]*testlog.Buffer
	destID string
}

// startLeasePair starts the two processes and creates the destination,
// named name with batches of batchSize, through process via (0 or 1).
func startLeasePair(t *testing.T, via int, name string, batchSize int) leasePair {
	t.Helper()
	storetest.OpenNeo4j(t)
	cfg := storetest.Neo4jConfig()
	env := []string{"NEO4J_URI=" + cfg.URI, "NEO4J_USER=" + cfg.User, "NEO4J_PASSWORD=" + cfg.Password, "CDP_DESTINATIONS_ALLOW_PRIVATE=true"}
	p := leasePair{rcv: newHookReceiver(t)}
	for i := range p.cmd {
		p.cmd[i], p.addr[i], p.logs[i] = startServe(t, t.TempDir(), env...)
	}
	data := postGraphQL(t, p.addr[via], `mutation($in: DestinationInput!) { createDestination(input: $in) { id } }`, map[string]any{
		"in": map[string]any{"name": name, "url": p.rcv.srv.URL, "secret": "lease-pair-secret-0123456789",
			"kinds": []string{"EVENT_ADDED"}, "batchSize": batchSize},
	})
	p.destID = data["createDestination"].(map[string]any)["id"].(string)
	return p
}

// holder returns which process (0 or 1) holds the destination's lease:
// the holder names its process id.
func (p leasePair) holder(t *testing.T) int {
	t.Helper()
	list := postGraphQL(t, p.addr[0], `{ destinations(first: 5) { nodes { id leaseHolder } } }`, nil)
	holder, _ := list["destinations"].(map[string]any)["nodes"].([]any)[0].(map[string]any)["leaseHolder"].(string)
	for i, c := range p.cmd {
		if strings.Contains(holder, fmt.Sprintf("/%d/", c.Process.Pid)) {
			return i
		}
	}
	t.Fatalf("destination %s is held by %q, neither process (pids %d, %d)", p.destID, holder, p.cmd[0].Process.Pid, p.cmd[1].Process.Pid)
	return -1
}
