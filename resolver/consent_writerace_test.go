package resolver

import (
	"fmt"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// Two setConsent calls for different purposes, on an identifier of each
// of two profiles, made at once with mergeProfiles of those two: in
// every serial order both decisions are recorded and the merged person
// holds both, each the newest of its purpose (worked by hand: email
// GRANTED, sms DENIED, nothing else recorded). A decision is a record on
// its identifier, never a field of the profile rewritten, so a merge
// cannot lose one, nor can another decision.
func TestSetConsentRacingAnotherAndAMergeKeepsBoth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		const merge = `mutation($ids: [ID!]!) { mergeProfiles(ids: $ids, reason: "the same person") { id } }`
		for round := range 10 {
			u, m := fmt.Sprintf("cr-u%d", round), fmt.Sprintf("cr%d@example.com", round)
			e.apply(ev(fmt.Sprintf("cr-%d-a", round), t0, "identify", "user_id:"+u), ev(fmt.Sprintf("cr-%d-b", round), t0, "identify", "email:"+m))
			p1, p2 := e.profileID("user_id", u), e.profileID("email", m)
			got := e.race(
				func() (gqlResponse, error) {
					return e.postFrom(setConsentOp, map[string]any{"in": map[string]any{"identifier": ident("user_id", u), "purpose": "email", "status": "GRANTED"}})
				},
				func() (gqlResponse, error) {
					return e.postFrom(setConsentOp, map[string]any{"in": map[string]any{"identifier": ident("email", m), "purpose": "sms", "status": "DENIED"}})
				},
				func() (gqlResponse, error) { return e.postFrom(merge, map[string]any{"ids": []string{p1, p2}}) },
			)
			for i, r := range got {
				if len(r.Errors) > 0 {
					t.Fatalf("round %d: call %d refused: %+v", round, i, r.Errors)
				}
			}
			if a, b := e.profileID("user_id", u), e.profileID("email", m); a != b {
				t.Fatalf("round %d: after the merge the identifiers are in %s and %s", round, a, b)
			}
			var out struct {
				P *struct{ Consent []consentState } `json:"profileByIdentifier"`
			}
			e.query(`query($v: String!) { profileByIdentifier(type: "user_id", value: $v) { consent { purpose status } } }`, map[string]any{"v": u}, &out)
			states := map[string]string{}
			for _, c := range out.P.Consent {
				states[c.Purpose] = c.Status
			}
			for purpose, want := range map[string]string{"email": "GRANTED", "sms": "DENIED", "analytics": "UNKNOWN", "advertising": "UNKNOWN"} {
				if states[purpose] != want {
					t.Fatalf("round %d: consent %v, want email GRANTED, sms DENIED and no other record", round, states)
				}
			}
		}
	})
}
