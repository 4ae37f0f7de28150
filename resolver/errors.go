package resolver

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/rs/zerolog"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/idgraph/cdp/graph"
)

// Values of extensions.code. Resolver errors carry one of the first five;
// refused requests carry one of the others (or gqlgen's
// GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED).
const (
	CodeNotFound        = "NOT_FOUND"
	CodeInvalidArgument = "INVALID_ARGUMENT"
	CodeConflict        = "CONFLICT"
	CodeUnavailable     = "UNAVAILABLE"
	CodeInternal        = "INTERNAL"

	CodeDepthLimit       = "DEPTH_LIMIT_EXCEEDED"
	CodeComplexityLimit  = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeTooLarge         = "REQUEST_TOO_LARGE"
	CodeBatching         = "BATCHING_NOT_SUPPORTED"
	CodeBadRequest       = "BAD_REQUEST"
	CodeQueryTooLarge    = "QUERY_TOO_LARGE"
	CodeResponseTooLarge = "RESPONSE_TOO_LARGE"
)

func init() {
	// Refusals raised before execution answer 422 (or 400 for clients that
	// accept application/graphql-response+json), like parse and validation
	// errors.
	for _, c := range []string{CodeDepthLimit, CodeComplexityLimit, CodeInvalidArgument, CodeQueryTooLarge} {
		errcode.RegisterErrorType(c, errcode.KindProtocol)
	}
}

// internalError marks an error whose text must not reach the client.
type internalError struct{ err error }

func (e *internalError) Error() string { return e.err.Error() }
func (e *internalError) Unwrap() error { return e.err }

// errPanic is what the recover func hands to the presenter; the panic itself
// is logged where it is recovered.
var errPanic = &internalError{err: errors.New("panic in resolver")}

// domainErr passes domain errors through and marks every other error
// internal. Every error a resolver returns goes through it.
func domainErr(err error) error {
	if err == nil {
		return nil
	}
	if graph.ErrorCode(err) == graph.EINTERNAL {
		return &internalError{err: err}
	}
	return err
}

func invalidArg(arg, format string, args ...any) error {
	return graph.Errorf(graph.EINVALID, "argument %q %s", arg, fmt.Sprintf(format, args...))
}

// profileIDArg refuses an argument that is not shaped as a profile id
// (graph.ProfileIDShape): INVALID_ARGUMENT naming the argument and the
// shape, never the value, which may be an email pasted where the id
// belongs. A well-formed id of no profile passes: whether it exists is
// the lookup's answer, not the argument's fault.
func profileIDArg(arg, id string) error {
	if graph.ProfileIDShape(id) {
		return nil
	}
	return invalidArg(arg, "is not a profile id (p_ followed by lowercase letters and digits, at most %d bytes)", graph.MaxProfileIDBytes)
}

// profileIDsArg is profileIDArg for each id of a list argument, naming the
// first malformed one by its position as given ("ids[1]").
func profileIDsArg(arg string, ids []string) error {
	for i, id := range ids {
		if err := profileIDArg(fmt.Sprintf("%s[%d]", arg, i), id); err != nil {
			return err
		}
	}
	return nil
}

func codeOf(graphCode string) string {
	switch graphCode {
	case graph.ENOTFOUND:
		return CodeNotFound
	case graph.EINVALID:
		return CodeInvalidArgument
	case graph.ECONFLICT:
		return CodeConflict
	case graph.EUNAVAILABLE:
		return CodeUnavailable
	default:
		return CodeInternal
	}
}

var didYouMean = regexp.MustCompile(` Did you mean .*\?$`)

