package telemetry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad OTEL_EXPORTER_OTLP_* value is refused at start, with an error
// naming the variable and never repeating a header's value (a token),
// rather than ignored (spans then go elsewhere, without their headers,
// or over another protocol) with a line of OpenTelemetry's own on stderr.
func TestSetupRefusesBadEnv(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	const endpoint = "http://127.0.0.1:4318"
	for _, c := range []struct {
		env    map[string]string
		naming string // the variable the error must name
	}{
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "::bad"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://"}, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%zzsecret-token-1"}, "OTEL_EXPORTER_OTLP_HEADERS"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-key=secret-token-1,secret-token-2"}, "OTEL_EXPORTER_OTLP_TRACES_HEADERS"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_HEADERS": "bad key=secret-token-1"}, "OTEL_EXPORTER_OTLP_HEADERS"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TIMEOUT": "10s"}, "OTEL_EXPORTER_OTLP_TIMEOUT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "-1"}, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"}, "OTEL_EXPORTER_OTLP_COMPRESSION"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_INSECURE": "yes"}, "OTEL_EXPORTER_OTLP_INSECURE"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_CERTIFICATE": filepath.Join(t.TempDir(), "missing.pem")}, "OTEL_EXPORTER_OTLP_CERTIFICATE"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": notPEM}, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": notPEM}, "OTEL_EXPORTER_OTLP_CLIENT_KEY"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": notPEM, "OTEL_EXPORTER_OTLP_CLIENT_KEY": notPEM}, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "5s"}, "OTEL_BSP_SCHEDULE_DELAY"},
		// The SDK sampled every trace after these, warning only.
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_SAMPLER": "always-off"}, "OTEL_TRACES_SAMPLER"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1%"}, "OTEL_TRACES_SAMPLER_ARG"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "5"}, "OTEL_TRACES_SAMPLER_ARG"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_EXPORT_TIMEOUT": "-1"}, "OTEL_BSP_EXPORT_TIMEOUT"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_MAX_QUEUE_SIZE": "0"}, "OTEL_BSP_MAX_QUEUE_SIZE"},
		// The SDK panicked on this one: a slice of -1 elements.
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_MAX_QUEUE_SIZE": "-1"}, "OTEL_BSP_MAX_QUEUE_SIZE"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "lots"}, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"},
	} {
		t.Run(c.naming, func(t *testing.T) {
			for _, k := range otlpVars {
				t.Setenv(k, "")
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			stop, err := Setup(context.Background(), "test", nil)
			if err == nil {
				_ = stop(context.Background())
				t.Fatalf("Setup with %v: no error", c.env)
			}
			if Enabled() {
				t.Errorf("Setup refused %v but tracing is on", c.env)
			}
			if !strings.Contains(err.Error(), c.naming+" ") {
				t.Errorf("Setup with %v: %q does not name %s", c.env, err, c.naming)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Errorf("Setup with %v: %q repeats a header's value", c.env, err)
			}
		})
	}
}

// Good values, spelled as the OpenTelemetry specification allows, pass.
func TestCheckEnvAcceptsGoodValues(t *testing.T) {
	for _, k := range otlpVars {
		t.Setenv(k, "")
	}
	for k, v := range map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":        " https://collector.example:4318/base ",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces",
		"OTEL_EXPORTER_OTLP_HEADERS":         "api-key=a%20b , x-tenant=acme",
		"OTEL_EXPORTER_OTLP_TIMEOUT":         "10000",
		"OTEL_EXPORTER_OTLP_COMPRESSION":     "gzip",
		"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/protobuf",
		"OTEL_EXPORTER_OTLP_INSECURE":        "TRUE",
		"OTEL_TRACES_SAMPLER":                "ParentBased_TraceIdRatio",
		"OTEL_TRACES_SAMPLER_ARG":            "0.25",
		"OTEL_BSP_SCHEDULE_DELAY":            "0",
		"OTEL_BSP_EXPORT_TIMEOUT":            "30000",
		"OTEL_BSP_MAX_QUEUE_SIZE":            "2048",
		"OTEL_BSP_MAX_EXPORT_BATCH_SIZE":     "512",
	} {
		t.Setenv(k, v)
	}
	stop, err := Setup(context.Background(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// otlpVars are the variables the tests clear first.
var otlpVars = func() []string {
	var out []string
	for _, v := range []string{"ENDPOINT", "HEADERS", "TIMEOUT", "COMPRESSION", "PROTOCOL", "INSECURE", "CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"} {
		out = append(out, "OTEL_EXPORTER_OTLP_"+v, "OTEL_EXPORTER_OTLP_TRACES_"+v)
	}
	return append(out, "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_EXPORT_TIMEOUT", "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
}()

// OpenTelemetry's standard off switches turn tracing off even with an
// endpoint set (one a platform sets for every service of a pod, say):
// OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none. An exporter this
// service does not have is refused by name.
func TestStandardOffSwitches(t *testing.T) {
	for _, off := range []map[string]string{
		{"OTEL_SDK_DISABLED": "true"},
		{"OTEL_SDK_DISABLED": " TRUE "},
		{"OTEL_TRACES_EXPORTER": "none"},
	} {
		for _, k := range otlpVars {
			t.Setenv(k, "")
		}
		t.Setenv("OTEL_SDK_DISABLED", "")
		t.Setenv("OTEL_TRACES_EXPORTER", "")
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
		for k, v := range off {
			t.Setenv(k, v)
		}
		stop, err := Setup(context.Background(), "test", nil)
		if err != nil {
			t.Fatalf("Setup with %v: %v", off, err)
		}
		if Configured() || Enabled() {
			t.Errorf("with %v tracing is configured (%v) or on (%v), want off", off, Configured(), Enabled())
		}
		_ = stop(context.Background())
	}
	for _, v := range []string{"otlp", "OTLP", ""} {
		t.Setenv("OTEL_TRACES_EXPORTER", v)
		t.Setenv("OTEL_SDK_DISABLED", "false")
		if !Configured() {
			t.Errorf("OTEL_TRACES_EXPORTER %q with an endpoint is not configured", v)
		}
	}
	for _, v := range []string{"zipkin", "console", "otlp,console"} {
		t.Setenv("OTEL_TRACES_EXPORTER", v)
		stop, err := Setup(context.Background(), "test", nil)
		if err == nil {
			_ = stop(context.Background())
			t.Errorf("Setup with OTEL_TRACES_EXPORTER %q: no error", v)
		} else if !strings.Contains(err.Error(), "OTEL_TRACES_EXPORTER ") {
			t.Errorf("Setup with OTEL_TRACES_EXPORTER %q: %q does not name the variable", v, err)
		}
		if Enabled() {
			t.Errorf("Setup refused OTEL_TRACES_EXPORTER %q but tracing is on", v)
		}
	}
}
