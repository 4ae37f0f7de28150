package resolver

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// maxRefusalErrors is the most errors the answer to a refused document
// holds: the validator reports every fault, and a document within the
// token limit can hold thousands (3,000 unused variables in 40 KB, an
// answer of 400 KB). The rest are counted in one last error.
const maxRefusalErrors = 100

// capRefusalErrors keeps the first maxRefusalErrors errors of an answer
// without data (a document refused by the parser, the validator or a
// limit, before anything ran) and says how many more there were. An
// answer with data keeps every error: each tells why a field is null.
func capRefusalErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || resp.Data != nil || len(resp.Errors) <= maxRefusalErrors {
		return resp
	}
	more := len(resp.Errors) - maxRefusalErrors
	e := gqlerror.Errorf("%d more errors were left out; correct these first", more)
	errcode.Set(e, errcode.ValidationFailed)
	resp.Errors = append(resp.Errors[:maxRefusalErrors:maxRefusalErrors], e)
	return resp
}