// literalValues match gqlparser's messages about a value of the wrong
// type, which quote the value, given as a literal or as a variable:
// "String cannot represent a non string value: 15550100", "Expected value
// of type \"Int\", found \"x\".", "Value \"X\" does not exist in \"E\"
// enum.", "ann@example.com is not a valid E", "cannot use value 1 as Int",
// "cannot use 1e+20 as ID: ...". The caller wrote it, but a message
// travels on into client logs and gateways, and the value may be a phone
// or an email: it is cut.
var literalValues = []struct {
	re   *regexp.Regexp
	with string
}{
	// (?s): a value may hold line breaks, and . must match them too.
	{regexp.MustCompile(`(?s)(cannot represent [^:]*value): .*$`), "$1"},
	{regexp.MustCompile(`(?s)(Expected value of type "[^"]*"), found .*$`), "$1"},
	// With suggestions on, a "Did you mean" hint follows; it stays.
	{regexp.MustCompile(`(?s)^Value "(?:[^"\\]|\\.)*" (does not exist in "[^"]*" enum\.)( Did you mean .*\?)?$`), "Value $1$2"},
	{regexp.MustCompile(`(?s)^.* (is not a valid \w+)$`), "value $1"},
	{regexp.MustCompile(`(?s)(cannot use) value .+ (as \w+)$`), "$1 value $2"},
	{regexp.MustCompile(`(?s)(cannot use) .+ (as ID)(: [^\n]*)?$`), "$1 value $2$3"},
}

// withoutLiteral cuts the value from such a message.
func withoutLiteral(msg string) string {
	for _, l := range literalValues {
		msg = l.re.ReplaceAllString(msg, l.with)
	}
	return msg
}

// presenter maps errors to what the client sees. Domain errors keep their
// message and get their code; errors raised by gqlgen itself (parsing,
// validation, argument coercion) keep their message; everything else is
// logged in full and shown as "internal error".
func presenter(suggestions bool) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		out := graphql.DefaultErrorPresenter(ctx, err)
		if out == nil {
			return nil
		}
		var ie *internalError
		var ge *graph.Error
		switch {
		case cancelled(ctx, err):
			return cancelledGQLError(ctx, out, err)
		case errors.As(err, &ie):
			if ie != errPanic {
				logInternal(ctx, out, err)
			}
			return internalGQLError(out)
		case errors.As(err, &ge):
			if ge.Code == graph.EINTERNAL {
				logInternal(ctx, out, err)
				return internalGQLError(out)
			}
			out.Message = ge.Message
			setCode(out, codeOf(ge.Code))
			return out
		}
		var ge2 *gqlerror.Error
		if !errors.As(err, &ge2) {
			// Not raised by gqlgen and not marked: treat as internal.
			logInternal(ctx, out, err)
			return internalGQLError(out)
		}
		if _, ok := out.Extensions["code"]; !ok {
			// Argument and variable coercion: name the value at fault.
			setCode(out, CodeInvalidArgument)
			msg := out.Message
			if len(out.Path) > 0 {
				msg = fmt.Sprintf("invalid value at %q: %s", pathString(out.Path), msg)
			}
			out.Message = msg
		}
		// A variable's refusal ("must be defined", "cannot use string as
		// Int") names the variable only in its path: say it in the message.
		if len(out.Path) >= 2 && out.Path[0] == ast.PathName("variable") && out.Extensions["code"] == errcode.ValidationFailed {
			// Below the variable's name the path holds the keys of the
			// JSON sent (an unknown field of an input object): named as
			// the collector names a payload's keys, never as an email or a
			// phone number used as a key.
			out.Path = withheldKeys(out.Path)
			out.Message = fmt.Sprintf("variable %q: %s", "$"+pathString(out.Path[1:]), out.Message)
		}
		if !suggestions {
			out.Message = didYouMean.ReplaceAllString(out.Message, "")
		}
		if m := operationNotFound.FindStringSubmatch(out.Message); m != nil && out.Extensions["code"] == errcode.ValidationFailed {
			out.Message = operationNameMessage(ctx, m[1])
		}
		out.Message = withoutLiteral(out.Message)
		return out
	}
}

// operationNotFound matches gqlgen's refusal of a request whose
// operationName names no operation of its document, or that has none
// while the document holds several: "operation NAME not found". That
// repeats the name the client sent, and without one ("operation  not
// found") does not say what is missing.
var operationNotFound = regexp.MustCompile(`(?s)^operation (.*) not found$`)

