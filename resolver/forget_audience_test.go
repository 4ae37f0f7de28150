package resolver

import (
	"context"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestErasureLeavesAudiencesAtOnce: right after forgetProfile, the
// audience no longer counts, lists or logs the erased profile, and its
// computed values are gone, with no keeper run in between; after
// removeIdentifier, the profile that remains keeps its membership and
// loses its computed values.
func TestErasureLeavesAudiencesAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		st := s.(audience.Store)
		bg := context.Background()
		e.apply(ev("fa1", t0, "track", "user_id:fa-ann"), ev("fa2", t0, "track", "user_id:fa-bob"),
			ev("fa3", t0, "track", "user_id:fa-cat", "email:cat@example.com"))
		ann, bob, cat := e.profileID("user_id", "fa-ann"), e.profileID("user_id", "fa-bob"), e.profileID("user_id", "fa-cat")
		a := createAudience(e, map[string]any{"name": "Users", "filter": jsonOf(t, `{"identifier":{"type":"user_id"}}`)})
		at := graph.Clean(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		storetest.Must(t, st.ApplyMembership(bg, a.ID, []string{ann, bob, cat}, nil, at))
		storetest.Must(t, st.PutComputedValues(bg, []audience.ComputedValue{
			{ProfileID: ann, Name: "orders", Value: int64(2), ComputedAt: at},
			{ProfileID: cat, Name: "orders", Value: int64(4), ComputedAt: at},
		}))

		type kept struct {
			Audience struct {
				Size    int
				Members struct {
					Nodes      []struct{ ID string }
					TotalCount int
				}
				Changes struct {
					Nodes []struct{ Kind, ProfileID string }
				}
			}
		}
		read := func() (size, total int, members, changes []string) {
			t.Helper()
			var k kept
			e.query(`query($id: ID!) { audience(id: $id) { size members { nodes { id } totalCount } changes { nodes { kind profileId } } } }`,
				map[string]any{"id": a.ID}, &k)
			for _, n := range k.Audience.Members.Nodes {
				members = append(members, n.ID)
			}
			for _, c := range k.Audience.Changes.Nodes {
				changes = append(changes, c.Kind+" "+c.ProfileID)
			}
			sort.Strings(changes)
			return k.Audience.Size, k.Audience.Members.TotalCount, members, changes
		}
		sorted := func(ids ...string) []string { sort.Strings(ids); return ids }
		if size, total, _, _ := read(); size != 3 || total != 3 {
			t.Fatalf("before the erasure: size %d, %d members, want 3 and 3", size, total)
		}

		var out struct{ ForgetProfile *struct{ ID string } }
		e.query(`mutation($id: ID!) { forgetProfile(id: $id, reason: "asked") { id } }`, map[string]any{"id": ann}, &out)
		if out.ForgetProfile == nil || out.ForgetProfile.ID == "" {
			t.Fatal("forgetProfile returned no receipt")
		}
		size, total, members, changes := read()
		if size != 2 || total != 2 || !reflect.DeepEqual(members, sorted(bob, cat)) ||
			!reflect.DeepEqual(changes, sorted("ENTERED "+bob, "ENTERED "+cat)) {
			t.Errorf("after forgetProfile: size %d, total %d, members %v, changes %v; want 2, 2, %v and ENTERED of each",
				size, total, members, changes, sorted(bob, cat))
		}
		vs, err := st.ComputedValues(bg, []string{ann, cat})
		storetest.Must(t, err)
		if len(vs) != 1 || vs[cat]["orders"].Value != int64(4) {
			t.Errorf("computed values after forgetProfile: %v, want cat's only", vs)
		}

		// A correction: cat's email goes, cat's profile stays with its
		// user id; its membership stays, its computed values go.
		e.query(`mutation { removeIdentifier(type: "email", value: "cat@example.com", reason: "typo") { id } }`, nil, nil)
		if size, total, members, _ := read(); size != 2 || total != 2 || !reflect.DeepEqual(members, sorted(bob, cat)) {
			t.Errorf("after removeIdentifier: size %d, total %d, members %v; want 2, 2, %v", size, total, members, sorted(bob, cat))
		}
		vs, err = st.ComputedValues(bg, []string{cat})
		storetest.Must(t, err)
		if len(vs) != 0 {
			t.Errorf("computed values after removeIdentifier: %v, want none", vs)
		}
	})
}
