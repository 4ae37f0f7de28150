package resolver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"

	"github.com/idgraph/cdp/internal/telemetry"
)

// operationSpan makes each GraphQL operation a span named
// "graphql <type> <name>" ("graphql query" for an anonymous one), a child
// of the HTTP request's: the store transactions the operation runs are
// its children. It records the operation's type and name, and whether it
// answered with errors, never variables or data.
//
// It also observes each operation's duration in
// cdp_graphql_duration_seconds, by type and name; past maxOperationNames
// distinct names, further names are counted as "other" (names are the
// clients' choice).
type operationSpan struct {
	hist  *prometheus.HistogramVec
	mu    sync.Mutex
	names map[string]bool
}

// maxOperationNames bounds the operation label's values.
const maxOperationNames = 200

func newOperationSpan(reg prometheus.Registerer) (*operationSpan, error) {
	o := &operationSpan{names: map[string]bool{}}
	if reg == nil {
		return o, nil
	}
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cdp_graphql_duration_seconds",
		Help:    "Time to answer one GraphQL operation, by operation type and name (\"other\" past 200 names, \"\" for anonymous ones).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"type", "operation"})
	if err := reg.Register(h); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			return nil, err
		}
		h = are.ExistingCollector.(*prometheus.HistogramVec)
	}
	o.hist = h
	return o, nil
}

// label is name as the operation label: itself while fewer than
// maxOperationNames names were seen, else "other".
func (o *operationSpan) label(name string) string {
	if name == "" {
		return ""
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.names[name] {
		return name
	}
	if len(o.names) >= maxOperationNames {
		return "other"
	}
	o.names[name] = true
	return name
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = (*operationSpan)(nil)

func (*operationSpan) ExtensionName() string                          { return "OperationSpan" }
func (*operationSpan) Validate(schema graphql.ExecutableSchema) error { return nil }

func (o *operationSpan) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	kind := string(oc.Operation.Operation)
	name := "graphql " + kind
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", kind)}
	if oc.OperationName != "" {
		name += " " + oc.OperationName
		attrs = append(attrs, attribute.String("graphql.operation.name", oc.OperationName))
	}
	start := time.Now()
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
			if o.hist != nil {
				o.hist.WithLabelValues(kind, o.label(oc.OperationName)).Observe(time.Since(start).Seconds())
			}
		})
		return resp
	}
}
