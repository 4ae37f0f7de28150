package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/redact"
	"github.com/idgraph/cdp/internal/reqid"
	"github.com/idgraph/cdp/internal/telemetry"
)

// Routes are the handlers the server mounts. Nil ones are left out.
type Routes struct {
	Collector http.Handler // mounted at /v1/
	Privacy   http.Handler // mounted at /v1/privacy/ (PrivacyHandler, guarded)
	Audiences http.Handler // mounted at /v1/audiences/ (AudienceHandler, guarded)
	GraphQL   http.Handler // mounted at /graphql
	GraphiQL  http.Handler // mounted at /graphiql
	// Console is mounted at /console/ without a key even where keys are
	// enforced: it serves only the console's static files, and the console
	// sends the user's key with every request for data.
	Console http.Handler
}

// Config configures the HTTP server.
type Config struct {
	Addr   string
	Logger zerolog.Logger
	// Gatherer serves /metrics; nil uses the default registry.
	Gatherer prometheus.Gatherer
	// ReadyTimeout bounds the store ping behind /readyz.
	ReadyTimeout time.Duration
	// MaxHeaderBytes bounds request headers.
	MaxHeaderBytes int
	// Guard decides whether keys are enforced: while it says open, a
	// server bound to loopback answers only a loopback Host; /metrics needs
	// a key with metrics:read while it says enforced. Nil: no keys, and
	// the Host check whenever the server is bound to loopback.
	Guard *auth.Guard
	// MetricsListener, when set, serves /metrics without keys, and the
	// main listener serves no /metrics. Shutdown closes it.
	MetricsListener net.Listener
	// Origins are the browser origins, beside the server's own, whose
	// pages may send requests that change something while the guard says
	// open (--cors-origins; see openOrigins).
	Origins []string
	// CollectorKeyed says that the collector takes only requests with a
	// static write key (--write-keys), open mode or not: its requests are
	// then authenticated, and a page of any origin may send them.
	CollectorKeyed bool
}

// Server is the running HTTP server.
type Server struct {
	cfg      Config
	http     *http.Server
	ln       net.Listener
	metrics  *http.Server // on cfg.MetricsListener; nil without one
	store    graph.Store
	draining atomic.Bool
}

// Listen binds the address, so a port already in use is reported before
// anything else starts.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			return nil, fmt.Errorf("cannot listen on %s: %v", addr, unwrapSyscall(op.Err))
		}
		return nil, fmt.Errorf("cannot listen on %s: %v", addr, err)
	}
	return ln, nil
}

