package resolver

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A profile's identity graph draws the far ends of its refused links,
// which are other people's identifiers: read unmasked, their values are
// those people's data, and the read's audit entry names their profiles
// too, not only the profile whose graph it is.
func TestIdentityGraphReadNamesTheFarEndsProfiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		// Bob's email and user id; then Ann's user id with Bob's email:
		// a second user id, so the link to Bob's email is refused.
		e.apply(ev("m1", t0, "identify", "user_id:bob", "email:bob@example.com"),
			ev("m2", t0.Add(1), "identify", "user_id:ann"),
			ev("m3", t0.Add(2), "track", "user_id:ann", "email:bob@example.com"))
		ann, bob := e.profileIDOf("user_id", "ann"), e.profileIDOf("user_id", "bob")
		if ann == bob {
			t.Fatal("Ann and Bob share a profile: the link was not refused")
		}
		support, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)

		var out struct {
			P struct {
				G struct {
					Nodes []struct {
						Value     string
						ProfileID string
						InProfile bool
					}
				} `json:"identityGraph"`
			} `json:"profileByIdentifier"`
		}
		e.ok(support, `{ profileByIdentifier(type: "user_id", value: "ann") { identityGraph { nodes { value profileId inProfile } } } }`, nil, &out)
		far := false
		for _, n := range out.P.G.Nodes {
			if n.Value == "bob@example.com" && n.ProfileID == bob && !n.InProfile {
				far = true
			}
		}
		if !far {
			t.Fatalf("Ann's graph does not draw Bob's email as the far end of a refused link: %+v", out.P.G.Nodes)
		}
		got := e.audit("profileByIdentifier")
		if len(got) != 1 {
			t.Fatalf("audit entries of the read: %+v, want one", got)
		}
		want := []string{ann, bob}
		slices.Sort(want)
		ids := slices.Sorted(slices.Values(got[0].ProfileIDs))
		if !slices.Equal(ids, want) || got[0].ProfileCount != 2 {
			t.Errorf("the read's entry names %v (count %d), want Ann's and Bob's profiles %v: Bob's email was read", got[0].ProfileIDs, got[0].ProfileCount, want)
		}
	})
}

// A split's history entry names, in its reason, identifiers of the part
// that left: read unmasked, that is the other profile's data, and the
// read's audit entry names both profiles of the entry.
func TestHistoryReadNamesTheProfilesItsReasonNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		e.apply(ev("m1", t0, "identify", "user_id:ann", "email:bob@example.com"))
		ann := e.profileIDOf("user_id", "ann")
		if _, err := e.engine.UnlinkIdentifiers(context.Background(), graph.IdentifierRef{Type: "user_id", Value: "ann"},
			graph.IdentifierRef{Type: "email", Value: "bob@example.com"}, "not hers"); err != nil {
			t.Fatal(err)
		}
		bob := e.profileIDOf("email", "bob@example.com")
		if bob == ann {
			t.Fatal("the unlink left one profile")
		}
		support, _ := e.key("support", "", access.ScopeProfilesRead, access.ScopePIIRead)
		var out struct {
			P struct {
				H []struct{ Kind, Reason string } `json:"history"`
			} `json:"profileByIdentifier"`
		}
		e.ok(support, `{ profileByIdentifier(type: "user_id", value: "ann") { history { kind reason } } }`, nil, &out)
		named := false
		for _, h := range out.P.H {
			if h.Kind == "SPLIT" && strings.Contains(h.Reason, "bob@example.com") {
				named = true
			}
		}
		if !named {
			t.Fatalf("Ann's history does not show the split naming Bob's email: %+v", out.P.H)
		}
		got := e.audit("profileByIdentifier")
		if len(got) != 1 {
			t.Fatalf("audit entries of the read: %+v, want one", got)
		}
		want := []string{ann, bob}
		slices.Sort(want)
		if ids := slices.Sorted(slices.Values(got[0].ProfileIDs)); !slices.Equal(ids, want) {
			t.Errorf("the read's entry names %v, want Ann's and Bob's profiles %v: the reason shows Bob's email", got[0].ProfileIDs, want)
		}
	})
}
