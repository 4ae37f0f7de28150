package graphtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// RunScanReads checks the reads a scan over every profile makes (intel's
// Scan), which a store offers as optional ReadTx methods: ProfileIDs pages
// the live profiles' ids, MemberKeys lists their keys (the same before
// and after Journeys read them), and Journeys leaves the events' payload
// out when asked, and only the payload. A store whose read transactions
// lack ProfileIDsReader or MemberKeysReader fails.
func RunScanReads(t *testing.T, open Opener) {
	s := open(t)
	ctx := context.Background()
	x, y, z := "anonymous_id:x", "user_id:y", "user_id:z"
	err := s.Update(ctx, func(ctx context.Context, tx graph.Tx) error {
		seen := []graph.IdentifierSeen{{Key: x, First: t0, Last: t0}, {Key: y, First: t0, Last: t0}, {Key: z, First: t0, Last: t0}}
		if _, err := tx.LockIdentifiers(ctx, seen, true); err != nil {
			return err
		}
		return tx.Apply(ctx, &graph.Write{
			// bb was merged into a: not live, so no page lists it.
			PutProfiles: []graph.Profile{{ID: "a", Size: 2}, {ID: "b"}, {ID: "bb", MergedInto: "a"}, {ID: "c", Size: 1}, {ID: "d"}},
			Assign:      []graph.Assignment{{Key: y, ProfileID: "a"}, {Key: x, ProfileID: "a"}, {Key: z, ProfileID: "c"}},
			Events: []graph.Event{
				{ID: "e1", Type: "track", Name: "Viewed", Channel: "web", Source: "site", Campaign: "spring",
					Timestamp: at(1), Keys: []string{x, y}, Properties: map[string]any{"plan": "pro"}},
				{ID: "e2", Type: "identify", Timestamp: at(2), Keys: []string{z}, Traits: map[string]any{"name": "Zed"}},
			},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(ctx context.Context, rtx graph.ReadTx) error {
		ids, ok := rtx.(graph.ProfileIDsReader)
		if !ok {
			t.Fatalf("%T does not implement graph.ProfileIDsReader", rtx)
		}
		mk, ok := rtx.(graph.MemberKeysReader)
		if !ok {
			t.Fatalf("%T does not implement graph.MemberKeysReader", rtx)
		}
		for _, c := range []struct {
			q    graph.PageQuery
			want string
		}{
			{graph.PageQuery{Limit: 2}, "[a b]"},
			{graph.PageQuery{After: "a", Limit: 2}, "[b c]"},
			{graph.PageQuery{After: "b", Limit: 10}, "[c d]"},
			{graph.PageQuery{After: "a", Before: "d"}, "[b c]"},
			{graph.PageQuery{}, "[a b c d]"},
			{graph.PageQuery{After: "d"}, "[]"},
		} {
			got, err := ids.ProfileIDs(ctx, c.q)
			if err != nil {
				return err
			}
			if fmt.Sprint(got) != c.want {
				t.Errorf("ProfileIDs(%+v) = %v; want %s", c.q, got, c.want)
			}
		}
		if _, err := ids.ProfileIDs(ctx, graph.PageQuery{Reverse: true, Limit: 2}); err == nil {
			t.Error("ProfileIDs read backwards; want an error")
		}
		// b and d have no members, bb is merged away, "none" does not
		// exist: none of them is in the answer.
		const want = "map[a:[anonymous_id:x user_id:y] c:[user_id:z]]"
		keys, err := mk.MemberKeys(ctx, []string{"a", "b", "bb", "c", "none", "a"})
		if err != nil {
			return err
		}
		if fmt.Sprint(keys) != want {
			t.Errorf("MemberKeys = %v; want %s", keys, want)
		}
		for _, noPayload := range []bool{true, false} {
			j, err := rtx.Journeys(ctx, []string{"a", "c"}, graph.JourneyQuery{Limit: 10, NoPayload: noPayload})
			if err != nil {
				return err
			}
			if len(j["a"]) != 1 || len(j["c"]) != 1 {
				t.Fatalf("journeys = %v; want one event each for a and c", j)
			}
			a, c := j["a"][0], j["c"][0]
			got := fmt.Sprint(a.Properties, c.Traits, a.Keys, c.Keys)
			wantPayload := "map[plan:pro] map[name:Zed] [anonymous_id:x user_id:y] [user_id:z]"
			if noPayload {
				wantPayload = "map[] map[] [anonymous_id:x user_id:y] [user_id:z]"
			}
			if got != wantPayload {
				t.Errorf("with NoPayload %v the events read %s; want %s", noPayload, got, wantPayload)
			}
			fields := fmt.Sprintf("%v %v %v %v %v %v %v %v %v %v", a.ID, a.Type, a.Name, a.Channel, a.Source, a.Campaign, a.Timestamp.Equal(at(1)), c.ID, c.Type, c.Timestamp.Equal(at(2)))
			if want := "e1 track Viewed web site spring true e2 identify true"; fields != want {
				t.Errorf("with NoPayload %v the events' fields read %s; want %s", noPayload, fields, want)
			}
			keys, err := mk.MemberKeys(ctx, []string{"c", "a", "b"})
			if err != nil {
				return err
			}
			if fmt.Sprint(keys) != want {
				t.Errorf("MemberKeys after Journeys = %v; want %s", keys, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
