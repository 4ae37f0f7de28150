package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/testlog"
)

// TestNeo4jOutage runs `cdp serve` against a Neo4j of its own (started by
// dev/neo4j/start on a free port, never the shared one), through a whole
// outage:
//   - serve starts before Neo4j and waits for it (--store-timeout);
//   - under load, Neo4j is killed (SIGKILL, the harshest stop): the
//     collector, GraphQL and /readyz answer 503 with Retry-After, and the
//     process keeps running;
//   - Neo4j starts again on the same data: /readyz recovers by itself;
//   - every refused batch is sent again, and then every acknowledged event
//     and every resent one is stored exactly once.
func TestNeo4jOutage(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	cannot := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf("the outage test cannot run (required under CI=true): "+format, args...)
		}
		t.Skipf("the outage test cannot run: "+format, args...)
	}
	if testing.Short() && !ci {
		t.Skip("skipping the Neo4j outage test in -short mode")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	scripts := filepath.Join(root, "dev", "neo4j")
	if _, err := os.Stat(filepath.Join(scripts, "start")); err != nil {
		cannot("dev/neo4j/start not found from %s: %v", root, err)
	}
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil && !(tool == "java" && os.Getenv("JAVA_HOME") != "") {
			cannot("%s not found (dev/neo4j needs a JDK 17+ and Maven): %v", tool, err)
		}
	}

	t0 := time.Now()
	step := func(what string) { t.Logf("%5.1fs %s", time.Since(t0).Seconds(), what) }
	port := freePort(t)
	if port == 7687 {
		t.Fatal("picked the shared Neo4j port")
	}
	stateDir := t.TempDir()
	neo4jEnv := append(cleanEnv(), "NEO4J_BOLT_PORT="+strconv.Itoa(port), "NEO4J_STATE_DIR="+stateDir)
	// script runs dev/neo4j/<name>; keep reuses the data of the last run.
	// Only the first start may skip the test: once it ran, a failure is one.
	script := func(name string, keep bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(scripts, name))
		cmd.Env = neo4jEnv
		if keep {
			cmd.Env = append(cmd.Env, "NEO4J_KEEP_DATA=1")
		}
		out, err := cmd.CombinedOutput()
		if err != nil && !keep {
			cannot("dev/neo4j/%s on port %d: %v\n%s", name, port, err, out)
		}
		if err != nil {
			t.Fatalf("dev/neo4j/%s on port %d: %v\n%s", name, port, err, out)
		}
	}
	// Registered after t.TempDir, so it runs before the folder is removed.
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(scripts, "stop"))
		cmd.Env = neo4jEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("dev/neo4j/stop on port %d: %v\n%s", port, err, out)
		}
	})
	uri := fmt.Sprintf("bolt://127.0.0.1:%d", port)

	// 1. serve first: it must wait for Neo4j, saying so.
	// A password (which this Neo4j, without auth, ignores) must never reach
	// the logs, however many times serve says what it waits for.
	const password = "pw-outage-Zq81xv"
	srv := startServeAsync(t, "--neo4j-uri", uri, "--neo4j-user", "neo4j", "--neo4j-password", password,
		"--store-timeout", "150s", "--data-dir", t.TempDir(), "--commit-timeout", "10s")
	srv.waitLog(t, "waiting for Neo4j to answer", 60*time.Second)
	step("cdp serve waits for Neo4j")
	script("start", false)
	step("Neo4j started")
	addr := srv.waitAddr(t, 60*time.Second)
	base := "http://" + addr

	// 2. Load, then kill Neo4j in the middle of it.
	ld := &load{base: base}
	ld.start(3)
	// A deadline for progress, not a speed: a Neo4j just started, on a
	// machine busy with other tests, may refuse the first batches while
	// it warms up (the load sends them again).
	ld.waitAcked(t, 30, 150*time.Second)
	step("load acknowledged")
	killNeo4j(t, stateDir)
	step("Neo4j killed")
	ld.waitRefused(t, 3, 60*time.Second)

	// While it is down: 503 with Retry-After on the collector, GraphQL and
	// /readyz, from the same process.
	expect503 := func(what string, do func() (*http.Response, error)) {
		t.Helper()
		resp, err := do()
		if err != nil {
			t.Fatalf("%s while Neo4j is down: %v", what, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s while Neo4j is down: %d, Retry-After %q, want 503 with Retry-After; body %s",
				what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	probeID := "outage-probe"
	expect503("POST /v1/track", func() (*http.Response, error) {
		return postJSON(base+"/v1/track", map[string]any{"type": "track", "event": "Probe", "messageId": probeID, "anonymousId": "probe"})
	})
	expect503("GraphQL query", func() (*http.Response, error) {
		return postJSON(base+"/graphql", map[string]any{"query": `{ profileByIdentifier(type: "anonymous_id", value: "probe") { id } }`})
	})
	expect503("GET /readyz", func() (*http.Response, error) { return http.Get(base + "/readyz") })
	ld.stop()
	step("503s checked")
	if srv.exited() {
		t.Fatalf("cdp serve exited during the outage; logs:\n%s", srv.logs.String())
	}

	// 3. Neo4j back on the same data: the service recovers by itself.
	restartAt := time.Now()
	script("start", true)
	restart := time.Since(restartAt)
	step("Neo4j restarted")
	// The service finds Neo4j again within a bound, as its clients' resends
	// below: a minute, or three times what Neo4j took to start again on a
	// machine slow enough that this is longer (a restarted Neo4j warms up
	// as slowly as it started).
	recoverWithin := max(60*time.Second, 3*restart)
	deadline := time.Now().Add(recoverWithin)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not recover within %v of Neo4j's restart (which took %v); logs:\n%s", recoverWithin, restart, srv.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	step("ready again")
	// 4. Resend every refused batch (and the probe): each must now be
	// acknowledged. Some were committed after all (their answer was lost
	// with Neo4j); so was the first acknowledged batch, sent again as by a
	// client that never saw its answer: messageId keeps each stored once.
	// A client resends as Segment's libraries do: a 503 or 429 is tried
	// again after its Retry-After (a restarted Neo4j may still refuse a
	// moment after it first answers), within the same bound as /readyz.
	refused := append(ld.refused, []string{probeID}, ld.acked[:10])
	resent := map[string]bool{}
	resendBy := time.Now().Add(recoverWithin)
	for _, ids := range refused {
		for {
			resp, err := postJSON(base+"/v1/batch", batchBody(ids))
			if err != nil {
				t.Fatalf("resend: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			retry := resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests
			if !retry || resp.Header.Get("Retry-After") == "" || time.Now().After(resendBy) {
				t.Fatalf("resend after recovery: %d %s (Retry-After %q)", resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			time.Sleep(time.Duration(max(wait, 1)) * time.Second)
		}
		for _, id := range ids {
			resent[id] = true
		}
	}

	// 5. Every acknowledged and every resent event is stored, once.
	want := map[string]bool{}
	for _, id := range ld.acked {
		want[id] = true
	}
	for id := range resent {
		want[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: uri})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	var ids []string
	for id := range want {
		ids = append(ids, "default/"+id) // no write keys: source "default"
	}
	got, err := graph.NewEngine(st, nil).Events(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("%d of %d acknowledged or resent events are missing", len(ids)-len(got), len(ids))
	}
	sess := st.Driver().NewSession(ctx, neo4j.SessionConfig{DatabaseName: st.Database()})
	defer sess.Close(context.Background())
	res, err := sess.Run(ctx, "MATCH (e:Event) RETURN count(e) AS n", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := res.Single(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := rec.Values[0].(int64); n != int64(len(want)) {
		t.Fatalf("Neo4j holds %d events, want exactly the %d acknowledged or resent ones", n, len(want))
	}
	logs := srv.logs.String()
	if !strings.Contains(logs, "Neo4j stopped answering") || !strings.Contains(logs, "Neo4j answers again") {
		t.Errorf("the logs do not say when Neo4j stopped answering and when it came back")
	}
	if strings.Contains(logs, password) {
		t.Errorf("the Neo4j password is in the logs")
	}
	t.Logf("%d events acknowledged before or during the outage, %d batches resent (%d events), all stored once",
		len(ld.acked), len(refused), len(resent))
}

// freePort returns a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// killNeo4j kills the JVM dev/neo4j/start wrote to its pid file, at once
// (no clean shutdown), and waits for it to be gone.
func killNeo4j(t *testing.T, stateDir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "neo4j.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file holds %q", b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill Neo4j (pid %d): %v", pid, err)
	}
	// A minute: the kernel frees a large JVM's memory before it is gone,
	// slowly on a loaded machine.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("Neo4j (pid %d) still runs a minute after SIGKILL", pid)
}

func batchBody(ids []string) map[string]any {
	batch := make([]map[string]any, len(ids))
	for i, id := range ids {
		// Identifiers shared between batches, so commits merge profiles.
		batch[i] = map[string]any{"type": "track", "event": "Load", "messageId": id,
			"anonymousId": "anon-" + strconv.Itoa(len(id)%7), "userId": "u-" + id[len(id)-1:]}
	}
	return map[string]any{"batch": batch}
}

func postJSON(url string, v any) (*http.Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 60 * time.Second}
	return client.Post(url, "application/json", bytes.NewReader(body))
}

// load sends batches of new events from a few clients and sorts them by
// answer: acknowledged (2xx), or refused (429/503 with Retry-After, or no
// answer at all, whose outcome is unknown and which a client must resend).
type load struct {
	base string

	mu      sync.Mutex
	acked   []string
	refused [][]string
	bad     []string
	stopped bool
	wg      sync.WaitGroup
}

func (l *load) start(clients int) {
	for c := 0; c < clients; c++ {
		l.wg.Add(1)
		go func(c int) {
			defer l.wg.Done()
			for n := 0; ; n++ {
				l.mu.Lock()
				stop := l.stopped
				l.mu.Unlock()
				if stop {
					return
				}
				ids := make([]string, 10)
				for i := range ids {
					ids[i] = fmt.Sprintf("o%d-%d-%d", c, n, i)
				}
				resp, err := postJSON(l.base+"/v1/batch", batchBody(ids))
				var status int
				var retryAfter string
				var body []byte
				if err == nil {
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					status, retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
				}
				l.mu.Lock()
				switch {
				case err == nil && status/100 == 2:
					l.acked = append(l.acked, ids...)
				case err != nil:
					l.refused = append(l.refused, ids)
				case (status == 503 || status == 429) && retryAfter != "":
					l.refused = append(l.refused, ids)
				default:
					l.bad = append(l.bad, fmt.Sprintf("%d (Retry-After %q): %s", status, retryAfter, body))
				}
				l.mu.Unlock()
				if status == 503 || status == 429 {
					time.Sleep(100 * time.Millisecond) // a polite client backs off
				}
			}
		}(c)
	}
}

func (l *load) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.wg.Wait()
}

func (l *load) counts() (acked, refused int, bad []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), len(l.refused), append([]string(nil), l.bad...)
}

func (l *load) waitAcked(t *testing.T, batches int, within time.Duration) {
	t.Helper()
	l.wait(t, within, fmt.Sprintf("%d acknowledged batches", batches), func(a, _ int) bool { return a >= batches*10 })
}

func (l *load) waitRefused(t *testing.T, batches int, within time.Duration) {
	t.Helper()
	l.wait(t, within, fmt.Sprintf("%d refused batches", batches), func(_, r int) bool { return r >= batches })
}

func (l *load) wait(t *testing.T, within time.Duration, what string, done func(acked, refused int) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		a, r, bad := l.counts()
		if len(bad) > 0 {
			l.stop()
			t.Fatalf("the collector answered neither 2xx nor 429/503 with Retry-After: %s", bad[0])
		}
		if done(a, r) {
			return
		}
		if time.Now().After(deadline) {
			l.stop()
			t.Fatalf("no %s within %s (acknowledged events %d, refused batches %d)", what, within, a, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// asyncServe is a `cdp serve` started without waiting for it to listen.
type asyncServe struct {
	cmd  *exec.Cmd
	logs *testlog.Buffer
	addr chan string
	done chan struct{}
}

func startServeAsync(t *testing.T, args ...string) *asyncServe {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "info"}, args...)...)
	cmd.Env = cleanEnv()
	s := &asyncServe{cmd: cmd, logs: &testlog.Buffer{}, addr: make(chan string, 1), done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(s.done)
		_ = pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.WriteString(line + "\n")
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "listening" {
				s.addr <- m["addr"].(string)
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-s.done })
	return s
}

func (s *asyncServe) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *asyncServe) waitLog(t *testing.T, msg string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(s.logs.String(), msg) {
		if time.Now().After(deadline) || s.exited() {
			t.Fatalf("cdp serve did not log %q; logs:\n%s", msg, s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *asyncServe) waitAddr(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case addr := <-s.addr:
		return addr
	case <-s.done:
		t.Fatalf("cdp serve exited before listening; logs:\n%s", s.logs.String())
	case <-time.After(within):
		t.Fatalf("cdp serve did not start within %s of Neo4j; logs:\n%s", within, s.logs.String())
	}
	return ""
}
