package audience

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/privacy"
)

// WithPurposes reads an inAudience naming an audience with a purpose as
// kept member and GRANTED now, wherever it sits in the tree, and leaves
// the filter it was given as it was. Hand-worked over one profile, a kept
// member of a (purpose email) and of b (none), for each consent state.
func TestWithPurposes(t *testing.T) {
	a, b := "seg_"+strings.Repeat("a", 32), "seg_"+strings.Repeat("b", 32)
	purposes := map[string]string{a: "email"}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	rec := func(st privacy.Status, expires time.Time) []privacy.Record {
		return []privacy.Record{{ID: "cns_1", Purpose: "email", Status: st, At: now.Add(-time.Hour), ExpiresAt: expires}}
	}
	states := []struct {
		name    string
		consent []privacy.Record
		granted bool
	}{
		{"granted", rec(privacy.StatusGranted, time.Time{}), true},
		{"granted until later", rec(privacy.StatusGranted, now.Add(time.Minute)), true},
		{"expired", rec(privacy.StatusGranted, now), false},
		{"withdrawn", rec(privacy.StatusWithdrawn, time.Time{}), false},
		{"no record", nil, false},
	}
	inA, inB := Filter{InAudience: &a}, Filter{InAudience: &b}
	user := Filter{Identifier: &IdentifierCondition{Type: "user_id"}}
	cases := []struct {
		name string
		f    Filter
		// holds gives the hand-worked answer from whether the profile
		// grants email.
		holds func(granted bool) bool
	}{
		{"in a", inA, func(g bool) bool { return g }},
		{"not in a", Filter{Not: &inA}, func(g bool) bool { return !g }},
		{"in b", inB, func(bool) bool { return true }},
		{"user and (in a or in b)", Filter{And: []Filter{user, {Or: []Filter{inA, inB}}}}, func(bool) bool { return true }},
		{"user and not (in b and not in a)", Filter{And: []Filter{user, {Not: &Filter{And: []Filter{inB, {Not: &inA}}}}}}, func(g bool) bool { return g }},
	}
	for _, c := range cases {
		before, _ := json.Marshal(c.f)
		g := c.f.WithPurposes(purposes)
		if after, _ := json.Marshal(c.f); string(after) != string(before) {
			t.Fatalf("%s: WithPurposes changed the filter it was given: %s, was %s", c.name, after, before)
		}
		for _, st := range states {
			s := &Subject{Identifiers: []graph.Identifier{{Type: "user_id"}}, Consent: st.consent, Audiences: map[string]bool{a: true, b: true}}
			if got, want := g.Eval(s, now), c.holds(st.granted); got != want {
				t.Errorf("%s, %s: %v, want %v", c.name, st.name, got, want)
			}
		}
	}
	// No audience of the filter has a purpose: the filter itself.
	f := Filter{And: []Filter{user, inB}}
	if g := f.WithPurposes(purposes); g != &f {
		t.Errorf("a filter naming no audience with a purpose was copied")
	}
	if g := f.WithPurposes(nil); g != &f {
		t.Errorf("a filter with no purposes given was copied")
	}
}
