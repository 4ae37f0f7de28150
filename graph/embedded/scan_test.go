package embedded

import (
	"context"
	"fmt"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// The reads a scan over every profile makes: ProfileIDs pages the live
// profiles' ids, MemberKeys lists their keys (the same before and after
// Journeys read them), and Journeys leaves the payload out when asked.
func TestScanReads(t *testing.T) {
	s := open(t, t.TempDir())
	x, y, z := "anonymous_id:x", "user_id:y", "user_id:z"
	err := s.Update(context.Background(), func(ctx context.Context, tx graph.Tx) error {
		seen := []graph.IdentifierSeen{{Key: x, First: t0, Last: t0}, {Key: y, First: t0, Last: t0}, {Key: z, First: t0, Last: t0}}
		if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
			return err
		}
		return tx.Apply(ctx, &graph.Write{
			PutProfiles: []graph.Profile{{ID: "a", Size: 2}, {ID: "b"}, {ID: "c", Size: 1}, {ID: "d"}},
			Assign:      []graph.Assignment{{Key: y, ProfileID: "a"}, {Key: x, ProfileID: "a"}, {Key: z, ProfileID: "c"}},
			Events: []graph.Event{
				{ID: "e1", Type: "track", Name: "Viewed", Timestamp: t0, Keys: []string{x, y}, Properties: map[string]any{"plan": "pro"}},
				{ID: "e2", Type: "track", Name: "Viewed", Timestamp: t0, Keys: []string{z}, Traits: map[string]any{"name": "Zed"}},
			},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(ctx context.Context, rtx graph.ReadTx) error {
		tx := rtx.(*tx)
		for _, c := range []struct {
			q    graph.PageQuery
			want string
		}{
			{graph.PageQuery{Limit: 2}, "[a b]"},
			{graph.PageQuery{After: "b", Limit: 10}, "[c d]"},
			{graph.PageQuery{After: "a", Before: "d"}, "[b c]"},
			{graph.PageQuery{After: "d"}, "[]"},
		} {
			ids, err := tx.ProfileIDs(ctx, c.q)
			if err != nil {
				return err
			}
			if fmt.Sprint(ids) != c.want {
				t.Fatalf("ProfileIDs(%+v) = %v; want %s", c.q, ids, c.want)
			}
		}
		const want = "map[a:[anonymous_id:x user_id:y] c:[user_id:z]]"
		keys, err := tx.MemberKeys(ctx, []string{"a", "b", "c"})
		if err != nil {
			return err
		}
		if fmt.Sprint(keys) != want {
			t.Fatalf("MemberKeys = %v; want %s", keys, want)
		}
		for _, noPayload := range []bool{true, false} {
			j, err := tx.Journeys(ctx, []string{"a", "c"}, graph.JourneyQuery{Limit: 10, NoPayload: noPayload})
			if err != nil {
				return err
			}
			if len(j["a"]) != 1 || len(j["c"]) != 1 {
				t.Fatalf("journeys = %v; want one event each for a and c", j)
			}
			got := fmt.Sprint(j["a"][0].Properties, j["c"][0].Traits, j["a"][0].Keys)
			wantPayload := "map[plan:pro] map[name:Zed] [anonymous_id:x user_id:y]"
			if noPayload {
				wantPayload = "map[] map[] [anonymous_id:x user_id:y]"
			}
			if got != wantPayload {
				t.Fatalf("with NoPayload %v the events read %s; want %s", noPayload, got, wantPayload)
			}
			keys, err := tx.MemberKeys(ctx, []string{"c", "a", "b"})
			if err != nil {
				return err
			}
			if fmt.Sprint(keys) != want {
				t.Fatalf("MemberKeys after Journeys = %v; want %s", keys, want)
			}
		}
		return nil
	})
}
