package resolver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/access"
	"github.com/idgraph/cdp/auth"
	"github.com/idgraph/cdp/internal/surrogates"
)

// Defaults of the websocket transport.
const (
	// DefaultPingInterval is how often the server pings a websocket
	// client; one that answers no pong within twice as long is dropped.
	DefaultPingInterval = 20 * time.Second
	// wsInitTimeout bounds the wait for connection_init.
	wsInitTimeout = 10 * time.Second
	// wsWriteTimeout bounds one message's write: a client that reads
	// nothing for that long is disconnected.
	wsWriteTimeout = 30 * time.Second
)

// Close codes of a refused websocket connection (graphql-ws's).
const (
	wsCloseUnauthorized = 4401
	wsCloseForbidden    = 4403
	wsCloseTooMany      = 4429
	wsCloseUnavailable  = 4503
	// The graphql-transport-ws protocol's own codes.
	wsCloseBadRequest = 4400
	wsCloseDuplicate  = 4409
	wsCloseInitAgain  = 4429
	wsCloseInitLate   = 4408
)

// graphqlTransportWS is the subprotocol of the graphql-ws client.
const graphqlTransportWS = "graphql-transport-ws"

type wsKey struct{}

// wsConnKey keys the *wsConnState of a websocket connection, put in the
// upgrade request's context by serveWebsocket and read by timedAccept.
type wsConnKey struct{}

// wsConnState is what the connection's reader learns of the message it has
// just read, for the operation the transport starts from that message.
type wsConnState struct {
	// loneSurrogate is set when the last message read holds an unpaired
	// UTF-16 surrogate escape, in its JSON or in its payload's document.
	loneSurrogate atomic.Bool

	// initialised is set when connection_init is read, acked when
	// connection_ack is written.
	initialised, acked atomic.Bool

	// running holds the ids of the operations the client started that
	// the server has not ended (with complete or error) yet; a complete
	// for an id not in it is not sent (timedConn.WriteJSON).
	mu      sync.Mutex
	running map[string]bool
	// ending counts the messages that end an operation being written;
	// idle, when set, is called once no operation runs and none of those
	// is left to write (afterRunning).
	ending int
	idle   func()

	// stopped holds the running ids the client ended (complete, or stop
	// in the older protocol): nothing more is sent for them. An operation
	// the client starts under such an id before the transport is done
	// with the old one runs under an id of its own (fresh), which the
	// transport's messages carry: alias maps the client's id to it, and
	// client maps it back.
	stopped map[string]bool
	alias   map[string]string
	client  map[string]string
	fresh   int
}

// opID returns the id the transport knows the client's operation id by.
// Called with mu held.
func (s *wsConnState) opID(id string) string {
	if a, ok := s.alias[id]; ok {
		return a
	}
	return id
}

