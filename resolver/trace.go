package resolver

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/idgraph/cdp/internal/telemetry"
)

// operationSpan makes each GraphQL operation a span named
// "graphql <type> <name>" ("graphql query" for an anonymous one), a child
// of the HTTP request's: the store transactions the operation runs are
// its children. It records the operation's type and name, and whether it
// answered with errors, never variables or data. The name is the
// operation's own (query Name { … }), not the request's operationName
// parameter; a name longer than maxOperationNameLen is shown as "other".
//
// It also observes each query's and mutation's duration in
// cdp_graphql_duration_seconds, by type and name; past maxOperationNames
// distinct names, further names are counted as "other" (names are the
// clients' choice), and a name enters that budget only with an operation
// no field of which was refused for want of scope. A subscription is not
// observed there (it lasts as long as its client listens); its span ends
// when its stream does.
type operationSpan struct {
	hist  *prometheus.HistogramVec
	mu    sync.Mutex
	names map[string]bool
	// start starts a span: telemetry.Start, or a test's tracer.
	start func(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span)
}

// maxOperationNames bounds the operation label's values.
const maxOperationNames = 200

// maxOperationNameLen bounds the length of an operation name shown as a
// label, span name or log field.
const maxOperationNameLen = 64

func newOperationSpan(reg prometheus.Registerer) (*operationSpan, error) {
	o := &operationSpan{names: map[string]bool{}, start: telemetry.Start}
	if reg == nil {
		return o, nil
	}
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cdp_graphql_duration_seconds",
		Help:    "Time to answer one GraphQL query or mutation, by operation type and name (\"other\" past 200 names or for names over 64 characters, \"\" for anonymous ones).",
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

// operationName is the name of the operation ctx runs: the parsed
// operation's own name, or with none parsed the request's operationName.
func operationName(oc *graphql.OperationContext) string {
	switch {
	case oc == nil:
		return ""
	case oc.Operation != nil:
		return oc.Operation.Name
	}
	return oc.OperationName
}

// shownName is name as it may be shown in a label, span name or log: ""
// for an anonymous operation, the name itself when it is a GraphQL name
// ([_A-Za-z][_0-9A-Za-z]*) of at most maxOperationNameLen characters,
// else "other".
func shownName(name string) string {
	if name == "" {
		return ""
	}
	if len(name) > maxOperationNameLen {
		return "other"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return "other"
		}
	}
	return name
}

// label is name as the operation label: shownName's, while fewer than
// maxOperationNames names were seen, else "other". A name not yet seen is
// taken into the budget only when admit is true.
func (o *operationSpan) label(name string, admit bool) string {
	name = shownName(name)
	if name == "" || name == "other" {
		return name
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.names[name] {
		return name
	}
	if !admit || len(o.names) >= maxOperationNames {
		return "other"
	}
	o.names[name] = true
	return name
}

// refusedForScope reports whether resp holds a FORBIDDEN error: a field
// of the operation was refused for want of scope.
func refusedForScope(resp *graphql.Response) bool {
	if resp == nil {
		return false
	}
	for _, e := range resp.Errors {
		if code, _ := e.Extensions["code"].(string); code == CodeForbidden {
			return true
		}
	}
	return false
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
	opName := operationName(oc)
	name := "graphql " + kind
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", kind)}
	if shown := shownName(opName); shown != "" {
		name += " " + shown
		attrs = append(attrs, attribute.String("graphql.operation.name", shown))
	}
	start := time.Now()
	parent := ctx
	ctx, span := o.start(ctx, name, attrs...)
	h := next(ctx)
	if oc.Operation.Operation == ast.Subscription {
		return streamSpan(parent, span, h)
	}
	var once sync.Once
	return func(rctx context.Context) *graphql.Response {
		resp := h(rctx)
		once.Do(func() {
			if resp != nil && len(resp.Errors) > 0 {
				span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
			}
			span.End()
			if o.hist != nil {
				o.hist.WithLabelValues(kind, o.label(opName, !refusedForScope(resp))).Observe(time.Since(start).Seconds())
			}
		})
		return resp
	}
}

// streamSpan wraps the response handler of a subscription, which is called
// once per event and answers nil when the stream ends: span ends then, or
// when ctx (the subscription's) ends, whichever is first, with the errors
// of all its events counted.
func streamSpan(ctx context.Context, span trace.Span, h graphql.ResponseHandler) graphql.ResponseHandler {
	var mu sync.Mutex
	errs, ended := 0, false
	end := func() {
		mu.Lock()
		defer mu.Unlock()
		if ended {
			return
		}
		ended = true
		if errs > 0 {
			span.SetAttributes(attribute.Int("graphql.errors", errs))
		}
		span.End()
	}
	stop := context.AfterFunc(ctx, end)
	return func(rctx context.Context) *graphql.Response {
		resp := h(rctx)
		if resp == nil {
			stop()
			end()
			return nil
		}
		mu.Lock()
		errs += len(resp.Errors)
		mu.Unlock()
		return resp
	}
}
