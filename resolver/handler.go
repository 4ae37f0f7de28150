package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/audience"
	"github.com/idgraph/cdp/console"
	"github.com/idgraph/cdp/destination"
	"github.com/idgraph/cdp/gql"
	"github.com/idgraph/cdp/graph"
	"github.com/idgraph/cdp/ingest"
	"github.com/idgraph/cdp/internal/feedhub"
	"github.com/idgraph/cdp/internal/httpdrain"
	"github.com/idgraph/cdp/internal/redact"
	"github.com/idgraph/cdp/internal/surrogates"
	"github.com/idgraph/cdp/privacy"
)

// Ingester stores events through the collector's path: validation, group
// commit, and a result only after the commit. ingest.Collector implements it.
// It returns one result per event, in order, or an error for the whole call
// (EUNAVAILABLE when the store is down or the queue is full).
type Ingester interface {
	Submit(ctx context.Context, events []graph.Event) ([]graph.EventResult, error)
}

// EventParser turns one Segment message (JSON) into an event, exactly as the
// HTTP collector does; env holds what the message inherits from its call
// (the time it arrived, its source, its place in the call). ingest's
// message parser fits it.
type EventParser func(raw []byte, env ingest.Envelope) (graph.Event, error)

// Defaults of Config.
const (
	DefaultMaxComplexity = 20000
	DefaultMaxDepth      = 12
	DefaultMaxBodyBytes  = 1 << 20
	DefaultMaxTokens     = 15000
	// DefaultMaxSelections is the default of Config.MaxSelections.
	DefaultMaxSelections = 2000
	// DefaultMaxResponseBytes is the default of Config.MaxResponseBytes.
	DefaultMaxResponseBytes = 8 << 20
	DefaultIngestSource     = "graphql"
	// maxMergeIDs is the most profiles one mergeProfiles call may name.
	maxMergeIDs = 100
	// MaxIngestEvents is the most messages one ingest mutation may carry.
	MaxIngestEvents = 1000
	// MaxMessageBytes is the largest message ingest accepts, as the
	// collector's per-message limit.
	MaxMessageBytes = 32 << 10
)