// operationNameMessage says what is wrong with the operationName of the
// request, without repeating it.
func operationNameMessage(ctx context.Context, name string) string {
	ops := "its operations"
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Doc != nil {
			ops = fmt.Sprintf("its %d operations", len(oc.Doc.Operations))
			if name == "" {
				return fmt.Sprintf("the document holds %d operations: name the one to run in operationName", len(oc.Doc.Operations))
			}
		}
	}
	if name == "" {
		return "the document holds several operations: name the one to run in operationName"
	}
	return "operationName names no operation of the document: give the name of one of " + ops
}

// withheldKeys is a variable's path ("variable", its name, then keys and
// indexes into its JSON value) with each key named as graph.MessageKey
// names it. The path is copied: gqlgen may hold the original.
func withheldKeys(p ast.Path) ast.Path {
	out := make(ast.Path, len(p))
	copy(out, p)
	for i := 2; i < len(out); i++ {
		if n, ok := out[i].(ast.PathName); ok {
			out[i] = ast.PathName(graph.MessageKey(string(n)))
		}
	}
	return out
}

// pathString renders a path as ingest.events[0].timestamp.
func pathString(p ast.Path) string {
	var b strings.Builder
	for _, el := range p {
		switch v := el.(type) {
		case ast.PathIndex:
			fmt.Fprintf(&b, "[%d]", int(v))
		case ast.PathName:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(string(v))
		}
	}
	return b.String()
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

func internalGQLError(from *gqlerror.Error) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    "internal error",
		Path:       from.Path,
		Locations:  from.Locations,
		Extensions: map[string]any{"code": CodeInternal},
	}
}

// cancelled reports whether err is the request's own context ending: the
// client went away (a websocket closed while its subscription started, an
// HTTP client that hung up) or a deadline of the request passed. The store
// reads of such a request stop with their context, which is no failure of
// the server.
func cancelled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}

// cancelledGQLError answers a field of a cancelled request UNAVAILABLE,
// logged at info rather than as an internal error: a client's disconnect
// must not read as a server fault in the error log.
func cancelledGQLError(ctx context.Context, from *gqlerror.Error, err error) *gqlerror.Error {
	ev := zerolog.Ctx(ctx).Info().Err(err)
	if len(from.Path) > 0 {
		ev = ev.Str("path", from.Path.String())
	}
	ev.Msg("graphql: request cancelled")
	return &gqlerror.Error{
		Message:    "the request was cancelled before this field was answered: the client went away, or a deadline passed",
		Path:       from.Path,
		Locations:  from.Locations,
		Extensions: map[string]any{"code": CodeUnavailable},
	}
}

func logInternal(ctx context.Context, e *gqlerror.Error, err error) {
	ev := zerolog.Ctx(ctx).Error().Err(err)
	if len(e.Path) > 0 {
		ev = ev.Str("path", e.Path.String())
	}
	if graphql.HasOperationContext(ctx) {
		if name := shownName(operationName(graphql.GetOperationContext(ctx))); name != "" {
			ev = ev.Str("operation", name)
		}
	}
	ev.Msg("graphql: internal error")
}

// recoverFunc logs a resolver panic with its stack and answers INTERNAL.
func recoverFunc(ctx context.Context, p any) error {
	ev := zerolog.Ctx(ctx).Error().Str("panic", fmt.Sprint(p)).Bytes("stack", debug.Stack())
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		ev = ev.Str("path", fc.Path().String())
	}
	ev.Msg("graphql: panic in resolver")
	return errPanic
}

// blankName refuses a name of spaces only (an empty one is refused where
// the name is checked, with the rest of its rules): it would show as
// nothing in every list, as createApiKey's check already says.
func blankName(arg, name string) error {
	if name != "" && strings.TrimSpace(name) == "" {
		return invalidArg(arg, "must not be only spaces")
	}
	return nil
}
