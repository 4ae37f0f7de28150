package embedded_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/graphtest"
	"github.com/idgraph/cdp/internal/storetest"
)

// BenchmarkApplyBatch: see graphtest.BenchApplyBatch. It lives in the
// external test package: graphtest imports storetest, which imports this
// package.
func BenchmarkApplyBatch(b *testing.B) { graphtest.BenchApplyBatch(b, storetest.OpenEmbedded(b)) }

// BenchmarkAppendAudit appends the entries of a second of lookups (2,000,
// each naming one of 100,000 profiles) to an audit log that already holds
// 200,000, as the service's background writer does every second.
//
//	go test -run '^$' -bench AppendAudit -benchmem ./graph/embedded/
func BenchmarkAppendAudit(b *testing.B) {
	s := storetest.OpenEmbedded(b).(access.Store)
	ctx := context.Background()
	n := 0
	entries := func() []access.AuditEntry {
		es := make([]access.AuditEntry, 2000)
		for i := range es {
			n++
			es[i] = access.AuditEntry{
				ID: access.NewAuditID(), At: graph.Now(), Action: "profileByIdentifier", Outcome: access.OutcomeOK,
				ProfileIDs: []string{fmt.Sprintf("p_%016x", n*7919%100000)}, ProfileCount: 1,
			}
		}
		return es
	}
	for range 100 {
		if err := s.AppendAudit(ctx, entries()); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if err := s.AppendAudit(ctx, entries()); err != nil {
			b.Fatal(err)
		}
	}
}
