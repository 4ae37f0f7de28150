package bench

// The soak: the service at a fixed rate for a long time, watched for
// growth. A leak (a cache without bound, goroutines that never end, a
// queue that never drains) shows as resident memory or goroutines that
// keep rising after the service warmed up.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/idgraph/cdp/graph"
)

// Soak defaults and goal.
const (
	// SoakWarmup is when the reference sample is taken: the service has
	// warmed up (caches filled, pools grown) by then.
	SoakWarmup = 2 * time.Minute
	// GoalSoakDrift bounds |last / reference - 1| for resident memory and
	// goroutines.
	GoalSoakDrift = 0.10
	// MaxSoakMessages bounds the messages a soak generates (they are held
	// in memory, before the reference sample).
	MaxSoakMessages = 3_000_000
)

// SoakConfig configures Soak.
type SoakConfig struct {
	// Bench is the store, Neo4j, lock, clients, batch and group-commit
	// settings, as for Run; its Gen is ignored.
	Bench Config
	// Duration is how long the load is held.
	Duration time.Duration
	// Rate is the messages per second sent, in requests of Bench.Batch.
	Rate float64
	// LookupRate is the GraphQL profile lookups per second sent beside
	// (0: none).
	LookupRate float64
	// Every is the time between two samples.
	Every time.Duration
	// Seed seeds the population.
	Seed uint64
	// OnSample, when set, gets each sample as it is taken.
	OnSample func(SoakSample)
}

// SoakSample is what the process looks like at one moment of the soak.
type SoakSample struct {
	Seconds float64 `json:"seconds"`
	// RSSBytes is the process's resident memory; RSSAnonBytes the part
	// that is its own (heap, stacks), RSSFileBytes the pages of mapped
	// files (the embedded store's file, which bbolt maps), which grow with
	// the data and which the kernel drops when it needs memory.
	RSSBytes     int64  `json:"rss_bytes"`
	RSSAnonBytes int64  `json:"rss_anon_bytes"`
	RSSFileBytes int64  `json:"rss_file_bytes"`
	HeapInuse    uint64 `json:"heap_inuse_bytes"`
	// Goroutines is the fewest of 20 readings over half a second
	// (goroutineFloor).
	Goroutines int `json:"goroutines"`
	// Sent is the messages acknowledged (200) so far; Lookups the lookups
	// answered.
	Sent    int64 `json:"messages_acknowledged"`
	Lookups int64 `json:"lookups_answered"`
}

// SoakResult is a soak's samples and verdict. The drifts compare the
// last sample with the first taken at or after SoakWarmup; Judged is
// false when the run was too short to have both.
type SoakResult struct {
	Store           string       `json:"store"`
	StoreVersion    string       `json:"store_version"`
	Machine         Machine      `json:"machine"`
	DurationSeconds float64      `json:"duration_seconds"`
	TargetRate      float64      `json:"target_rate"`
	AchievedRate    float64      `json:"achieved_rate"`
	Samples         []SoakSample `json:"samples"`
	Judged          bool         `json:"judged"`
	// RSSDrift is the drift of the process's own resident memory
	// (RSSAnonBytes), FileDrift that of its mapped file pages (reported,
	// not judged: they are the store's file).
	RSSDrift       float64 `json:"rss_drift"`
	FileDrift      float64 `json:"rss_file_drift"`
	GoroutineDrift float64 `json:"goroutine_drift"`
	Refused        int64   `json:"refused_requests"`
}

