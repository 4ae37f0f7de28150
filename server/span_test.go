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
