package graph_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/storetest"
)

// The engine's refusals that are about identifiers name their types only:
// whoever logs or prints the error (a Go caller, the CLI, a log line)
// learns no value from it.
func TestEngineErrorsNameNoIdentifierValue(t *testing.T) {
	ref := func(typ, v string) graph.IdentifierRef { return graph.IdentifierRef{Type: typ, Value: v} }
	storetest.Each(t, func(t *testing.T, s graph.Store) {
		ctx := context.Background()
		e := graph.NewEngine(s, nil)
		ann, annUser, annDevice := ref("email", "Ann.Lee@Example.com"), ref("user_id", "u-ann-1"), ref("device_id", "dev-ann-9")
		boPhone := ref("phone", "+1 415 555 0100")
		// Ann: her email and device each linked to her user id, not to
		// each other. Bo: a phone and an anonymous id, another profile.
		for _, ev := range []graph.Event{
			viewedEvent("ev-1", ann, annUser),
			viewedEvent("ev-2", annUser, annDevice),
			viewedEvent("ev-3", boPhone, ref("anonymous_id", "anon-bo-3")),
		} {
			if _, err := e.ApplyBatch(ctx, []graph.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
		const notLinked = "are not linked directly; explainLink shows what joins them"
		for _, c := range []struct {
			name    string
			do      func() error
			code    string
			msg     string
			secrets []string // no part of the message, in any case
			problem graph.IdentifierProblem
			refs    []graph.IdentifierRef // the error's: as given when not usable, normalized otherwise
		}{
			{"ProfileByIdentifier, unknown email",
				func() error {
					_, err := e.ProfileByIdentifier(ctx, ref("email", "Nobody.Here@Example.com"))
					return err
				},
				graph.ENOTFOUND, "identifier of type email not found", []string{"nobody.here"},
				graph.IdentNotFound, []graph.IdentifierRef{ref("email", "nobody.here@example.com")}},
			{"ProfileByIdentifier, unusable phone",
				func() error { _, err := e.ProfileByIdentifier(ctx, ref("phone", "call me at 555 0199")); return err },
				graph.EINVALID, "identifier of type phone is not usable: invalid phone", []string{"call me", "555 0199"},
				graph.IdentNotUsable, []graph.IdentifierRef{ref("phone", "call me at 555 0199")}},
			{"ProfileByIdentifier, an email given as the type",
				func() error { _, err := e.ProfileByIdentifier(ctx, ref("Ann.Lee@Example.com", "x")); return err },
				graph.EINVALID, "identifier of an invalid type is not usable: invalid type", []string{"ann.lee"},
				graph.IdentNotUsable, []graph.IdentifierRef{ref("Ann.Lee@Example.com", "x")}},
			{"ProfilesByIdentifiers, unusable email",
				func() error {
					_, err := e.ProfilesByIdentifiers(ctx, []graph.IdentifierRef{annUser, ref("email", "ann lee@example")})
					return err
				},
				graph.EINVALID, "identifier of type email is not usable: invalid email", []string{"ann lee", "u-ann-1"},
				graph.IdentNotUsable, []graph.IdentifierRef{ref("email", "ann lee@example")}},
			{"UnlinkIdentifiers, unknown phone",
				func() error {
					_, err := e.UnlinkIdentifiers(ctx, ann, ref("phone", "+1 415 555 0199"), "x")
					return err
				},
				graph.ENOTFOUND, "identifier of type phone not found", []string{"ann.lee", "4155550199", "415 555 0199"},
				graph.IdentNotFound, []graph.IdentifierRef{ref("phone", "+14155550199")}},
			{"UnlinkIdentifiers, unusable email",
				func() error { _, err := e.UnlinkIdentifiers(ctx, ref("email", "bad email@"), annUser, "x"); return err },
				graph.EINVALID, "identifier of type email is not usable: invalid email", []string{"bad email", "u-ann-1"},
				graph.IdentNotUsable, []graph.IdentifierRef{ref("email", "bad email@")}},
			{"UnlinkIdentifiers, one profile, no direct link",
				func() error { _, err := e.UnlinkIdentifiers(ctx, ann, annDevice, "x"); return err },
				graph.ENOTFOUND, "the two identifiers (email, device_id) " + notLinked, []string{"ann.lee", "dev-ann-9"},
				graph.IdentNotLinked, []graph.IdentifierRef{ref("email", "ann.lee@example.com"), ref("device_id", "dev-ann-9")}},
			{"UnlinkIdentifiers, two profiles",
				func() error { _, err := e.UnlinkIdentifiers(ctx, ann, boPhone, "x"); return err },
				graph.ENOTFOUND, "the two identifiers (email, phone) " + notLinked, []string{"ann.lee", "4155550100", "415 555 0100"},
				graph.IdentNotLinked, []graph.IdentifierRef{ref("email", "ann.lee@example.com"), ref("phone", "+14155550100")}},
			{"ExplainLink, unknown email",
				func() error { _, err := e.ExplainLink(ctx, ref("email", "zed@example.com"), annUser); return err },
				graph.ENOTFOUND, "identifier of type email not found", []string{"zed@", "u-ann-1"},
				graph.IdentNotFound, []graph.IdentifierRef{ref("email", "zed@example.com")}},
			{"RemoveIdentifier, unknown email",
				func() error { _, err := e.RemoveIdentifier(ctx, ref("email", "Zed@Example.com"), "x"); return err },
				graph.ENOTFOUND, "identifier of type email not found", []string{"zed@"},
				graph.IdentNotFound, []graph.IdentifierRef{ref("email", "zed@example.com")}},
			{"RemoveIdentifier, unusable phone",
				func() error { _, err := e.RemoveIdentifier(ctx, ref("phone", "not a phone"), "x"); return err },
				graph.EINVALID, "identifier of type phone is not usable: invalid phone", []string{"not a phone"},
				graph.IdentNotUsable, []graph.IdentifierRef{ref("phone", "not a phone")}},
			{"ForgetIdentifier, unknown email",
				func() error {
					_, err := e.ForgetIdentifier(ctx, ref("email", "zed@example.com"), "erasure request", nil)
					return err
				},
				graph.ENOTFOUND, "identifier of type email not found", []string{"zed@"},
				graph.IdentNotFound, []graph.IdentifierRef{ref("email", "zed@example.com")}},
		} {
			err := c.do()
			if got := graph.ErrorCode(err); got != c.code {
				t.Errorf("%s: code %q (%v), want %q", c.name, got, err, c.code)
				continue
			}
			for _, msg := range []string{err.Error(), graph.ErrorMessage(err)} {
				for _, sec := range c.secrets {
					if strings.Contains(strings.ToLower(msg), strings.ToLower(sec)) {
						t.Errorf("%s: message %q repeats %q", c.name, msg, sec)
					}
				}
				if msg != c.msg {
					t.Errorf("%s: message %q, want %q", c.name, msg, c.msg)
				}
			}
			// The identifiers are the error's fields, for a caller that
			// must tell which of its inputs is meant.
			var ie *graph.IdentifierError
			if !errors.As(err, &ie) {
				t.Errorf("%s: %T is no *graph.IdentifierError", c.name, err)
				continue
			}
			if ie.Problem != c.problem || !slices.Equal(ie.Refs, c.refs) {
				t.Errorf("%s: problem %v, refs %q; want %v, %q", c.name, ie.Problem, ie.Refs, c.problem, c.refs)
			}
		}
	})
}
