package telemetry

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// checkEnv checks the OTEL_EXPORTER_OTLP_* variables the exporter reads,
// and the OTEL_TRACES_SAMPLER* and OTEL_BSP_* ones of the SDK.
// The exporter itself skips a value it cannot use, printing a line of its
// own on stderr that can repeat the value (a header's token), and goes on
// without it: spans would go to its default endpoint, without their
// headers or certificates, or over HTTP/protobuf to a collector told to
// expect gRPC. A bad value is refused here instead, with an error naming
// the variable and never repeating a header's value.
func checkEnv() error {
	get := func(name string) (string, bool) {
		v := strings.TrimSpace(os.Getenv(name))
		return v, v != ""
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		raw, set := os.LookupEnv(name)
		if !set || raw == "" {
			continue
		}
		v := strings.TrimSpace(raw)
		u, err := url.Parse(v)
		if v == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s is not an http:// or https:// URL with a host (such as http://127.0.0.1:4318)", name)
		}
	}
	// The sampler: the SDK samples every trace after a name it does not
	// know or a ratio it cannot read, and only warns.
	if smp, ok := get("OTEL_TRACES_SAMPLER"); ok {
		switch strings.ToLower(smp) {
		case "always_on", "always_off", "parentbased_always_on", "parentbased_always_off":
		case "traceidratio", "parentbased_traceidratio":
			if arg, ok := get("OTEL_TRACES_SAMPLER_ARG"); ok {
				if r, err := strconv.ParseFloat(arg, 64); err != nil || !(r >= 0 && r <= 1) {
					return fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q is not a ratio from 0 to 1 (such as 0.25)", clip(arg))
				}
			}
		default:
			return fmt.Errorf("OTEL_TRACES_SAMPLER %q is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio", clip(smp))
		}
	}
	// The batching of spans: the SDK ignores a value that is not a
	// number, and panics on a negative queue size.
	for _, v := range []struct {
		name, what string
		min        int
	}{
		{"OTEL_BSP_SCHEDULE_DELAY", "a whole number of milliseconds, 0 or more", 0},
		{"OTEL_BSP_EXPORT_TIMEOUT", "a whole number of milliseconds, 0 or more", 0},
		{"OTEL_BSP_MAX_QUEUE_SIZE", "a whole number of spans, 1 or more", 1},
		{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "a whole number of spans, 1 or more", 1},
	} {
		if s, ok := get(v.name); ok {
			if n, err := strconv.Atoi(s); err != nil || n < v.min {
				return fmt.Errorf("%s %q is not %s", v.name, clip(s), v.what)
			}
		}
	}
	for _, sig := range []string{"OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_TRACES_"} {
		if v, ok := get(sig + "HEADERS"); ok {
			if err := checkHeaders(v); err != nil {
				return fmt.Errorf("%sHEADERS %v (values are not repeated)", sig, err)
			}
		}
		if v, ok := get(sig + "TIMEOUT"); ok {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return fmt.Errorf("%sTIMEOUT %q is not a whole number of milliseconds, 0 or more", sig, clip(v))
			}
		}
		if v, ok := get(sig + "COMPRESSION"); ok && v != "gzip" && v != "none" {
			return fmt.Errorf("%sCOMPRESSION %q is not gzip or none", sig, clip(v))
		}
		if v, ok := get(sig + "PROTOCOL"); ok && v != "http/protobuf" {
			return fmt.Errorf("%sPROTOCOL %q is not supported: traces are exported over OTLP/HTTP as http/protobuf only", sig, clip(v))
		}
		if v, ok := get(sig + "INSECURE"); ok && !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Errorf("%sINSECURE %q is not true or false", sig, clip(v))
		}
		if v, ok := get(sig + "CERTIFICATE"); ok {
			b, err := os.ReadFile(v)
			if err != nil {
				return fmt.Errorf("%sCERTIFICATE cannot be read: %w", sig, err)
			}
			if !x509.NewCertPool().AppendCertsFromPEM(b) {
				return fmt.Errorf("%sCERTIFICATE %s holds no PEM certificate", sig, v)
			}
		}
		cert, okc := get(sig + "CLIENT_CERTIFICATE")
		key, okk := get(sig + "CLIENT_KEY")
		switch {
		case okc && !okk:
			return fmt.Errorf("%sCLIENT_KEY is missing: %sCLIENT_CERTIFICATE needs its key", sig, sig)
		case okk && !okc:
			return fmt.Errorf("%sCLIENT_CERTIFICATE is missing: %sCLIENT_KEY needs its certificate", sig, sig)
		case okc:
			if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
				return fmt.Errorf("%sCLIENT_CERTIFICATE and %sCLIENT_KEY are not a usable certificate and key: %w", sig, sig, err)
			}
		}
	}
	return nil
}

// checkHeaders checks a list of key=value pairs, separated by commas,
// whose values are percent-encoded, as the exporter reads it. Its errors
// name the pair by position, never by content.
func checkHeaders(v string) error {
	for i, pair := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return fmt.Errorf("item %d is not key=value", i+1)
		case !validHeaderKey(k):
			return fmt.Errorf("item %d's key is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", i+1)
		}
		if _, err := url.PathUnescape(val); err != nil {
			return fmt.Errorf("item %d's value is not percent-encoded correctly", i+1)
		}
	}
	return nil
}

func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c)
		if !ok {
			return false
		}
	}
	return true
}

// clip shortens a value shown in an error.
func clip(v string) string {
	if len(v) > 40 {
		return v[:40] + "..."
	}
	return v
}
