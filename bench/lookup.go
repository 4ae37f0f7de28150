package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/idgraph/cdp/graph"
)

// warmup is how many lookups run, unrecorded, before the measured ones,
// so that connections are open and caches hold the schema and the plans.
const warmup = 50

// settleWait is how long settle waits before a timed pass: longer than
// the period of the service's audit writer (resolver.auditFlushEvery, one
// second), which appends the entries of the lookups answered before.
const settleWait = 1100 * time.Millisecond

// settle lets the work of the phase before a timed pass end before the
// pass starts, so that no pass pays for another's: it waits wait (the
// audit writer's flush of the previous lookups' entries), then collects
// the previous phase's garbage. Each pass of lookup_p99_vs_floor (GraphQL
// lookups, HTTP floor, raw reads) thus starts from the same state and
// meets only the collections and background writes its own requests
// cause.
func settle(ctx context.Context, wait time.Duration) error {
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	runtime.GC()
	return nil
}

// gcCycles is the number of garbage collections the process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// lookupSample picks n identifiers the truth gives to one person and the
// store holds, the same ones for the same seed.
func lookupSample(truth *Truth, part map[string]string, n int, seed uint64) []string {
	var keys []string
	for _, k := range truth.Keys(RoleOwn) {
		if part[k] != "" {
			keys = append(keys, k)
		}
	}
	rng := newRand(seed + 1)
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	if len(keys) > n {
		keys = keys[:n]
	}
	return keys
}

