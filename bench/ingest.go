package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
)

// rawRow is one event as the raw baselines write it: the message bytes, the
// normalized keys it carries and the fields a graph node would hold.
type rawRow struct {
	id      string
	msg     []byte
	keys    []string
	ts      time.Time
	typ     string
	name    string
	channel string
	props   string
}

// workload is the population made ready to send, before any clock starts:
// HTTP bodies for the service, and for the raw baselines the same events
// already parsed and normalized, each once.
type workload struct {
	bodies   [][]byte
	batches  [][]rawRow
	storable int // distinct messages with at least one usable identifier
}

// prepare parses every message the way the collector does. The raw
// baselines get parsing, normalization and deduplication for free, so
// they are an upper bound on what the store can take.
func prepare(ds *Dataset, rules *graph.Rules, batch int) (*workload, error) {
	w := &workload{}
	for i := 0; i < len(ds.Messages); i += batch {
		end := min(i+batch, len(ds.Messages))
		var b bytes.Buffer
		b.WriteString(`{"batch":[`)
		for j, m := range ds.Messages[i:end] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(m)
		}
		b.WriteString("]}")
		w.bodies = append(w.bodies, b.Bytes())
	}
	norm := graph.NewNormalizer(rules)
	recv := time.Now()
	seen := map[string]bool{}
	var cur []rawRow
	for i, m := range ds.Messages {
		ev, err := ingest.ParseMessage(m, ingest.Envelope{Source: "bench", ReceivedAt: recv})
		if err != nil {
			return nil, fmt.Errorf("generated message %d does not parse: %w", i, err)
		}
		keys, _ := norm.NormalizeAll(ev.Identifiers)
		if len(keys) == 0 || seen[ev.ID] {
			continue
		}
		seen[ev.ID] = true
		props, _ := json.Marshal(ev.Properties)
		cur = append(cur, rawRow{id: ev.ID, msg: m, keys: keys, ts: graph.Clean(ev.Timestamp), typ: ev.Type, name: ev.Name, channel: ev.Channel, props: string(props)})
		if len(cur) == batch {
			w.batches = append(w.batches, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		w.batches = append(w.batches, cur)
	}
	w.storable = len(seen)
	return w, nil
}

type sendStats struct {
	elapsed                               time.Duration
	stored, duplicates, rejected, retries int
}

// sendAll posts every body to /v1/batch from clients goroutines, each
// taking the next body in order, and returns once every body got a 200.
// 429 and 503 are retried after Retry-After, as SDKs do.
func sendAll(ctx context.Context, base string, bodies [][]byte, clients int) (sendStats, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 2}, Timeout: 5 * time.Minute}
	defer hc.CloseIdleConnections()
	var next atomic.Int64
	var mu sync.Mutex
	var st sendStats
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				r, retries, err := postBatch(ctx, hc, base+"/v1/batch", bodies[i])
				mu.Lock()
				st.retries += retries
				st.stored += r.Stored
				st.duplicates += r.Duplicates
				st.rejected += r.Rejected
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("request %d: %w", i, err)
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	return st, firstErr
}

func postBatch(ctx context.Context, hc *http.Client, url string, body []byte) (ingest.Response, int, error) {
	for retries := 0; ; retries++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return ingest.Response{}, retries, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(writeKey, "")
		resp, err := hc.Do(req)
		if err != nil {
			return ingest.Response{}, retries, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return ingest.Response{}, retries, err
		}
		switch resp.StatusCode {
		case http.StatusOK:
			var r ingest.Response
			if err := json.Unmarshal(data, &r); err != nil {
				return r, retries, fmt.Errorf("answer is not the collector's JSON: %w", err)
			}
			return r, retries, nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return ingest.Response{}, retries, ctx.Err()
			case <-time.After(wait):
			}
		default:
			return ingest.Response{}, retries, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(data))
		}
	}
}

// openRawBolt opens a bbolt file with the embedded store's options and the
// named buckets, for the raw baselines.
func openRawBolt(path string, buckets ...string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, n := range buckets {
			if _, err := tx.CreateBucketIfNotExists([]byte(n)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// rawEmbeddedIngest is the embedded store's physical limit: the same events
// and identifiers put into a bbolt file opened with the store's options,
// one fsynced transaction per batch, writers as many as the HTTP clients.
// Per event: the message bytes under its id; per identifier an upsert of
// its first and last seen times; per (identifier, event) an index entry.
// No resolution, no profiles, no links.
func rawEmbeddedIngest(ctx context.Context, path string, w *workload, writers int) (time.Duration, error) {
	db, err := openRawBolt(path, "events", "identifiers", "events_by")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	write := func(i int) error {
		rows := w.batches[i]
		return db.Update(func(tx *bolt.Tx) error {
			evs, ids, by := tx.Bucket([]byte("events")), tx.Bucket([]byte("identifiers")), tx.Bucket([]byte("events_by"))
			for _, r := range rows {
				if err := evs.Put([]byte(r.id), r.msg); err != nil {
					return err
				}
				ts := uint64(r.ts.UnixMicro())
				for _, k := range r.keys {
					old := ids.Get([]byte(k))
					switch {
					case old == nil:
						v := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, ts), ts)
						if err := ids.Put([]byte(k), v); err != nil {
							return err
						}
					case binary.BigEndian.Uint64(old[8:]) < ts:
						v := binary.BigEndian.AppendUint64(append([]byte(nil), old[:8]...), ts)
						if err := ids.Put([]byte(k), v); err != nil {
							return err
						}
					}
					ik := append(append([]byte(k), 0), binary.BigEndian.AppendUint64(nil, ts)...)
					if err := by.Put(append(ik, r.id...), []byte{1}); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	return runWriters(ctx, len(w.batches), writers, write)
}

// runWriters runs write over batches 0..n-1 from writers goroutines, each
// taking the next batch, and returns the wall time.
func runWriters(ctx context.Context, n, writers int, write func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	start := time.Now()
	for c := 0; c < writers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := write(i); err != nil {
					errc <- fmt.Errorf("batch %d: %w", i, err)
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return 0, err
	}
	return elapsed, ctx.Err()
}
