package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
)

// AuthResult compares the same lookups with auth and audit off (open
// mode, no key stored) and on (a key holding profiles:read and pii:read,
// so that every answer holding a personal value, unmasked, is audited).
// Times are in milliseconds.
type AuthResult struct {
	N        int     `json:"auth_lookups"`
	OffP50   float64 `json:"lookup_auth_off_p50_ms"`
	OffP99   float64 `json:"lookup_auth_off_p99_ms"`
	OnP50    float64 `json:"lookup_auth_on_p50_ms"`
	OnP99    float64 `json:"lookup_auth_on_p99_ms"`
	P99Ratio float64 `json:"auth_p99_ratio"`
	// Audited is how many audit entries the lookups with the key left.
	Audited int `json:"auth_audit_entries"`
	// Personal is how many of those lookups, warm-up included, answered a
	// personal value, as the bench reads the answers: the entries due.
	Personal int `json:"auth_personal_answers"`
}

// authLookups times the sample again in open mode, as warm as the pass
// after it, then stores a key, waits until the service enforces keys, and
// times the sample with the key. The service must still be in open mode.
func authLookups(ctx context.Context, cfg Config, store graph.Store, rules *graph.Rules, base string, sample []string, part map[string]string) (AuthResult, error) {
	as, ok := store.(access.Store)
	if !ok {
		return AuthResult{}, fmt.Errorf("store %T holds no API keys", store)
	}
	cfg.logf("auth: %d lookups in open mode, then with a key holding pii:read", len(sample))
	off, err := serviceLookups(ctx, base, "", sample, part)
	if err != nil {
		return AuthResult{}, fmt.Errorf("lookups in open mode: %w", err)
	}
	k, secret, err := access.NewKey("bench", []string{"profiles:read", "pii:read", "audit:read"}, "", time.Time{}, time.Now())
	if err != nil {
		return AuthResult{}, err
	}
	if err := as.CreateKey(ctx, k); err != nil {
		return AuthResult{}, fmt.Errorf("creating the bench key: %w", err)
	}
	if err := waitEnforced(ctx, base); err != nil {
		return AuthResult{}, err
	}
	before, err := countAudit(ctx, as, k.ID)
	if err != nil {
		return AuthResult{}, err
	}
	on, personal, err := personalLookups(ctx, base, secret, sample, part, rules.PersonalData)
	if err != nil {
		return AuthResult{}, fmt.Errorf("lookups with a key: %w", err)
	}
	r := AuthResult{N: len(on), Personal: personal}
	r.OffP50, r.OffP99 = percentile(off, 0.50), percentile(off, 0.99)
	r.OnP50, r.OnP99 = percentile(on, 0.50), percentile(on, 0.99)
	r.P99Ratio = safeDiv(r.OnP99, r.OffP99)
	// Entries of reads are written in the background; give them a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := countAudit(ctx, as, k.ID)
		if err != nil {
			return AuthResult{}, err
		}
		r.Audited = n - before
		if r.Audited >= personal || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The measure is of auth and audit together: without the entries it
	// is not what it claims, and an entry for an answer without personal
	// data is an audit the documentation does not promise.
	if r.Audited != personal {
		return r, fmt.Errorf("auth: %d audit entries after 5 s for the %d lookups with the key (warm-up included) whose answer holds a personal value", r.Audited, personal)
	}
	return r, nil
}

// waitEnforced waits until a request without a key is refused with 401.
func waitEnforced(ctx context.Context, base string) error {
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the service still answers %d without a key 10 s after the first key was stored", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countAudit counts the audit entries of a key, up to a bound well above
// any sample.
func countAudit(ctx context.Context, as access.Store, keyID string) (int, error) {
	n := 0
	q := access.AuditQuery{KeyID: keyID, Limit: access.MaxPage}
	for {
		page, err := as.Audit(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("reading the audit log: %w", err)
		}
		n += len(page)
		if len(page) < q.Limit {
			return n, nil
		}
		q.After = page[len(page)-1].Cursor()
	}
}
