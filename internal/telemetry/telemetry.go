// Package telemetry sets up OpenTelemetry tracing: HTTP requests, GraphQL
// operations, commits and store transactions become spans, exported over
// OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, unless OTEL_SDK_DISABLED=true
// or OTEL_TRACES_EXPORTER=none turns them off. Otherwise nothing is set up:
// the global tracer provider stays OpenTelemetry's no-op one, Start returns
// a span that records nothing, and the HTTP handler is not wrapped.
//
// The exporter reads the standard OTEL_EXPORTER_OTLP_* variables
// (endpoint, headers, timeout, compression, insecure); OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES name the service (default "cdp").
//
// Spans carry no personal data: names are fixed, attributes are counts,
// store kinds and GraphQL operation names, and an error is recorded by
// its code only (graph.ErrorCode), never its message.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/idgraph/cdp/graph"
)

// Name is the instrumentation scope of the service's own spans.
const Name = "github.com/idgraph/cdp"

// active holds the service's tracer, taken from the provider Setup
// installed, until that provider's shutdown; nil while tracing is off.
// The provider's own tracer, not one taken from the global provider
// before Setup ran: the global one delegates only to the first provider
// ever installed, so after a shutdown and a second Setup in the same
// process it would keep starting spans of the first, shut down, provider.
var active atomic.Pointer[liveTracer]

type liveTracer struct{ trace.Tracer }

// noSpan is the span Start returns with tracing off: it records nothing,
// and ending it does nothing.
var noSpan = trace.SpanFromContext(context.Background())

// Enabled reports whether Setup installed an exporting tracer provider.
func Enabled() bool { return active.Load() != nil }

// Configured reports whether the environment asks for traces to be
// exported: an endpoint is set, and neither of OpenTelemetry's standard
// off switches is (OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none).
func Configured() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") ||
		strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs, when Configured, a tracer provider exporting over
// OTLP/HTTP in batches, and the W3C trace-context propagator, so that a
// caller's traceparent header continues its trace. It returns the
// shutdown that flushes what is buffered; without configuration it does
// nothing and the shutdown is a no-op.
// onError gets what the exporter fails at (a collector that cannot be
// reached); spans are dropped then, never requests.
func Setup(ctx context.Context, version string, onError func(error)) (shutdown func(context.Context) error, err error) {
	switch v := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))); v {
	case "", "otlp", "none":
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q is not supported: traces are exported over OTLP only (otlp, or none for no traces)", clip(v))
	}
	if !Configured() {
		return func(context.Context) error { return nil }, nil
	}
	if err := checkEnv(); err != nil {
		return nil, err
	}
	if onError != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(onError))
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceVersion(version),
	))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) && !errors.Is(err, resource.ErrSchemaURLConflict) {
		return nil, err
	}
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		res, _ = resource.Merge(res, resource.NewSchemaless(semconv.ServiceName("cdp")))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(scrubbing(exp)), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	live := &liveTracer{tp.Tracer(Name)}
	active.Store(live)
	return func(ctx context.Context) error {
		active.CompareAndSwap(live, nil) // a later Setup's tracer stays
		return tp.Shutdown(ctx)
	}, nil
}

// httpKept are the attributes of otelhttp's server spans that leave the
// process: the method, the route, the status, sizes and the protocol.
// otelhttp also records the caller's address (client.address, from
// X-Forwarded-For, and network.peer.*), its user agent and the request's
// whole path (url.path, which can hold a profile's id), and for a method
// HTTP does not define the method as sent (http.request.method_original;
// http.request.method says _OTHER), all of which stay out, as does any
// attribute a later otelhttp adds.
var httpKept = map[attribute.Key]bool{
	"http.request.method":       true,
	"http.route":                true,
	"http.response.status_code": true,
	"http.request.body.size":    true,
	"http.response.body.size":   true,
	"url.scheme":                true,
	"network.protocol.name":     true,
	"network.protocol.version":  true,
	"error.type":                true,
}

// scrubbing wraps exp so that the spans of otelhttp's server handler are
// exported with httpKept's attributes only. The service's own spans
// carry no personal data to begin with (they are made by Start, with
// attributes named in code).
func scrubbing(exp sdktrace.SpanExporter) sdktrace.SpanExporter { return scrubExporter{exp} }

type scrubExporter struct{ sdktrace.SpanExporter }

func (e scrubExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		out[i] = s
		if s.InstrumentationScope().Name != otelhttp.ScopeName {
			continue
		}
		var kept []attribute.KeyValue
		for _, a := range s.Attributes() {
			if httpKept[a.Key] {
				kept = append(kept, a)
			}
		}
		out[i] = keptSpan{s, kept}
	}
	return e.SpanExporter.ExportSpans(ctx, out)
}

// keptSpan is a span with its attributes replaced.
type keptSpan struct {
	sdktrace.ReadOnlySpan
	attrs []attribute.KeyValue
}

func (s keptSpan) Attributes() []attribute.KeyValue { return s.attrs }

// Start starts a span named name as a child of ctx's span.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	t := active.Load()
	if t == nil {
		// Tracing off: one atomic load, nothing allocated.
		return ctx, noSpan
	}
	return t.Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartChild is Start for work that belongs to a trace already under way
// (a store transaction): without a span in ctx it starts none, so that
// background work (the change feed's poll every 100 ms, trims, refreshes)
// does not export a trace of its own for every transaction.
func StartChild(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	t := active.Load()
	if t == nil || !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, noSpan
	}
	return t.Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, marked as failed with err's code when err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		code := graph.ErrorCode(err)
		if code == "" {
			code = "error"
		}
		span.SetAttributes(attribute.String("cdp.error_code", code))
		span.SetStatus(codes.Error, code)
	}
	span.End()
}

// TraceID returns the id of ctx's span's trace, or "" when there is none
// (tracing off).
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// StoreErrors counts store transactions that failed because of the store
// (unavailable, timed out, or an internal failure), by kind of
// transaction (update, view) and error code; refusals of bad input and
// conflicts are not store errors. Each store counts through EndStore; the
// service registers it with its registry.
var StoreErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "cdp_store_errors_total",
	Help: "Store transactions that failed because of the store (unavailable, timed out, internal), by transaction kind and error code.",
}, []string{"op", "code"})

func init() {
	// Every series exists from the start, at 0, so that dashboards and
	// alerts see the metric before the first failure.
	for _, op := range []string{"update", "view"} {
		for _, code := range []string{graph.EUNAVAILABLE, graph.EINTERNAL, "timeout"} {
			StoreErrors.WithLabelValues(op, code)
		}
	}
}

// EndStore is End for the span of a store transaction of kind op
// ("update" or "view"), which also counts a store error in StoreErrors.
func EndStore(span trace.Span, op string, err error) {
	if err != nil {
		// Only a coded error counts as internal: an uncoded one is the
		// caller's own (fn's), not the store's.
		code := ""
		var ge *graph.Error
		if errors.As(err, &ge) {
			code = ge.Code
		}
		switch {
		case errors.Is(err, context.Canceled):
			// The caller gave up: not the store's failure.
		case errors.Is(err, context.DeadlineExceeded):
			StoreErrors.WithLabelValues(op, "timeout").Inc()
		case code == graph.EUNAVAILABLE || code == graph.EINTERNAL:
			StoreErrors.WithLabelValues(op, code).Inc()
		}
	}
	End(span, err)
}
