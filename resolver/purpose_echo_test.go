package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A purpose that is none (an email pasted into the field, say) is refused
// naming the argument and listing the purposes, never repeating what was
// given: the message goes to logs and screens that personal data must not.
func TestConsentHistoryPurposeRefusalRepeatsNoValue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		e.apply(ev("test/m1", t0, "identify", "email:ann@example.com"))
		pid := e.profileID("email", "ann@example.com")
		for _, purpose := range []string{"zed.secret@example.com", "Zed Secret, +44 7700 900123"} {
			r := e.refused(`query($id: ID!, $p: String) { profile(id: $id) { consentHistory(purpose: $p) { id } } }`,
				map[string]any{"id": pid, "p": purpose}, CodeInvalidArgument, `"purpose"`, "analytics, personalization")
			for _, er := range r.Errors {
				if strings.Contains(strings.ToLower(er.Message), "zed") || strings.Contains(er.Message, "7700") {
					t.Errorf("purpose %q: the message repeats it: %q", purpose, er.Message)
				}
			}
		}
	})
}
