package resolver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// responseLimit bounds the size of a response while it is being built.
//
// gqlgen resolves the whole tree of an operation before it writes a byte,
// so the limit cannot be applied to the output: a 250-alias query would
// have built its 100 MB answer (and several times that in memory) before
// anything could be measured. Instead, a field middleware charges every
// resolved field, as soon as it is resolved, with the bytes it adds to the
// JSON answer: its key, and for a leaf its value's encoded size; for a
// list, its brackets and separators (its elements' fields charge
// themselves). The charges of one operation share one counter. The first
// field that takes the total past the limit cancels the operation's context
// (store reads in flight stop), and from then on every field resolves to
// null without running its resolver or any of its children, so the work
// and memory of the operation stop growing at about the limit. The answer
// is then replaced by one RESPONSE_TOO_LARGE error, with no data.
//
// At most rootFieldsInFlight root fields of a query resolve at once, so
// that the aliases of a query do not all read the store before any of
// their output is charged.
//
// __typename is answered by gqlgen's generated code without any field
// middleware, so it cannot charge itself: the object that holds it charges
// it instead. A field whose value is an object, or a list of objects, is
// charged with every __typename its selection set collects for that type
// (with its alias), once per object; the operation's own __typename fields
// are charged before its root fields run.
//
// The charge is an estimate of the encoding, within a few bytes per value
// (a float counts as its longest form); it never misses a value, so a
// response is refused no later than when the true output would cross the
// limit by that margin.
type responseLimit struct {
	max int64
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.FieldInterceptor
	graphql.RootFieldInterceptor
} = responseLimit{}

// rootFieldsInFlight is how many root fields of one query resolve at once.
// gqlgen would start every alias of a query together, and their store reads
// would all complete before the first of their fields is charged: 250
// aliases of a large identity graph held 250 graphs in memory at once.
// With a few in flight, the budget is crossed while most have not started,
// and those resolve to null without reading the store.
const rootFieldsInFlight = 8

func (responseLimit) ExtensionName() string                          { return "ResponseLimit" }
func (responseLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

type budgetKey struct{}

// budget is one operation's response budget.
type budget struct {
	max    int64
	used   atomic.Int64
	over   atomic.Bool
	cancel context.CancelCauseFunc
	roots  chan struct{} // root fields in flight
	// typenames caches, by the field whose selection set holds them, the
	// charge of one object's __typename fields (typenameCharge).
	typenames sync.Map // *ast.Field -> int64
}

// charge adds n bytes to the budget and reports whether it still holds;
// the first charge past it cancels the operation.
func (b *budget) charge(n int64) bool {
	if b.used.Add(n) > b.max {
		if b.over.CompareAndSwap(false, true) {
			b.cancel(errResponseTooLarge)
		}
		return false
	}
	return true
}

var errResponseTooLarge = errors.New("response too large")

func (l responseLimit) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	b := &budget{max: l.max, cancel: cancel, roots: make(chan struct{}, rootFieldsInFlight)}
	root := "Query"
	if oc.Operation.Operation == ast.Mutation {
		root = "Mutation"
	}
	b.charge(typenameCharge(oc, oc.Operation.SelectionSet, root))
	h := next(context.WithValue(ctx, budgetKey{}, b))
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		cancel(nil)
		if !b.over.Load() {
			return resp
		}
		e := gqlerror.Errorf("response is larger than the limit of %d bytes; ask for fewer fields, fewer aliases or smaller pages (first)", l.max)
		setCode(e, CodeResponseTooLarge)
		return &graphql.Response{Errors: gqlerror.List{e}}
	}
}

func (l responseLimit) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	if b == nil {
		return next(ctx)
	}
	select {
	case b.roots <- struct{}{}:
	case <-ctx.Done():
		return graphql.Null
	}
	defer func() { <-b.roots }()
	if b.over.Load() {
		return graphql.Null
	}
	return next(ctx)
}