// afterRunning calls fn once no operation the client started is running:
// at once, or after the message that ends the last one is written. A
// connection closed when the server shuts down thus first sends each
// subscription the error that ends it, with the cursor to resume from.
func (s *wsConnState) afterRunning(fn func()) {
	s.mu.Lock()
	if len(s.running) > 0 || s.ending > 0 {
		s.idle = fn
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	fn()
}

// ended notes that a message ending an operation was written.
func (s *wsConnState) ended() {
	s.mu.Lock()
	s.ending--
	var idle func()
	if len(s.running) == 0 && s.ending == 0 {
		idle, s.idle = s.idle, nil
	}
	s.mu.Unlock()
	if idle != nil {
		idle()
	}
}

// wsAuthzKey keys the Authorization value of a websocket connection: its
// connection_init payload's, else its upgrade request's header.
type wsAuthzKey struct{}

// isWebsocket reports whether ctx is a websocket connection's.
func isWebsocket(ctx context.Context) bool {
	v, _ := ctx.Value(wsKey{}).(bool)
	return v
}

// isUpgrade reports a websocket upgrade request.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// Authenticator checks the Authorization value ("Bearer cdp_...") of a
// websocket connection as the HTTP guard checks a request's header, and
// returns its principal (auth.Guard.Authenticate).
type Authenticator func(ctx context.Context, authorization string) (access.Principal, error)

// AuthRefusal is the error of an Authenticator that refuses a key; Code is
// the error code (UNAUTHENTICATED, RATE_LIMITED, UNAVAILABLE).
type AuthRefusal struct {
	Code string
	Msg  string
}

func (e *AuthRefusal) Error() string { return e.Msg }

// websocketTransport is the graphql-transport-ws transport, served while
// the handler has a feed hub.
func (r *Resolver) websocketTransport() transport.Websocket {
	accept := coderws.AcceptOptions{}
	for _, o := range r.cfg.Origins {
		if o == "*" {
			accept.InsecureSkipVerify = true // --cors-origins '*': any origin
		}
		accept.OriginPatterns = append(accept.OriginPatterns, o)
	}
	limit := r.cfg.MaxBodyBytes
	ping := r.cfg.PingInterval
	if ping <= 0 {
		ping = DefaultPingInterval
	}
	return transport.Websocket{
		Implementation: timedAccept{inner: transport.CoderWebsocketImplementation{AcceptOptions: accept}, timeout: wsWriteTimeout},
		InitFunc:       r.wsInit,
		InitTimeout:    wsInitTimeout,
		// graphql-transport-ws: a ping every interval, a pong expected.
		PingPongInterval: ping,
		// The legacy graphql-ws protocol: a keep-alive every interval.
		KeepAlivePingInterval: ping,
		PayloadReadLimit:      &limit,
	}
}

// wsInit authenticates a connection by the Authorization value of its
// connection_init payload, else by its upgrade request's header, which
// the guard in front of the handler has checked already (a payload with
// that same value is not checked again).
func (r *Resolver) wsInit(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	refuse := func(code int, msg string) (context.Context, *transport.InitPayload, error) {
		reason := msg
		if len(reason) > 120 { // a close frame's reason holds at most 123 bytes
			reason = reason[:120]
		}
		return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, reason), code), nil, errors.New(msg)
	}
	authz := payload.Authorization()
	if up, _ := ctx.Value(wsAuthzKey{}).(string); authz != "" && sameBearer(authz, up) && access.PrincipalFrom(ctx).Key != nil {
		// The upgrade request's own key, which the guard authenticated
		// a moment ago, taking the key's token for this connection: the
		// connection takes one token, however its key is sent (the
		// scheme in any case, more spaces around the secret).
		return ctx, nil, nil
	}
	if authz != "" && r.cfg.Authenticate != nil {
		p, err := r.cfg.Authenticate(ctx, authz)
		if err != nil {
			code := wsCloseUnauthorized
			var ar *AuthRefusal
			if errors.As(err, &ar) {
				switch ar.Code {
				case "RATE_LIMITED":
					code = wsCloseTooMany
				case CodeUnavailable:
					code = wsCloseUnavailable
				}
			}
			return refuse(code, err.Error())
		}
		// Every operation of the connection is authenticated again with
		// this value (wsRecheck).
		return context.WithValue(access.WithPrincipal(ctx, p), wsAuthzKey{}, authz), nil, nil
	}
	if p := access.PrincipalFrom(ctx); r.cfg.Authenticate != nil && p.Key == nil && !p.Open {
		return refuse(wsCloseForbidden, `an API key is required: send {"Authorization": "Bearer cdp_..."} as the connection_init payload`)
	}
	return ctx, nil, nil
}

// bearerSecret returns the secret of an Authorization value "Bearer
// cdp_...", read as the guard reads it (auth's bearerValue): the value
// trimmed, the scheme before the first space in any case, the secret
// trimmed; ok is false for any other value.
func bearerSecret(v string) (secret string, ok bool) {
	scheme, secret, _ := strings.Cut(strings.TrimSpace(v), " ")
	secret = strings.TrimSpace(secret)
	return secret, strings.EqualFold(scheme, "Bearer") && secret != ""
}

