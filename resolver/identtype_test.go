package resolver

import (
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// An identifier type is a letter, then at most 63 letters, digits or _
// (lowercased): a type of letters only that is too long, or one that
// starts with a digit, is refused with a message that says so, not with
// one that says letters and digits were expected.
func TestIdentifierTypeRefusalSaysTheRule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		seedPeople(e)
		q := `query($t:String!){profileByIdentifier(type:$t, value:"u1"){id}}`
		for _, typ := range []string{strings.Repeat("a", 65), "1user_id", "_user_id", "user-id"} {
			e.refused(q, map[string]any{"t": typ}, CodeInvalidArgument, `"type"`, "starting with a letter", "at most 64")
		}
		// The longest type the rule allows is a type, merely unknown here.
		if r := e.post(q, map[string]any{"t": "A" + strings.Repeat("b_9", 21)}); len(r.Errors) != 0 || string(r.Data) != `{"profileByIdentifier":null}` {
			t.Errorf("a 64-character type: %s %+v, want null without error", r.Data, r.Errors)
		}
	})
}
