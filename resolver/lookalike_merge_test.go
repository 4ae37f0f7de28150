package resolver

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// keepInterleaved is a real audience store whose next Keep first runs
// between, a write made on the same store: what another request commits
// after createLookalikeAudience chose its members and before it saves
// them.
type keepInterleaved struct {
	audience.Store
	mu      sync.Mutex
	between func()
}

func (s *keepInterleaved) Keep(ctx context.Context, w audience.KeepWrite) ([]string, error) {
	s.mu.Lock()
	f := s.between
	s.between = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return s.Store.Keep(ctx, w)
}

// A profile createLookalikeAudience chose, merged into another after it
// was chosen and before the members are saved, is in the saved audience
// as its survivor, as if the merge had come just after the save (a member
// merged away is replaced by its survivor): worked by hand, the members
// are the lookalike query's 15 with the chosen one's survivor in its
// place, not 14.
func TestCreateLookalikeAudienceMemberMergedMeanwhile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		st := &keepInterleaved{Store: s.(audience.Store)}
		cfg := testConfig()
		cfg.Audiences = st
		e := newEnv(t, s, cfg, nil)
		seedID, _ := lookalikeData(e)
		// The survivor to be: two identifiers, no events, no traits.
		e.apply(ev("x-1", time.Now().UTC().Add(-time.Hour), "page", "anonymous_id:x-a", "anonymous_id:x-b"))
		x := e.profileID("anonymous_id", "x-a")

		var q struct {
			Lookalike []struct{ Profile struct{ ID string } }
		}
		e.query(`query($a: ID!) { lookalike(audienceId: $a, size: 15) { profile { id } } }`, map[string]any{"a": seedID}, &q)
		var chosen []string
		for _, m := range q.Lookalike {
			chosen = append(chosen, m.Profile.ID)
		}
		if len(chosen) != 15 || slices.Contains(chosen, x) {
			t.Fatalf("the lookalike query gave %v (x %s): want 15 without x", chosen, x)
		}
		merged := chosen[0]
		st.mu.Lock()
		st.between = func() {
			if _, err := e.engine.MergeProfiles(context.Background(), []string{merged, x}, "the same person"); err != nil {
				t.Errorf("merge between: %v", err)
			}
		}
		st.mu.Unlock()

		var out struct{ CreateLookalikeAudience staticOut }
		e.query(createLookalikeOp, map[string]any{"a": seedID, "n": 15, "name": "Campers lookalike"}, &out)
		if p := e.profileID("anonymous_id", "x-a"); p != x {
			t.Fatalf("the merge kept %s, want x %s to survive", p, x)
		}
		want := append([]string{x}, chosen[1:]...)
		slices.Sort(want)
		got := readStatic(e, out.CreateLookalikeAudience.ID)
		if !slices.Equal(got.memberIDs(), want) || got.Size != 15 {
			t.Fatalf("members %v (size %d), want the 15 chosen with %s in place of %s: %v", got.memberIDs(), got.Size, x, merged, want)
		}
	})
}
