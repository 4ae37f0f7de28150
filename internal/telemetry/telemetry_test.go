package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
)

// Without Setup, spans record nothing and carry no trace id.
func TestOffByDefault(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if Configured() {
		t.Fatal("Configured with no endpoint set")
	}
	stop, err := Setup(context.Background(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if Enabled() {
		t.Fatal("Setup with no endpoint enabled tracing")
	}
	ctx, span := Start(context.Background(), "x", attribute.Int("n", 1))
	if span.IsRecording() || TraceID(ctx) != "" {
		t.Fatalf("a span with tracing off records (%v) or has a trace id (%q)", span.IsRecording(), TraceID(ctx))
	}
	End(span, nil)
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// What a store transaction pays for its span with tracing off.
func BenchmarkStartEndOff(b *testing.B) {
	ctx := context.Background()
	attr := attribute.String("db.system", "bbolt")
	b.ReportAllocs()
	for b.Loop() {
		_, span := Start(ctx, "store.view", attr)
		End(span, nil)
	}
}
