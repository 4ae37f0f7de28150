package graph

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Every exported Engine method documents which it returns; any
// other error is internal and must reach users only as "internal error".
const (
	ENOTFOUND    = "not_found"
	EINVALID     = "invalid"
	ECONFLICT    = "conflict"
	EUNAVAILABLE = "unavailable"
	EINTERNAL    = "internal"
)

// Error is a domain error with a machine-readable code and a message that is
// safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, or EINTERNAL when err carries none.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of a domain error, or "internal error".
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrUnavailable wraps a store failure that is worth retrying later: the
// database is down, overloaded or unreachable.
func ErrUnavailable(cause error) error {
	return fmt.Errorf("%w: %w", &Error{Code: EUNAVAILABLE, Message: "store unavailable"}, cause)
}

// IdentifierProblem says what is wrong with the identifiers of an
// IdentifierError.
type IdentifierProblem int

const (
	// IdentNotUsable: the one identifier does not normalize (EINVALID).
	IdentNotUsable IdentifierProblem = iota + 1
	// IdentNotFound: the one identifier is not stored (ENOTFOUND).
	IdentNotFound
	// IdentNotLinked: the two identifiers are stored but share no direct
	// link (ENOTFOUND).
	IdentNotLinked
)

func (p IdentifierProblem) String() string {
	switch p {
	case IdentNotUsable:
		return "not usable"
	case IdentNotFound:
		return "not found"
	case IdentNotLinked:
		return "not linked"
	}
	return fmt.Sprintf("IdentifierProblem(%d)", int(p))
}

// IdentifierError is a refusal about particular identifiers. Its message
// names their types only, never their values: those are personal data,
// and an error travels into logs, terminals and client answers. A caller
// that must tell which of its inputs is meant (the GraphQL layer names
// the argument) compares Refs with them. It unwraps to an *Error, for
// ErrorCode and ErrorMessage.
type IdentifierError struct {
	Problem IdentifierProblem
	// Refs are the identifiers the refusal is about, in the order of the
	// operation's arguments: for IdentNotUsable the one given, as given;
	// otherwise normalized.
	Refs []IdentifierRef
	// Why is, for IdentNotUsable, the normalizer's drop reason
	// (DropInvalidEmail...).
	Why string
}

func (e *IdentifierError) Error() string { return e.err().Message }

// Unwrap gives the refusal as an *Error.
func (e *IdentifierError) Unwrap() error { return e.err() }

func (e *IdentifierError) err() *Error {
	switch e.Problem {
	case IdentNotUsable:
		return Errorf(EINVALID, "identifier of %s is not usable: %s", typeOf(e.ref(0)), strings.ReplaceAll(e.Why, "_", " "))
	case IdentNotLinked:
		return Errorf(ENOTFOUND, "the two identifiers (%s, %s) are not linked directly; explainLink shows what joins them", typeName(e.ref(0)), typeName(e.ref(1)))
	default:
		return Errorf(ENOTFOUND, "identifier of %s not found", typeOf(e.ref(0)))
	}
}

func (e *IdentifierError) ref(i int) IdentifierRef {
	if i < len(e.Refs) {
		return e.Refs[i]
	}
	return IdentifierRef{}
}

// anInvalidType stands in a message for a type that is not a type name.
const anInvalidType = "an invalid type"

// typeName is r's type as a message may name it: a type name, which is
// no personal data, or anInvalidType for anything else (an email given
// where the type belongs, say), which is not repeated.
func typeName(r IdentifierRef) string {
	if t := strings.ToLower(strings.TrimSpace(r.Type)); validType(t) {
		return t
	}
	return anInvalidType
}

// typeOf is typeName after "identifier of": "type email".
func typeOf(r IdentifierRef) string {
	if t := typeName(r); t != anInvalidType {
		return "type " + t
	}
	return anInvalidType
}
