package resolver

import (
	"slices"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Audience.members holds an audience's purpose at the time of the
// request, as its export does: the keeper last kept ann, bob, cal and dee
// as members of seg (purpose email), all granting then. Since, bob has
// withdrawn and cal's grant has expired, and no keeper round has run yet:
// members lists ann and dee only. An audience without a purpose (all)
// lists its kept members whatever their consent.
func TestAudienceMembersHoldTheAudiencePurposeWhenRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		const seg, all = "seg_000000000000000000000000000000e1", "seg_000000000000000000000000000000e2"
		pid, _ := keptPurposeScene(t, s, e, seg, all, false)

		var out struct {
			Audience struct {
				Members struct{ Nodes []struct{ ID string } }
			}
		}
		members := func(id string) []string {
			t.Helper()
			e.query(`query($id: ID!) { audience(id: $id) { members(first: 10) { nodes { id } } } }`, map[string]any{"id": id}, &out)
			var got []string
			for _, n := range out.Audience.Members.Nodes {
				got = append(got, n.ID)
			}
			slices.Sort(got)
			return got
		}
		want := []string{pid["ann"], pid["dee"]}
		slices.Sort(want)
		if got := members(seg); !slices.Equal(got, want) {
			t.Errorf("members of the audience for email: %v, want ann and dee %v", got, want)
		}
		var ids []string
		for _, n := range purposeNames {
			ids = append(ids, pid[n])
		}
		slices.Sort(ids)
		if got := members(all); !slices.Equal(got, ids) {
			t.Errorf("members of the audience without a purpose: %v, want all four %v", got, ids)
		}
	})
}
