package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/internal/testlog"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cdp-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "cdp")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build cdp: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv drops the variables that would change what cdp does.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CDP_") || strings.HasPrefix(kv, "NEO4J_") || strings.HasPrefix(kv, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Bad configuration gets one clear line naming the problem, a non-zero
// exit, and never a stack trace.
func TestBadConfiguration(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	noPEM := notADir // holds no certificate
	rulesNull := filepath.Join(t.TempDir(), "null.json")
	rulesTrailing := filepath.Join(t.TempDir(), "trailing.json")
	for p, body := range map[string]string{rulesNull: "null", rulesTrailing: "{} {}"} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown flag", []string{"serve", "--no-such-flag"}, nil, "flag provided but not defined: -no-such-flag"},
		{"unknown command", []string{"srve"}, nil, `unknown command "srve"`},
		{"unreachable neo4j", []string{"serve", "--addr", "127.0.0.1:0", "--store-timeout", "5s"}, []string{"NEO4J_URI=bolt://127.0.0.1:1"}, "did not answer within --store-timeout 5s"},
		{"store timeout not positive", []string{"serve", "--addr", "127.0.0.1:0", "--store-timeout", "0s"}, []string{"NEO4J_URI=bolt://127.0.0.1:1"}, "--store-timeout must be positive, got 0s"},
		// A wrong URI is not waited for, whatever --store-timeout says.
		{"bad neo4j uri", []string{"serve", "--addr", "127.0.0.1:0", "--store-timeout", "10m"}, []string{"NEO4J_URI=http://127.0.0.1:1"}, `--neo4j-uri "http://127.0.0.1:1" is not a Neo4j URI`},
		// A CA file is checked before any connection: no waiting either.
		{"ca file with a plain uri", []string{"serve", "--addr", "127.0.0.1:0", "--store-timeout", "10m", "--neo4j-ca-file", noPEM}, []string{"NEO4J_URI=bolt://127.0.0.1:1"}, "--neo4j-ca-file needs a bolt+s:// or neo4j+s:// --neo4j-uri"},
		{"ca file without certificates", []string{"migrate", "--store-timeout", "10m"}, []string{"NEO4J_URI=neo4j+s://127.0.0.1:1", "NEO4J_CA_FILE=" + noPEM}, "holds no PEM certificate"},
		{"copy ca file without certificates", []string{"copy", "--from-neo4j-uri", "neo4j+s://127.0.0.1:1", "--from-neo4j-ca-file", noPEM, "--to-data-dir", t.TempDir()}, nil, "holds no PEM certificate"},
		{"data dir not writable", []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(notADir, "data")}, nil, "data dir"},
		{"port in use", []string{"serve", "--addr", busy.Addr().String(), "--data-dir", t.TempDir()}, nil, "cannot listen on " + busy.Addr().String()},
		{"bad env value", []string{"serve"}, []string{"CDP_BATCH_SIZE=lots"}, `CDP_BATCH_SIZE="lots" is not a whole number`},
		{"bad log level", []string{"serve", "--log-level", "loud"}, nil, `--log-level "loud"`},
		{"rules file missing", []string{"serve", "--rules", "/nonexistent/rules.json"}, nil, "rules file"},
		{"rules file null", []string{"serve", "--addr", "127.0.0.1:0", "--rules", rulesNull}, nil, "rules file " + rulesNull + ": line 1, column 1: the file must hold one JSON object ({...}), not null"},
		{"rules file with more after the object", []string{"serve", "--addr", "127.0.0.1:0", "--rules", rulesTrailing}, nil, "rules file " + rulesTrailing + ": line 1, column 4: more after the rules object"},
	}
	if os.Geteuid() != 0 { // root writes anywhere, so this case means nothing for root
		cases = append(cases, struct {
			name string
			args []string
			env  []string
			want string
		}{"read-only data dir", []string{"serve", "--addr", "127.0.0.1:0", "--data-dir", readOnly}, nil, "not writable"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, c.args...)
			cmd.Env = cleanEnv(append([]string{"CDP_DATA_DIR=" + t.TempDir()}, c.env...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatal("cdp did not exit on bad configuration")
			}
			if err == nil {
				t.Fatalf("exit 0, want non-zero; stderr: %s", stderr.String())
			}
			out := strings.TrimSpace(stderr.String())
			lines := strings.Split(out, "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, c.want) {
				t.Fatalf("last line %q does not name the problem %q", last, c.want)
			}
			if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic") {
				t.Fatalf("stack trace on bad configuration:\n%s", out)
			}
			for _, l := range lines {
				if strings.HasPrefix(l, "{") { // structured log lines before the error are fine
					continue
				}
				if l != last {
					t.Fatalf("more than one plain line:\n%s", out)
				}
			}
		})
	}
}

