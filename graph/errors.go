package graph

import (
	"errors"
	"fmt"
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
