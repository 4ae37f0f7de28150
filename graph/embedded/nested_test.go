package embedded

import (
	"context"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// A transaction opened with the context of a running one of the same
// store (a store method called from inside View or Update instead of the
// tx at hand) is refused at once with an internal error, never left to
// deadlock on bbolt's file growth; one of another store, or one opened
// after the first ended, runs.
func TestNestedTransactionRefused(t *testing.T) {
	s, other := open(t, t.TempDir()), open(t, t.TempDir())
	ctx := context.Background()
	nested := map[string]func(ctx context.Context) error{
		"View": func(ctx context.Context) error {
			return s.View(ctx, func(context.Context, graph.ReadTx) error { return nil })
		},
		"Update": func(ctx context.Context) error {
			return s.Update(ctx, func(context.Context, graph.Tx) error { return nil })
		},
		"ConsentOf (a store read)": func(ctx context.Context) error {
			_, err := s.ConsentOf(ctx, []string{"email:a@example.com"})
			return err
		},
		"AppendAudit (a store write)": func(ctx context.Context) error {
			return s.AppendAudit(ctx, nil)
		},
	}
	for name, inner := range nested {
		for outerName, outer := range map[string]func(fn func(ctx context.Context) error) error{
			"View": func(fn func(ctx context.Context) error) error {
				return s.View(ctx, func(ctx context.Context, _ graph.ReadTx) error { return fn(ctx) })
			},
			"Update": func(fn func(ctx context.Context) error) error {
				return s.Update(ctx, func(ctx context.Context, _ graph.Tx) error { return fn(ctx) })
			},
		} {
			var innerErr error
			err := outer(func(ctx context.Context) error { innerErr = inner(ctx); return nil })
			if err != nil {
				t.Fatalf("%s around %s: %v", outerName, name, err)
			}
			if graph.ErrorCode(innerErr) != graph.EINTERNAL {
				t.Errorf("%s inside %s: %v, want an internal error", name, outerName, innerErr)
			}
			// The same from another store's transaction, and after the
			// outer one ended, runs.
			if err := other.View(ctx, func(ctx context.Context, _ graph.ReadTx) error { return inner(ctx) }); err != nil {
				t.Errorf("%s inside another store's View: %v", name, err)
			}
			if err := inner(ctx); err != nil {
				t.Errorf("%s on its own: %v", name, err)
			}
		}
	}
}
