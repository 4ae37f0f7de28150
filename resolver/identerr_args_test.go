package resolver

import (
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// A refusal about identifiers names the argument that gave each, found
// from the identifiers the engine's refusal carries (as given or
// normalized), in the words these messages have always had.
func TestIdentifierRefusalsNameTheirArguments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		e := newEnv(t, s, testConfig(), nil)
		// u1 and d1 are both linked to ann's email, not to each other.
		e.apply(ev("ia-1", t0, "identify", "email:ann@example.com", "user_id:u1"))
		e.apply(ev("ia-2", t0, "identify", "email:ann@example.com", "device_id:d1"))
		const notLinked = `the identifiers of arguments "a" and "b" are not linked directly; explainLink shows what joins them`
		for _, c := range []struct{ query, code, msg string }{
			{`mutation { removeIdentifier(type: "email", value: "Nobody@Example.com", reason: "x") { id } }`,
				CodeNotFound, `arguments "type" and "value": identifier not found`},
			{`mutation { unlinkIdentifiers(a: {type: "email", value: "ann@example.com"}, b: {type: "email", value: "zed@example.com"}, reason: "x") { id } }`,
				CodeNotFound, `argument "b": identifier not found`},
			{`mutation { unlinkIdentifiers(a: {type: "email", value: " Zed@Example.com "}, b: {type: "user_id", value: "u1"}, reason: "x") { id } }`,
				CodeNotFound, `argument "a": identifier not found`},
			{`mutation { unlinkIdentifiers(a: {type: "user_id", value: "u1"}, b: {type: "device_id", value: "d1"}, reason: "x") { id } }`,
				CodeNotFound, notLinked},
			{`{ explainLink(a: {type: "email", value: "zed@example.com"}, b: {type: "user_id", value: "u1"}) { linked } }`,
				CodeNotFound, `argument "a": identifier not found`},
			{`{ explainLink(a: {type: "user_id", value: "u1"}, b: {type: "Email", value: "ZED@example.com"}) { linked } }`,
				CodeNotFound, `argument "b": identifier not found`},
			{`mutation { forgetIdentifier(identifier: {type: "email", value: "Zed@Example.com"}, reason: "x") { id } }`,
				CodeNotFound, `argument "identifier": identifier not found`},
		} {
			r := e.post(c.query, nil)
			if len(r.Errors) == 0 || r.code() != c.code || r.Errors[0].Message != c.msg {
				t.Errorf("%s: errors %+v, want %s %q", c.query, r.Errors, c.code, c.msg)
			}
		}
	})
}
