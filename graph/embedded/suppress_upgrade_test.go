package embedded

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/privacy"
)

// A file of a layout before 7 opens with an empty suppression list that
// takes hashes and makes its secret; the layout 7 fixture reads back the
// secret and hashes writeLayoutDataset wrote.
func TestSuppressAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	ab, of, cd := strings.Repeat("ab", 32), strings.Repeat("0f", 32), strings.Repeat("cd", 32)
	eachFixture(t, func(t *testing.T, v uint64, s *Store) {
		n, err := s.CountSuppressed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		key, err := s.SuppressionKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Suppressed(ctx, []string{ab, of, cd})
		if err != nil {
			t.Fatal(err)
		}
		if v < 7 {
			if n != 0 || len(got) != 0 {
				t.Fatalf("an upgraded file holds %d suppressed hashes (%v), want none", n, got)
			}
			if len(key) != privacy.SuppressionKeyLen || bytes.Equal(key, layoutSuppressionKey()) {
				t.Fatalf("an upgraded file's new key is %x", key)
			}
			if err := s.Suppress(ctx, []privacy.Suppression{{Hash: cd, At: lt(5)}}); err != nil {
				t.Fatal(err)
			}
			if n, err := s.CountSuppressed(ctx); err != nil || n != 1 {
				t.Fatalf("CountSuppressed after one Suppress = %d, %v", n, err)
			}
			return
		}
		if !bytes.Equal(key, layoutSuppressionKey()) {
			t.Fatalf("key = %x, want the dataset's %x", key, layoutSuppressionKey())
		}
		if n != 2 || !slices.Equal(slices.Sorted(maps.Keys(got)), []string{of, ab}) {
			t.Fatalf("suppressed = %v (of %d), want %s and %s (of 2)", got, n, of, ab)
		}
	})
}