func (l responseLimit) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	if b == nil {
		return next(ctx)
	}
	if b.over.Load() {
		return graphql.Null, nil
	}
	res, err := next(ctx)
	if b.over.Load() {
		// Crossed while this field was resolving: its error, if any, is
		// most likely the cancellation, and the answer is replaced anyway.
		return graphql.Null, nil
	}
	if err != nil {
		return res, err
	}
	n := int64(4) // "": and a separator
	leaf := true
	fc := graphql.GetFieldContext(ctx)
	if fc != nil {
		n += int64(len(fc.Field.Alias))
		leaf = len(fc.Field.Selections) == 0
	}
	if leaf {
		n += jsonSize(res)
	} else {
		n += containerSize(res)
		if fc.Field.Definition != nil {
			per, ok := b.typenames.Load(fc.Field.Field)
			if !ok {
				per, _ = b.typenames.LoadOrStore(fc.Field.Field,
					typenameCharge(graphql.GetOperationContext(ctx), fc.Field.Selections, fc.Field.Definition.Type.Name()))
			}
			if per := per.(int64); per > 0 {
				n = satAdd64(n, satMul64(per, objectCount(reflect.ValueOf(res))))
			}
		}
	}
	if !b.charge(n) {
		return graphql.Null, nil
	}
	return res, nil
}

// typenameCharge is what the __typename fields of one object of type typ
// with selection set sel add to the answer: each one's key (its alias)
// and value (the type's name), collected as gqlgen collects them, so that
// fragments and aliases repeated count as often as they are answered.
// The schema has no interface or union: an object's __typename is the
// name of its field's type.
func typenameCharge(oc *graphql.OperationContext, sel ast.SelectionSet, typ string) int64 {
	if oc == nil || !hasTypename(sel, map[string]bool{}) {
		return 0
	}
	var n int64
	for _, f := range graphql.CollectFields(oc, sel, []string{typ}) {
		if f.Name == "__typename" {
			n += 4 + int64(len(f.Alias)) + strSize(typ)
		}
	}
	return n
}

// hasTypename reports whether sel, or a fragment in it, selects
// __typename; seen holds the fragments already looked into.
func hasTypename(sel ast.SelectionSet, seen map[string]bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__typename" {
				return true
			}
		case *ast.InlineFragment:
			if hasTypename(s.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && !seen[s.Name] {
				seen[s.Name] = true
				if hasTypename(s.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}

// objectCount is the number of objects a field's value answers: one for
// an object, none for null, the sum of its elements' for a list.
func objectCount(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.Invalid:
		return 0
	case reflect.Pointer, reflect.Interface, reflect.Map:
		if v.IsNil() {
			return 0
		}
		if v.Kind() == reflect.Interface {
			return objectCount(v.Elem())
		}
		return 1
	case reflect.Slice, reflect.Array:
		var n int64
		for i := range v.Len() {
			n = satAdd64(n, objectCount(v.Index(i)))
		}
		return n
	}
	return 1
}

func satAdd64(a, b int64) int64 {
	if c := a + b; c >= a {
		return c
	}
	return math.MaxInt64
}

func satMul64(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// containerSize is what an object or list adds besides its elements'
// fields: braces, or brackets with a separator and braces per element.
func containerSize(v any) int64 {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice {
		return 2 + 3*int64(rv.Len())
	}
	return 2
}

// jsonSize estimates the bytes of a leaf value once encoded as JSON.
func jsonSize(v any) int64 {
	switch x := v.(type) {
	case nil:
		return 4
	case string:
		return strSize(x)
	case *string:
		if x == nil {
			return 4
		}
		return strSize(*x)
	case bool:
		if x {
			return 4
		}
		return 5
	case int:
		var buf [24]byte
		return int64(len(strconv.AppendInt(buf[:0], int64(x), 10)))
	case int64:
		var buf [24]byte
		return int64(len(strconv.AppendInt(buf[:0], x, 10)))
	case int32, float64, json.Number:
		return 24
	case time.Time:
		return timeSize(x)
	case *time.Time:
		if x == nil {
			return 4
		}
		return timeSize(*x)
	case []string:
		n := int64(2)
		for _, s := range x {
			n += strSize(s) + 1
		}
		return n
	case map[string]any:
		n := int64(2)
		for k, e := range x {
			n += strSize(k) + 2 + jsonSize(e)
		}
		return n
	case []any:
		n := int64(2)
		for _, e := range x {
			n += jsonSize(e) + 1
		}
		return n
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String: // enums
		return strSize(rv.String())
	case reflect.Pointer:
		if rv.IsNil() {
			return 4
		}
		return jsonSize(rv.Elem().Interface())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return int64(len(fmt.Sprint(v)))
	}
	return int64(len(b))
}

func timeSize(t time.Time) int64 {
	var buf [48]byte
	return int64(len(t.UTC().AppendFormat(buf[:0], time.RFC3339Nano))) + 2
}

// strSize is the length of a JSON string: quotes, and six bytes for each
// byte that needs an escape (an upper bound for the short escapes).
func strSize(s string) int64 {
	n := int64(len(s)) + 2
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			n += 5
		}
	}
	return n
}