// Met reports whether both drifts are within GoalSoakDrift.
func (r *SoakResult) Met() bool {
	return r.Judged && abs(r.RSSDrift) <= GoalSoakDrift && abs(r.GoroutineDrift) <= GoalSoakDrift
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// Soak runs the service on a fresh store (as Run opens it) and sends
// Rate messages per second of a generated population for Duration,
// sampling the process every Every. The service runs in this process, so
// resident memory is the service's plus the bench's own, which is fixed
// once the messages are generated (before the first sample). A soak
// interrupted by the end of ctx before its last sample returns ctx's error
// (wrapped), not a result: its samples fall short of Duration.
func Soak(ctx context.Context, sc SoakConfig) (*SoakResult, error) {
	cfg := sc.Bench
	if sc.Duration <= 0 || sc.Rate <= 0 || sc.Every <= 0 || sc.LookupRate < 0 {
		return nil, fmt.Errorf("soak: duration, rate and sample interval must be positive, lookup rate not negative")
	}
	// The load runs until the last sample, taken at the first tick at or
	// after Duration and half a second long, and the limiter lets a burst
	// through at the start: the messages cover Duration, one interval and
	// two seconds more, plus that burst, so that the clients do not run
	// out of work before the last sample.
	batch := sc.Bench.Batch
	if batch <= 0 {
		batch = 100 // Config.defaults'
	}
	n := int(sc.Rate*(sc.Duration+sc.Every+2*time.Second).Seconds()) + max(batch, int(sc.Rate/10)) + 1
	if n > MaxSoakMessages {
		return nil, fmt.Errorf("soak: %v at %v messages/s is %d messages, over the %d a soak holds in memory; lower --rate or --duration", sc.Duration, sc.Rate, n, MaxSoakMessages)
	}
	cfg.Gen = GenConfig{People: max(n/10, 10), Events: n, Seed: sc.Seed}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cfg.TempDir, "cdp-soak-")
	if err != nil {
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	if cfg.Store == StoreNeo4j && cfg.Neo4jLock {
		unlock, err := lockNeo4j()
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	ds, err := Generate(cfg.Gen)
	if err != nil {
		return nil, err
	}
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	work, err := prepare(ds, rules, cfg.Batch)
	if err != nil {
		return nil, err
	}
	users := soakUsers(ds.Messages, rules)
	store, err := openStore(ctx, cfg, filepath.Join(tmp, "store"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = store.Close(context.WithoutCancel(ctx)) }()
	info, err := store.Info(ctx)
	if err != nil {
		return nil, err
	}
	svc, err := startService(ctx, store, rules, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { _ = svc.stop(context.WithoutCancel(ctx)) }()

	res := &SoakResult{Store: cfg.Store, StoreVersion: info.Version, Machine: machineFacts(), TargetRate: sc.Rate}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients + 4}, Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	// The load runs until the last sample has been taken (so that it is
	// taken under load), a failure, or the end of ctx. runCtx has no
	// deadline of its own: the limiter's WaitN refuses at once a wait that
	// would pass a deadline, which at low rates stopped clients before the
	// last sample and made their goroutines look like a drop.
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sent, lookups, refused atomic.Int64
	var firstErr error
	var errMu sync.Mutex
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil && runCtx.Err() == nil {
			firstErr = err
			cancel()
		}
		errMu.Unlock()
	}
	// Every request holds quiet's read lock while it runs; a sample takes
	// the write lock, so that it is taken with no request in flight (the
	// service's own goroutines, not the requests', are what it counts).
	var quiet sync.RWMutex
	// One token per message: a request of Batch messages waits for Batch.
	lim := rate.NewLimiter(rate.Limit(sc.Rate), max(cfg.Batch, int(sc.Rate/10)))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(work.bodies) {
					// Out of work (the run went on longer than the
					// messages cover): wait for the end rather than
					// lower the goroutines of the samples still to come.
					<-runCtx.Done()
					return
				}
				msgs := bytes.Count(work.bodies[i], []byte(`"messageId"`))
				if err := lim.WaitN(runCtx, min(msgs, lim.Burst())); err != nil {
					return // the soak is over
				}
				quiet.RLock()
				r, retries, err := postBatch(runCtx, hc, svc.url+"/v1/batch", work.bodies[i])
				quiet.RUnlock()
				if err != nil {
					if runCtx.Err() == nil {
						fail(fmt.Errorf("request %d: %w", i, err))
					}
					return
				}
				refused.Add(int64(retries))
				sent.Add(int64(r.Stored + r.Duplicates + r.Rejected))
			}
		}()
	}
	if sc.LookupRate > 0 && len(users) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			llim := rate.NewLimiter(rate.Limit(sc.LookupRate), 1)
			for i := 0; ; i++ {
				if llim.Wait(runCtx) != nil {
					return
				}
				q := `{"query":"query($v: String!) { profileByIdentifier(type: \"user_id\", value: $v) { id } }","variables":{"v":` + strconv.Quote(users[i%len(users)]) + `}}`
				req, err := http.NewRequestWithContext(runCtx, http.MethodPost, svc.url+"/graphql", strings.NewReader(q))
				if err != nil {
					fail(err)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				quiet.RLock()
				resp, err := hc.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
				}
				quiet.RUnlock()
				if err != nil {
					if runCtx.Err() == nil {
						fail(fmt.Errorf("lookup: %w", err))
					}
					return
				}
				if err := lookupAnswered(resp.StatusCode, body); err != nil {
					fail(err)
					return
				}
				lookups.Add(1)
			}
		}()
	}
	// sample takes a sample and returns when, since start, it was taken.
	sample := func() time.Duration {
		quiet.Lock()
		defer quiet.Unlock()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		at := time.Since(start)
		s := SoakSample{
			Seconds: at.Seconds(), HeapInuse: ms.HeapInuse,
			Goroutines: goroutineFloor(runCtx), Sent: sent.Load(), Lookups: lookups.Load(),
		}
		s.RSSBytes, s.RSSAnonBytes, s.RSSFileBytes = resident()
		res.Samples = append(res.Samples, s)
		if sc.OnSample != nil {
			sc.OnSample(s)
		}
		return at
	}
	sample()
	tick := time.NewTicker(sc.Every)
	finished := false // the last sample was taken
	func() {
		defer tick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-tick.C:
				// The last sample is the first taken at Duration or
				// later (a sample begun before it that ends after it,
				// on a busy machine, is not: the run would then end
				// short of Duration).
				if sample() >= sc.Duration {
					// The last sample, taken while the load still runs:
					// once the clients stop, their goroutines are gone.
					finished = true
					cancel()
					return
				}
			}
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil && !finished {
		// Interrupted (Ctrl-C): the samples stop short of Duration, so no
		// verdict is drawn from them.
		return nil, fmt.Errorf("soak interrupted after %.0f s of %v, not judged: %w", elapsed.Seconds(), sc.Duration, err)
	}
	res.DurationSeconds = elapsed.Seconds()
	res.AchievedRate = float64(sent.Load()) / elapsed.Seconds()
	res.Refused = refused.Load()
	res.judge()
	return res, nil
}

