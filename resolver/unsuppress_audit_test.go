package resolver

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
)

// auditDownStore is a real store whose audit log cannot be written while
// down is set: an append fails, and so does every write transaction once
// its work is done (an entry appended inside it would be lost).
type auditDownStore struct {
	auditedStore
	down atomic.Bool
}

type auditedStore interface {
	graph.Store
	privacy.SuppressionStore
	access.Store
}

func (s *auditDownStore) Update(ctx context.Context, fn func(ctx context.Context, tx graph.Tx) error) error {
	return s.auditedStore.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		if s.down.Load() {
			return graph.Errorf(graph.EUNAVAILABLE, "injected: the audit log cannot be written")
		}
		return nil
	})
}

func (s *auditDownStore) AppendAudit(ctx context.Context, entries []access.AuditEntry) error {
	if s.down.Load() {
		return graph.Errorf(graph.EUNAVAILABLE, "injected: the audit log cannot be written")
	}
	return s.auditedStore.AppendAudit(ctx, entries)
}

// unsuppress lets an erased person's identifier back in: its audit entry
// and its effect exist together or not at all. While the entry cannot be
// written, the identifier stays suppressed; once it can, the mutation
// takes effect with its one ok entry.
func TestUnsuppressTakesEffectOnlyWithItsAuditEntry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ds := &auditDownStore{auditedStore: s.(auditedStore)}
		e := newKeyEnv(t, ds, testConfig(), nil)
		ctx := context.Background()
		list, err := privacy.OpenSuppressionList(ctx, ds)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := list.SuppressKeys(ctx, []string{"email:ann@example.com"}, t0, "erasure rcp_1"); err != nil {
			t.Fatal(err)
		}
		dpo, _ := e.key("dpo", "", access.ScopePrivacyWrite)
		const lift = `mutation { unsuppress(identifier: {type: "email", value: "ann@example.com"}, reason: "signed up again") }`

		ds.down.Store(true)
		e.as(dpo, lift, nil)
		ds.down.Store(false)
		on, err := list.KeySuppressed(ctx, "email:ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if !on {
			t.Fatal("unsuppress took effect while its audit entry could not be written")
		}
		for _, a := range e.audit("unsuppress") {
			if a.Outcome == access.OutcomeOK {
				t.Fatalf("an ok unsuppress entry exists for an unsuppress that did not take effect: %+v", a)
			}
		}

		var out struct {
			U *bool `json:"unsuppress"`
		}
		e.ok(dpo, lift, nil, &out)
		if out.U == nil || !*out.U {
			t.Fatalf("unsuppress answered %v, want true", out.U)
		}
		if on, err := list.KeySuppressed(ctx, "email:ann@example.com"); err != nil || on {
			t.Fatalf("after unsuppress the email is suppressed: %v, %v", on, err)
		}
		var ok []access.AuditEntry
		for _, a := range e.audit("unsuppress") {
			if a.Outcome == access.OutcomeOK {
				ok = append(ok, a)
			}
		}
		if len(ok) != 1 || ok[0].Reason != "signed up again" {
			t.Errorf("ok unsuppress entries %+v, want one with the reason", ok)
		}
	})
}