// sameBearer reports whether two Authorization values carry the same
// bearer secret.
func sameBearer(a, b string) bool {
	sa, okA := bearerSecret(a)
	sb, okB := bearerSecret(b)
	return okA && okB && sa == sb
}

// serveWebsocket serves an upgrade request: a browser origin must be
// allowed, and the connection ends when the handler's feed hub closes. The
// HTTP server's read and write deadlines do not bound it: net/http clears
// them when the connection is hijacked; pings and the write timeout bound
// it instead.
func (h *httpHandler) serveWebsocket(w http.ResponseWriter, r *http.Request, ctx context.Context) {
	if !h.originAllowed(r) {
		refuse(w, http.StatusForbidden, CodeForbidden, "this browser origin may not open a websocket here; the server's operator can allow it with --cors-origins")
		return
	}
	ctx = context.WithValue(ctx, wsKey{}, true)
	st := &wsConnState{}
	ctx = context.WithValue(ctx, wsConnKey{}, st)
	// The upgrade request's Authorization, which the guard checked, stands
	// for the connection's until connection_init sends one. More than one
	// value counts as none: the guard refuses such a request.
	authz := ""
	if hs := r.Header.Values("Authorization"); len(hs) == 1 {
		authz = hs[0]
	}
	ctx = context.WithValue(ctx, wsAuthzKey{}, authz)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The hub ends every subscription as it closes: the connection closes
	// once each has sent the error that says so.
	stop := context.AfterFunc(h.cfg.Feed.Closing(), func() { st.afterRunning(cancel) })
	defer stop()
	h.srv.ServeHTTP(w, r.WithContext(ctx))
}

// originAllowed reports whether r's Origin, if any, is the server's own
// host or matches Config.Origins, as the websocket library checks it.
func (h *httpHandler) originAllowed(r *http.Request) bool {
	return auth.OriginAllowed(r, h.cfg.Origins)
}

// subscriptionsOverWebsocket refuses a subscription sent over HTTP, with
// 400: it would hold the request open for one event. It also refuses a
// mutation sent over GET, with 406, which GET must not carry (a link or a
// prefetch could run it).
type subscriptionsOverWebsocket struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = subscriptionsOverWebsocket{}

func (subscriptionsOverWebsocket) ExtensionName() string                   { return "SubscriptionsOverWebsocket" }
func (subscriptionsOverWebsocket) Validate(graphql.ExecutableSchema) error { return nil }
func (subscriptionsOverWebsocket) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation != nil && rc.Operation.Operation == ast.Subscription && !isWebsocket(ctx) {
		refuseOperation(ctx, http.StatusBadRequest)
		return &gqlerror.Error{
			Message:    "subscriptions are served over WebSocket only (the graphql-transport-ws protocol at /graphql)",
			Extensions: map[string]any{"code": CodeBadRequest},
		}
	}
	if rc.Operation != nil && rc.Operation.Operation == ast.Mutation && ctx.Value(overGetKey{}) != nil {
		refuseOperation(ctx, http.StatusNotAcceptable)
		return &gqlerror.Error{
			Message:    "a GET request may only carry a query; send mutations with POST",
			Extensions: map[string]any{"code": CodeBadRequest},
		}
	}
	return nil
}

// overGetKey marks the context of a GraphQL request sent with GET.
type overGetKey struct{}

// timedAccept wraps the websocket implementation so that a write that
// does not finish within timeout closes the connection: a client that
// stops reading cannot hold a server goroutine forever.
type timedAccept struct {
	inner   transport.WebsocketImplementation
	timeout time.Duration
}

func (a timedAccept) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	c, err := a.inner.Accept(w, r, o)
	if err != nil {
		return nil, err
	}
	st, _ := r.Context().Value(wsConnKey{}).(*wsConnState)
	return &timedConn{WebsocketConn: c, timeout: a.timeout, state: st}, nil
}

type timedConn struct {
	transport.WebsocketConn
	timeout time.Duration
	once    sync.Once
	state   *wsConnState // nil outside serveWebsocket
}