// Config sets the limits and switches of the GraphQL handler. Zero values
// take the defaults; Introspection and Suggestions are off unless set.
type Config struct {
	// MaxComplexity caps the operation's cost; list fields are priced by
	// their first/last. Default 20000.
	MaxComplexity int
	// MaxDepth caps the nesting of fields. Default 12.
	MaxDepth int
	// MaxPage caps first/last. Default graph.MaxPage (500).
	MaxPage int
	// MaxBodyBytes caps a POST body. Default 1 MiB.
	MaxBodyBytes int64
	// MaxTokens caps the tokens the parser reads. Default 15000.
	MaxTokens int
	// MaxSelections caps the field selections of a document, counted
	// before validation. Default 2000.
	MaxSelections int
	// MaxResponseBytes caps the size of a response; a larger one is
	// replaced by a RESPONSE_TOO_LARGE error. Default 8 MiB.
	MaxResponseBytes int64
	// Introspection lets clients read the schema.
	Introspection bool
	// Suggestions adds "Did you mean" hints to validation errors.
	Suggestions bool
	// Parse converts ingest messages the way the HTTP collector does,
	// counting them in its metrics (ingest.Collector.Parse); when nil,
	// ingest.ParseMessage converts them by the same rules, uncounted.
	Parse EventParser
	// IngestSource is the source recorded for events from the ingest
	// mutation. Default "graphql".
	IngestSource string
	// Logger is used when the request context carries no logger.
	Logger zerolog.Logger
	// Registerer receives cdp_graphql_duration_seconds; nil: not measured.
	Registerer prometheus.Registerer
	// Keys holds the API keys and the audit log: apiKeys, createApiKey,
	// revokeApiKey and auditLog answer UNAVAILABLE while it is nil. Audit
	// entries go to Keys, or, while it is nil, to the engine's store when
	// that implements access.Store.
	Keys access.Store
	// Audit writes the entries of unmasked personal reads off the request
	// path. When nil they are appended before the response is sent.
	Audit *AuditWriter
	// OnRevoke, when set, is called with the id of each key revokeApiKey
	// has just revoked (the key named, then those revoked with it), so
	// that this server's key cache drops them at once.
	OnRevoke func(keyID string)
	// Eraser serves forgetProfile, forgetIdentifier and unsuppress. When
	// nil, one is opened on first use over the engine's store, if that
	// keeps a suppression list.
	Eraser *privacy.Eraser
	// Receipts serves erasureReceipts; when nil, the engine's store, if it
	// keeps them.
	Receipts privacy.ReceiptStore
	// Audiences serves computed traits and audiences; when nil, the
	// engine's store, if it keeps them (audience.Store).
	Audiences audience.Store
	// Consent is the consent ledger read by Profile.consent,
	// Profile.consentHistory, previewAudience and profiles(filter); when
	// nil, the engine's store (or the store it wraps), if it keeps one.
	// setConsent writes through the engine's store either way.
	Consent privacy.ConsentStore
	// OnProfilesChanged, when set, is called after a mutation commits with
	// the profiles it changed; OnAudiencesChanged after an audience or a
	// computed trait definition changed. Neither may block: the service
	// queues the evaluation of audience membership they ask for.
	OnProfilesChanged  func(profileIDs []string)
	OnAudiencesChanged func()
	// Settle, when set, is called before previewAudience and the
	// totalCount of profiles(filter:) count, and waits (boundedly) until
	// the profiles changed before it have been evaluated by the keeper,
	// so that the count reads facts as current as the request.
	Settle func(ctx context.Context)
	// OnCreate, when set, is called once createApiKey has stored a key, so
	// that a server in open mode enforces keys from the next request on.
	OnCreate func()
	// Feed serves the subscriptions, over WebSocket at the same endpoint;
	// when nil, neither is served.
	Feed *feedhub.Hub
	// Authenticate checks the Authorization value of a websocket
	// connection's connection_init payload. When set, a connection with
	// neither that value nor a principal from its upgrade request (the
	// guard's) is refused; and every operation started over a websocket is
	// checked with it again, with the connection's Authorization value
	// (the payload's, else the upgrade request's header), taking a token
	// of the key's rate limit: the operation is refused with its code
	// (UNAUTHENTICATED, RATE_LIMITED, UNAVAILABLE), else runs as the
	// principal it returns. A subscription begun in open mode ends with
	// UNAUTHENTICATED at the first KeyRecheck after keys are enforced.
	Authenticate Authenticator
	// Origins are the browser origins, beside the server's own, that may
	// open a websocket (--cors-origins): host patterns such as
	// app.example.com or https://*.example.com; "*" allows any.
	Origins []string
	// PingInterval is how often a websocket client is pinged; 0 means
	// DefaultPingInterval.
	PingInterval time.Duration
	// KeyUsable, when set, is asked every KeyRecheck whether the key of an
	// open subscription may still be used; a subscription whose key was
	// revoked or expired ends with UNAUTHENTICATED.
	KeyUsable func(ctx context.Context, k access.Key) bool
	// KeyRecheck is how often KeyUsable is asked; 0 means
	// DefaultKeyRecheck.
	KeyRecheck time.Duration
	// Destinations holds webhook destinations; their fields answer
	// UNAVAILABLE while it is nil. DestinationsAllowPrivate lets their
	// URLs resolve to private addresses.
	Destinations             destination.Store
	DestinationsAllowPrivate bool
	// OnDestinationsChanged, when set, is called after a destination was
	// created, updated or deleted, or its dead letters replayed, so that
	// this server's deliveries look again at once. It must not block.
	OnDestinationsChanged func()
}

