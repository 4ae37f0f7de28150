package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/server"
)

// serveStarting answers on ln while the service is not built yet (cdp
// serve waiting up to --store-timeout for Neo4j): GET /healthz 200, since
// the process is up, and /readyz and every other request 503 with
// Retry-After, so that probes and clients are told to come back instead of
// waiting on a connection nobody answers. The answers hold no data, and
// where the service may be in open mode (a loopback ln, and keys not
// required: whether one is stored is not known yet) /healthz is answered
// to a local Host only, as afterwards; with keysRequired it never is in
// open mode, and /healthz answers any Host, as afterwards.
// handOver stops it and returns once nothing of it accepts on ln, which
// stays open for the service; what it accepted before is still answered.
// Each answer carries an X-Request-Id and is logged on log, as the
// service's are (server.Logged).
func serveStarting(ln net.Listener, keysRequired bool, log zerolog.Logger) (handOver func()) {
	loopback := false
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		loopback = a.IP.IsLoopback() && !keysRequired
	}
	return serveUntilHandOver(ln, server.Logged(log, startingHandler(loopback)))
}

// serveStartingMetrics answers on ln, the --metrics-addr listener, while
// the service is not built yet: /metrics from g (process and Go metrics,
// cdp_starting 1) without keys, as the service will, so that a scraper
// sees the process waiting rather than a connection refused. handOver is
// serveStarting's.
func serveStartingMetrics(ln net.Listener, g prometheus.Gatherer) (handOver func()) {
	return serveUntilHandOver(ln, server.MetricsHandler(ln, g))
}

// serveUntilHandOver serves h on ln until handOver, which returns once
// nothing of it accepts on ln; ln stays open for the service.
func serveUntilHandOver(ln net.Listener, h http.Handler) (handOver func()) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return func() {}
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	gl := &gateListener{TCPListener: tl}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(gl)
	}()
	return func() {
		gl.stopped.Store(true)
		// Wakes the Accept under way; the service's own Accepts come
		// after the deadline is lifted again.
		_ = tl.SetDeadline(time.Now())
		<-done
		_ = tl.SetDeadline(time.Time{})
		// Connections it accepted still get their answer (a 503 or
		// /healthz's 200), then close: keep-alives are off, and a client
		// that sends nothing is dropped after ReadHeaderTimeout.
	}
}

// gateListener is ln for the start-up server: once stopped, Accept fails
// for good, and Close leaves ln open (http.Server.Serve closes its
// listener when it returns).
type gateListener struct {
	*net.TCPListener
	stopped atomic.Bool
}

var errHandedOver = errors.New("listener handed over to the service")

func (l *gateListener) Accept() (net.Conn, error) {
	if l.stopped.Load() {
		return nil, errHandedOver
	}
	c, err := l.TCPListener.Accept()
	if err != nil && l.stopped.Load() {
		return nil, errHandedOver
	}
	return c, err
}

func (l *gateListener) Close() error { return nil }

func startingHandler(loopback bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpdrain.Body(w, r)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) && (!loopback || server.LoopbackHost(r.Host)) {
			w.WriteHeader(http.StatusOK)
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
			return
		}
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.URL.Path == "/readyz" {
			_ = json.NewEncoder(w).Encode(map[string]string{"status": "starting"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"success": false, "code": "UNAVAILABLE",
			"error": "the server is starting: it waits for its store; nothing in this request was acknowledged, retry shortly",
		})
	})
}