// goroutineFloor returns the fewest goroutines seen in 20 readings 25 ms
// apart (fewer when ctx ends). Samples are taken with no request in
// flight, but the service's background work (the feed's poll, the
// keeper, a store read's reader goroutine) comes and goes; the floor is
// what a leak raises, since a leaked goroutine never ends. Counted at one
// instant under load, the goroutines of a 10-minute Neo4j run moved
// between 22 and 38 with the requests in flight, with no trend.
func goroutineFloor(ctx context.Context) int {
	floor := runtime.NumGoroutine()
	for range 19 {
		select {
		case <-ctx.Done():
			return floor
		case <-time.After(25 * time.Millisecond):
		}
		floor = min(floor, runtime.NumGoroutine())
	}
	return floor
}

// judge sets the drifts: the last sample against the first at or after
// SoakWarmup (which must come before the last).
func (r *SoakResult) judge() {
	if len(r.Samples) < 2 {
		return
	}
	last := r.Samples[len(r.Samples)-1]
	for _, s := range r.Samples[:len(r.Samples)-1] {
		if s.Seconds >= SoakWarmup.Seconds() {
			r.Judged = true
			r.RSSDrift = safeDiv(float64(last.RSSAnonBytes), float64(s.RSSAnonBytes)) - 1
			r.FileDrift = safeDiv(float64(last.RSSFileBytes), float64(s.RSSFileBytes)) - 1
			r.GoroutineDrift = safeDiv(float64(last.Goroutines), float64(s.Goroutines)) - 1
			return
		}
	}
}

// resident returns this process's resident memory, and its anonymous and
// file-backed parts, from /proc/self/status; where that is missing, the
// memory the Go runtime holds from the system, all of it anonymous.
func resident() (total, anon, file int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			name, val, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			f := strings.Fields(val)
			if len(f) < 1 {
				continue
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				continue
			}
			switch name {
			case "VmRSS":
				total = kb << 10
			case "RssAnon":
				anon = kb << 10
			case "RssFile":
				file = kb << 10
			}
		}
		if total > 0 && anon > 0 {
			return total, anon, file
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys), int64(ms.Sys), 0
}

// soakUsers returns up to 10,000 of the user ids the messages carry, only
// those the rules keep: the population holds placeholders such as "null"
// and "0", which the service refuses to look up.
func soakUsers(messages [][]byte, rules *graph.Rules) []string {
	var users []string
	norm := graph.NewNormalizer(rules)
	for _, m := range messages {
		if len(users) == 10000 {
			break
		}
		if i := bytes.Index(m, []byte(`"userId":"`)); i >= 0 {
			rest := m[i+len(`"userId":"`):]
			if j := bytes.IndexByte(rest, '"'); j > 0 {
				u := string(rest[:j])
				if _, why := norm.Normalize(graph.IdentifierRef{Type: graph.TypeUserID, Value: u}); why == "" {
					users = append(users, u)
				}
			}
		}
	}
	return users
}

// lookupAnswered reports whether a soak lookup was answered: status 200
// and a JSON body without errors (GraphQL answers its errors under 200).
func lookupAnswered(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("lookup: status %d", status)
	}
	var answer struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("lookup: the answer is not JSON: %w", err)
	}
	if len(answer.Errors) > 0 {
		return fmt.Errorf("lookup: GraphQL error: %s", answer.Errors[0].Message)
	}
	return nil
}
