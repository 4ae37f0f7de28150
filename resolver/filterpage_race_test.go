package resolver

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/graph/neo4jstore"
	"github.com/idgraph/cdp/internal/storetest"
)

// pageThenWrite is the Neo4j store whose PageFilter runs then, once,
// after reading its page: a write that commits between the page of
// matches and the read of their profiles.
type pageThenWrite struct {
	*neo4jstore.Store
	then *func()
}

func (s pageThenWrite) PageFilter(ctx context.Context, q audience.FilterQuery, page graph.PageQuery) ([]string, error) {
	ids, err := s.Store.PageFilter(ctx, q, page)
	if f := *s.then; f != nil {
		*s.then = nil
		f()
	}
	return ids, err
}

// TestProfilesFilterPageWhenAMatchIsMergedAway: a match of the page the
// store read (Neo4j pages through matches itself) that is merged away
// before its profile is read is left out of the page; the page is then
// filled from past the store's page, and hasNextPage still tells that
// more matches follow.
func TestProfilesFilterPageWhenAMatchIsMergedAway(t *testing.T) {
	var then func()
	s := pageThenWrite{Store: storetest.OpenNeo4j(t), then: &then}
	e := newEnv(t, s, testConfig(), nil)
	// Five anonymous visitors on plan pro: anonymous ids may merge.
	var m []string
	for i := range 5 {
		a := fmt.Sprintf("a%d", i)
		e.apply(withTraits(ev("id-"+a, time.Now().UTC().Add(-time.Hour), "identify", "anonymous_id:"+a), map[string]any{"plan": "pro"}))
		m = append(m, e.profileID("anonymous_id", a))
	}
	slices.Sort(m)
	pro := jsonOf(t, `{"trait":{"name":"plan","op":"EQ","value":"pro"}}`)
	// Forward: the store reads m0, m1, m2; then m0 and m1 merge into one
	// of them, still pro.
	then = func() {
		if _, err := e.engine.MergeProfiles(context.Background(), []string{m[0], m[1]}, "same person"); err != nil {
			t.Error(err)
		}
	}
	p := filteredPage(e, map[string]any{"f": pro, "first": 2})
	live := without(m, mergedAway(t, e, m[0], m[1]))
	if !reflect.DeepEqual(p.ids(), live[:2]) || !p.PageInfo.HasNextPage {
		t.Errorf("first 2 while two matches merge: %v next=%v, want %v next=true", p.ids(), p.PageInfo.HasNextPage, live[:2])
	}
	// Backward: the store reads the last three (m[4] last); then the last
	// two merge.
	n := len(live)
	then = func() {
		if _, err := e.engine.MergeProfiles(context.Background(), []string{live[n-1], live[n-2]}, "same person"); err != nil {
			t.Error(err)
		}
	}
	b := filteredPage(e, map[string]any{"f": pro, "last": 2})
	live = without(live, mergedAway(t, e, live[n-1], live[n-2]))
	if got := b.ids(); !reflect.DeepEqual(got, live[len(live)-2:]) || !b.PageInfo.HasPreviousPage {
		t.Errorf("last 2 while two matches merge: %v previous=%v, want %v previous=true", got, b.PageInfo.HasPreviousPage, live[len(live)-2:])
	}
}

// mergedAway returns which of a and b, merged, is no longer live.
func mergedAway(t *testing.T, e *env, a, b string) string {
	t.Helper()
	ps, err := e.engine.ProfilesByIDs(context.Background(), []string{a})
	if err != nil {
		t.Fatal(err)
	}
	switch ps[a].ID {
	case a:
		return b
	case b:
		return a
	}
	t.Fatalf("%s and %s merged into %s", a, b, ps[a].ID)
	return ""
}

func without(ids []string, gone string) []string {
	var out []string
	for _, id := range ids {
		if id != gone {
			out = append(out, id)
		}
	}
	return out
}
