package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestForbiddenCorrectionKeepsNoBadReason: a correction or unsuppress
// refused for want of scope is audited (FORBIDDEN), and its reason follows
// the reason's rule there too: one the rule refuses (a control character,
// more than 500 bytes) is withheld, so the log never holds what the
// mutation itself would have refused; a good one is kept whole.
func TestForbiddenCorrectionKeepsNoBadReason(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		reader, _ := e.key("reader", "", access.ScopeProfilesRead)
		const marker = "MARKER-fr"
		muts := []struct{ action, op string }{
			{"mergeProfiles", `mutation($r: String!) { mergeProfiles(ids: ["p_none1", "p_none2"], reason: $r) { id } }`},
			{"unlinkIdentifiers", `mutation($r: String!) { unlinkIdentifiers(a: {type: "user_id", value: "n1"}, b: {type: "user_id", value: "n2"}, reason: $r) { id } }`},
			{"removeIdentifier", `mutation($r: String!) { removeIdentifier(type: "user_id", value: "n1", reason: $r) { id } }`},
			{"unsuppress", `mutation($r: String!) { unsuppress(identifier: {type: "user_id", value: "n1"}, reason: $r) }`},
		}
		reasons := []struct{ reason, want string }{
			{marker + "\x1b[31m red", "(withheld: the reason was refused)"},
			{marker + "\r\nforged line", "(withheld: the reason was refused)"},
			{marker + strings.Repeat("x", 600), "(withheld: the reason was refused)"},
			{"same person\tper ticket 12", "same person\tper ticket 12"},
		}
		for _, m := range muts {
			for _, rs := range reasons {
				r := e.as(reader, m.op, map[string]any{"r": rs.reason})
				checkRefused(t, r.gqlResponse, CodeForbidden)
			}
			es := e.audit(m.action)
			if len(es) != len(reasons) {
				t.Fatalf("%s: %d audit entries, want %d", m.action, len(es), len(reasons))
			}
			for i, a := range es {
				want := reasons[len(reasons)-1-i].want // newest first
				if a.Outcome != CodeForbidden || a.Reason != want {
					t.Errorf("%s: entry outcome %s reason %.60q, want FORBIDDEN with %q", m.action, a.Outcome, a.Reason, want)
				}
			}
		}
	})
}
