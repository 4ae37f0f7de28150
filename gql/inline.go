package gql

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// marshalIdentifierList marshals a list of Identifier objects. gqlgen
// marshals the elements of every list of objects on a goroutine each
// (graphql.MarshalSliceConcurrently), so that their fields may wait for
// dataloaders side by side. Of Identifier's fields only profile loads
// anything; the others are computed from the identifier at hand. When the
// selection holds no profile, the elements are marshalled one after the
// other on the calling goroutine, exactly as gqlgen marshals a list of one:
// same field contexts, same panic handling, same output. This spares every
// profile read (profileByIdentifier, profile) a goroutine, a wake-up and a
// stack grown from its minimum for each of its identifiers.
//
// gql/generated.go calls it in place of MarshalSliceConcurrently in the
// marshallers of [Identifier!]! (Event.identifiers) and [Identifier!]
// (Profile.identifiers); internal/gqlpatch puts the calls there after
// gqlgen generates the file (go generate ./resolver).
func marshalIdentifierList(ctx context.Context, oc *graphql.OperationContext, sel ast.SelectionSet, length int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if length <= 1 || selectsLoad(oc, sel) {
		return graphql.MarshalSliceConcurrently(ctx, length, 0, false, marshalElement)
	}
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		func() {
			defer func() {
				if r := recover(); r != nil {
					graphql.AddError(childCtx, graphql.Recover(childCtx, r))
					ret[i] = graphql.Null
				}
			}()
			ret[i] = marshalElement(childCtx, i)
		}()
	}
	return ret
}

// selectsLoad reports whether sel, an Identifier's selection set with its
// fragments, asks for a field whose resolver loads data: profile.
func selectsLoad(oc *graphql.OperationContext, sel ast.SelectionSet) bool {
	for _, f := range graphql.CollectFields(oc, sel, identifierImplementors) {
		if f.Name == "profile" {
			return true
		}
	}
	return false
}
