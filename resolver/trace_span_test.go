package resolver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Hand-worked: which names are shown as themselves.
func TestShownName(t *testing.T) {
	for name, want := range map[string]string{
		"":                        "",
		"LookupProfile":           "LookupProfile",
		"_x9":                     "_x9",
		"a":                       "a",
		"9lives":                  "other",
		"ann@example.com":         "other",
		"with space":              "other",
		"é":                       "other",
		strings.Repeat("a", 64):   strings.Repeat("a", 64),
		strings.Repeat("a", 65):   "other",
		"graphql query x\nforged": "other",
	} {
		if got := shownName(name); got != want {
			t.Errorf("shownName(%q) = %q, want %q", name, got, want)
		}
	}
	o, _ := newOperationSpan(nil)
	if got := o.label("Refused", false); got != "other" || len(o.names) != 0 {
		t.Errorf("label of a refused operation = %q with %d names taken, want other and none", got, len(o.names))
	}
	if got := o.label("Allowed", true); got != "Allowed" || !o.names["Allowed"] {
		t.Errorf("label of an allowed operation = %q, names %v", got, o.names)
	}
	if got := o.label("Allowed", false); got != "Allowed" {
		t.Errorf("a name already taken = %q when refused later, want itself", got)
	}
}

// A subscription's span lasts as long as its stream, with the errors of all
// its events, and a subscription is never observed in the duration
// histogram (its first event can come minutes after it started).
func TestSubscriptionSpanEndsWithTheStream(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reg := prometheus.NewRegistry()
	o, err := newOperationSpan(reg)
	if err != nil {
		t.Fatal(err)
	}
	o.start = func(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
		return tp.Tracer("test").Start(ctx, name, trace.WithAttributes(attrs...))
	}
	op := func(ctx context.Context, kind ast.Operation, name string) context.Context {
		return graphql.WithOperationContext(ctx, &graphql.OperationContext{
			OperationName: "NotThisOne",
			Operation:     &ast.OperationDefinition{Operation: kind, Name: name},
		})
	}
	// Three events, the second with an error, then the end of the stream.
	events := []*graphql.Response{{}, {Errors: gqlerror.List{{Message: "x"}}}, {}, nil}
	next := func(ctx context.Context) graphql.ResponseHandler {
		i := 0
		return func(context.Context) *graphql.Response { r := events[i]; i++; return r }
	}
	ctx := op(context.Background(), ast.Subscription, "Watch")
	h := o.InterceptOperation(ctx, next)
	for i := range 3 {
		if h(ctx) == nil {
			t.Fatalf("event %d: stream ended early", i)
		}
		if n := len(rec.Ended()); n != 0 {
			t.Fatalf("after event %d: %d spans ended, want the subscription's still open", i, n)
		}
	}
	if h(ctx) != nil {
		t.Fatal("the stream did not end")
	}
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Name() != "graphql subscription Watch" {
		t.Fatalf("ended spans %v, want one named graphql subscription Watch", spanNames(ended))
	}
	if errs := attr(ended[0], "graphql.errors"); errs.AsInt64() != 1 {
		t.Errorf("graphql.errors = %v, want 1 (the second event's)", errs.Emit())
	}

	// A subscription whose context ends (the client went away) without
	// its stream answering nil: its span ends all the same.
	sctx, cancel := context.WithCancel(op(context.Background(), ast.Subscription, "Gone"))
	events = []*graphql.Response{{}}
	h = o.InterceptOperation(sctx, next)
	h(sctx)
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.Ended()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ended := rec.Ended(); len(ended) != 2 || ended[1].Name() != "graphql subscription Gone" {
		t.Fatalf("ended spans %v, want the subscription Gone's ended with its context", spanNames(ended))
	}

	// A query, for comparison: its span ends with its one response, under
	// the operation's own name, and it is observed.
	events = []*graphql.Response{{}}
	qctx := op(context.Background(), ast.Query, "LookupProfile")
	o.InterceptOperation(qctx, next)(qctx)
	if ended := rec.Ended(); len(ended) != 3 || ended[2].Name() != "graphql query LookupProfile" {
		t.Fatalf("ended spans %v, want the query's third", spanNames(ended))
	}
	if got := durations(t, reg); len(got) != 1 || got["query/LookupProfile"] != 1 {
		t.Errorf("durations %v, want the query's only", got)
	}
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}
