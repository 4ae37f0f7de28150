package graphtest

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/idgraph/cdp/graph"
)

// ReadTx.LookupProfiles answers, in one call, what Identifiers, Profiles
// and Members answer: the identifiers found, the profiles they name, and
// with withMembers the members of the live ones.
func testLookupProfilesContract(t *testing.T, open Opener) {
	s := open(t)
	e := graph.NewEngine(s, nil)
	// A+a and b+x+y form two profiles; m3 joins a and x and merges them.
	// C is alone.
	apply(t, e, ev("m1", 1, user("A"), email("a@example.com")))
	apply(t, e, ev("m2", 2, email("b@example.com"), anon("x"), anon("y")))
	apply(t, e, ev("m3", 3, email("a@example.com"), anon("x")))
	apply(t, e, ev("m4", 4, user("C")))
	keys := []string{"user_id:A", "email:a@example.com", "anonymous_id:y", "email:b@example.com", "anonymous_id:x", "user_id:C", "user_id:nobody"}
	wantMembers := map[string][]string{ // by a member, then its profile's members
		"user_id:A": {"anonymous_id:x", "anonymous_id:y", "email:a@example.com", "email:b@example.com", "user_id:A"},
		"user_id:C": {"user_id:C"},
	}
	ctx := context.Background()
	err := s.View(ctx, func(ctx context.Context, tx graph.ReadTx) error {
		for _, withMembers := range []bool{false, true} {
			idents, profiles, members, err := tx.LookupProfiles(ctx, keys, withMembers)
			if err != nil {
				return err
			}
			plain, err := tx.Identifiers(ctx, keys)
			if err != nil {
				return err
			}
			if len(idents) != 6 || !reflect.DeepEqual(idents, plain) {
				t.Errorf("withMembers=%v: identifiers %+v, want the 6 stored ones as Identifiers gives them %+v", withMembers, idents, plain)
			}
			if len(profiles) != 2 {
				t.Errorf("withMembers=%v: %d profiles, want 2: %+v", withMembers, len(profiles), profiles)
			}
			for k, want := range wantMembers {
				pid := idents[k].ProfileID
				p, ok := profiles[pid]
				if !ok || !p.Live() || p.Size != len(want) {
					t.Errorf("withMembers=%v: profile of %s is %+v, want live with %d members", withMembers, k, p, len(want))
				}
				stored, err := tx.Profiles(ctx, []string{pid})
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(p, stored[pid]) {
					t.Errorf("withMembers=%v: profile %+v, Profiles gives %+v", withMembers, p, stored[pid])
				}
				if !withMembers {
					continue
				}
				var got []string
				for _, m := range members[pid] {
					got = append(got, m.Key)
				}
				if !slices.Equal(got, want) {
					t.Errorf("members of %s: %v, want %v", k, got, want)
				}
				stored2, err := tx.Members(ctx, []string{pid})
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(members[pid], stored2[pid]) {
					t.Errorf("members of %s: %+v, Members gives %+v", k, members[pid], stored2[pid])
				}
			}
			if !withMembers && members != nil {
				t.Errorf("without members, members is %+v, want nil", members)
			}
			if withMembers && len(members) != 2 {
				t.Errorf("members of %d profiles, want 2: %+v", len(members), members)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