// startServe runs `cdp serve` on a free port and returns its address once
// /healthz answers.
func startServe(t *testing.T, dataDir string, extraEnv ...string) (*exec.Cmd, string, *testlog.Buffer) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "info")
	cmd.Env = cleanEnv(extraEnv...)
	logs := &testlog.Buffer{}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "listening" {
				addrc <- m["addr"].(string)
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = pw.Close() })
	select {
	case addr := <-addrc:
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return cmd, addr, logs
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("/healthz did not answer; logs:\n%s", logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("cdp serve did not start; logs:\n%s", logs.String())
	}
	return nil, "", nil
}

func TestServeHealthReadyAndLogs(t *testing.T) {
	_, addr, logs := startServe(t, t.TempDir())
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz = %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	// One access log line per request, with id, method, path, status,
	// duration. The process writes it after the answer, and this test
	// reads it through a pipe: wait for it (a hang guard, not a timing
	// assertion).
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "request" && m["path"] == "/readyz" {
				if m["request_id"] == "" || m["method"] != "GET" || m["status"] != float64(200) || m["duration"] == nil {
					t.Fatalf("access log line lacks fields: %s", line)
				}
				if _, ok := m["trace_id"]; ok {
					t.Fatalf("tracing is off (no OTEL_EXPORTER_OTLP_ENDPOINT), yet the line has a trace id: %s", line)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no access log line for /readyz:\n%s", logs.String())
}

// SIGTERM under load: exit 0, no response cut off, nothing acknowledged lost.
// On Neo4j the test holds the Neo4j test lock and starts from an empty
// graph, then reads back through its own connection.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		sigtermUnderLoad(t, dir, nil, func() graph.Store {
			st, err := embedded.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close(context.Background()) })
			return st
		})
	})
	t.Run("neo4j", func(t *testing.T) {
		st := storetest.OpenNeo4j(t)
		cfg := storetest.Neo4jConfig()
		env := []string{"NEO4J_URI=" + cfg.URI, "NEO4J_USER=" + cfg.User, "NEO4J_PASSWORD=" + cfg.Password}
		if cfg.Database != "" {
			env = append(env, "NEO4J_DATABASE="+cfg.Database)
		}
		sigtermUnderLoad(t, t.TempDir(), env, func() graph.Store { return st })
	})
}

