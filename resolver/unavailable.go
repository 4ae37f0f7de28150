package resolver

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// unavailableStatus answers 503 with Retry-After, instead of 200, a
// response that carries an UNAVAILABLE error: the store is down or
// overloaded, so nothing of a mutation was committed and a query could
// not be read, and clients and load balancers should retry later rather
// than take the answer as final. The errors are in the body as usual. A
// mutation operation one of whose root fields succeeded (and so
// committed) before another answered UNAVAILABLE keeps its 200: retrying
// it whole would run the committed one again.
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
		if resp != nil && flag != nil && hasUnavailable(resp.Errors) && !mutationRan(ctx, resp.Errors) {
			flag.Store(true)
		}
		return resp
	}
}

func hasUnavailable(errs gqlerror.List) bool {
	for _, e := range errs {
		if e != nil && e.Extensions["code"] == CodeUnavailable {
			return true
		}
	}
	return false
}

// mutationRan reports whether the operation is a mutation one of whose
// root fields ran without an error of its own (an error whose path is
// that field alone): it committed, so the answer is not a 503, which
// would tell the client that nothing was committed and to send it again.
// Its other fields' errors, UNAVAILABLE included, are in the body as
// usual. Root fields run one after another, each committing on its own.
func mutationRan(ctx context.Context, errs gqlerror.List) bool {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return false
	}
	failed := map[string]bool{}
	for _, e := range errs {
		if e != nil && len(e.Path) == 1 {
			if name, ok := e.Path[0].(ast.PathName); ok {
				failed[string(name)] = true
			}
		}
	}
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"}) {
		if !strings.HasPrefix(f.Name, "__") && !failed[f.Alias] {
			return true
		}
	}
	return false
}

type unavailableKey struct{}

// retryAfterSeconds is the Retry-After of a 503.
const retryAfterSeconds = "1"

// unavailableWriter turns the 200 of a response flagged unavailable into a
// 503 with Retry-After, and the 200 of an operation refused before it ran
// as one its transport cannot serve into the status it set in refused.
type unavailableWriter struct {
	http.ResponseWriter
	flag    *atomic.Bool
	refused *atomic.Int32
	wrote   bool
}

// refusedKey holds the *atomic.Int32 where an operation refused before it
// ran puts the HTTP status to answer instead of 200 (see
// unavailableWriter, refuseOperation).
type refusedKey struct{}

// refuseOperation makes the answer to ctx's request HTTP status, where an
// HTTP handler wrapped it (over WebSocket there is no status to set).
func refuseOperation(ctx context.Context, status int) {
	if st, _ := ctx.Value(refusedKey{}).(*atomic.Int32); st != nil {
		st.Store(int32(status))
	}
}

func (w *unavailableWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		switch {
		case code == http.StatusOK && w.flag.Load():
			w.Header().Set("Retry-After", retryAfterSeconds)
			code = http.StatusServiceUnavailable
		case code == http.StatusOK && w.refused != nil && w.refused.Load() != 0:
			code = int(w.refused.Load())
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
