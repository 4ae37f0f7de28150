package neo4jstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
	"github.com/idgraph/cdp/privacy"
	"github.com/idgraph/cdp/privacy/suppresstest"
)

func TestSuppressConformance(t *testing.T) { suppresstest.Run(t, storetest.Neo4j) }

// Suppress inside a transaction keeps the first at and reason of a hash,
// whether Store.Suppress or the transaction itself put it first, and
// stores times cleaned; the conformance suite cannot see either through
// privacy.SuppressionStore, so this reads the nodes.
func TestTxSuppressKeepsFirst(t *testing.T) {
	s := neo4jStore(t)
	ctx := context.Background()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	if err := s.Suppress(ctx, []privacy.Suppression{{Hash: a, At: t0, Reason: "first"}}); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return privacy.SuppressInTx(ctx, tx, []privacy.Suppression{
			{Hash: a, At: t0.Add(time.Hour), Reason: "again"},
			{Hash: b, At: t0.Add(1500*time.Microsecond + 700*time.Nanosecond).In(time.FixedZone("X", 3600)), Reason: "erasure rcp_1"},
			{Hash: b, At: t0.Add(2 * time.Hour), Reason: "repeated"},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		return privacy.SuppressInTx(ctx, tx, []privacy.Suppression{{Hash: b, At: t0.Add(3 * time.Hour), Reason: "later"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	sess := rawSession(t)
	for _, c := range []struct {
		what, query string
		want        any
	}{
		{"nodes", "MATCH (s:Suppressed) RETURN count(s)", int64(2)},
		{"a", "MATCH (s:Suppressed {hash: $a}) RETURN s.at = datetime('2026-04-01T09:00:00Z') AND s.reason = 'first'", true},
		{"b", "MATCH (s:Suppressed {hash: $b}) RETURN s.at = datetime('2026-04-01T09:00:00.0015Z') AND s.reason = 'erasure rcp_1'", true},
	} {
		if got := single(t, sess, c.query, map[string]any{"a": a, "b": b}); got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, got, c.want)
		}
	}
}
