package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/attribute"

	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/telemetry/otlptest"
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

// EndStore counts the store's own failures, not the caller's.
func TestStoreErrorsCount(t *testing.T) {
	get := func(op, code string) float64 { return testutil.ToFloat64(StoreErrors.WithLabelValues(op, code)) }
	before := map[string]float64{
		"view/unavailable": get("view", graph.EUNAVAILABLE), "update/internal": get("update", graph.EINTERNAL),
		"update/timeout": get("update", "timeout"),
	}
	for _, c := range []struct {
		op  string
		err error
	}{
		{"view", graph.ErrUnavailable(errors.New("connection refused"))},
		{"update", graph.Errorf(graph.EINTERNAL, "corrupt record")},
		{"update", fmt.Errorf("commit: %w", context.DeadlineExceeded)},
		// Not the store's failures: none counts.
		{"update", graph.Errorf(graph.EINVALID, "bad id")},
		{"update", graph.Errorf(graph.ECONFLICT, "taken")},
		{"view", context.Canceled},
		{"view", errors.New("the caller's own error")},
		{"view", nil},
	} {
		_, span := Start(context.Background(), "store."+c.op)
		EndStore(span, c.op, c.err)
	}
	want := map[string]float64{"view/unavailable": 1, "update/internal": 1, "update/timeout": 1}
	for k, w := range want {
		op, code, _ := strings.Cut(k, "/")
		if got := get(op, code) - before[k]; got != w {
			t.Errorf("%s counted %v, want %v", k, got, w)
		}
	}
	if got := get("view", graph.EINTERNAL); got != 0 {
		t.Errorf("view/internal counted %v, want 0 (an uncoded error is the caller's)", got)
	}
}

// A second Setup after the first one's shutdown exports to its own
// collector: spans started then do not go to the provider shut down
// before (nor anywhere else), and shutting down the first one again
// does not turn tracing off for the second.
func TestSetupAgainAfterShutdown(t *testing.T) {
	round := func(name string) (*otlptest.Receiver, func(context.Context) error) {
		col := &otlptest.Receiver{}
		srv := httptest.NewServer(col)
		t.Cleanup(srv.Close)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
		stop, err := Setup(context.Background(), "test", func(err error) { t.Errorf("exporter: %v", err) })
		if err != nil {
			t.Fatal(err)
		}
		_, span := Start(context.Background(), name)
		if !span.IsRecording() {
			t.Fatalf("span %s does not record after Setup", name)
		}
		End(span, nil)
		return col, stop
	}
	first, stopFirst := round("first")
	if err := stopFirst(context.Background()); err != nil {
		t.Fatal(err)
	}
	if Enabled() {
		t.Fatal("tracing still on after the only provider's shutdown")
	}
	second, stopSecond := round("second")
	if err := stopFirst(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !Enabled() {
		t.Fatal("the first provider's second shutdown turned tracing off for the second")
	}
	if err := stopSecond(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		col  *otlptest.Receiver
		want string
	}{{first, "first"}, {second, "second"}} {
		var names []string
		for _, s := range c.col.Spans() {
			names = append(names, s.Name)
		}
		if got := strings.Join(names, ","); got != c.want {
			t.Errorf("collector of %q received spans [%s], want [%s]", c.want, got, c.want)
		}
	}
}