func unwrapSyscall(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// New builds the server on a listener from Listen.
func New(cfg Config, ln net.Listener, store graph.Store, routes Routes) *Server {
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 2 * time.Second
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	s := &Server{cfg: cfg, ln: ln, store: store}
	s.http = &http.Server{
		Handler:           s.Handler(routes),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    httpHeaderBytes(cfg.MaxHeaderBytes),
		ErrorLog:          nil,
	}
	if cfg.MetricsListener != nil {
		s.metrics = &http.Server{
			Handler:           s.middleware(MetricsHandler(cfg.MetricsListener, s.gatherer())),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    httpHeaderBytes(cfg.MaxHeaderBytes),
		}
	}
	return s
}

// httpHeaderBytes is the http.Server.MaxHeaderBytes that refuses headers
// over limit bytes: net/http reads up to 4096 bytes beyond its
// MaxHeaderBytes before answering 431, so a 64 KiB limit handed over as it
// is would let 68 KiB through.
func httpHeaderBytes(limit int) int {
	const slack = 4096 // net/http's allowance beyond MaxHeaderBytes
	if limit <= 2*slack {
		return limit
	}
	return limit - slack
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// MetricsAddr is the address of the metrics listener, or "" without one.
func (s *Server) MetricsAddr() string {
	if s.cfg.MetricsListener == nil {
		return ""
	}
	return s.cfg.MetricsListener.Addr().String()
}

// Serve serves until Shutdown; it returns nil after a clean shutdown. With
// a metrics listener it serves both, and when either fails on its own it
// stops the other.
func (s *Server) Serve() error {
	if s.metrics == nil {
		return served(s.http.Serve(s.ln))
	}
	merr := make(chan error, 1)
	go func() {
		err := served(s.metrics.Serve(s.cfg.MetricsListener))
		if err != nil {
			_ = s.http.Close()
			err = fmt.Errorf("metrics listener: %w", err)
		}
		merr <- err
	}()
	err := served(s.http.Serve(s.ln))
	if err != nil {
		_ = s.metrics.Close()
	}
	return errors.Join(err, <-merr)
}

// served is the error of an http.Server's Serve: nil after Shutdown.
func served(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits for requests in flight,
// on the metrics listener too, which closes last.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	err := s.http.Shutdown(ctx)
	if s.metrics != nil {
		if merr := s.metrics.Shutdown(ctx); merr != nil {
			err = errors.Join(err, fmt.Errorf("metrics listener: %w", merr))
		}
		// Closed even when Serve never ran (Serve closes it otherwise).
		_ = s.cfg.MetricsListener.Close()
	}
	return err
}

// Handler returns the full router with its middleware.
func (s *Server) Handler(routes Routes) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	switch {
	case s.cfg.MetricsListener != nil:
		// Served on its own listener, without keys.
	case s.cfg.Guard != nil:
		mux.Handle("GET /metrics", s.cfg.Guard.Require(access.ScopeMetricsRead, s.metricsHandler()))
	default:
		mux.Handle("GET /metrics", s.metricsHandler())
	}
	if routes.Collector != nil {
		mux.Handle("/v1/", routes.Collector)
	}
	if routes.Privacy != nil {
		// The longer pattern wins over the collector's /v1/.
		mux.Handle("/v1/privacy/", routes.Privacy)
	}
	if routes.Audiences != nil {
		mux.Handle("/v1/audiences/", routes.Audiences)
	}
	if routes.GraphQL != nil {
		mux.Handle("/graphql", routes.GraphQL)
	}
	if routes.GraphiQL != nil {
		mux.Handle("GET /graphiql", routes.GraphiQL)
	}
	if routes.Console != nil {
		mux.Handle("/console/", routes.Console)
	}
	// The store backup (admin.go), audited in the store's own audit log.
	audit, _ := s.store.(access.Store)
	var backup http.Handler = BackupHandler(s.store, audit, s.cfg.Logger)
	if s.cfg.Guard != nil {
		// The copy holds everything every scope guards (personal values
		// unmasked, the audit log, destination secrets): only a key that
		// may read all of it takes one.
		// A key refused for want of one appends its audit entry.
		backup = s.cfg.Guard.RequireAllAudited(BackupScopes(), backupRefusals(audit, s.cfg.Logger), backup)
	}
	mux.Handle(BackupPath, backup)
	// In enforced mode even a wrong path needs a key: nothing but /healthz
	// and /readyz answers a caller without one.
	guarded := func(h http.Handler) http.Handler {
		if s.cfg.Guard != nil {
			return s.cfg.Guard.Require("", h)
		}
		return h
	}
	mux.Handle("/", guarded(http.HandlerFunc(notFound)))
	// Another method on a GET endpoint is 405, not the fallback's 404.
	mux.Handle("/healthz", guarded(onlyGet))
	mux.Handle("/readyz", guarded(onlyGet))
	if s.cfg.MetricsListener == nil {
		mux.Handle("/metrics", guarded(onlyGet))
	} else {
		mux.Handle("/metrics", guarded(metricsElsewhere))
	}
	if routes.GraphiQL != nil {
		mux.Handle("/graphiql", guarded(onlyGet))
	}
	var h http.Handler = mux
	if s.loopbackOnly() {
		h = s.hostCheck(mux)
	}
	h = s.openOrigins(h)
	h = s.middleware(h)
	if telemetry.Enabled() {
		// Outermost, so that the access log line carries the trace id.
		h = otelhttp.NewHandler(h, "http", otelhttp.WithSpanNameFormatter(spanName))
	}
	return h
}

// spanName names a request's span by its method and route, never by
// values in the path (an audience id): "POST /v1/track", "GET
// /v1/audiences", "POST /graphql".
func spanName(_ string, r *http.Request) string {
	return redact.Method(r.Method) + " " + route(r)
}

// routes are the routes route names; every other path is "other".
var routes = map[string]bool{
	// The collector (ingest/http.go), with the one-letter paths
	// analytics.js posts to.
	"/v1/track": true, "/v1/identify": true, "/v1/page": true, "/v1/screen": true, "/v1/group": true, "/v1/alias": true,
	"/v1/batch": true, "/v1/import": true,
	"/v1/t": true, "/v1/i": true, "/v1/p": true, "/v1/s": true, "/v1/g": true, "/v1/a": true, "/v1/b": true,
	// Their paths go on with a profile's or an audience's id.
	"/v1/privacy": true, "/v1/audiences": true,
	"/graphql": true, "/graphiql": true, "/console": true, "/metrics": true, "/healthz": true, "/readyz": true,
	"/admin/backup": true,
}

// route is the route r's path belongs to, for span names and the access
// log: at most its first two segments (/v1/<kind>, /admin/<what> or
// /<endpoint>) when they name a route of the server, else "other". It
// never holds what follows them (a profile's id in
// /v1/privacy/profiles/{id}/export, an audience's id) nor a path no
// route serves, which can be anything a caller typed.
func route(r *http.Request) string {
	segs := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	p := "/" + segs[0]
	if (segs[0] == "v1" || segs[0] == "admin") && len(segs) > 1 {
		p += "/" + segs[1]
	}
	if !routes[p] {
		return "other"
	}
	return p
}

// noSuchEndpoint is the message of a 404 for r: its method and route,
// never the rest of its path, which can be anything a caller typed (an
// email in a mistyped export path).
func noSuchEndpoint(r *http.Request) string {
	if rt := route(r); rt != "other" {
		switch {
		case r.URL.Path == "/graphiql":
			// Only a server that does not serve GraphiQL gets here.
			return "GraphiQL is not served by this server: --graphiql=true turns it on (the default, auto, serves it only in open loopback mode)"
		case r.URL.Path == rt:
			return "no such endpoint: " + redact.MethodText(r.Method) + " " + rt
		}
		return "no such endpoint: " + redact.MethodText(r.Method) + " " + rt + "/... (the rest of the path is not repeated)"
	}
	return "no such endpoint: " + redact.MethodText(r.Method) + " (the path is not repeated)"
}

// onlyGet answers a method other than GET (and HEAD, which GET routes
// serve) on a GET endpoint.
var onlyGet = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	httpdrain.Body(w, r)
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", redact.MethodText(r.Method)+" is not allowed here; use GET")
})

