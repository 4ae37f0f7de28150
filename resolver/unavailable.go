package resolver

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
)

// unavailableStatus answers 503 with Retry-After, instead of 200, a
// response that carries an UNAVAILABLE error: the store is down or
// overloaded, so nothing of a mutation was committed and a query could
// not be read, and clients and load balancers should retry later rather
// than take the answer as final. The errors are in the body as usual.
//
// It is the outermost operation interceptor, so it sees the response as
// sent; the HTTP handler puts an unavailableFlag in the context and wraps
// the ResponseWriter, which rewrites the status when the flag is set.
type unavailableStatus struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = unavailableStatus{}

func (unavailableStatus) ExtensionName() string                          { return "UnavailableStatus" }
func (unavailableStatus) Validate(schema graphql.ExecutableSchema) error { return nil }

func (unavailableStatus) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	flag, _ := ctx.Value(unavailableKey{}).(*atomic.Bool)
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp != nil && flag != nil {
			for _, e := range resp.Errors {
				if e != nil && e.Extensions["code"] == CodeUnavailable {
					flag.Store(true)
					break
				}
			}
		}
		return resp
	}
}

type unavailableKey struct{}

// retryAfterSeconds is the Retry-After of a 503.
const retryAfterSeconds = "1"

// unavailableWriter turns the 200 of a response flagged unavailable into a
// 503 with Retry-After.
type unavailableWriter struct {
	http.ResponseWriter
	flag  *atomic.Bool
	wrote bool
}

func (w *unavailableWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if code == http.StatusOK && w.flag.Load() {
			w.Header().Set("Retry-After", retryAfterSeconds)
			code = http.StatusServiceUnavailable
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *unavailableWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *unavailableWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
