package bench

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/embedded"
)

// auditLosingStore is the embedded store with an audit log that loses
// every entry appended outside a transaction (a fault put in on purpose).
type auditLosingStore struct{ *embedded.Store }

func (auditLosingStore) AppendAudit(context.Context, []access.AuditEntry) error { return nil }

// docs/BENCHMARKS.md, "Access control": the auth pass's lookups whose
// answer holds a personal value each leave an audit entry, and the run
// checks that the log holds exactly as many. A service that audits nothing
// must therefore fail the auth measure instead of reporting its p99 ratio
// as the cost of auth and audit.
func TestAuthLookupsCheckTheAuditEntries(t *testing.T) {
	ctx := context.Background()
	es, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close(ctx) })
	store := auditLosingStore{es}
	run := startAuthRun(t, store, 100)
	r, err := authLookups(ctx, run.cfg, store, run.rules, run.svc.url, run.sample, run.part)
	if err == nil {
		t.Errorf("auth measure passed with %d audit entries for %d lookups with the key (auth_p99_ratio %.2f reported as the cost of auth and audit)", r.Audited, r.N, r.P99Ratio)
	}
}

// A visitor known only by an anonymous id and a device holds no personal
// value, and the service audits only reads of personal values: the auth
// measure must expect an entry for each answer holding one, not one for
// each lookup. The sample here is the identifiers of profiles without an
// email or a phone, repeated past the 50 warm-up lookups' slack.
func TestAuthLookupsExpectEntriesForPersonalAnswersOnly(t *testing.T) {
	ctx := context.Background()
	es, err := embedded.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { es.Close(ctx) })
	run := startAuthRun(t, es, 1_000_000)
	personal := map[string]bool{}
	for k, pid := range run.part {
		if typ := graph.SplitKey(k).Type; typ == graph.TypeEmail || typ == graph.TypePhone {
			personal[pid] = true
		}
	}
	var visitors []string
	for _, k := range run.sample {
		if !personal[run.part[k]] {
			visitors = append(visitors, k)
		}
	}
	if len(visitors) == 0 {
		t.Fatal("no profile without an email or a phone among 30 people")
	}
	var sample []string
	for len(sample) < 2*warmup {
		sample = append(sample, visitors...)
	}
	r, err := authLookups(ctx, run.cfg, es, run.rules, run.svc.url, sample, run.part)
	if err != nil {
		t.Fatal(err)
	}
	if lookups := warmup + len(sample); r.Audited >= lookups-warmup {
		t.Errorf("%d audit entries for %d lookups of profiles without an email or a phone: want fewer than %d", r.Audited, lookups, lookups-warmup)
	}
}

func TestPersonalAnswer(t *testing.T) {
	pd := graph.PersonalData{IdentifierTypes: []string{"email", "phone"}, Traits: []string{"name", "email"}}
	for _, c := range []struct {
		types  []string
		traits map[string]any
		want   bool
	}{
		{nil, nil, false},
		{[]string{"anonymous_id", "device_id"}, map[string]any{"plan": "pro"}, false},
		{[]string{"anonymous_id", "phone"}, nil, true},
		{[]string{"user_id"}, map[string]any{"name": "Ann"}, true},
		{[]string{"user_id"}, map[string]any{"company": map[string]any{"name": "Acme"}}, true},
		{[]string{"user_id"}, map[string]any{"kids": []any{"x", map[string]any{"name": "Bo"}}}, true},
		{[]string{"user_id"}, map[string]any{"tags": []any{"name", "email"}, "nick": "name"}, false},
		// A name is personal in any spelling the service folds to it.
		{[]string{"user_id"}, map[string]any{"E-Mail": "ann@example.com"}, true},
		{[]string{"user_id"}, map[string]any{"billing": map[string]any{"Name ": "Ann"}}, true},
	} {
		if got := personalAnswer(pd, c.types, c.traits); got != c.want {
			t.Errorf("personalAnswer(%v, %v) = %v, want %v", c.types, c.traits, got, c.want)
		}
	}
}

// authRun is a started service holding the events of 30 people, and a
// lookup sample of their identifiers.
type authRun struct {
	cfg    Config
	rules  *graph.Rules
	svc    *service
	sample []string
	part   map[string]string
}

func startAuthRun(t *testing.T, store graph.Store, lookups int) authRun {
	t.Helper()
	ctx := context.Background()
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
	t.Cleanup(func() { svc.stop(ctx) })
	if _, err := sendAll(ctx, svc.url, work.bodies, cfg.Clients); err != nil {
		t.Fatal(err)
	}
	part, err := readPartition(ctx, svc.Engine)
	if err != nil {
		t.Fatal(err)
	}
	return authRun{cfg: cfg, rules: rules, svc: svc, sample: lookupSample(ds.Truth, part, lookups, cfg.Gen.Seed), part: part}
}