func (c Config) withDefaults() Config {
	if c.MaxComplexity <= 0 {
		c.MaxComplexity = DefaultMaxComplexity
	}
	if c.MaxDepth <= 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.MaxPage <= 0 || c.MaxPage > graph.MaxPage {
		c.MaxPage = graph.MaxPage
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = DefaultMaxTokens
	}
	if c.MaxSelections <= 0 {
		c.MaxSelections = DefaultMaxSelections
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.IngestSource == "" {
		c.IngestSource = DefaultIngestSource
	}
	return c
}

// NewHandler returns the GraphQL endpoint: POST (application/json) and GET
// (queries only), and with Config.Feed the subscriptions over WebSocket
// (graphql-transport-ws). ing may be nil, in which case ingest calls the
// engine directly.
func NewHandler(engine *graph.Engine, ing Ingester, cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	if ing == nil {
		ing = engineIngester{engine}
	}
	res := &Resolver{engine: engine, ingest: ing, cfg: cfg, mask: access.NewMasker(engine.Normalizer().Rules()), keys: cfg.Keys, auditStore: cfg.Keys,
		corrector: privacy.NewEraser(engine, nil), queries: newQueryCache()}
	if res.auditStore == nil {
		res.auditStore, _ = engine.Store().(access.Store)
	}
	es := gql.NewExecutableSchema(gql.Config{Resolvers: res, Directives: gql.DirectiveRoot{HasScope: res.hasScope}, Complexity: res.prices()})

	srv := handler.New(es)
	if cfg.Feed != nil {
		srv.AddTransport(res.websocketTransport())
	}
	srv.AddTransport(transport.Options{AllowedMethods: []string{"GET", "POST", "OPTIONS"}})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	cache := res.queries
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(cfg.MaxTokens)
	srv.SetDisableSuggestion(!cfg.Suggestions)
	// First, so that it is the outermost: it sees the response as sent.
	srv.Use(unavailableStatus{})
	// Outside the others, none of which can then end a subscription
	// without it.
	srv.Use(streamEnds{})
	// Before every other extension: an operation over a websocket is
	// authenticated (and rate-limited) before anything reads it, and the
	// others see the principal it was authenticated as.
	srv.Use(wsRecheck{r: res})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	ops, err := newOperationSpan(cfg.Registerer)
	if err != nil {
		cfg.Logger.Error().Err(err).Msg("graphql: cdp_graphql_duration_seconds not measured")
		ops, _ = newOperationSpan(nil)
	}
	srv.Use(ops)
	srv.Use(subscriptionsOverWebsocket{})
	srv.Use(noDefer{})
	srv.AroundFields(res.trackChanges)
	// An operation over a websocket comes without the loaders an HTTP
	// request gets (ServeHTTP): each of its answers (every event of a
	// subscription) gets loaders of its own, so that its lists batch
	// their reads as a query's do, and no answer sees another's.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if _, ok := ctx.Value(loadersKey{}).(*loaders); !ok {
			ctx = withLoaders(ctx, newLoaders(engine))
		}
		return next(ctx)
	})
	srv.AroundResponses(capRefusalErrors)
	srv.Use(selectionLimit{max: cfg.MaxSelections, maxTokens: cfg.MaxTokens, cache: cache})
	// Outside responseLimit: an answer it replaces returned no personal data.
	srv.Use(readAudit{r: res})
	srv.Use(refusalAudit{r: res})
	srv.Use(responseLimit{max: cfg.MaxResponseBytes})
	srv.Use(requestLimits{maxDepth: cfg.MaxDepth, maxPage: cfg.MaxPage, maxIdentifiers: res.maxIdentifiers(), maxComplexity: cfg.MaxComplexity})
	srv.Use(extension.FixedComplexityLimit(cfg.MaxComplexity))
	// Last: the head is read only for an operation every check above let
	// through, just before its fields are.
	srv.Use(changeCursorAt{r: res})
	srv.SetErrorPresenter(presenter(cfg.Suggestions))
	srv.SetRecoverFunc(recoverFunc)
	return &httpHandler{srv: srv, engine: engine, cfg: cfg, queries: res.queries}
}

// GraphiQL returns the GraphiQL page for the endpoint, served from the
// files embedded in the binary (console.GraphiQL), never from a CDN.
func GraphiQL(endpoint string) http.Handler {
	return console.GraphiQL(endpoint)
}

type httpHandler struct {
	srv     *handler.Server
	engine  *graph.Engine
	cfg     Config
	queries *queryCache // srv's parsed-document cache
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if zerolog.Ctx(ctx).GetLevel() == zerolog.Disabled {
		ctx = h.cfg.Logger.WithContext(ctx)
	}
	if r.Method == http.MethodGet && isUpgrade(r) {
		if h.cfg.Feed == nil {
			// The guard lets an upgrade through without a key: it must
			// not run as an ordinary GET.
			refuse(w, http.StatusBadRequest, CodeBadRequest, "this server serves no subscriptions: no websocket can be opened here")
			return
		}
		h.serveWebsocket(w, r, ctx)
		return
	}
	if len(r.Header.Values("Upgrade")) > 0 {
		// Not a websocket: an offer of another protocol (curl --http2 on
		// http:// sends Upgrade: h2c), which a server may leave untaken
		// and answer over HTTP/1.1. gqlgen's transports read any Upgrade
		// header as a websocket's and answered 426 or 400 instead.
		r = r.Clone(r.Context())
		r.Header.Del("Upgrade")
	}
	switch r.Method {
	case http.MethodGet:
		if int64(len(r.URL.RawQuery)) > h.cfg.MaxBodyBytes {
			refuse(w, http.StatusRequestURITooLong, CodeTooLarge, fmt.Sprintf("query string is larger than the limit of %d bytes; use POST", h.cfg.MaxBodyBytes))
			return
		}
		q := r.URL.Query()
		if surrogates.Escaped([]byte(q.Get("query"))) || surrogates.Escaped([]byte(q.Get("variables"))) {
			refuse(w, http.StatusBadRequest, CodeBadRequest, loneSurrogateMsg)
			return
		}
		if msg := checkQueryParams(q); msg != "" {
			refuse(w, http.StatusBadRequest, CodeBadRequest, msg)
			return
		}
	case http.MethodPost:
		if !h.readBody(w, r) {
			return
		}
	case http.MethodOptions:
	default:
		httpdrain.Body(w, r)
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		refuse(w, http.StatusMethodNotAllowed, CodeBadRequest, fmt.Sprintf("method %s is not allowed; use POST, or GET for queries", redact.MethodText(r.Method)))
		return
	}
	ctx = withLoaders(ctx, newLoaders(h.engine))
	flag := new(atomic.Bool)
	ctx = context.WithValue(ctx, unavailableKey{}, flag)
	refused := new(atomic.Int32)
	ctx = context.WithValue(ctx, refusedKey{}, refused)
	if r.Method == http.MethodGet {
		ctx = context.WithValue(ctx, overGetKey{}, true)
	}
	h.srv.ServeHTTP(&unavailableWriter{ResponseWriter: w, flag: flag, refused: refused}, r.WithContext(ctx))
}

