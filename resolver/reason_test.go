package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// TestReasonsAreBoundedText: every mutation that takes a reason (the
// corrections and the erasures) refuses one longer than 500 bytes or
// holding a control character other than tab and newline, naming the
// argument and never repeating it, before anything is written: the graph,
// the receipts and the suppression list stay as they were, and the
// refusal's audit entry withholds the reason. A reason of exactly 500
// bytes with a tab and a newline is taken and kept whole.
func TestReasonsAreBoundedText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newKeyEnv(t, s, testConfig(), nil)
		ops, _ := e.key("ops", "", access.AllScopes()...)
		e.apply(
			ev("rs1", t0, "identify", "user_id:rs-ann", "anonymous_id:rs-x"),
			ev("rs2", t0, "identify", "email:rs-bob@example.com"),
		)
		profileOf := func(typ, value string) string {
			t.Helper()
			var out struct {
				P *struct{ ID string } `json:"profileByIdentifier"`
			}
			e.ok(ops, `query($t: String!, $v: String!) { profileByIdentifier(type: $t, value: $v) { id } }`, map[string]any{"t": typ, "v": value}, &out)
			if out.P == nil {
				t.Fatalf("no profile holds %s:%s", typ, value)
			}
			return out.P.ID
		}
		ann, bob := profileOf("user_id", "rs-ann"), profileOf("email", "rs-bob@example.com")

		// Each bad reason carries a marker that no answer or audit entry
		// may repeat.
		const marker = "MARKER-rs"
		bad := []struct {
			name, reason, says string
		}{
			{"NUL", marker + "\x00", "control character"},
			{"escape", marker + "\x1b[31m", "control character"},
			{"carriage return", marker + "\r\nnext", "control character"},
			{"DEL", marker + "\x7f", "control character"},
			{"C1 next line", marker + "\u0085", "control character"},
			{"501 bytes", marker + strings.Repeat("x", 501-len(marker)), "500 bytes"},
			{"502 bytes of two-byte runes", marker + strings.Repeat("é", 247), "500 bytes"},
		}
		muts := []struct {
			action, op string
			vars       map[string]any
		}{
			{"mergeProfiles", `mutation($r: String!, $ids: [ID!]!) { mergeProfiles(ids: $ids, reason: $r) { id } }`,
				map[string]any{"ids": []string{ann, bob}}},
			{"unlinkIdentifiers", `mutation($r: String!) { unlinkIdentifiers(a: {type: "user_id", value: "rs-ann"}, b: {type: "anonymous_id", value: "rs-x"}, reason: $r) { id } }`, nil},
			{"removeIdentifier", `mutation($r: String!) { removeIdentifier(type: "anonymous_id", value: "rs-x", reason: $r) { id } }`, nil},
			{"forgetProfile", `mutation($r: String!, $id: ID!) { forgetProfile(id: $id, reason: $r) { id } }`, map[string]any{"id": bob}},
			{"forgetIdentifier", `mutation($r: String!) { forgetIdentifier(identifier: {type: "anonymous_id", value: "rs-x"}, reason: $r) { id } }`, nil},
			{"unsuppress", `mutation($r: String!) { unsuppress(identifier: {type: "email", value: "rs-bob@example.com"}, reason: $r) }`, nil},
		}
		for _, m := range muts {
			for _, b := range bad {
				vars := map[string]any{"r": b.reason}
				for k, v := range m.vars {
					vars[k] = v
				}
				r := e.as(ops, m.op, vars)
				if len(r.Errors) == 0 {
					t.Errorf("%s took a reason with %s: %s", m.action, b.name, r.Raw)
					continue
				}
				if r.code() != CodeInvalidArgument || !strings.Contains(r.Errors[0].Message, `"reason"`) ||
					!strings.Contains(r.Errors[0].Message, b.says) {
					t.Errorf("%s, reason with %s: %+v, want INVALID_ARGUMENT naming \"reason\" and saying %q", m.action, b.name, r.Errors, b.says)
				}
				if strings.Contains(string(r.Raw), marker) {
					t.Errorf("%s, reason with %s: the answer repeats the reason: %s", m.action, b.name, r.Raw)
				}
			}
			es := e.audit(m.action)
			if len(es) != len(bad) {
				t.Errorf("%s: %d audit entries, want one per refusal (%d)", m.action, len(es), len(bad))
			}
			for _, a := range es {
				if a.Outcome != CodeInvalidArgument || strings.Contains(a.Reason, marker) {
					t.Errorf("%s: audit entry outcome %s reason %q, want INVALID_ARGUMENT without the reason", m.action, a.Outcome, a.Reason)
				}
			}
		}

		// Nothing was written: the two people, their link and their
		// identifiers are as they were, with no history, receipt or
		// suppression.
		if got := profileOf("anonymous_id", "rs-x"); got != ann {
			t.Fatalf("rs-x is in %s, want %s untouched", got, ann)
		}
		if got := profileOf("email", "rs-bob@example.com"); got != bob {
			t.Fatalf("rs-bob is in %s, want %s untouched", got, bob)
		}
		var st struct {
			A, B struct {
				Size    int
				History []struct{ Kind string }
			}
			ExplainLink struct{ Linked bool }
			Receipts    struct{ Nodes []struct{ ID string } } `json:"erasureReceipts"`
		}
		e.ok(ops, `query($a: ID!, $b: ID!) { a: profile(id: $a) { size history { kind } } b: profile(id: $b) { size history { kind } }
			explainLink(a: {type: "user_id", value: "rs-ann"}, b: {type: "anonymous_id", value: "rs-x"}) { linked }
			erasureReceipts(first: 10) { nodes { id } } }`, map[string]any{"a": ann, "b": bob}, &st)
		if st.A.Size != 2 || st.B.Size != 1 || len(st.A.History)+len(st.B.History) != 0 || !st.ExplainLink.Linked || len(st.Receipts.Nodes) != 0 {
			t.Fatalf("after the refusals: %+v, want sizes 2 and 1, no history, linked, no receipt", st)
		}

		// The longest reason, with a tab and a newline, is taken whole.
		longest := strings.Repeat("é", 248) + "a\tb\n"
		if len(longest) != 500 {
			t.Fatalf("the longest reason is %d bytes", len(longest))
		}
		var merged struct{ MergeProfiles struct{ ID string } }
		e.ok(ops, muts[0].op, map[string]any{"r": longest, "ids": []string{ann, bob}}, &merged)
		var h struct {
			Profile struct {
				History []struct{ Kind, Reason string }
			}
		}
		e.ok(ops, `query($id: ID!) { profile(id: $id) { history { kind reason } } }`, map[string]any{"id": merged.MergeProfiles.ID}, &h)
		if len(h.Profile.History) != 1 || h.Profile.History[0].Reason != "manual: "+longest {
			t.Fatalf("history after the merge: %+v, want one entry with the reason whole", h.Profile.History)
		}
		if es := e.audit("mergeProfiles"); len(es) == 0 || es[0].Reason != longest {
			t.Fatalf("the merge's audit entry does not hold the reason whole")
		}
	})
}