// timeEach runs one for a warm-up, then for every key, and returns the
// measured durations in key order.
func timeEach(keys []string, one func(k string) (time.Duration, error)) ([]time.Duration, error) {
	for i := 0; i < min(warmup, len(keys)); i++ {
		if _, err := one(keys[i]); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, len(keys))
	for i, k := range keys {
		d, err := one(k)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// lookupQuery is what a front end asks to personalize a page.
const lookupQuery = `query($t: String!, $v: String!) { profileByIdentifier(type: $t, value: $v) { id identifiers { type value } traits } }`

// serviceLookups asks GraphQL over HTTP for each key's profile, one request
// at a time on a kept-alive connection, and checks the answer.
// With a bearer secret, each request carries it as its API key.
func serviceLookups(ctx context.Context, base, bearer string, keys []string, part map[string]string) ([]time.Duration, error) {
	lat, _, err := personalLookups(ctx, base, bearer, keys, part, graph.PersonalData{})
	return lat, err
}

// personalLookups is serviceLookups that also counts the answers, warm-up
// included, holding a value pd calls personal (see personalAnswer): the
// reads the service must audit.
func personalLookups(ctx context.Context, base, bearer string, keys []string, part map[string]string, pd graph.PersonalData) ([]time.Duration, int, error) {
	hc := &http.Client{Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	personal := 0
	one := func(k string) (time.Duration, error) {
		ref := graph.SplitKey(k)
		body, err := json.Marshal(map[string]any{"query": lookupQuery, "variables": map[string]string{"t": ref.Type, "v": ref.Value}})
		if err != nil {
			return 0, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		var out struct {
			Data struct {
				Profile *struct {
					ID          string `json:"id"`
					Identifiers []struct {
						Type  string `json:"type"`
						Value string `json:"value"`
					} `json:"identifiers"`
					Traits json.RawMessage `json:"traits"`
				} `json:"profileByIdentifier"`
			} `json:"data"`
			Errors []struct {
				Message string `json:"message"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return 0, fmt.Errorf("status %d, answer is not GraphQL JSON: %.200s", resp.StatusCode, data)
		}
		switch {
		case resp.StatusCode != http.StatusOK || len(out.Errors) > 0:
			return 0, fmt.Errorf("identifier %s: status %d: %.300s", k, resp.StatusCode, data)
		case out.Data.Profile == nil:
			return 0, fmt.Errorf("identifier %s: no profile", k)
		case out.Data.Profile.ID != part[k]:
			return 0, fmt.Errorf("identifier %s: GraphQL answers profile %s, the store holds it in %s", k, out.Data.Profile.ID, part[k])
		}
		found := false
		for _, i := range out.Data.Profile.Identifiers {
			found = found || i.Type+":"+i.Value == k
		}
		if !found {
			return 0, fmt.Errorf("identifier %s: its profile %s does not list it", k, part[k])
		}
		if len(pd.IdentifierTypes) == 0 && len(pd.Traits) == 0 {
			return d, nil // nothing to count: no more garbage than the lookup's
		}
		types := make([]string, len(out.Data.Profile.Identifiers))
		for i, id := range out.Data.Profile.Identifiers {
			types[i] = id.Type
		}
		var traits map[string]any
		if err := json.Unmarshal(out.Data.Profile.Traits, &traits); err != nil {
			return 0, fmt.Errorf("identifier %s: traits are not a JSON object: %w", k, err)
		}
		if personalAnswer(pd, types, traits) {
			personal++
		}
		return d, nil
	}
	lat, err := timeEach(keys, one)
	return lat, personal, err
}

// personalAnswer reports whether an answer with identifiers of these types
// and these traits holds a value pd calls personal: an identifier of a
// personal type, or a trait of a personal name (in any spelling
// graph.FieldName folds to it) at any depth, inside
// objects and lists of objects too. The service audits a read exactly
// when its answer holds one; a visitor known only by an anonymous id and
// a device, with no personal trait, leaves no entry.
func personalAnswer(pd graph.PersonalData, types []string, traits map[string]any) bool {
	for _, t := range types {
		if slices.Contains(pd.IdentifierTypes, t) {
			return true
		}
	}
	// The service takes a listed name in any spelling graph.FieldName
	// folds to it ("Email", "first name").
	personal := map[string]bool{}
	for _, n := range pd.Traits {
		personal[graph.FieldName(n)] = true
	}
	var holds func(v any) bool
	holds = func(v any) bool {
		switch t := v.(type) {
		case map[string]any:
			for k, e := range t {
				if personal[graph.FieldName(k)] || holds(e) {
					return true
				}
			}
		case []any:
			return slices.ContainsFunc(t, holds)
		}
		return false
	}
	return holds(map[string]any(traits))
}

// httpFloor times GET /healthz: the HTTP round trip every request pays,
// with no store behind it.
func httpFloor(ctx context.Context, base string, n int) ([]time.Duration, error) {
	hc := &http.Client{Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	keys := make([]string, n)
	return timeEach(keys, func(string) (time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return d, err
	})
}

// rawEmbeddedLookups reads each key's record from the closed store's file,
// opened read-only: one bbolt read transaction, one Get in the identifiers
// bucket, and the profile id decoded from the record. The bucket name, the
// record's key (the identifier's length as a uvarint, the identifier, then
// a zero byte) and its "profile" field are the embedded store's layout
// (graph/embedded/keys.go); the check against the service's answer fails
// loudly if that layout changes.
func rawEmbeddedLookups(ctx context.Context, path string, keys []string, part map[string]string) ([]time.Duration, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s read-only: %w", path, err)
	}
	defer db.Close()
	bucket := []byte("identifiers")
	one := func(k string) (time.Duration, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var id string
		start := time.Now()
		err := db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			if b == nil {
				return fmt.Errorf("no bucket %q", bucket)
			}
			v := b.Get(append(append(binary.AppendUvarint(nil, uint64(len(k))), k...), 0))
			if v == nil {
				return fmt.Errorf("identifier %s is not stored", k)
			}
			var rec struct {
				Profile string `json:"profile"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			id = rec.Profile
			return nil
		})
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if id != part[k] {
			return 0, fmt.Errorf("identifier %s: raw read finds profile %q, the service %s", k, id, part[k])
		}
		return d, nil
	}
	return timeEach(keys, one)
}