// NextReader reads the next message whole (within the read limit the
// transport set) and notes in the connection's state whether it holds an
// unpaired surrogate escape, as the HTTP handler checks a body: the
// transport decodes the message, and the GraphQL parser the document, into
// strings where every such escape is U+FFFD, so two different identifiers
// would become one. The transport reads one message, then creates the
// operation of a subscribe message before it reads the next, so
// wsRecheck, which runs then, refuses that operation (loneSurrogateRefusal).
//
// It also closes the connection, as the graphql-transport-ws protocol
// asks, on the messages the transport would close it for with another
// code (a message the protocol does not know: 4400; a second
// connection_init: 4429; a subscribe before connection_ack: 4401), and on
// two messages the transport would mishandle: a connection_init
// whose payload is not a JSON object (4400; the transport would neither
// answer nor close), and an operation started under the id of one still
// running (4409; the transport would lose the first, which would run on,
// unstoppable, holding its key's subscription slot). An id the client
// ended itself is no longer running for the client, and may be used again
// at once: until the transport is done with the old operation, the new
// one goes under an id of its own (wsConnState.alias).
func (c *timedConn) NextReader() (int, io.Reader, error) {
	typ, r, err := c.WebsocketConn.NextReader()
	if err != nil || c.state == nil {
		return typ, r, err
	}
	msg, err := io.ReadAll(r)
	if err != nil {
		// Past the read limit, or broken: the transport reads the error
		// where it would have, decoding the message.
		c.state.loneSurrogate.Store(false)
		return typ, io.MultiReader(bytes.NewReader(msg), errReader{err}), nil
	}
	var m struct {
		Type    string          `json:"type"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	decoded := json.Unmarshal(msg, &m) == nil
	if c.WebsocketConn.Subprotocol() == graphqlTransportWS {
		// The protocol's codes, where the transport would close with a
		// generic protocol error (1002) or a normal closure (1000).
		switch {
		case !decoded || !slices.Contains([]string{"connection_init", "ping", "pong", "subscribe", "complete"}, m.Type):
			return c.refuse(wsCloseBadRequest, "invalid message received: not a message of the graphql-transport-ws protocol")
		case m.Type == "connection_init" && c.state.initialised.Load():
			return c.refuse(wsCloseInitAgain, "too many initialisation requests: connection_init was sent already")
		case m.Type == "subscribe" && !c.state.acked.Load():
			return c.refuse(wsCloseUnauthorized, "unauthorized: send connection_init and wait for connection_ack first")
		}
	}
	if decoded {
		switch m.Type {
		case "connection_init":
			if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
				return c.refuse(wsCloseBadRequest, "the connection_init payload must be a JSON object")
			}
			c.state.initialised.Store(true)
		case "complete", "stop":
			c.state.mu.Lock()
			id := c.state.opID(m.ID)
			if c.state.running[id] {
				if c.state.stopped == nil {
					c.state.stopped = map[string]bool{}
				}
				c.state.stopped[id] = true
			}
			c.state.mu.Unlock()
			msg = withMessageID(msg, id)
		case "subscribe", "start":
			c.state.mu.Lock()
			cur := c.state.opID(m.ID)
			dup := c.state.running[cur] && !c.state.stopped[cur]
			id := m.ID
			if !dup {
				if c.state.running == nil {
					c.state.running, c.state.stopped = map[string]bool{}, map[string]bool{}
					c.state.alias, c.state.client = map[string]string{}, map[string]string{}
				}
				delete(c.state.alias, m.ID)
				if c.state.running[m.ID] {
					// The operation the client ended under this id is
					// still running in the transport.
					c.state.fresh++
					id = fmt.Sprintf("%s\x00%d", m.ID, c.state.fresh)
					c.state.alias[m.ID], c.state.client[id] = id, m.ID
				}
				c.state.running[id] = true
			}
			c.state.mu.Unlock()
			if dup {
				return c.refuse(wsCloseDuplicate, "an operation with this id is already running")
			}
			c.state.loneSurrogate.Store(wsLoneSurrogate(msg))
			return typ, bytes.NewReader(withMessageID(msg, id)), nil
		}
	}
	c.state.loneSurrogate.Store(wsLoneSurrogate(msg))
	return typ, bytes.NewReader(msg), nil
}

// withMessageID returns msg, a message of the protocol, with id as its id.
func withMessageID(msg []byte, id string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return msg
	}
	if old, _ := json.Marshal(id); bytes.Equal(m["id"], old) {
		return msg
	}
	m["id"], _ = json.Marshal(id)
	out, err := json.Marshal(m)
	if err != nil {
		return msg
	}
	return out
}

// refuse closes the connection with code and reason, and fails the read,
// which ends the transport's reading.
func (c *timedConn) refuse(code int, reason string) (int, io.Reader, error) {
	_ = c.WebsocketConn.WriteClose(code, reason)
	return 0, nil, fmt.Errorf("websocket closed (%d): %s", code, reason)
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// wsLoneSurrogate reports whether a websocket message holds an unpaired
// surrogate escape in its JSON (variables, query, anything) or in the
// string literals of its payload's GraphQL document.
func wsLoneSurrogate(msg []byte) bool {
	if bytes.IndexByte(msg, '\\') < 0 {
		return false
	}
	if surrogates.Escaped(msg) {
		return true
	}
	var m struct {
		Payload struct {
			Query string `json:"query"`
		} `json:"payload"`
	}
	return json.Unmarshal(msg, &m) == nil && surrogates.Escaped([]byte(m.Payload.Query))
}

// WriteJSON writes a message of the transport. An operation ends with the
// server's complete or error, and its id may then be used again. A
// complete for an operation no longer running is not sent: the transport
// follows the error of an operation that does not start (a document that
// does not parse or validate, a payload that is not an object) with a
// complete, which the graphql-transport-ws protocol forbids (after error
// the operation is over), and which a client would take for the end of
// a new operation under the same id. Nor is the end of an operation the
// client ended itself: the protocol sends nothing more for it, and the
// client may have started another under its id. A message of an operation
// started under an id of its own carries the client's id. Once the
// message that ends the last running operation is written, a connection
// waiting for that closes (wsConnState.afterRunning).
func (c *timedConn) WriteJSON(v any) error {
	if c.state != nil {
		typ, id := wsMessageTypeID(v)
		if typ == "connection_ack" {
			c.state.acked.Store(true)
		}
		c.state.mu.Lock()
		cid, aliased := c.state.client[id]
		end := typ == "complete" || typ == "error"
		running, stopped := c.state.running[id], c.state.stopped[id]
		if end {
			delete(c.state.running, id)
			delete(c.state.stopped, id)
			if aliased {
				delete(c.state.client, id)
				if c.state.alias[cid] == id {
					delete(c.state.alias, cid)
				}
			}
			if running {
				c.state.ending++
			}
		}
		c.state.mu.Unlock()
		if end && running {
			defer c.state.ended()
		}
		if (end && !running && typ == "complete") || stopped {
			return nil
		}
		if aliased {
			setMessageID(v, cid)
		}
	}
	t := time.AfterFunc(c.timeout, func() { c.once.Do(func() { _ = c.WebsocketConn.Close() }) })
	defer t.Stop()
	return c.WebsocketConn.WriteJSON(v)
}

// wsMessageTypeID reads the type and id of a message the transport writes:
// a pointer to a struct of either protocol with string-kinded fields Type
// and ID (the transport's own types, which it does not export).
func wsMessageTypeID(v any) (typ, id string) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return "", ""
	}
	if f := rv.FieldByName("Type"); f.IsValid() && f.Kind() == reflect.String {
		typ = f.String()
	}
	if f := rv.FieldByName("ID"); f.IsValid() && f.Kind() == reflect.String {
		id = f.String()
	}
	return typ, id
}

// WriteClose closes the connection. The transport ends a connection whose
// connection_init did not come within its timeout with a generic protocol
// error (1002); graphql-transport-ws names a code of its own for it, 4408.
func (c *timedConn) WriteClose(code int, reason string) error {
	if code == transport.WebsocketCloseProtocolError && reason == "connection initialisation timeout" &&
		c.WebsocketConn.Subprotocol() == graphqlTransportWS {
		code = wsCloseInitLate
	}
	return c.WebsocketConn.WriteClose(code, reason)
}

// setMessageID sets the ID field of v, a message as wsMessageTypeID reads
// it.
func setMessageID(v any, id string) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return
	}
	if f := rv.Elem().FieldByName("ID"); f.IsValid() && f.Kind() == reflect.String && f.CanSet() {
		f.SetString(id)
	}
}

func (c *timedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *timedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// wsRecheck authenticates every operation started over a websocket
// (query, mutation or subscription) as the guard authenticates an HTTP
// request at that moment, with the connection's Authorization value and
// Config.Authenticate (auth.Guard.Authenticate): a key revoked, expired or
// unknown since connection_init, or a connection opened in open mode once
// keys are enforced, is refused with the code an HTTP request would get
// (UNAUTHENTICATED, or UNAVAILABLE while the store cannot be read); and
// each operation takes a token of the key's GraphQL rate limit
// (RATE_LIMITED past it). The refusal is the operation's error; the
// connection stays open, as when a subscription's key is found revoked.
// The operation then runs as the principal just authenticated, not the
// connection's: a connection opened in open mode holds its key's scopes
// only, once keys are enforced. An operation whose message holds an
// unpaired surrogate escape is refused with BAD_REQUEST, as the HTTP
// handler refuses such a body (loneSurrogateRefusal).
type wsRecheck struct{ r *Resolver }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationInterceptor
} = wsRecheck{}

// wsPrincipalExt is the key, in the operation's extensions, of the
// principal wsRecheck authenticated. Its value has a type of this package,
// which no client's JSON can produce; whatever a client sent under the
// key is replaced.
const wsPrincipalExt = "cdp.wsPrincipal"

type wsPrincipal struct{ p access.Principal }

func (wsRecheck) ExtensionName() string                   { return "WebsocketRecheck" }
func (wsRecheck) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters authenticates the operation before it is
// parsed, as the guard does before the HTTP handler reads the request.
func (c wsRecheck) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Extensions != nil {
		delete(p.Extensions, wsPrincipalExt)
	}
	if !isWebsocket(ctx) {
		return nil
	}
	if c.r.cfg.Authenticate == nil {
		return loneSurrogateRefusal(ctx)
	}
	authz, _ := ctx.Value(wsAuthzKey{}).(string)
	pr, err := c.r.cfg.Authenticate(ctx, authz)
	if err != nil {
		code := CodeUnauthenticated
		var ar *AuthRefusal
		if errors.As(err, &ar) && ar.Code != "" {
			code = ar.Code
		}
		return &gqlerror.Error{Message: err.Error(), Extensions: map[string]any{"code": code}}
	}
	if err := loneSurrogateRefusal(ctx); err != nil {
		return err
	}
	if p.Extensions == nil {
		p.Extensions = map[string]any{}
	}
	p.Extensions[wsPrincipalExt] = wsPrincipal{pr}
	return nil
}

// loneSurrogateRefusal refuses, with BAD_REQUEST as the HTTP handler
// does, an operation over a websocket whose message holds an unpaired
// surrogate escape (timedConn.NextReader).
func loneSurrogateRefusal(ctx context.Context) *gqlerror.Error {
	if st, _ := ctx.Value(wsConnKey{}).(*wsConnState); st != nil && st.loneSurrogate.Load() {
		return &gqlerror.Error{Message: loneSurrogateMsg, Extensions: map[string]any{"code": CodeBadRequest}}
	}
	return nil
}

// InterceptOperation runs the operation as the principal
// MutateOperationParameters authenticated.
func (wsRecheck) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if oc := graphql.GetOperationContext(ctx); oc != nil && isWebsocket(ctx) {
		if wp, ok := oc.Extensions[wsPrincipalExt].(wsPrincipal); ok {
			ctx = access.WithPrincipal(ctx, wp.p)
		}
	}
	return next(ctx)
}
