// Package otlptest is an OTLP/HTTP trace collector for tests: serve a
// Receiver with httptest and point OTEL_EXPORTER_OTLP_ENDPOINT at it.
package otlptest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"slices"
	"sync"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver keeps every span exported to it, the bodies as received, and
// the requests it could not read as trace exports. It is safe for
// concurrent use.
type Receiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
	raw   bytes.Buffer
	bad   []string
}

// ServeHTTP takes one export at /v1/traces, gzipped or not.
func (o *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	o.mu.Lock()
	defer o.mu.Unlock()
	if r.URL.Path != "/v1/traces" || err != nil {
		o.bad = append(o.bad, r.Method+" "+r.URL.Path)
		http.Error(w, "not a trace export", http.StatusNotFound)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		o.bad = append(o.bad, "undecodable body: "+err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.raw.Write(b)
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

// Spans returns the spans received so far, in the order they came.
func (o *Receiver) Spans() []*tracepb.Span {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.spans)
}

// Named returns the spans received so far named name.
func (o *Receiver) Named(name string) []*tracepb.Span {
	var out []*tracepb.Span
	for _, s := range o.Spans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// Raw returns the bodies of the exports read, one after the other.
func (o *Receiver) Raw() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.raw.Bytes())
}

// Bad returns the requests that were not trace exports it could read.
func (o *Receiver) Bad() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.bad)
}
