package resolver

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// noDefer refuses an operation that uses @defer, before anything runs.
// The directive is among GraphQL's built-in ones, so validation lets it
// through, but no transport of the server delivers deferred parts (POST
// and GET write one response; the websocket completes after the first):
// the answer held null for every deferred field, with no error, and
// "hasNext": true for parts that never came.
type noDefer struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = noDefer{}

func (noDefer) ExtensionName() string                   { return "NoDefer" }
func (noDefer) Validate(graphql.ExecutableSchema) error { return nil }

func (noDefer) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !defers(oc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	e := gqlerror.Errorf("the @defer directive is not supported: remove it, and the operation answers every field in one response")
	errcode.Set(e, errcode.ValidationFailed)
	return e
}

// defers reports whether a selection set, or a fragment it spreads
// (each visited once), holds @defer.
func defers(ss ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range ss {
		switch s := sel.(type) {
		case *ast.Field:
			if defers(s.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if s.Directives.ForName("defer") != nil || defers(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName("defer") != nil {
				return true
			}
			if s.Definition != nil && !seen[s.Name] {
				seen[s.Name] = true
				if defers(s.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}