// metricsElsewhere answers /metrics on the main listener of a server with
// a metrics listener of its own: 404, naming the flag, never the address
// (the main listener may face those the metrics one is kept from).
var metricsElsewhere = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	httpdrain.Body(w, r)
	writeJSON(w, http.StatusNotFound, map[string]any{"success": false,
		"error": "no such endpoint here: /metrics is served on this server's metrics listener (--metrics-addr), without keys"})
})

func notFound(w http.ResponseWriter, r *http.Request) {
	httpdrain.Body(w, r)
	writeJSON(w, http.StatusNotFound, map[string]any{"success": false, "error": noSuchEndpoint(r)})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.gatherer(), promhttp.HandlerOpts{})
}

func (s *Server) gatherer() prometheus.Gatherer {
	if s.cfg.Gatherer == nil {
		return prometheus.DefaultGatherer
	}
	return s.cfg.Gatherer
}

// MetricsHandler is what a metrics listener of its own, ln, answers: GET
// /metrics from g without keys, 405 to another method there, 404
// elsewhere; on loopback only to a loopback Host (DNS rebinding). cdp
// serve uses it on --metrics-addr while it waits for its store, before
// the Server takes the listener over.
func MetricsHandler(ln net.Listener, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.Handle("/metrics", onlyGet)
	mux.HandleFunc("/", notFound)
	if Loopback(ln) {
		return metricsHostCheck(mux)
	}
	return mux
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		zerolog.Ctx(r.Context()).Warn().Err(err).Msg("store not ready")
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// statusWriter records what a handler answered, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// answerHeaders sets the headers every answer carries and returns the
// request's id: the X-Request-Id sent when it is sane, else a new one, in
// X-Request-Id; and X-Content-Type-Options: nosniff, since every answer
// is read as the type it names, never sniffed: an export or a GraphQL
// answer holding a value such as <script> must not be taken for a page.
func answerHeaders(w http.ResponseWriter, r *http.Request) string {
	rid := r.Header.Get("X-Request-Id")
	if !saneID(rid) {
		rid = newID()
	}
	w.Header().Set("X-Request-Id", rid)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	return rid
}

// middleware gives every request an id (kept from X-Request-Id when it is
// sane), a logger carrying it in the context, one access log line, and a
// recover that answers 500 instead of dropping the connection.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := answerHeaders(w, r)
		lc := s.cfg.Logger.With().Str("request_id", rid)
		if tid := telemetry.TraceID(r.Context()); tid != "" {
			lc = lc.Str("trace_id", tid)
		}
		log := lc.Logger()
		r = r.WithContext(reqid.With(log.WithContext(r.Context()), rid))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error().Interface("panic", v).Str("path", route(r)).Msg("handler panicked")
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, map[string]any{"success": false, "error": "internal error", "requestId": rid})
				}
			}
			log.Info().
				// As span names show it: a method HTTP does not define
				// is logged as HTTP, never as the token sent.
				Str("method", redact.Method(r.Method)).
				// The route, not the path itself: a path can hold a
				// profile's id, which is personal data. The field keeps
				// its name, path, for the readers of the log.
				Str("path", route(r)).
				Int("status", sw.status).
				Int("bytes", sw.bytes).
				Dur("duration", time.Since(start)).
				Msg("request")
		}()
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
	})
}

func saneID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