func sigtermUnderLoad(t *testing.T, dir string, env []string, reopen func() graph.Store) {
	cmd, addr, logs := startServe(t, dir, env...)
	var (
		mu    sync.Mutex
		acked []string
		cut   []string
	)
	ctx, cancel := context.WithCancel(context.Background())
	// The signal is sent once a batch has been acknowledged (and the load
	// has gone on a while longer), so that the shutdown meets a server
	// under load however slow the store is to take the first batches.
	loaded := make(chan struct{})
	var loadedOnce sync.Once
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for n := 0; ctx.Err() == nil && n < 2000; n++ {
				var batch []map[string]any
				var ids []string
				for i := 0; i < 20; i++ {
					id := fmt.Sprintf("c%d-r%d-%d", c, n, i)
					ids = append(ids, "default/"+id) // no write keys: source "default"
					batch = append(batch, map[string]any{"type": "track", "event": "Load", "messageId": id, "anonymousId": fmt.Sprintf("anon-%d-%d", c, n)})
				}
				body, err := json.Marshal(map[string]any{"batch": batch})
				if err != nil {
					t.Error(err)
					return
				}
				req, err := http.NewRequest("POST", "http://"+addr+"/v1/batch", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				req.SetBasicAuth("loadtest", "")
				resp, err := client.Do(req)
				if err != nil {
					// No response at all (refused, or a kept-alive connection
					// closed as idle): nothing was acknowledged.
					return
				}
				_, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if rerr != nil {
					mu.Lock()
					cut = append(cut, rerr.Error())
					mu.Unlock()
					return
				}
				if resp.StatusCode/100 == 2 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
					loadedOnce.Do(func() { close(loaded) })
				}
			}
		}(c)
	}
	select {
	case <-loaded:
	case <-time.After(60 * time.Second): // a safety net, not a timing assertion
		cancel()
		wg.Wait()
		t.Fatalf("no batch was acknowledged in a minute of load; logs:\n%s", logs.String())
	}
	time.Sleep(700 * time.Millisecond) // more load, not a synchronization
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	cancel()
	wg.Wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
	}
	if len(cut) > 0 {
		t.Fatalf("%d responses cut off, e.g. %s", len(cut), cut[0])
	}
	if len(acked) == 0 {
		t.Fatal("no request was acknowledged before the signal; the test proved nothing")
	}
	got, err := graph.NewEngine(reopen(), nil).Events(context.Background(), acked)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(acked) {
		t.Fatalf("%d of %d acknowledged events are missing after shutdown", len(acked)-len(got), len(acked))
	}
	t.Logf("%d events acknowledged before and during shutdown, all stored", len(acked))
}

// Two server processes write overlapping identifiers to one Neo4j at once;
// the result must still be one valid partition (DESIGN.md rule 7).
func TestTwoProcessesOneNeo4j(t *testing.T) {
	st := storetest.OpenNeo4j(t)
	cfg := storetest.Neo4jConfig()
	env := []string{"NEO4J_URI=" + cfg.URI, "NEO4J_USER=" + cfg.User, "NEO4J_PASSWORD=" + cfg.Password}
	_, addrA, _ := startServe(t, t.TempDir(), env...)
	_, addrB, _ := startServe(t, t.TempDir(), env...)
	var keys []string
	var ids []map[string]any
	for i := 0; i < 6; i++ {
		keys = append(keys, fmt.Sprintf("user_id:u%d", i), fmt.Sprintf("email:e%d@example.com", i), fmt.Sprintf("device_id:d%d", i), fmt.Sprintf("anonymous_id:a%d", i))
		ids = append(ids,
			map[string]any{"userId": fmt.Sprintf("u%d", i)},
			map[string]any{"traits": map[string]any{"email": fmt.Sprintf("e%d@example.com", i)}},
			map[string]any{"context": map[string]any{"device": map[string]any{"id": fmt.Sprintf("d%d", i)}}},
			map[string]any{"anonymousId": fmt.Sprintf("a%d", i)},
		)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			addr := addrA
			if c%2 == 1 {
				addr = addrB
			}
			rng := newRand(int64(c))
			for n := 0; n < 15; n++ {
				var batch []map[string]any
				for i := 0; i < 10; i++ {
					msg := map[string]any{"type": "identify", "messageId": fmt.Sprintf("p%d-%d-%d", c, n, i)}
					for k := 0; k < 2; k++ {
						for f, v := range ids[rng.Intn(len(ids))] {
							if m, ok := v.(map[string]any); ok {
								if old, ok := msg[f].(map[string]any); ok {
									for kk, vv := range m {
										old[kk] = vv
									}
									continue
								}
								cp := map[string]any{}
								for kk, vv := range m {
									cp[kk] = vv
								}
								msg[f] = cp
								continue
							}
							msg[f] = v
						}
					}
					batch = append(batch, msg)
				}
				body, err := json.Marshal(map[string]any{"batch": batch})
				if err != nil {
					errs <- err
					return
				}
				resp, err := http.Post("http://"+addr+"/v1/batch", "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- fmt.Errorf("read response: %w", err)
					return
				}
				if resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d: %s", resp.StatusCode, b)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := graphtest.CheckInvariants(context.Background(), graph.NewEngine(st, nil), keys); err != nil {
		t.Fatal(err)
	}
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }
