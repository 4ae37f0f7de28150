package resolver

import (
	"fmt"
	"testing"

	"github.com/idgraph/cdp/internal/storetest"
)

// A variable that is missing or of the wrong type is refused with a message
// that names the variable, not only gqlgen's bare "must be defined" or
// "cannot use string as Int" with the name left to the error's path. The
// refusal comes before any resolver runs, so one store is enough here.
func TestVariableErrorsNameTheVariable(t *testing.T) {
	e := newEnv(t, storetest.OpenEmbedded(t), testConfig(), nil)
	for _, c := range []struct {
		query string
		vars  map[string]any
		want  string
	}{
		{`query ($id: ID!) { profile(id: $id) { id } }`, nil, `variable "$id": must be defined`},
		{`query ($f: Int) { profiles(first: $f) { totalCount } }`, map[string]any{"f": "x"}, `variable "$f": cannot use string as Int`},
	} {
		got := e.post(c.query, c.vars)
		if len(got.Errors) != 1 || got.Errors[0].Message != c.want || got.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s with %v: %d %+v, want one GRAPHQL_VALIDATION_FAILED saying %q", c.query, c.vars, got.Status, got.Errors, c.want)
		}
	}
}

// An unknown field of an input object given in the variables is named as
// the collector names a payload's keys (graph.MessageKey): as sent, unless
// it looks like personal data itself (an email or a phone number used as a
// key), which neither the message nor the error's path repeats. One store
// is enough: the refusal comes before any resolver runs.
func TestVariableErrorsWithholdPersonalKeys(t *testing.T) {
	e := newEnv(t, storetest.OpenEmbedded(t), testConfig(), nil)
	const q = `query ($a: IdentifierInput!) { explainLink(a: $a, b: {type: "user_id", value: "u1"}) { linked } }`
	for _, c := range []struct {
		key      string
		wantMsg  string
		wantPath []any
	}{
		{"ann@example.com", `variable "$a.(withheld key)": unknown field`, []any{"variable", "a", "(withheld key)"}},
		{"+1 415 555 0167", `variable "$a.(withheld key)": unknown field`, []any{"variable", "a", "(withheld key)"}},
		{"note", `variable "$a.note": unknown field`, []any{"variable", "a", "note"}},
	} {
		got := e.post(q, map[string]any{"a": map[string]any{"type": "email", "value": "x@example.com", c.key: "x"}})
		if len(got.Errors) != 1 || got.code() != "GRAPHQL_VALIDATION_FAILED" || got.Errors[0].Message != c.wantMsg ||
			fmt.Sprint(got.Errors[0].Path) != fmt.Sprint(c.wantPath) {
			t.Errorf("unknown field %q: %+v, want one GRAPHQL_VALIDATION_FAILED saying %q at path %v", c.key, got.Errors, c.wantMsg, c.wantPath)
		}
	}
}
