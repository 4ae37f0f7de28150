package bench

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph/embedded"
)

// auditLosingStore is the embedded store with an audit log that loses
// every entry appended outside a transaction (a fault put in on purpose).
type auditLosingStore struct{ *embedded.Store }

func (auditLosingStore) AppendAudit(context.Context, []access.AuditEntry) error { return nil }

// docs/BENCHMARKS.md, "Access control": the auth pass's lookups each leave
// an audit entry, and "the run checks that the entries exist
// (auth_audit_entries, at least 2,000 of the 2,050 requests once the
// writer has flushed)". A service that audits nothing must therefore fail
// the auth measure instead of reporting its p99 ratio as the cost of auth
// and audit.
func TestAuthLookupsCheckTheAuditEntries(t *testing.T) {
	ctx := context.Background()
	es, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close(ctx)
	store := auditLosingStore{es}
	cfg := Config{Store: StoreEmbedded, Gen: GenConfig{People: 30, Seed: 1}}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	ds := generate(t, cfg.Gen)
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	work, err := prepare(ds, rules, cfg.Batch)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := startService(ctx, store, rules, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.stop(ctx)
	if _, err := sendAll(ctx, svc.url, work.bodies, cfg.Clients); err != nil {
		t.Fatal(err)
	}
	part, err := readPartition(ctx, svc.Engine)
	if err != nil {
		t.Fatal(err)
	}
	sample := lookupSample(ds.Truth, part, 100, cfg.Gen.Seed)
	r, err := authLookups(ctx, cfg, store, svc.url, sample, part)
	if err == nil {
		t.Errorf("auth measure passed with %d audit entries for %d lookups with the key (auth_p99_ratio %.2f reported as the cost of auth and audit)", r.Audited, r.N, r.P99Ratio)
	}
}