// readBody reads and checks a POST body within the size limit, refusing
// batches and malformed requests with a clear error, and puts it back for
// the transport. It reports whether the request may go on.
func (h *httpHandler) readBody(w http.ResponseWriter, r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		httpdrain.Body(w, r)
		refuse(w, http.StatusUnsupportedMediaType, CodeBadRequest, "POST needs Content-Type: application/json")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// Read the rest first (within bounds), or the client may see a
			// reset connection instead of the 413.
			httpdrain.Body(w, r)
			refuse(w, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("request body is larger than the limit of %d bytes", h.cfg.MaxBodyBytes))
		} else {
			refuse(w, http.StatusBadRequest, CodeBadRequest, "could not read the request body")
		}
		return false
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		refuse(w, http.StatusBadRequest, CodeBatching, "batched operations (a JSON array) are not supported; send one operation per request")
		return false
	}
	if msg := checkParams(body); msg != "" {
		refuse(w, http.StatusBadRequest, CodeBadRequest, msg)
		return false
	}
	if hasLoneSurrogate(body) {
		refuse(w, http.StatusBadRequest, CodeBadRequest, loneSurrogateMsg)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

const loneSurrogateMsg = "request holds an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF without its other half); send valid Unicode"

// hasLoneSurrogate reports whether a POST body holds an unpaired surrogate
// escape, in its JSON (variables) or in the GraphQL document's own string
// literals. Both decoders turn every such escape into U+FFFD, so two
// different identifier values would become one; the collector refuses
// such an identifier by itself, here the request is refused whole.
func hasLoneSurrogate(body []byte) bool {
	if bytes.IndexByte(body, '\\') < 0 {
		return false // no escape of either kind
	}
	if surrogates.Escaped(body) {
		return true
	}
	var p struct {
		Query string `json:"query"`
	}
	return json.Unmarshal(body, &p) == nil && surrogates.Escaped([]byte(p.Query))
}

// checkParams checks the shape of a GraphQL-over-HTTP body so that errors
// name the field and never echo the body back.
func checkParams(body []byte) string {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(body, &p); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return fmt.Sprintf("request body is not valid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
		case errors.As(err, &typ):
			return "request body must be a JSON object with a \"query\" string"
		default:
			return fmt.Sprintf("request body could not be decoded: %v", err)
		}
	}
	kind := func(raw json.RawMessage) byte {
		t := bytes.TrimLeft(raw, " \t\r\n")
		if len(t) == 0 {
			return 0
		}
		return t[0]
	}
	q, ok := p["query"]
	if !ok || kind(q) != '"' {
		return "request body must have a \"query\" string"
	}
	// The transport's decoder matches member names in any case
	// ("Variables" fills variables) and repeats the whole body when one
	// does not fit, so every member is checked under the name it fills.
	for key, raw := range p {
		for name, want := range map[string]byte{"query": '"', "operationName": '"', "variables": '{', "extensions": '{'} {
			if !strings.EqualFold(key, name) || kind(raw) == want || (kind(raw) == 'n' && name != "query") {
				continue
			}
			if name == "query" {
				return "request body must have a \"query\" string"
			}
			what := "a string"
			if want == '{' {
				what = "a JSON object"
			}
			return fmt.Sprintf("%q must be %s or null", name, what)
		}
	}
	return ""
}

// checkQueryParams is checkParams for a GET request's parameters: a query,
// and variables and extensions that are JSON objects when given.
func checkQueryParams(q url.Values) string {
	if q.Get("query") == "" {
		return "a GET request needs a \"query\" parameter holding the document"
	}
	for _, name := range []string{"variables", "extensions"} {
		raw := strings.TrimSpace(q.Get(name))
		if raw == "" || raw == "null" {
			continue
		}
		var v map[string]json.RawMessage
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return fmt.Sprintf("the %q parameter must be a JSON object or null", name)
		}
	}
	return ""
}

func refuse(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}

// engineIngester stores events with the engine directly, for a handler
// built without the collector.
type engineIngester struct{ e *graph.Engine }

func (i engineIngester) Submit(ctx context.Context, events []graph.Event) ([]graph.EventResult, error) {
	res, err := i.e.ApplyBatch(ctx, events)
	if err != nil {
		return nil, err
	}
	return res.Results, nil
}
