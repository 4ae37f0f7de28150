package resolver

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"

	"github.com/idgraph/cdp/internal/telemetry"
)

// operationSpan makes each GraphQL operation a span named
// "graphql <type> <name>" ("graphql query" for an anonymous one), a child
// of the HTTP request's: the store transactions the operation runs are
// its children. It records the operation's type and name, and whether it
// answered with errors, never variables or data.
type operationSpan struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationSpan{}

func (operationSpan) ExtensionName() string                          { return "OperationSpan" }
func (operationSpan) Validate(schema graphql.ExecutableSchema) error { return nil }

func (operationSpan) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	kind := string(oc.Operation.Operation)
	name := "graphql " + kind
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", kind)}
	if oc.OperationName != "" && len(oc.OperationName) <= 100 {
		name += " " + oc.OperationName
		attrs = append(attrs, attribute.String("graphql.operation.name", oc.OperationName))
	}
	ctx, span := telemetry.Start(ctx, name, attrs...)
	h := next(ctx)
	var once sync.Once
	return func(rctx context.Context) *graphql.Response {
		resp := h(rctx)
		once.Do(func() {
			if resp != nil && len(resp.Errors) > 0 {
				span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
			}
			span.End()
		})
		return resp
	}
}
