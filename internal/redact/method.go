package redact

import "net/http"

// Method returns an HTTP method for logs and span names: a method HTTP
// defines as is, any other "HTTP" (OpenTelemetry's name for it), since a
// caller may send any token, as long as the request line allows, as its
// method.
func Method(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "HTTP"
}

// MethodText returns an HTTP method as an answer names it: a method HTTP
// defines as is, any other not repeated.
func MethodText(method string) string {
	if Method(method) == "HTTP" {
		return "(one HTTP does not define, not repeated)"
	}
	return method
}
