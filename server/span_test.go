package server

import (
	"net/http/httptest"
	"testing"
)

// Span names name the route, never a value from the path.
func TestSpanName(t *testing.T) {
	for path, want := range map[string]string{
		"/v1/track":                     "POST /v1/track",
		"/v1/audiences/seg_0123/export": "POST /v1/audiences",
		"/v1/privacy/export/u-ann":      "POST /v1/privacy",
		"/admin/backup":                 "POST /admin/backup",
		"/graphql":                      "POST /graphql",
		"/graphql/extra":                "POST /graphql",
		"/":                             "POST other",
		"/ann@example.com":              "POST other",
		"/v1/ann@example.com/x":         "POST other",
		"/v1":                           "POST other",
		"/admin/ann@example.com":        "POST other",
	} {
		if got := spanName("", httptest.NewRequest("POST", path, nil)); got != want {
			t.Errorf("spanName(POST %s) = %q, want %q", path, got, want)
		}
	}
}

// A method is the caller's to choose (any token): one HTTP does not define
// is named HTTP, as OpenTelemetry's conventions have it, so that span
// names stay few and never carry what a caller typed.
func TestSpanNameOfAnUnknownMethod(t *testing.T) {
	for method, want := range map[string]string{
		"GET": "GET /graphql", "HEAD": "HEAD /graphql", "OPTIONS": "OPTIONS /graphql", "DELETE": "DELETE /graphql",
		"PUT": "PUT /graphql", "PATCH": "PATCH /graphql", "CONNECT": "CONNECT /graphql", "TRACE": "TRACE /graphql",
		"ANN.DOE-EXAMPLE.COM": "HTTP /graphql", "get": "HTTP /graphql", "PROPFIND": "HTTP /graphql",
	} {
		if got := spanName("", httptest.NewRequest(method, "/graphql", nil)); got != want {
			t.Errorf("spanName(%s /graphql) = %q, want %q", method, got, want)
		}
	}
}
